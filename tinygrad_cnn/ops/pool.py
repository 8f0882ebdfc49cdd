"""Pooling: max_pool2d, avg_pool2d (with ceil_mode, dilation for max, divisor_override for avg),
adaptive_avg_pool2d and adaptive_max_pool2d (any output size).

`max_pool2d_reference` at the end of this file computes max pooling from its definition in a
few lines of Tensor ops; the op table tests the fast MaxPool2d against it.

The windows of max and average pooling are strided: kernel position (i, j) of every window is
one strided slab (N, C, Ho, Wo) of the padded input, so forward combines kh*kw slabs (or one
strided window view) and backward adds each kernel position's share into a slab of the input
gradient: loops over the kh*kw kernel positions only. The input is padded on the top and left by
`padding`, and on the bottom and right by as much as the last window needs (ceil_mode windows
may reach past `padding`; PyTorch counts that overhang as neither input nor padding).

Adaptive pooling windows are not strided (window o spans [floor(o*H/oh), ceil((o+1)*H/oh))):
they are gathered per axis as the taps of resize.py, and backward maps the gradient through the
windows' 0/1 matrices with GEMMs. Where the windows happen to be strided (oh divides H) the
strided pools above do the work.
"""
import numbers
from typing import NamedTuple

from .. import backend
from ..autograd import Function
from ..backend import array_module, for_batch_parts
from ..errors import ArgumentError, ShapeError
from .common import require_float
from .conv import _is_channels_last, _pair
from .movement import pad, stack
from .reduce import mean
from .resize import contract, gather_max, gather_sum, matrix, window_taps


class PoolGeometry(NamedTuple):
    """The input and the windows of a max or average pooling."""
    in_shape: tuple       # (N, C, H, W)
    channels_last: bool   # the input's memory layout, which the gradient keeps
    kernel: tuple         # (kh, kw)
    stride: tuple         # (sh, sw)
    padding: tuple        # ((top, bottom), (left, right)) of the padded input the windows cover
    dilation: tuple       # (dh, dw)
    out_hw: tuple         # (Ho, Wo)


def _padded(x, geo, fill):
    """x (N, C, H, W) padded as geo says with `fill`, in x's memory layout (x itself when unpadded)."""
    ((pt, pb), (pl, pr)), (n, c, h, w) = geo.padding, x.shape
    if not (pt or pb or pl or pr):
        return x
    padded = _new_array(array_module(x), (n, c, h + pt + pb, w + pl + pr), x.dtype, geo.channels_last, fill=fill)
    padded[:, :, pt:pt + h, pl:pl + w] = x
    return padded


def _unpadded(grad, geo):
    """The input's part (N, C, H, W) of a gradient of the padded input's shape."""
    ((pt, _), (pl, _)), (h, w) = geo.padding, geo.in_shape[2:]
    return grad[:, :, pt:pt + h, pl:pl + w]


def _slab(array, i, j, geo):
    """The elements of `array` (N, C, Hp, Wp) that kernel position (i, j) touches, (N, C, Ho, Wo)."""
    (sh, sw), (dh, dw), (ho, wo) = geo.stride, geo.dilation, geo.out_hw
    return array[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]


def _new_array(xp, shape, dtype, channels_last, fill=None):
    """A new (N, C, H, W) array, laid out channels-last or NCHW; filled with `fill` unless None."""
    n, c, h, w = shape
    if channels_last:
        array = xp.empty((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)
    else:
        array = xp.empty(shape, dtype=dtype)
    if fill is not None:
        array[...] = fill
    return array


def _padded_shape(geo):
    (n, c, h, w), ((pt, pb), (pl, pr)) = geo.in_shape, geo.padding
    return n, c, h + pt + pb, w + pl + pr


class MaxPool2d(Function):
    """Max over each window; padding counts as -inf. The gradient of each output goes to the
    first maximal position of its window in row-major order, or to its last NaN (as PyTorch).

    Forward takes the elementwise maximum of the kh*kw kernel-position slabs (strided views of
    the input with the output's shape), keeping the input's memory layout; when a gradient is
    needed it also records, per window, the kernel position of that maximum (one byte per
    output). Backward sends each window's gradient to that position (`_route_gradient`).
    """

    name = "max_pool2d"

    @staticmethod
    def forward(ctx, x, geometry):
        xp = array_module(x)
        kh, kw = geometry.kernel
        padded = _padded(x, geometry, -xp.inf)
        slabs = [_slab(padded, i, j, geometry) for i in range(kh) for j in range(kw)]  # each (N, C, Ho, Wo)
        ctx.geometry = geometry
        if not ctx.needs_input_grad[0]:
            best = xp.maximum(slabs[0], slabs[1]) if len(slabs) > 1 else slabs[0].copy()
            for slab in slabs[2:]:
                xp.maximum(best, slab, out=best)
            return best
        # the kernel position of each window's maximum: a later position takes over only when
        # strictly larger (ties stay with the first) or NaN (the last NaN wins, as in PyTorch)
        best = _new_array(xp, slabs[0].shape, x.dtype, geometry.channels_last, fill=slabs[0])
        position = xp.zeros_like(best, dtype=xp.uint8 if len(slabs) <= 256 else xp.int32)  # best's layout too
        for k, slab in enumerate(slabs[1:], 1):
            takes_over = xp.greater(slab, best)
            xp.logical_or(takes_over, xp.isnan(slab), out=takes_over)
            # position < k everywhere so far: taking the maximum with k where taking over sets it
            xp.maximum(position, xp.multiply(takes_over.view(xp.uint8), position.dtype.type(k)), out=position)
            xp.maximum(best, slab, out=best)
        ctx.save_for_backward(position)
        return best

    @staticmethod
    def backward(ctx, g):
        (position,) = ctx.saved_tensors
        geo = ctx.geometry
        (n, _, h, w), (kh, kw) = geo.in_shape, geo.kernel
        xp = array_module(g)
        # When the windows tile the input exactly, each input element receives from one window:
        # the gradient slabs can be written instead of added into zeros.
        tiles = ((kh, kw) == geo.stride and _padded_shape(geo)[2:] == (h, w) and geo.dilation == (1, 1)
                 and h % kh == 0 and w % kw == 0)
        grad = _new_array(xp, _padded_shape(geo), g.dtype, geo.channels_last, fill=None if tiles else 0)
        if _is_channels_last(g) != _is_channels_last(position):
            # g meets position-shaped masks below: give them one memory order (mixed orders
            # make NumPy step through short runs, several times slower)
            g = _new_array(xp, g.shape, g.dtype, _is_channels_last(position), fill=g)
        # the batch is split over CPU threads: each part's masks stay in the cache
        for_batch_parts(n, lambda part: _route_gradient(position[part], g[part], grad[part], geo, tiles), xp)
        return _unpadded(grad, geo)


def _route_gradient(position, g, grad, geo, tiles):
    """Send each window's gradient g (N, C, Ho, Wo) to the kernel position `position` recorded
    by forward, writing into grad (shaped like the padded input)."""
    xp = array_module(g)
    kh, kw = geo.kernel
    for k in range(kh * kw):
        i, j = divmod(k, kw)
        hit = xp.equal(position, k)  # the windows whose maximum sits at kernel position k
        target = _slab(grad, i, j, geo)
        if tiles:
            xp.multiply(g, hit, out=target)
        else:
            target += g * hit


class AvgPool2d(Function):
    """Sum over each window divided by the window's divisor: a number, or per output position
    (Ho, Wo) the count of its window's elements inside the input (count_include_pad=False) or
    inside the input and its padding (True; the ceil_mode overhang is not counted)."""

    name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, geometry, divisor):
        xp = array_module(x)
        if isinstance(divisor, tuple):  # per-axis counts -> (Ho, Wo)
            divisor = xp.asarray(divisor[0], dtype=x.dtype)[:, None] * xp.asarray(divisor[1], dtype=x.dtype)
        else:
            divisor = xp.asarray(divisor, dtype=x.dtype)
        padded = _padded(x, geometry, 0)
        (n, c, _, _), (kh, kw), (sh, sw), (ho, wo) = x.shape, geometry.kernel, geometry.stride, geometry.out_hw
        s_n, s_c, s_h, s_w = padded.strides
        windows = backend.as_strided(padded, (n, c, ho, wo, kh, kw), (s_n, s_c, s_h * sh, s_w * sw, s_h, s_w))
        out = windows.sum(axis=(4, 5))
        out /= divisor
        ctx.geometry = geometry
        ctx.save_for_backward(divisor)
        return out

    @staticmethod
    def backward(ctx, g):
        (divisor,) = ctx.saved_tensors
        geo = ctx.geometry
        xp = array_module(g)
        share = g / divisor
        grad = xp.zeros(_padded_shape(geo), dtype=g.dtype)
        for i in range(geo.kernel[0]):
            for j in range(geo.kernel[1]):
                _slab(grad, i, j, geo)[...] += share
        return _unpadded(grad, geo)


# ---------------------------------------------------------------- adaptive pooling
class AdaptiveAvgPool2d(Function):
    """Mean over each adaptive window (see the module docstring): forward sums the gathered
    taps of each axis and divides by the window's size; backward maps g / size through the
    windows' 0/1 matrices."""

    name = "adaptive_avg_pool2d"

    @staticmethod
    def forward(ctx, x, output_size):
        xp = array_module(x)
        (taps_h, count_h), (taps_w, count_w) = (window_taps(xp, n, m) for n, m in zip(x.shape[2:], output_size))
        sizes = count_h.astype(x.dtype)[:, None] * count_w.astype(x.dtype)  # (Ho, Wo) window sizes
        ctx.save_for_backward(taps_h, taps_w, sizes)
        return gather_sum(gather_sum(x, 3, taps_w), 2, taps_h) / sizes

    @staticmethod
    def backward(ctx, g):
        taps_h, taps_w, sizes = ctx.saved_tensors
        return contract(contract(g / sizes, 3, matrix(taps_w, g.dtype)), 2, matrix(taps_h, g.dtype))


class AdaptiveMaxPool2d(Function):
    """Max over each adaptive window, taken per axis (width, then height). The gradient goes to
    the first maximal position in row-major order (as PyTorch): the first row holding the window's
    maximum, at that row's first maximal column."""

    name = "adaptive_max_pool2d"

    @staticmethod
    def forward(ctx, x, output_size):
        xp = array_module(x)
        (taps_h, _), (taps_w, _) = (window_taps(xp, n, m) for n, m in zip(x.shape[2:], output_size))
        row_max, column = gather_max(x, 3, taps_w)    # (N, C, H, Wo), the winning tap per row
        out, row = gather_max(row_max, 2, taps_h)      # (N, C, Ho, Wo), the winning row's tap
        ctx.save_for_backward(taps_h, taps_w, column, row)
        return out

    @staticmethod
    def backward(ctx, g):
        taps_h, taps_w, column, row = ctx.saved_tensors
        xp = array_module(g)
        grad_rows = sum(contract(xp.where(row == t, g, 0), 2, matrix(taps_h, g.dtype, tap=t))
                        for t in range(taps_h.index.shape[0]))     # (N, C, H, Wo)
        return sum(contract(xp.where(column == t, grad_rows, 0), 3, matrix(taps_w, g.dtype, tap=t))
                   for t in range(taps_w.index.shape[0]))           # (N, C, H, W)


# ---------------------------------------------------------------- argument handling
def _output_length(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length: floor (or ceil) of (size + 2p - d(k-1) - 1) / s, plus 1;
    in ceil_mode a last window starting past the input and its left padding is dropped."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_geometry(op, x, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    """Checked PoolGeometry of max_pool2d / avg_pool2d."""
    require_float(op, x)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input of shape (N, C, H, W), got {x.shape}")
    kernel = _pair(kernel_size, "kernel_size", op)
    default_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)  # as PyTorch
    stride = kernel if default_stride else _pair(stride, "stride", op)
    padding, dilation = _pair(padding, "padding", op), _pair(dilation, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ArgumentError(f"{op}: kernel_size {kernel}, stride {stride} and dilation {dilation} must be positive, "
                         f"padding {padding} non-negative")
    if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
        raise ArgumentError(f"{op}: padding {padding} should be at most half of kernel_size {kernel}")
    h, w = x.shape[2:]
    out_hw = tuple(_output_length(size, k, s, p, d, bool(ceil_mode))
                   for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation))
    if min(out_hw) < 1:
        raise ShapeError(f"{op}: kernel_size {kernel} with dilation {dilation} and padding {padding} is larger than "
                         f"the padded input of input shape {x.shape} (output size {out_hw})")
    # bottom/right: as much as the last window reaches (at least 0; the top/left padding in full)
    pads = tuple((p, max(0, (o - 1) * s + d * (k - 1) + 1 - size - p))
                 for size, k, s, p, d, o in zip((h, w), kernel, stride, padding, dilation, out_hw))
    return PoolGeometry(x.shape, _is_channels_last(x.array), kernel, stride, pads, dilation, out_hw)


def _avg_divisor(geo, padding, count_include_pad, divisor_override):
    """The divisor of avg_pool2d: a number when it is the same for every window, else the
    per-axis element counts ((Ho,), (Wo,)), whose outer product is the (Ho, Wo) divisor."""
    if divisor_override is not None:
        return float(divisor_override)
    counts = []
    for size, k, s, p, o in zip(geo.in_shape[2:], geo.kernel, geo.stride, padding, geo.out_hw):
        low, high = (-p, size + p) if count_include_pad else (0, size)
        counts.append([min(start + k, high) - max(start, low) for start in range(-p, (o - 1) * s - p + 1, s)])
    if len(set(counts[0])) == 1 and len(set(counts[1])) == 1:
        return float(counts[0][0] * counts[1][0])
    return tuple(counts)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """Max pooling as torch.nn.functional.max_pool2d: (N, C, H, W) -> (N, C, Ho, Wo); stride
    defaults to kernel_size; padding counts as -inf; ceil_mode rounds the output size up (the
    last window must start inside the input or its left padding). return_indices=True is not
    supported."""
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported")
    geometry = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool2d.apply(input, geometry=geometry)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,  # noqa: A002
               divisor_override=None):
    """Average pooling as torch.nn.functional.avg_pool2d: zero padding counts in the divisor
    unless count_include_pad=False; divisor_override replaces every divisor."""
    op = "avg_pool2d"
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override == 0):
        raise ArgumentError(f"{op}: divisor_override must be a non-zero number, got {divisor_override!r}")
    geometry = _pool_geometry(op, input, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _avg_divisor(geometry, _pair(padding, "padding", op), count_include_pad, divisor_override)
    return AvgPool2d.apply(input, geometry=geometry, divisor=divisor)


def _adaptive_args(op, x, output_size):
    """The checked output size (Ho, Wo) of an adaptive pool; None keeps that input size."""
    require_float(op, x)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input of shape (N, C, H, W), got {x.shape}")
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2:
        raise ArgumentError(f"{op}: output_size must be an int, None or a pair, got {output_size!r}")
    sizes = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(sizes))
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes):  # NumPy ints too
        raise TypeError(f"{op}: output_size must hold ints or None, got {output_size!r}")
    sizes = tuple(int(s) for s in sizes)
    if min(sizes) < 0:
        raise ArgumentError(f"{op}: elements of output_size must be non-negative, got {output_size!r}")
    if min(x.shape[1:]) < 1:
        raise ShapeError(f"{op}: expected input with non-zero sizes except the batch, got {x.shape}")
    return sizes


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling to a fixed output size (int, pair, None keeps a size), as
    torch.nn.functional.adaptive_avg_pool2d: window o of an axis spans
    [floor(o * H / oh), ceil((o + 1) * H / oh)), so windows may overlap and differ in size."""
    oh, ow = _adaptive_args("adaptive_avg_pool2d", input, output_size)
    h, w = input.shape[2:]
    if (oh, ow) == (1, 1):
        return mean(input, (2, 3), keepdim=True)
    if oh and ow and h % oh == 0 and w % ow == 0:  # strided windows
        return avg_pool2d(input, (h // oh, w // ow))
    return AdaptiveAvgPool2d.apply(input, output_size=(oh, ow))


def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    """Max pooling to a fixed output size, as torch.nn.functional.adaptive_max_pool2d (windows as
    adaptive_avg_pool2d's). return_indices=True is not supported."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported")
    oh, ow = _adaptive_args("adaptive_max_pool2d", input, output_size)
    h, w = input.shape[2:]
    if oh and ow and h % oh == 0 and w % ow == 0:  # strided windows
        return max_pool2d(input, (h // oh, w // ow))
    return AdaptiveMaxPool2d.apply(input, output_size=(oh, ow))


def max_pool2d_reference(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):  # noqa: A002
    """Max pooling from its definition, with Tensor ops whose gradients autograd chains: the
    maximum over the kh*kw strided slices of the input padded with -inf, taken by max(dim),
    which sends the gradient to the first maximal position. Slow; for tests."""
    geo = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    ((pt, pb), (pl, pr)), (kh, kw) = geo.padding, geo.kernel
    x = pad(input, (pl, pr, pt, pb), value=float("-inf"))
    slabs = [_slab(x, i, j, geo) for i in range(kh) for j in range(kw)]  # each (N, C, Ho, Wo)
    return stack(slabs, dim=-1).max(dim=-1).values  # (N, C, Ho, Wo, kh*kw) -> (N, C, Ho, Wo)
