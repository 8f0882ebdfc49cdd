"""Layer, group and instance normalization: statistics per sample. (Batch norm, whose statistics
span the batch, is in normalization.py.)

Each op normalizes groups of values by their own mean and biased variance, then applies a
per-element (layer norm) or per-channel (group and instance norm) affine map:

    y = xhat * weight + bias,   xhat = (x - mean) * invstd,   invstd = 1 / sqrt(var + eps)
    dx = invstd * (gw - mean(gw) - xhat * mean(gw * xhat)),   gw = g * weight

with the means over each group. The groups are axes of a view of the input, so no op copies it:
layer_norm reduces the trailing normalized_shape axes; group_norm splits the channels into
(G, C/G) (a view in any memory layout, channels-last conv outputs too) and reduces all axes but
the batch and G; instance_norm reduces the spatial axes.
"""
import numbers

from ..autograd import Function, sum_to_shape
from ..backend import array_module
from ..errors import ShapeError
from .common import require_float, same_dtype
from .normalization import batch_norm


class Normalize(Function):
    """y = (x - mean) * invstd * weight + bias over the `axes` of x viewed as `view` (a split of
    x's axes); weight and bias broadcast as `affine` in that view. `running`: instance norm's
    (running_mean, running_var, momentum), updated in place from the per-sample statistics."""

    name = "normalize"

    @staticmethod
    def forward(ctx, x, weight, bias, view, axes, affine, eps, running):
        xp = array_module(x)
        xv = x.reshape(view)
        dtype = x.dtype.type
        mean = xv.mean(axis=axes, keepdims=True)
        centered = xv - mean
        # the rounding of `mean` shifts every centered value alike, an error as large as the mean
        # (not the spread): take it out again (corrected two-pass algorithm)
        drift = centered.mean(axis=axes, keepdims=True)
        centered -= drift
        mean += drift
        var = (centered * centered).mean(axis=axes, keepdims=True)
        invstd = dtype(1) / xp.sqrt(var + dtype(eps))
        xhat = centered * invstd
        if running is not None:
            _update_running(running, mean, var, xv.size // mean.size)
        out = xhat if weight is None else xhat * weight.reshape(affine)
        if bias is not None:
            out = out + bias.reshape(affine)
        ctx.shape, ctx.view, ctx.axes, ctx.affine = x.shape, view, axes, affine
        ctx.bias_shape = None if bias is None else bias.shape
        ctx.save_for_backward(xhat, invstd, weight)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, weight = ctx.saved_tensors
        gv = g.reshape(ctx.view)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if need_x:
            gw = gv if weight is None else gv * weight.reshape(ctx.affine)
            mean_g = gw.mean(axis=ctx.axes, keepdims=True)
            mean_gx = (gw * xhat).mean(axis=ctx.axes, keepdims=True)
            grad_x = (invstd * (gw - mean_g - xhat * mean_gx)).reshape(ctx.shape)
        if need_w:  # sum of g * xhat over every axis the weight is broadcast along
            grad_w = sum_to_shape(gv * xhat, ctx.affine).reshape(weight.shape)
        if need_b:
            grad_b = sum_to_shape(gv, ctx.affine).reshape(ctx.bias_shape)
        return grad_x, grad_w, grad_b


def _update_running(running, mean, var, count):
    """Instance norm's running statistics: momentum-average the batch means of the per-sample
    (N, C) mean and unbiased variance, in place (as PyTorch)."""
    running_mean, running_var, momentum = running
    n, c = mean.shape[:2]
    running_mean *= 1 - momentum
    running_mean += momentum * mean.reshape(n, c).mean(axis=0)
    running_var *= 1 - momentum
    running_var += (momentum * count / (count - 1)) * var.reshape(n, c).mean(axis=0)


def _affine_check(op, x, channels, **tensors):
    for label, t in tensors.items():
        if t is not None and t.shape != (channels,):
            raise ShapeError(f"{op}: {label} of shape {t.shape} does not fit input of shape {x.shape} "
                             f"({channels} channels)")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Layer normalization as torch.nn.functional.layer_norm: normalize over the trailing
    `normalized_shape` axes of each position (a tuple or list of ints); weight and bias (of
    normalized_shape) or None."""
    op = "layer_norm"
    x = input
    require_float(op, x, weight, bias)
    same_dtype(op, x, weight, bias)
    if isinstance(normalized_shape, numbers.Integral) or \
            not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in normalized_shape):
        raise TypeError(f"{op}: normalized_shape must be a tuple or list of ints, got {normalized_shape!r}")
    shape = tuple(int(s) for s in normalized_shape)
    if not shape:
        raise ShapeError(f"{op}: normalized_shape must hold at least one size, got {normalized_shape!r}")
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ShapeError(f"{op}: given normalized_shape={list(shape)}, expected input of shape (*, "
                         f"{', '.join(map(str, shape))}), got input of shape {x.shape}")
    for label, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ShapeError(f"{op}: {label} of shape {t.shape} must have normalized_shape {shape}")
    lead = x.ndim - len(shape)
    return Normalize.apply(x, weight, bias, view=x.shape, axes=tuple(range(lead, x.ndim)),
                           affine=(1,) * lead + shape, eps=float(eps), running=None)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Group normalization as torch.nn.functional.group_norm: the C channels of (N, C, *) input
    in num_groups groups of C / num_groups channels, each normalized over its channels and
    positions per sample; weight and bias (C,) or None."""
    op = "group_norm"
    x = input
    require_float(op, x, weight, bias)
    same_dtype(op, x, weight, bias)
    if x.ndim < 2:
        raise ShapeError(f"{op}: expected input of shape (N, C, *), got {x.shape}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or num_groups < 1:
        raise ValueError(f"{op}: num_groups must be a positive int, got {num_groups!r}")
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    if c % num_groups:
        raise ShapeError(f"{op}: expected the number of channels of the input to be divisible by num_groups, but got "
                         f"input of shape {x.shape} and num_groups={num_groups}")
    _affine_check(op, x, c, weight=weight, bias=bias)
    per_group = c // num_groups * _prod(spatial)
    if n * per_group == 1:
        raise ValueError(f"{op}: expected more than 1 value per group when training, got input of shape {x.shape}")
    ones = (1,) * len(spatial)
    return Normalize.apply(x, weight, bias, view=(n, num_groups, c // num_groups) + spatial,
                           axes=tuple(range(2, 3 + len(spatial))), affine=(1, num_groups, c // num_groups) + ones,
                           eps=float(eps), running=None)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,  # noqa: A002
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalization as torch.nn.functional.instance_norm: each channel of each sample
    of (N, C, *) input normalized over its positions; weight and bias (C,) or None.

    use_input_stats=True normalizes with each instance's statistics and, when running_mean /
    running_var (C,) are given, updates them in place with the batch means of the instances'
    mean and unbiased variance; False normalizes with the running statistics (as batch norm in
    eval mode)."""
    op = "instance_norm"
    x = input
    require_float(op, x, weight, bias)
    same_dtype(op, x, weight, bias, running_mean, running_var)
    if x.ndim < 3:
        raise ShapeError(f"{op}: expected input of shape (N, C, *) with at least one spatial axis, got {x.shape}")
    c, spatial = x.shape[1], x.shape[2:]
    _affine_check(op, x, c, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{op}: running_mean and running_var must be given when use_input_stats is False")
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    if _prod(spatial) <= 1:
        raise ValueError(f"{op}: expected more than 1 spatial element when training, got input of shape {x.shape}")
    running = None
    if running_mean is not None or running_var is not None:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{op}: give both running_mean and running_var, or neither")
        for t in (running_mean, running_var):
            if t.device != x.device:
                raise RuntimeError(f"{op}: running statistics on {t.device} but input on {x.device}")
        running = (running_mean.array, running_var.array, float(momentum))
    return Normalize.apply(x, weight, bias, view=x.shape, axes=tuple(range(2, x.ndim)),
                           affine=(1, c) + (1,) * len(spatial), eps=float(eps), running=running)


def _prod(values):
    total = 1
    for v in values:
        total *= v
    return total

