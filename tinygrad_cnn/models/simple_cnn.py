"""SimpleCNN: three conv-bn-relu-pool stages and a two-layer classifier (620,810 parameters)."""
from .. import nn


class SimpleCNN(nn.Module):
    """(N, in_channels, input_size, input_size) -> (N, num_classes) logits.

    The flattened width is 128 * (input_size // 8) ** 2: 2048 for 32x32, 1152 for 28x28.
    """

    def __init__(self, num_classes=10, in_channels=3, input_size=32):
        super().__init__()

        def stage(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

        self.features = nn.Sequential(*stage(in_channels, 32), *stage(32, 64), *stage(64, 128))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(128 * (input_size // 8) ** 2, 256), nn.ReLU(),
                                        nn.Dropout(0.5), nn.Linear(256, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
