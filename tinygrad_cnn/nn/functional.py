"""Functional ops with PyTorch's names and argument orders (`import tinygrad_cnn.nn.functional as F`)."""
from ..ops.conv import conv1d, conv2d  # noqa: F401
from ..ops.conv_transpose import conv_transpose2d  # noqa: F401
from ..ops.dropout import dropout, dropout2d  # noqa: F401
from ..ops.elementwise import leaky_relu, relu, sigmoid, tanh  # noqa: F401
from ..ops.loss import cross_entropy, log_softmax, mse_loss, nll_loss, softmax  # noqa: F401
from ..ops.matmul import linear  # noqa: F401
from ..ops.movement import pad  # noqa: F401
from ..ops.normalization import batch_norm  # noqa: F401
from ..ops.norms import group_norm, instance_norm, layer_norm  # noqa: F401
from ..ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from ..ops.resize import interpolate  # noqa: F401
