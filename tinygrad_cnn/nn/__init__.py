"""Neural-network building blocks (PyTorch's names). `tinygrad_cnn.nn.functional` holds the
functional ops, `tinygrad_cnn.nn.init` the initializations."""
from . import functional, init, utils  # noqa: F401
from .containers import ModuleList, Sequential  # noqa: F401
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Dropout,  # noqa: F401
                     Dropout2d, Flatten, Identity, LeakyReLU, Linear, MaxPool2d, ReLU, Sigmoid, Tanh)
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .containers import ModuleDict, ParameterDict, ParameterList  # noqa: F401
from .layers import (AdaptiveMaxPool2d, ConstantPad2d, ConvTranspose2d, GroupNorm, InstanceNorm2d,  # noqa: F401
                     LayerNorm, ReflectionPad2d, ReplicationPad2d, Upsample, UpsamplingBilinear2d,
                     UpsamplingNearest2d, ZeroPad2d)
