"""The model zoo, defined exactly as ../shared/reference/torch_models.py (same layers, parameter
counts and state_dict keys), so weights move between the two with a dict comprehension."""
from .lenet import LeNet5
from .resnet import BasicBlockA, ResBlock, ResNet20, SmallResNet
from .simple_cnn import SimpleCNN
from .vgg import MiniVGG

_REGISTRY = {
    "simple_cnn": SimpleCNN, "simplecnn": SimpleCNN, "simple": SimpleCNN,
    "small_resnet": SmallResNet, "smallresnet": SmallResNet, "resnet": SmallResNet,
    "lenet5": LeNet5, "lenet": LeNet5,
    "minivgg": MiniVGG, "vgg": MiniVGG,
    "resnet20": ResNet20,
}


def names():
    """The accepted model names."""
    return sorted(_REGISTRY)


def get_class(name):
    """The model class for a name (case-insensitive, '-' = '_'); ValueError listing the names."""
    key = str(name).lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(names())}")
    return _REGISTRY[key]


def get(name, **kwargs):
    """Build a model by name, e.g. get("resnet20", num_classes=10)."""
    return get_class(name)(**kwargs)
