"""PyTorch definitions of the library's five models, for the benchmarks to compare against.

Written for this project from tinygrad_cnn/models/ (same layers in the same order, so the same
parameter counts and state_dict keys; tests/test_models.py checks that they compute what ours
compute from the same weights). The benchmarks import this file, so a fresh clone runs them.

    import torch_reference
    model = torch_reference.get("small_resnet")          # or the class: torch_reference.SmallResNet()
"""
import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu_pool(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]


def _classifier(features, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(features, 256), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(256, num_classes))


class SimpleCNN(nn.Module):
    """Three conv-bn-relu-pool stages (32, 64, 128 channels) and a two-layer classifier."""

    def __init__(self, num_classes=10, in_channels=3, input_size=32):
        super().__init__()
        self.features = nn.Sequential(*_conv_bn_relu_pool(in_channels, 32), *_conv_bn_relu_pool(32, 64),
                                      *_conv_bn_relu_pool(64, 128))
        self.classifier = _classifier(128 * (input_size // 8) ** 2, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class MiniVGG(nn.Module):
    """Three double-conv stages (32, 64, 128 channels) and a two-layer classifier."""

    def __init__(self, num_classes=10, in_channels=3, input_size=32):
        super().__init__()
        layers, cin = [], in_channels
        for cout in (32, 64, 128):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                       nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = _classifier(128 * (input_size // 8) ** 2, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class LeNet5(nn.Module):
    """LeNet-5 with batch norm; input_size 28 pads the first conv by 2."""

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


class ResBlock(nn.Module):
    """conv-bn-relu-conv-bn plus a shortcut (1x1 conv + bn when the shape changes), then relu."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """A stem and three stages of two ResBlocks (16, 32, 64 channels), global average pool."""

    def __init__(self, num_classes=10, in_channels=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = nn.Sequential(ResBlock(16, 16), ResBlock(16, 16))
        self.layer2 = nn.Sequential(ResBlock(16, 32, 2), ResBlock(32, 32))
        self.layer3 = nn.Sequential(ResBlock(32, 64, 2), ResBlock(64, 64))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class BasicBlockA(nn.Module):
    """He et al.'s CIFAR block; the option-A shortcut subsamples by the stride and pads zero
    channels on both sides when the shape changes (no parameters)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.extra_channels = cout - cin
        self.stride = stride

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x
        if self.stride != 1 or self.extra_channels:
            before = self.extra_channels // 2
            shortcut = F.pad(x[:, :, ::self.stride, ::self.stride],
                             (0, 0, 0, 0, before, self.extra_channels - before))
        return F.relu(out + shortcut)


class ResNet20(nn.Module):
    """ResNet-20 for CIFAR: a 16-channel stem, three stages of n=3 BasicBlockA (16, 32, 64)."""

    def __init__(self, num_classes=10, in_channels=3, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for stage, cout in enumerate((16, 32, 64)):
            for index in range(n):
                blocks.append(BasicBlockA(cin, cout, 2 if (stage > 0 and index == 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


_BY_NAME = {"simple_cnn": SimpleCNN, "small_resnet": SmallResNet, "lenet5": LeNet5, "minivgg": MiniVGG,
            "resnet20": ResNet20}


def get(name, **kwargs):
    """The PyTorch model for one of tinygrad_cnn.models' names (simple_cnn, small_resnet, ...)."""
    key = name.lower().replace("-", "_")
    key = {"simplecnn": "simple_cnn", "smallresnet": "small_resnet", "resnet": "small_resnet"}.get(key, key)
    if key not in _BY_NAME:
        raise ValueError(f"torch_reference: unknown model {name!r}; choose one of {sorted(_BY_NAME)}")
    return _BY_NAME[key](**kwargs)
