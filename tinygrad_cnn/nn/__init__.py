"""Neural-network building blocks (PyTorch's names). `tinygrad_cnn.nn.functional` holds the
functional ops, `tinygrad_cnn.nn.init` the initializations, `nn.utils` gradient clipping,
`nn.parallel` the multi-device wrappers."""
from . import functional, init, parallel, utils
from .activation import (ELU, GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid,
                         SiLU, Softmax, Softplus, Tanh)
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .layers import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, ConstantPad2d, Conv1d,
                     Conv2d, ConvTranspose2d, Dropout, Dropout2d, Flatten, GroupNorm, Identity, InstanceNorm2d, LayerNorm,
                     Linear, MaxPool2d, ReflectionPad2d, ReplicationPad2d, Upsample, UpsamplingBilinear2d,
                     UpsamplingNearest2d, ZeroPad2d)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .module import Module
from .parallel import DataParallel
from .parameter import Parameter
from .sync_batchnorm import SyncBatchNorm


def __getattr__(name):  # a PyTorch name this module lacks: one line saying what to use instead
    from .._porting import missing_name  # noqa: PLC0415 (only on a failed lookup)
    raise missing_name(__name__, name, globals())
