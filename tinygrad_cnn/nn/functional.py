"""Functional ops with PyTorch's names and argument orders (`import tinygrad_cnn.nn.functional as F`)."""
from ..ops.conv import conv1d, conv2d  # noqa: F401
from ..ops.conv_transpose import conv_transpose2d  # noqa: F401
from ..ops.dropout import dropout, dropout2d  # noqa: F401
from ..ops.elementwise import (elu, gelu, hardsigmoid, hardswish, hardtanh, leaky_relu, relu, relu6,  # noqa: F401
                               sigmoid, silu, softplus, tanh)
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,  # noqa: F401
                        huber_loss, kl_div, l1_loss, log_softmax, mse_loss, nll_loss, smooth_l1_loss, softmax)
from ..ops.matmul import linear  # noqa: F401
from ..ops.movement import pad  # noqa: F401
from ..ops.normalization import batch_norm  # noqa: F401
from ..ops.norms import group_norm, instance_norm, layer_norm  # noqa: F401
from ..ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from ..ops.resize import interpolate  # noqa: F401


def __getattr__(name):  # a PyTorch name this module lacks: one line saying what to use instead
    from .._porting import missing_name  # noqa: PLC0415 (only on a failed lookup)
    raise missing_name(__name__, name, globals())
