"""Resampling along the two spatial axes: F.interpolate (modes nearest, nearest-exact, bilinear,
area) and the separable windows that adaptive pooling (pool.py) shares.

Each of these ops resamples the height axis and the width axis independently. Along an axis of
input size n and output size m, output position o reads a few input positions, its *taps*:
index[t, o] with weight[t, o], for the taps where valid[t, o]. Forward gathers the taps (one
`take` per tap and axis: width first, then height); so every output reads only the input values
PyTorch reads (an inf elsewhere in the row changes nothing). Backward maps the gradient through
the transposed (m, n) resampling matrix of each axis, one GEMM per axis (one per tap for max
pooling): deterministic, with no scatter-add and no atomics on a GPU.
"""
import math
from typing import NamedTuple, Optional

import numpy as np

from ..autograd import Function
from ..backend import array_module
from ..errors import ShapeError
from .common import require_float


class AxisTaps(NamedTuple):
    """How one axis of size n is resampled to size m: output o reads input index[t, o] with weight
    weight[t, o] for each tap t where valid[t, o]."""
    index: object             # (T, m) int64
    weight: Optional[object]  # (T, m) floats; None: every tap weighs 1
    valid: Optional[object]   # (T, m) bool; None: every tap is used
    in_size: int


def _along(vector, axis, ndim):
    """A per-position vector (m,) shaped to broadcast along `axis` of an ndim-array."""
    return vector.reshape((-1,) + (1,) * (ndim - 1 - axis))


def gather_sum(x, axis, taps):
    """sum over taps t of weight[t] * x.take(index[t], axis), valid taps only: x with `axis`
    resampled from n to m positions."""
    xp = array_module(x)
    total = None
    for t in range(taps.index.shape[0]):
        values = x.take(taps.index[t], axis=axis)
        if taps.weight is not None:
            values = _along(taps.weight[t], axis, x.ndim) * values
        if taps.valid is not None and t > 0:  # every window's first tap is valid
            values = xp.where(_along(taps.valid[t], axis, x.ndim), values, 0)
        total = values if total is None else total + values
    return total


def gather_max(x, axis, taps):
    """(max over the valid taps, the tap holding it (int32)): x with `axis` resampled to m
    positions. A later tap wins only when strictly greater, or when NaN (as PyTorch's CPU
    kernels: the first maximum, or the last NaN)."""
    xp = array_module(x)
    best = x.take(taps.index[0], axis=axis)
    which = xp.zeros(best.shape, dtype=xp.int32)
    for t in range(1, taps.index.shape[0]):
        values = x.take(taps.index[t], axis=axis)
        wins = (values > best) | xp.isnan(values)
        if taps.valid is not None:
            wins &= _along(taps.valid[t], axis, x.ndim)
        best = xp.where(wins, values, best)
        which = xp.where(wins, xp.int32(t), which)
    return best, which


def matrix(taps, dtype, tap=None):
    """The (m, n) resampling matrix of `taps` (of tap `tap` alone when given): row o holds the
    tap weights at their input positions (a position two taps share holds their sum)."""
    xp = array_module(taps.index)
    positions = xp.arange(taps.in_size)
    total = None
    for t in range(taps.index.shape[0]) if tap is None else (tap,):
        hit = taps.index[t][:, None] == positions  # (m, n)
        if taps.valid is not None:
            hit &= taps.valid[t][:, None]
        part = hit.astype(dtype) if taps.weight is None else hit * taps.weight[t][:, None]
        total = part if total is None else total + part
    return total


def contract(a, axis, mat):
    """a with `axis` (of length m) mapped through mat (m, n): out[.., i, ..] = sum_o a[.., o, ..]
    mat[o, i], the transposed resampling (one GEMM)."""
    xp = array_module(a)
    return xp.moveaxis(xp.tensordot(a, mat, axes=([axis], [0])), -1, axis)


# ---------------------------------------------------------------- taps of each mode
def window_taps(xp, in_size, out_size):
    """(taps, window lengths (m,) int64) of adaptive pooling: window o covers
    [floor(o * n / m), ceil((o + 1) * n / m)), as PyTorch's adaptive pools."""
    longest = max((-(-(o + 1) * in_size // out_size) - o * in_size // out_size for o in range(out_size)), default=1)
    o = xp.arange(out_size)
    start = o * in_size // out_size
    end = -(-(o + 1) * in_size // out_size)
    index = start + xp.arange(longest)[:, None]      # (T, m)
    valid = index < end
    return AxisTaps(xp.minimum(index, end - 1), None, valid, in_size), end - start


def _scale(in_size, out_size, scale):
    """PyTorch's source-index scale: 1 / scale_factor when one was given, else n / m."""
    return 1.0 / scale if scale is not None and scale > 0 else in_size / out_size


def nearest_taps(xp, in_size, out_size, scale, exact=False):
    """One tap per output: index floor(o * s) ('nearest') or floor((o + 0.5) * s)
    ('nearest-exact'), at most n - 1, computed in float32 as PyTorch's kernels do."""
    s = np.float32(_scale(in_size, out_size, scale))
    o = xp.arange(out_size)
    if not exact and out_size == in_size:
        index = o
    elif not exact and out_size == 2 * in_size:
        index = o // 2
    elif exact:  # (o + 0.5) * s in double, rounded to float32 by floorf
        index = xp.floor(((o + 0.5) * float(s)).astype(xp.float32)).astype(xp.int64)
    else:
        index = xp.floor(o.astype(xp.float32) * s).astype(xp.int64)
    return AxisTaps(xp.minimum(index, in_size - 1)[None], None, None, in_size)


def linear_taps(xp, in_size, out_size, scale, align_corners, dtype):
    """Two taps per output: the input positions either side of the source coordinate, with
    weights 1 - frac and frac (PyTorch's source-index rules, in the input's dtype)."""
    o = xp.arange(out_size)
    if out_size == in_size:  # PyTorch copies (whatever the scale factor)
        zero = xp.zeros(out_size, dtype=dtype)
        return AxisTaps(xp.stack([o, o]), xp.stack([zero + 1, zero]), None, in_size)
    real = dtype.type
    if align_corners:
        ratio = real((in_size - 1) / (out_size - 1)) if out_size > 1 else real(0)
        source = ratio * o.astype(dtype)
    else:
        ratio = real(_scale(in_size, out_size, scale))
        source = xp.maximum(ratio * (o.astype(dtype) + real(0.5)) - real(0.5), real(0))
    low = xp.minimum(xp.floor(source).astype(xp.int64), in_size - 1)
    frac = xp.clip(source - low.astype(dtype), real(0), real(1))
    high = low + (low < in_size - 1)
    return AxisTaps(xp.stack([low, high]), xp.stack([real(1) - frac, frac]), None, in_size)


def _mode_taps(xp, mode, in_size, out_size, scale, align_corners, dtype):
    if mode == "bilinear":
        return linear_taps(xp, in_size, out_size, scale, align_corners, dtype)
    return nearest_taps(xp, in_size, out_size, scale, exact=mode == "nearest-exact")


class Interpolate(Function):
    """Nearest or bilinear resampling of (N, C, H, W) to (N, C, Ho, Wo); see the module docstring."""

    name = "interpolate"

    @staticmethod
    def forward(ctx, x, size, mode, align_corners, scales):
        xp = array_module(x)
        taps_h, taps_w = (_mode_taps(xp, mode, n, m, s, align_corners, x.dtype)
                          for n, m, s in zip(x.shape[2:], size, scales))
        ctx.save_for_backward(taps_h, taps_w)
        return gather_sum(gather_sum(x, 3, taps_w), 2, taps_h)

    @staticmethod
    def backward(ctx, g):
        taps_h, taps_w = ctx.saved_tensors
        return contract(contract(g, 3, matrix(taps_w, g.dtype)), 2, matrix(taps_h, g.dtype))


# ---------------------------------------------------------------- argument handling
_MODES = ("nearest", "nearest-exact", "bilinear", "area")
_UNSUPPORTED = ("linear", "bicubic", "trilinear", "lanczos")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _output_size(op, x, size, scale_factor, recompute_scale_factor, mode):
    """((Ho, Wo), (scale_h, scale_w) or (None, None)) as F.interpolate computes them."""
    spatial = list(x.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError(f"{op}: only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError(f"{op}: either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        sizes = list(size) if isinstance(size, (list, tuple)) else [size, size]
        if len(sizes) != 2:
            raise ValueError(f"{op}: input and output must have the same number of spatial dimensions, but got "
                             f"input with spatial dimensions of {spatial} and output size of {size}")
        if not all(_is_int(s) for s in sizes):
            raise TypeError(f"{op}: expected size to be an int or a pair of ints, got {size!r}")
        out, scales = tuple(int(s) for s in sizes), (None, None)
    else:
        scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * 2
        if len(scales) != 2:
            raise ValueError(f"{op}: input and scale_factor must have the same number of spatial dimensions, but "
                             f"got input with spatial dimensions of {spatial} and scale_factor of {scale_factor}")
        scales = tuple(float(s) for s in scales)
        out = tuple(int(n * s) if math.isfinite(n * s) else -1 for n, s in zip(spatial, scales))
        if recompute_scale_factor:
            scales = (None, None)
    if mode != "area" and (min(out) < 1 or min(spatial) < 1):  # area: adaptive_avg_pool2d checks
        raise ShapeError(f"{op}: input and output sizes should be greater than 0, but got input (H: {spatial[0]}, "
                         f"W: {spatial[1]}) output (H: {out[0]}, W: {out[1]})")
    return out, scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resample (N, C, H, W) input to `size` (int or pair) or by `scale_factor` (number or pair),
    as torch.nn.functional.interpolate, for the modes 'nearest', 'nearest-exact', 'bilinear'
    (align_corners True or False; None means False) and 'area' (adaptive average pooling).

    With scale_factor the output size is floor(size * scale_factor) and the source positions
    use 1 / scale_factor (unless recompute_scale_factor=True, which uses the sizes' ratio)."""
    op = "interpolate"
    if mode not in _MODES + _UNSUPPORTED:
        raise NotImplementedError(f"{op}: mode {mode!r} is not one of nearest | nearest-exact | bilinear | area")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners option can only be set with the interpolating modes: "
                             f"linear | bilinear | bicubic | trilinear (got mode {mode!r})")
    elif align_corners is None:
        align_corners = False
    if input.ndim != 4:
        raise NotImplementedError(f"{op}: only 4-D input (N, C, H, W) is supported, got input of shape {input.shape}")
    if mode in _UNSUPPORTED:
        raise NotImplementedError(f"{op}: mode {mode!r} is not supported (nearest | nearest-exact | bilinear | area)")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    require_float(op, input)
    recompute_scale_factor = recompute_scale_factor or (mode == "area" and size is None)  # as PyTorch
    out, scales = _output_size(op, input, size, scale_factor, recompute_scale_factor, mode)
    if mode == "area":
        from .pool import adaptive_avg_pool2d  # noqa: PLC0415 (pool.py imports this module)
        return adaptive_avg_pool2d(input, out)
    return Interpolate.apply(input, size=out, mode=mode, align_corners=bool(align_corners), scales=scales)
