"""Neural-network building blocks (PyTorch's names). `tinygrad_cnn.nn.functional` holds the
functional ops, `tinygrad_cnn.nn.init` the initializations."""
from . import functional, init, parallel, utils  # noqa: F401
from .parallel import DataParallel  # noqa: F401
from .containers import ModuleList, Sequential  # noqa: F401
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Dropout,  # noqa: F401
                     Dropout2d, Flatten, Identity, Linear, MaxPool2d)
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .activation import (ELU, GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid,
                         SiLU, Softmax, Softplus, Tanh)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .sync_batchnorm import SyncBatchNorm  # noqa: F401


def __getattr__(name):  # a PyTorch name this module lacks: one line saying what to use instead
    from .._porting import missing_name  # noqa: PLC0415 (only on a failed lookup)
    raise missing_name(__name__, name, globals())
