"""Layers: thin Modules holding parameters and calling the functional ops.

Each layer checks its input's shape first and raises a ShapeError naming the layer and both
shapes (e.g. `Conv2d(3, 32, kernel_size=(3, 3), ...) expects 3 input channels, got input of
shape (8, 1, 28, 28)`). Default initializations are PyTorch's.
"""
import math
import numbers
import warnings

from .. import backend
from ..errors import ShapeError
from ..ops import conv as conv_ops
from ..ops import conv_transpose, norms, resize
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
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _spatial = 2
    _transposed = False  # weight (in, out/groups, *kernel) instead of (out, in/groups, *kernel)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, in_channels=in_channels, out_channels=out_channels)
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
            raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels {in_channels} and out_channels {out_channels} "
                             f"must be divisible by groups {groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {list(_PADDING_MODES)}, "
                             f"but got padding_mode={padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported, got padding_mode={padding_mode!r}')
        n = self._spatial
        as_tuple = lambda v: (v,) * n if isinstance(v, int) else tuple(v)  # noqa: E731
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = as_tuple(kernel_size), as_tuple(stride), as_tuple(dilation)
        self.padding = padding if isinstance(padding, str) else as_tuple(padding)
        self.output_padding, self.padding_mode = as_tuple(output_padding), padding_mode
        channels = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        self.weight = _empty_parameter(channels + self.kernel_size, device, dtype)
        self.bias = _empty_parameter((out_channels,), device, dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)  # as PyTorch, from the weight's shape
        _fan_in_uniform_(self.weight, fan_in)
        if self.bias is not None:
            _fan_in_uniform_(self.bias, fan_in)

    def _check_input(self, x):
        if x.ndim != self._spatial + 2:
            dims = "(N, C, H, W)" if self._spatial == 2 else "(N, C, L)"
            raise shape_error(self, f"input of shape {dims}", x)
        if x.shape[1] != self.in_channels:
            raise shape_error(self, f"{self.in_channels} input channels", x)

    def _padded(self, x):
        """(x, padding for the conv op): with padding_mode 'zeros' x itself and self.padding; else x
        padded by F.pad in that mode and 0 (as PyTorch does)."""
        if self.padding_mode == "zeros":
            return x, self.padding
        if self.padding == "valid":
            return x, 0
        pads = []  # F.pad's order: (before, after) of the last axis first
        for k, d, p in reversed(list(zip(self.kernel_size, self.dilation, self.padding if self.padding != "same"
                                          else (None,) * self._spatial))):
            if p is None:  # "same": the odd extra goes after, as in PyTorch
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            else:
                pads += [p, p]
        return movement.pad(x, tuple(pads), mode=self.padding_mode), 0

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._spatial:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._spatial:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W); weight (out, in/groups, kh, kw); padding int, pair, "same", "valid";
    padding_mode 'zeros', 'reflect', 'replicate' or 'circular'."""

    _spatial = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    def forward(self, x):
        self._check_input(x)
        x, padding = self._padded(x)
        return conv_ops.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L); weight (out, in/groups, k); padding_mode as Conv2d's."""

    _spatial = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    def forward(self, x):
        self._check_input(x)
        x, padding = self._padded(x)
        padding = padding if isinstance(padding, (str, int)) else padding[0]
        return conv_ops.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution over (N, C_in, H, W); weight (in, out/groups, kh, kw).
    forward(x, output_size=None): output_size (H, W) or (N, C, H, W) picks output_padding."""

    _spatial = 2
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding=output_padding)

    def forward(self, x, output_size=None):
        self._check_input(x)
        output_padding = self._output_padding(x, output_size)
        return conv_transpose.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, output_padding,
                                               self.groups, self.dilation)

    def _output_padding(self, x, output_size):
        """self.output_padding, or the one giving `output_size` (PyTorch's rule and ValueError)."""
        if output_size is None:
            return self.output_padding
        output_size = tuple(int(s) for s in output_size)
        if len(output_size) == 4:
            output_size = output_size[2:]
        if len(output_size) != 2:
            raise ValueError(f"ConvTranspose2d: for 4D input, output_size must have 2 or 4 elements "
                             f"(got {len(output_size)})")
        smallest = conv_transpose.output_size(x.shape[2:], self.kernel_size, self.stride, self.padding, (0, 0),
                                              self.dilation)
        largest = tuple(m + s - 1 for m, s in zip(smallest, self.stride))
        if any(not lo <= size <= hi for size, lo, hi in zip(output_size, smallest, largest)):
            raise ValueError(f"ConvTranspose2d: requested an output size of {output_size}, but valid sizes range "
                             f"from {list(smallest)} to {list(largest)} (for an input of {x.shape[2:]})")
        return tuple(size - lo for size, lo in zip(output_size, smallest))


# ---------------------------------------------------------------- normalization
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


class InstanceNorm2d(_BatchNorm):
    """Instance norm over (N, C, H, W) (or unbatched (C, H, W)): each channel of each sample
    normalized over its positions. affine=False and track_running_stats=False by default, as
    PyTorch; with track_running_stats, training updates running_mean / running_var (never
    num_batches_tracked, as PyTorch) and eval normalizes with them."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        if not bias:
            self.bias = None

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise shape_error(self, "input of shape (N, C, H, W) or (C, H, W)", x)
        channels = x.shape[x.ndim - 3]
        if channels != self.num_features:
            if self.affine:
                raise ShapeError(f"InstanceNorm2d({self.extra_repr()}): expected input's size at dim={x.ndim - 3} to "
                                 f"match num_features ({self.num_features}), got input of shape {x.shape}")
            warnings.warn(f"InstanceNorm2d: input's size at dim={x.ndim - 3} ({channels}) does not match "
                          f"num_features ({self.num_features}), which is not used because affine=False",
                          stacklevel=2)
        if x.ndim == 3:
            return self._normalize(x.unsqueeze(0)).squeeze(0)
        return self._normalize(x)

    def _normalize(self, x):
        return norms.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                   self.training or not self.track_running_stats,
                                   self.momentum if self.momentum is not None else 0.0, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class GroupNorm(Module):
    """Group norm over (N, C, *): the channels in num_groups groups, each normalized over its
    channels and positions per sample; weight (ones) and bias (zeros, unless bias=False) per
    channel when affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        _check_sizes("GroupNorm", num_groups=num_groups, num_channels=num_channels)
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = _empty_parameter((num_channels,), device, dtype) if affine else None
        self.bias = _empty_parameter((num_channels,), device, dtype) if affine and bias else None
        if affine:
            init.ones_(self.weight)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise shape_error(self, f"input of shape (N, {self.num_channels}, *)", x)
        return norms.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class LayerNorm(Module):
    """Layer norm over the trailing normalized_shape axes; weight (ones) and bias (zeros) of
    normalized_shape when elementwise_affine (bias=False: no bias)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        _check_sizes("LayerNorm", **{f"normalized_shape[{i}]": s for i, s in enumerate(shape)})
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = _empty_parameter(shape, device, dtype) if elementwise_affine else None
        self.bias = _empty_parameter(shape, device, dtype) if elementwise_affine and bias else None
        if elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        n = len(self.normalized_shape)
        if x.shape[max(0, x.ndim - n):] != self.normalized_shape:
            raise shape_error(self, f"input of shape (*, {', '.join(map(str, self.normalized_shape))})", x)
        return norms.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


# ---------------------------------------------------------------- activations


# ---------------------------------------------------------------- pooling
def _check_4d(layer, x):
    if x.ndim != 4:
        raise shape_error(layer, "input of shape (N, C, H, W)", x)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x):
        _check_4d(self, x)
        return pool.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                               self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x):
        _check_4d(self, x)
        return pool.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                               self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to output_size (int, pair; None keeps that input size), any size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        _check_4d(self, x)
        return pool.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Max pooling to output_size (int, pair; None keeps that input size), any size."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x):
        _check_4d(self, x)
        return pool.adaptive_max_pool2d(x, self.output_size, self.return_indices)


# ---------------------------------------------------------------- resampling and padding
class Upsample(Module):
    """F.interpolate as a layer: to `size`, or by `scale_factor` (stored as floats, as PyTorch)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return resize.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                                  recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with align_corners=True (as PyTorch's)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _Pad2d(Module):
    """F.pad of the last two axes by padding (left, right, top, bottom), or an int for all four."""

    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 4:
            raise ValueError(f"{type(self).__name__}: padding must be an int or 4 ints, got {padding!r}")

    def forward(self, x):
        return movement.pad(x, self.padding, mode=self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad2d(_Pad2d):
    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    mode = "replicate"


class ZeroPad2d(_Pad2d):
    pass


class ConstantPad2d(_Pad2d):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, x):
        return movement.pad(x, self.padding, value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


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
