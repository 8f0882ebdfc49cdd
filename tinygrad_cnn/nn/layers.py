"""Layers: thin Modules holding parameters and calling the functional ops.

Each layer checks its input's shape first and raises a ShapeError naming the layer and both
shapes (e.g. `Conv2d(3, 32, kernel_size=(3, 3), ...) expects 3 input channels, got input of
shape (8, 1, 28, 28)`). Default initializations are PyTorch's.
"""
import math
import numbers

from .. import backend
from ..errors import ShapeError
from ..ops import conv as conv_ops
from ..ops import dropout as dropout_ops
from ..ops import matmul, movement, normalization, pool
from ..tensor import Tensor, zeros, ones, resolve_dtype, _DEFAULT_FLOAT
from . import init
from .module import Module, shape_error
from .parameter import Parameter


def _empty_parameter(shape, device, dtype):
    device = backend.parse_device(device)
    dtype = resolve_dtype(dtype) or _DEFAULT_FLOAT
    with backend.device_context(device):
        data = backend.module_for_device(device).zeros(shape, dtype=dtype)
    return Parameter(Tensor._wrap(data, device))


def _check_sizes(layer, **sizes):
    """The layer's size arguments must be ints >= 0: TypeError (not an int) or ShapeError (a
    RuntimeError, as PyTorch's 'negative dimension') naming the layer, the argument and its value."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{layer}: {name} must be an int, got {value!r}")
        if value < 0:
            raise ShapeError(f"{layer}: {name} must be >= 0, got {value} (a negative dimension)")


def _fan_in_uniform_(tensor, fan_in):
    """PyTorch's default for Linear/Conv weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    return init.uniform_(tensor, -bound, bound)


# ---------------------------------------------------------------- linear layers
class Linear(Module):
    """y = x @ weight.T + bias; x (..., in_features) -> (..., out_features)."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _check_sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty_parameter((out_features, in_features), device, dtype)
        self.bias = _empty_parameter((out_features,), device, dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        # kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as in PyTorch
        _fan_in_uniform_(self.weight, self.in_features)
        if self.bias is not None:
            _fan_in_uniform_(self.bias, self.in_features)

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise shape_error(self, f"input of shape (..., {self.in_features})", x)
        return matmul.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dimensions start_dim..end_dim (default: all but the batch axis)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return movement.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# ---------------------------------------------------------------- convolutions
class _ConvNd(Module):
    _spatial = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, device=None, dtype=None):
        super().__init__()
        _check_sizes(type(self).__name__, in_channels=in_channels, out_channels=out_channels)
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
            raise ValueError(f"{type(self).__name__}: groups must be a positive int, got {groups!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels {in_channels} and out_channels {out_channels} "
                             f"must be divisible by groups {groups}")
        n = self._spatial
        as_tuple = lambda v: (v,) * n if isinstance(v, int) else tuple(v)  # noqa: E731
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = as_tuple(kernel_size), as_tuple(stride), as_tuple(dilation)
        self.padding = padding if isinstance(padding, str) else as_tuple(padding)
        self.weight = _empty_parameter((out_channels, in_channels // groups) + self.kernel_size, device, dtype)
        self.bias = _empty_parameter((out_channels,), device, dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        _fan_in_uniform_(self.weight, fan_in)
        if self.bias is not None:
            _fan_in_uniform_(self.bias, fan_in)

    def _check_input(self, x):
        if x.ndim != self._spatial + 2:
            dims = "(N, C, H, W)" if self._spatial == 2 else "(N, C, L)"
            raise shape_error(self, f"input of shape {dims}", x)
        if x.shape[1] != self.in_channels:
            raise shape_error(self, f"{self.in_channels} input channels", x)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._spatial:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W); weight (out, in/groups, kh, kw); padding int, pair, "same", "valid"."""

    _spatial = 2

    def forward(self, x):
        self._check_input(x)
        return conv_ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L); weight (out, in/groups, k)."""

    _spatial = 1

    def forward(self, x):
        self._check_input(x)
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return conv_ops.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups)


# ---------------------------------------------------------------- batch norm
class _BatchNorm(Module):
    _input_dims = (4,)
    _shape_text = "(N, C, H, W)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__()
        _check_sizes(type(self).__name__, num_features=num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = _empty_parameter((num_features,), device, dtype)
            self.bias = _empty_parameter((num_features,), device, dtype)
            init.ones_(self.weight)
        else:
            self.weight = self.bias = None
        if track_running_stats:
            device = backend.parse_device(device)
            dtype = resolve_dtype(dtype) or _DEFAULT_FLOAT
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", zeros((), device=device, dtype="int64"))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x):
        if x.ndim not in self._input_dims:
            raise shape_error(self, f"input of shape {self._shape_text}", x)
        if x.shape[1] != self.num_features:
            raise shape_error(self, f"{self.num_features} channels", x)
        use_batch_stats = self.training or self.running_mean is None
        track = self.training and self.track_running_stats
        momentum = self.momentum
        if track and momentum is None:  # cumulative moving average, as PyTorch
            momentum = 1.0 / (float(self.num_batches_tracked.item()) + 1)
        out = normalization.batch_norm(
            x, self.running_mean if (track or not use_batch_stats) else None,
            self.running_var if (track or not use_batch_stats) else None,
            self.weight, self.bias, use_batch_stats, 0.0 if momentum is None else momentum, self.eps)
        if track:  # counted only once the batch was accepted
            self.num_batches_tracked.array += 1
        return out

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W), per channel."""


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L), per channel."""

    _input_dims = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"


# ---------------------------------------------------------------- pooling
class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding

    def forward(self, x):
        if x.ndim != 4:
            raise shape_error(self, "input of shape (N, C, H, W)", x)
        return pool.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding
        self.count_include_pad = count_include_pad

    def forward(self, x):
        if x.ndim != 4:
            raise shape_error(self, "input of shape (N, C, H, W)", x)
        return pool.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        if x.ndim != 4:
            raise shape_error(self, "input of shape (N, C, H, W)", x)
        return pool.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


# ---------------------------------------------------------------- dropout
class Dropout(Module):
    """Zero elements with probability p in training (scaling the rest by 1/(1-p)); identity in eval."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be between 0 and 1, got {p}")
        self.p = p

    def forward(self, x):
        return dropout_ops.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace=False"


class Dropout2d(Dropout):
    """Zero whole channels with probability p in training."""

    def forward(self, x):
        return dropout_ops.dropout2d(x, self.p, self.training)
