"""MiniVGG: three double-conv stages (32, 64, 128 channels) and a two-layer classifier (815,018 parameters)."""
from .. import nn


class MiniVGG(nn.Module):
    def __init__(self, num_classes=10, in_channels=3, input_size=32):
        super().__init__()
        layers, cin = [], in_channels
        for cout in (32, 64, 128):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                       nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(128 * (input_size // 8) ** 2, 256), nn.ReLU(),
                                        nn.Dropout(0.5), nn.Linear(256, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
