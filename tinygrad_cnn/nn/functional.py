"""Functional ops with PyTorch's names and argument orders (`import tinygrad_cnn.nn.functional as F`)."""
from ..ops.conv import conv1d, conv2d  # noqa: F401
from ..ops.dropout import dropout, dropout2d  # noqa: F401
from ..ops.elementwise import leaky_relu, relu, sigmoid, tanh  # noqa: F401
from ..ops.loss import cross_entropy, log_softmax, mse_loss, nll_loss, softmax  # noqa: F401
from ..ops.matmul import linear  # noqa: F401
from ..ops.movement import pad  # noqa: F401
from ..ops.normalization import batch_norm  # noqa: F401
from ..ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from ..ops.elementwise import elu, gelu, hardsigmoid, hardswish, hardtanh, relu6, silu, softplus  # noqa: F401
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, kl_div,  # noqa: F401
                        l1_loss, smooth_l1_loss)


def __getattr__(name):  # a PyTorch name this module lacks: one line saying what to use instead
    from .._porting import missing_name  # noqa: PLC0415 (only on a failed lookup)
    raise missing_name(__name__, name, globals())
