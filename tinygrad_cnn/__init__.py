"""tinygrad_cnn: a PyTorch-like deep-learning library for CNNs with every gradient hand-written.

    import tinygrad_cnn as tc
    x = tc.randn(8, 3, 32, 32, requires_grad=True)
"""
from .backend import device, manual_seed, gpu_available
from .errors import ArgumentError, ShapeError, DeviceError
from .autograd import no_grad, enable_grad, is_grad_enabled, Function
from .tensor import (Tensor, tensor, zeros, ones, full, randn, rand, arange, zeros_like, ones_like,
                     float16, float32, float64, int32, int64, uint8, bool_)
from .ops.elementwise import (add, sub, mul, div, neg, pow, exp, log, sqrt, abs, relu, sigmoid, tanh,
                              maximum, minimum, clip, clamp, where)
from .ops.reduce import sum, mean, max, min, amax, amin, var, std, argmax, argmin
from .ops.movement import (reshape, permute, transpose, flatten, squeeze, unsqueeze, broadcast_to, cat,
                           concatenate, concat, stack, pad)
from .tensor import empty, from_numpy
from .ops.elementwise import clamp_min, clamp_max, clone, erf, eq, ne, lt, le, gt, ge
from .ops.reduce import topk
from .ops.movement import split, chunk
from .ops.matmul import matmul
from .gradcheck import gradcheck, GradcheckError
from .serialization import save, load  # noqa: F401
from . import nn, optim, models, data  # noqa: F401
from . import accelerator, autograd, cuda, distributed, utils  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name):  # a PyTorch name this module lacks: one line saying what to use instead
    from ._porting import missing_name  # noqa: PLC0415 (only on a failed lookup)
    raise missing_name(__name__, name, globals())
