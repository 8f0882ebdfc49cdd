"""LeNet5 with batch norm (62,050 parameters for 3x32x32; 61,750 for 1x28x28)."""
from .. import nn


class LeNet5(nn.Module):
    """input_size 28 pads the first conv by 2, so MNIST-sized input follows the 32x32 geometry."""

    def __init__(self, num_classes=10, in_channels=3, input_size=32):
        super().__init__()
        pad = (32 - input_size) // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
                                        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
