"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d.

`max_pool2d_reference` at the end of this file computes max pooling from its definition in a
few lines of Tensor ops; the op table tests the fast MaxPool2d against it.

The windows are a strided view (N, C, Ho, Wo, kh, kw) of the (padded) input, so forward is a
single reduction over the last two axes with no copy. Backward adds each kernel position's
share into a strided slab of the input gradient, a loop over the kh*kw positions only.
"""
from typing import NamedTuple

from .. import backend
from ..autograd import Function
from ..backend import array_module, for_batch_parts
from ..errors import ShapeError
from .common import require_float
from .conv import _is_channels_last, _pair
from .movement import pad, stack
from .reduce import mean


def _windows(x, kernel, stride):
    """Strided view (N, C, Ho, Wo, kh, kw) of the windows of x (N, C, H, W)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    s_n, s_c, s_h, s_w = x.strides
    return backend.as_strided(x, (n, c, ho, wo, kh, kw), (s_n, s_c, s_h * sh, s_w * sw, s_h, s_w))


def _pad(x, padding, fill):
    """x (N, C, H, W) padded by (ph, pw) on each side with `fill` (x itself when no padding)."""
    ph, pw = padding
    if not ph and not pw:
        return x
    xp = array_module(x)
    n, c, h, w = x.shape
    padded = xp.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded


def _slab(array, i, j, stride, out_hw):
    """The elements of `array` (N, C, Hp, Wp) that kernel position (i, j) touches, (N, C, Ho, Wo)."""
    (sh, sw), (ho, wo) = stride, out_hw
    return array[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]


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


class PoolGeometry(NamedTuple):
    """What max-pool backward needs to know about the input and the windows."""
    in_shape: tuple       # (N, C, H, W)
    channels_last: bool   # the input's memory layout, which the gradient keeps
    kernel: tuple         # (kh, kw)
    stride: tuple         # (sh, sw)
    padding: tuple        # (ph, pw), on both sides


class MaxPool2d(Function):
    """Max over each window; padding counts as -inf. The gradient of each output goes to the
    first maximal position of its window in row-major order (as PyTorch).

    Forward takes the elementwise maximum of the kh*kw kernel-position slabs (strided views of
    the input with the output's shape), keeping the input's memory layout. Backward walks the
    same slabs (`_route_gradient`). The input is kept for backward; in conv-bn-relu-pool
    networks relu keeps that same array, so this costs no memory.
    """

    name = "max_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        xp = array_module(x)
        (kh, kw), (ph, pw) = kernel, padding
        padded = x
        if ph or pw:
            n, c, h, w = x.shape
            padded = _new_array(xp, (n, c, h + 2 * ph, w + 2 * pw), x.dtype, _is_channels_last(x), fill=-xp.inf)
            padded[:, :, ph:ph + h, pw:pw + w] = x
        out_hw = ((padded.shape[2] - kh) // stride[0] + 1, (padded.shape[3] - kw) // stride[1] + 1)
        slabs = [_slab(padded, i, j, stride, out_hw) for i in range(kh) for j in range(kw)]  # each (N, C, Ho, Wo)
        best = xp.maximum(slabs[0], slabs[1]) if len(slabs) > 1 else slabs[0].copy()
        for slab in slabs[2:]:
            xp.maximum(best, slab, out=best)
        ctx.geometry = PoolGeometry(x.shape, _is_channels_last(x), kernel, stride, padding)
        ctx.save_for_backward(padded, best)
        return best

    @staticmethod
    def backward(ctx, g):
        padded, best = ctx.saved_tensors
        geo = ctx.geometry
        (n, _, h, w), (kh, kw), (ph, pw) = geo.in_shape, geo.kernel, geo.padding
        xp = array_module(g)
        # When the windows tile the input exactly, each input element receives from one window:
        # the gradient slabs can be written instead of added into zeros.
        tiles = (kh, kw) == geo.stride and (ph, pw) == (0, 0) and h % kh == 0 and w % kw == 0
        grad = _new_array(xp, padded.shape, g.dtype, geo.channels_last, fill=None if tiles else 0)
        if _is_channels_last(g) != _is_channels_last(best):
            # every op below mixes g with best-shaped arrays: give them one memory order
            # (mixed orders make NumPy step through short runs, several times slower)
            g = _new_array(xp, g.shape, g.dtype, _is_channels_last(best), fill=g)
        # the batch is split over CPU threads: each part's masks stay in the cache
        for_batch_parts(n, lambda part: _route_gradient(padded[part], best[part], g[part], grad[part], geo, tiles),
                        xp)
        return grad[:, :, ph:ph + h, pw:pw + w]


def _route_gradient(padded, best, g, grad, geo, tiles):
    """Send each window's gradient g (N, C, Ho, Wo) to the first position of the window where
    the input equals the window's maximum `best`, writing into grad (shaped like `padded`).

    Kernel positions are visited in row-major order; `taken` marks the windows whose maximum
    was found at an earlier position, so that ties go to the first one."""
    xp = array_module(g)
    (kh, kw), out_hw = geo.kernel, best.shape[2:]
    taken = xp.zeros_like(best, dtype=bool)
    for k in range(kh * kw):
        i, j = divmod(k, kw)
        hit = xp.equal(_slab(padded, i, j, geo.stride, out_hw), best)  # windows whose maximum sits here
        if k:
            xp.greater(hit, taken, out=hit)   # ... and was not found at an earlier position
        if k < kh * kw - 1:
            xp.logical_or(taken, hit, out=taken)
        target = _slab(grad, i, j, geo.stride, out_hw)
        if tiles:
            xp.multiply(g, hit, out=target)
        else:
            target += g * hit


class AvgPool2d(Function):
    """Mean over each window; zero padding is counted in the divisor unless count_include_pad=False."""

    name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, count_include_pad):
        xp = array_module(x)
        padded = _pad(x, padding, 0)
        out = _windows(padded, kernel, stride).sum(axis=(4, 5))
        if count_include_pad or padding == (0, 0):
            divisor = xp.asarray(kernel[0] * kernel[1], dtype=x.dtype)
        else:  # per output position: how many of its window's elements are real input
            ones = _pad(xp.ones((1, 1) + x.shape[2:], dtype=x.dtype), padding, 0)
            divisor = _windows(ones, kernel, stride).sum(axis=(4, 5))[0, 0]
        out /= divisor
        ctx.geometry = (x.shape, kernel, stride, padding)
        ctx.save_for_backward(divisor)
        return out

    @staticmethod
    def backward(ctx, g):
        (divisor,) = ctx.saved_tensors
        (n, c, h, w), (kh, kw), stride, (ph, pw) = ctx.geometry
        xp = array_module(g)
        share = g / divisor
        grad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        for i in range(kh):
            for j in range(kw):
                _slab(grad, i, j, stride, g.shape[2:])[...] += share
        return grad[:, :, ph:ph + h, pw:pw + w]


def _pool_args(op, x, kernel_size, stride, padding):
    require_float(op, x)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input of shape (N, C, H, W), got {x.shape}")
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else _pair(stride, "stride", op)
    padding = _pair(padding, "padding", op)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size {kernel} and stride {stride} must be positive, padding {padding} non-negative")
    if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
        raise ValueError(f"{op}: padding {padding} should be at most half of kernel_size {kernel}")
    hp, wp = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if hp < kernel[0] or wp < kernel[1]:
        raise ShapeError(f"{op}: kernel_size {kernel} is larger than the padded input ({hp}, {wp}) "
                         f"of input shape {x.shape}")
    return kernel, stride, padding


def max_pool2d(input, kernel_size, stride=None, padding=0):  # noqa: A002
    """Max pooling as torch.nn.functional.max_pool2d: (N, C, H, W) -> (N, C, Ho, Wo); stride
    defaults to kernel_size; padding counts as -inf."""
    kernel, stride, padding = _pool_args("max_pool2d", input, kernel_size, stride, padding)
    return MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding)


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):  # noqa: A002
    """Average pooling as torch.nn.functional.avg_pool2d (ceil_mode=False)."""
    kernel, stride, padding = _pool_args("avg_pool2d", input, kernel_size, stride, padding)
    return AvgPool2d.apply(input, kernel=kernel, stride=stride, padding=padding,
                           count_include_pad=count_include_pad)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling to a fixed output size. 1 (global average pooling) gives (N, C, 1, 1);
    other sizes must divide the input size evenly."""
    op = "adaptive_avg_pool2d"
    if input.ndim != 4:
        raise ShapeError(f"{op}: expected input of shape (N, C, H, W), got {input.shape}")
    oh, ow = _pair(output_size, "output_size", op)
    h, w = input.shape[2:]
    if (oh, ow) == (1, 1):
        return mean(input, (2, 3), keepdim=True)
    if oh < 1 or ow < 1 or h % oh or w % ow:
        raise NotImplementedError(f"{op}: output size {(oh, ow)} must divide the input size {(h, w)} "
                                  "evenly (or be 1)")
    return avg_pool2d(input, (h // oh, w // ow))


def max_pool2d_reference(input, kernel_size, stride=None, padding=0):  # noqa: A002
    """Max pooling from its definition, with Tensor ops whose gradients autograd chains: the
    maximum over the kh*kw strided slices of the input padded with -inf, taken by max(dim),
    which sends the gradient to the first maximal position. Slow; for tests."""
    (kh, kw), (sh, sw), (ph, pw) = _pool_args("max_pool2d", input, kernel_size, stride, padding)
    x = pad(input, (pw, pw, ph, ph), value=float("-inf"))
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    slabs = [x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]  # each (N, C, Ho, Wo)
             for i in range(kh) for j in range(kw)]
    return stack(slabs, dim=-1).max(dim=-1).values  # (N, C, Ho, Wo, kh*kw) -> (N, C, Ho, Wo)
