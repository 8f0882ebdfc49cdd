"""Convolutions by im2col and GEMMs (batched over groups), a few images at a time.

`conv2d_reference` at the end of this file computes the same thing from the definition, in a
few lines of Tensor ops; the op table tests the fast path below against it.

Layout: the input is read through its channels-last view x.transpose(0, 2, 3, 1), the
windows are a strided view of it, shape (N, Ho, Wo, kh, kw, C), and copying that view into
the matrix `cols` (N*Ho*Wo, kh*kw*C) is the im2col. Each row of cols is then a run of kw*C
consecutive floats of the padded input, so the copy streams through memory, and

    out (N*Ho*Wo, O) = cols @ wmat,   wmat = weight laid out as (kh*kw*C, O),

is already channels-last: the result is returned as an (N, O, Ho, Wo) view of it, without a
transposing copy. The next conv, pool or batch norm reads that layout just as cheaply.
Groups become a batch axis of the GEMMs. On the CPU the batch is processed in parts of a few
images whose cols fit in the cache, so the GEMM reads cols from cache, not from memory.

Backward computes three gradients, each from the output gradient g:
- weight gradient = cols.T @ g, with cols rebuilt from the saved input (keeping cols from
  forward would hold 9x the input's memory per 3x3 conv until backward);
- bias gradient = the column sums of g;
- input gradient: for stride 1 the transposed convolution, i.e. the same im2col + GEMM
  applied to g with the kernel flipped and its in/out channels swapped; for a strided
  convolution one GEMM slab g @ weight[:, :, i, j] per kernel position, added into the
  padded input gradient (col2im, a loop over the kh*kw kernel positions).
They are accumulated in one pass over cache-sized parts of the batch, so each part of g is
read from memory once. Everything is deterministic (no atomics). Python loops run over kernel
positions and over the parts (a few images each), never over output positions.
"""
from typing import NamedTuple

from .. import backend
from ..autograd import Function
from ..backend import array_module
from ..errors import ShapeError
from .common import require_float, same_dtype
from .movement import cat, pad


class ConvGeometry(NamedTuple):
    """Everything about a convolution's shapes that backward needs."""
    in_shape: tuple   # (N, C, H, W)
    kernel: tuple     # (kh, kw)
    stride: tuple     # (sh, sw)
    padding: tuple    # ((top, bottom), (left, right))
    dilation: tuple   # (dh, dw)
    groups: int
    out_hw: tuple     # (Ho, Wo)


def _im2col(x, padding, kernel, stride, dilation, groups):
    """Columns (G, N*Ho*Wo, kh*kw*Cg) of the windows of x (N, C, H, W).

    padding: ((top, bottom), (left, right)). Row r of group g holds the window of output
    position r, ordered (kernel row, kernel column, channel of group g). The copy follows x's
    memory layout so that it moves long contiguous runs:
    - channels-last x (conv outputs): each row is built from runs of kw*C values;
    - NCHW x (input images, C = 1 or 3), groups=1: the transposed matrix (kh*kw*C, N*Ho*Wo)
      is built from runs of Wo values, and returned as a transposed view (BLAS reads either).
    """
    xp = array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    (pt, pb), (pl, pr) = padding
    hp, wp = h + pt + pb, w + pl + pr
    ho, wo = _output_size(x.shape, kernel, (sh, sw), padding, dilation)
    if not _is_channels_last(x) and groups == 1:
        padded = x
        if pt or pb or pl or pr:
            padded = xp.zeros((n, c, hp, wp), dtype=x.dtype)
            padded[:, :, pt:pt + h, pl:pl + w] = x
        s_n, s_c, s_h, s_w = padded.strides
        windows = backend.as_strided(padded, (kh, kw, c, n, ho, wo),
                                     (s_h * dh, s_w * dw, s_c, s_n, s_h * sh, s_w * sw))
        # (kh, kw, C, N, Ho, Wo) -> (kh*kw*C, N*Ho*Wo) (the copy) -> (1, N*Ho*Wo, kh*kw*C) view
        return backend.reshape_into_workspace(windows, (kh * kw * c, n * ho * wo)).T[None]

    x_nhwc = x.transpose(0, 2, 3, 1)  # (N, H, W, C), a view for channels-last x
    padded = x_nhwc
    if pt or pb or pl or pr:
        padded = xp.zeros((n, hp, wp, c), dtype=x.dtype)
        padded[:, pt:pt + h, pl:pl + w, :] = x_nhwc
    cg = c // groups
    s_n, s_h, s_w, s_c = padded.strides
    windows = backend.as_strided(padded, (n, ho, wo, kh, kw, groups, cg),
                                 (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c * cg, s_c))
    # (N, Ho, Wo, kh, kw, G, Cg) -> (G, N, Ho, Wo, kh, kw, Cg) -> (G, N*Ho*Wo, kh*kw*Cg): the
    # copy (for groups=1 the leading axis has length 1 and costs nothing)
    return backend.reshape_into_workspace(windows.transpose(5, 0, 1, 2, 3, 4, 6), (groups, n * ho * wo, kh * kw * cg))


def _is_channels_last(x):
    """True when x (N, C, H, W) has its channels innermost in memory, as conv outputs do."""
    return x.shape[1] > 1 and x.strides[1] < x.strides[3]


def _weight_matrix(weight, groups):
    """weight (O, Cg, kh, kw) as the GEMM operand (G, kh*kw*Cg, O/G), rows ordered as im2col's."""
    o, cg, kh, kw = weight.shape
    og = o // groups
    # (O, Cg, kh, kw) -> (G, O/G, Cg, kh, kw) -> (G, kh, kw, Cg, O/G) -> (G, kh*kw*Cg, O/G)
    return weight.reshape(groups, og, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(groups, kh * kw * cg, og)


class Conv2d(Function):
    """out[n, o] = sum_c,i,j x_padded[n, c, h*sh + i*dh, w*sw + j*dw] * weight[o, c, i, j] + bias[o]."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        out = convolve(x, weight, bias, stride, padding, dilation, groups)
        ctx.geometry = ConvGeometry(x.shape, weight.shape[2:], stride, padding, dilation, groups, out.shape[2:])
        # Keep the input, not cols (9x larger for a 3x3 kernel): backward redoes the im2col.
        # The input is usually kept alive anyway (relu saves it), so this costs no memory.
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        geometry = ctx.geometry
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        weight_grad = WeightGrad(x, weight, geometry) if need_w else None
        bias_grad = _BiasGrad(weight, geometry, grad.dtype) if need_b else None
        input_grad = input_grad_accumulator(weight, geometry, grad.dtype) if need_x else None
        one_pass_over_parts(grad, [weight_grad, bias_grad, input_grad])
        return tuple(None if g is None else g.result() for g in (input_grad, weight_grad, bias_grad))


def convolve(x, weight, bias, stride, padding, dilation, groups):
    """The convolution of x (N, C, H, W) with weight (O, C/groups, kh, kw) plus bias (O,) or None,
    as an (N, O, Ho, Wo) view of channels-last memory. padding: ((top, bottom), (left, right))."""
    xp = array_module(x)
    n = x.shape[0]
    o, cg, kh, kw = weight.shape
    og = o // groups
    ho, wo = _output_size(x.shape, (kh, kw), stride, padding, dilation)
    wmat = _weight_matrix(weight, groups)                    # (G, kh*kw*Cg, O/G)
    out = backend.empty(xp, (n * ho * wo, groups, og), x.dtype)  # channels-last (N, Ho, Wo, O)
    for part in _cache_sized_parts(x, ho * wo * kh * kw * cg):
        cols = _im2col(x[part], padding, (kh, kw), stride, dilation, groups)
        rows = out[part.start * ho * wo:part.stop * ho * wo].transpose(1, 0, 2)  # (G, rows, O/G) view
        _matmul_into(cols, wmat, rows)
        if bias is not None:
            rows += bias.reshape(groups, 1, og)
    # (N*Ho*Wo, G, O/G) -> (N, Ho, Wo, O) -> (N, O, Ho, Wo), a view of the channels-last rows
    return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)


def input_grad_accumulator(weight, geometry, dtype):
    """The accumulator of a convolution's input gradient (fed by `one_pass_over_parts`): the
    transposed convolution for stride 1, col2im otherwise."""
    if geometry.stride == (1, 1) and _transposable(geometry):
        return _TransposedConvInputGrad(weight, geometry, dtype)
    return _Col2imInputGrad(weight, geometry, dtype)


# ---------------------------------------------------------------- the three gradients
def one_pass_over_parts(grad, gradients):
    """Feed each cache-sized part of the output gradient (N, O, Ho, Wo) to every gradient
    being accumulated, so that each part is read from memory once for all of them."""
    gradients = [g for g in gradients if g is not None]
    if not gradients:
        return
    per_image = max(g.values_per_image for g in gradients)
    groups = gradients[0].geometry.groups
    rows_needed = any(g.uses_rows for g in gradients)  # a copy when the gradient is not channels-last
    for part in _cache_sized_parts(grad, per_image):
        g_part = grad[part]
        g_rows = _grad_rows(g_part, groups) if rows_needed else None  # (G, part's N*Ho*Wo, O/G)
        for gradient in gradients:
            gradient.add(part, g_part, g_rows)


def _accumulate(total, part):
    """total + part, in place after the first part (None: nothing summed yet)."""
    if total is None:
        return part
    total += part
    return total


class WeightGrad:
    """d(loss)/d(weight)[o, c, i, j] = sum over n, h, w of g[n, o, h, w] * x_pad[n, c, h*sh + i*dh, w*sw + j*dw]:
    per part, cols.T @ g_rows with cols the part's im2col."""

    uses_rows = True

    def __init__(self, x, weight, geometry):
        o, cg, kh, kw = weight.shape
        self.x, self.geometry, self.shape = x, geometry, weight.shape
        self.values_per_image = geometry.out_hw[0] * geometry.out_hw[1] * kh * kw * cg  # its im2col part
        self.total = None  # (G, kh*kw*Cg, O/G), summed over the parts

    def add(self, part, g_part, g_rows):
        geo = self.geometry
        cols = _im2col(self.x[part], geo.padding, geo.kernel, geo.stride, geo.dilation, geo.groups)
        self.total = _accumulate(self.total, cols.transpose(0, 2, 1) @ g_rows)

    def result(self):
        o, cg, kh, kw = self.shape
        groups = self.geometry.groups
        # (G, kh*kw*Cg, O/G) -> (G, kh, kw, Cg, O/G) -> (G, O/G, Cg, kh, kw) -> (O, Cg, kh, kw)
        return self.total.reshape(groups, kh, kw, cg, o // groups).transpose(0, 4, 3, 1, 2).reshape(o, cg, kh, kw)


class _BiasGrad:
    """d(loss)/d(bias)[o] = sum over n, h, w of g[n, o, h, w]: per part, ones @ g_rows."""

    values_per_image = 0  # needs no im2col
    uses_rows = True

    def __init__(self, weight, geometry, dtype):
        self.geometry, self.out_channels = geometry, weight.shape[0]
        self.total = None  # (G, O/G), summed over the parts

    def add(self, part, g_part, g_rows):
        xp = array_module(g_rows)
        self.total = _accumulate(self.total, xp.ones(g_rows.shape[1], dtype=g_rows.dtype) @ g_rows)  # column sums

    def result(self):
        return self.total.reshape(self.out_channels)


class _TransposedConvInputGrad:
    """d(loss)/d(input) of a stride-1 convolution: the convolution of the output gradient,
    padded by the kernel's reach minus the forward padding, with the flipped kernel whose in
    and out channels are swapped. Per part: im2col of g_part times that weight matrix.

    Even where this copies more values than col2im (O > C) it is faster: its copies stay in the
    cache, while col2im makes kh*kw read-modify-write passes over the input gradient."""

    uses_rows = False  # reads the gradient through its own im2col

    def __init__(self, weight, geometry, dtype):
        o, cg, kh, kw = weight.shape
        groups, (n, _, h, w) = geometry.groups, geometry.in_shape
        self.geometry = geometry
        self.padding = _transposed_padding(geometry)
        flipped = weight.reshape(groups, o // groups, cg, kh, kw)[:, :, :, ::-1, ::-1]  # (G, O/G, Cg, kh, kw)
        # (G, O/G, Cg, kh, kw) -> (G, kh, kw, O/G, Cg) -> (G, kh*kw*O/G, Cg)
        self.wmat = flipped.transpose(0, 3, 4, 1, 2).reshape(groups, kh * kw * (o // groups), cg)
        self.values_per_image = h * w * kh * kw * (o // groups)  # the im2col of one image's gradient
        self.rows = backend.empty(array_module(weight), (n * h * w, groups, cg), dtype)  # channels-last (N, H, W, C)

    def add(self, part, g_part, g_rows):
        geo = self.geometry
        h, w = geo.in_shape[2:]
        g_cols = _im2col(g_part, self.padding, geo.kernel, (1, 1), geo.dilation, geo.groups)
        _matmul_into(g_cols, self.wmat, self.rows[part.start * h * w:part.stop * h * w].transpose(1, 0, 2))

    def result(self):
        n, c, h, w = self.geometry.in_shape
        return self.rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)  # (N*H*W, G, Cg) -> (N, C, H, W) view


class _Col2imInputGrad:
    """d(loss)/d(input) by col2im: per part, one GEMM slab g_rows @ weight[:, :, i, j] per kernel
    position (i, j), each added into the strided positions of the padded input it came from."""

    uses_rows = True

    def __init__(self, weight, geometry, dtype):
        o, cg, kh, kw = weight.shape
        (n, c, h, w), ((pt, pb), (pl, pr)), groups = geometry.in_shape, geometry.padding, geometry.groups
        self.geometry = geometry
        # (O, Cg, kh, kw) -> (G, O/G, Cg, kh*kw) -> (kh*kw, G, O/G, Cg): one (O/G, Cg) matrix per position
        self.w_k = weight.reshape(groups, o // groups, cg, kh * kw).transpose(3, 0, 1, 2)
        self.values_per_image = geometry.out_hw[0] * geometry.out_hw[1] * kh * kw * c  # the slabs
        self.gpad = backend.empty(array_module(weight), (n, h + pt + pb, w + pl + pr, groups, cg), dtype)
        self.gpad[...] = 0

    def add(self, part, g_part, g_rows):
        geo = self.geometry
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.kernel, geo.stride, geo.dilation, geo.out_hw
        m, cg = part.stop - part.start, self.w_k.shape[-1]
        # one batched GEMM for all kernel positions: slab k is contiguous, so the adds below move
        # runs of Wo*C values when the stride is 1
        slabs = g_rows[None] @ self.w_k  # (kh*kw, G, m*Ho*Wo, Cg)
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            # (G, m*Ho*Wo, Cg) -> (G, m, Ho, Wo, Cg) -> (m, Ho, Wo, G, Cg), matching gpad's layout
            self.gpad[part, rows, columns] += slabs[k].reshape(geo.groups, m, ho, wo, cg).transpose(1, 2, 3, 0, 4)

    def result(self):
        (n, c, h, w), ((pt, _), (pl, _)) = self.geometry.in_shape, self.geometry.padding
        # (N, Hp, Wp, G, Cg) -> the unpadded (N, H, W, C) -> (N, C, H, W) view
        return self.gpad[:, pt:pt + h, pl:pl + w].reshape(n, h, w, c).transpose(0, 3, 1, 2)


def _transposed_padding(geometry):
    """Padding of the output gradient that makes a stride-1 convolution's input gradient a plain
    convolution of it: the dilated kernel's reach minus the forward padding, on each side."""
    (kh, kw), (dh, dw), ((pt, pb), (pl, pr)) = geometry.kernel, geometry.dilation, geometry.padding
    reach_h, reach_w = dh * (kh - 1), dw * (kw - 1)
    return (reach_h - pt, reach_h - pb), (reach_w - pl, reach_w - pr)


def _transposable(geometry):
    """False when the forward padding exceeds the kernel's reach: that border of the padded
    input touches no output through every kernel position, so col2im is used."""
    return min(min(pair) for pair in _transposed_padding(geometry)) >= 0


# ---------------------------------------------------------------- shared helpers
def _output_size(in_shape, kernel, stride, padding, dilation):
    """(Ho, Wo) of a convolution of an (N, C, H, W) input."""
    (h, w), (kh, kw), (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = in_shape[2:], kernel, stride, padding, dilation
    return (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1


def _matmul_into(a, b, out):
    """out[...] = a @ b, written straight into out when its memory allows (groups == 1)."""
    if out.flags.c_contiguous:
        array_module(out).matmul(a, b, out=out)
    else:  # (G, rows, O/G) view of channels-last memory with G > 1
        out[...] = a @ b


def _grad_rows(grad, groups):
    """(G, N*Ho*Wo, O/G) rows of an output gradient (N, O, Ho, Wo), channels last, by group
    (a view when the gradient is channels-last, as gradients from batch norm or relu are)."""
    n, o, ho, wo = grad.shape
    # (N, O, Ho, Wo) -> (N, Ho, Wo, O) -> (N*Ho*Wo, G, O/G) -> (G, N*Ho*Wo, O/G)
    return grad.transpose(0, 2, 3, 1).reshape(n * ho * wo, groups, o // groups).transpose(1, 0, 2)


# The im2col matrix of a whole batch is 9x its input for a 3x3 kernel (38 MB for 64 images of
# 16x32x32): written to memory, then read back by the GEMM. Built a few images at a time, each
# part is still in the CPU cache when the GEMM reads it, which makes the pair up to 2x faster.
# 2 MB was the fastest of 0.25-8 MB for SmallResNet steps (benchmarks/RESULTS.md).
_CACHE_BYTES = 2 << 20


def _cache_sized_parts(x, values_per_image):
    """Slices of x's batch whose im2col matrices (values_per_image each) fill about
    _CACHE_BYTES; one slice covering everything on the GPU, where this does not apply."""
    n = x.shape[0]
    if backend.is_gpu_array(x):
        return [slice(0, n)]
    size = max(1, _CACHE_BYTES // max(1, values_per_image * x.itemsize))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


# ---------------------------------------------------------------- argument handling
def _pair(value, name, op):
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value}")
    return value


def _padding_pairs(padding, kernel, dilation, stride, op):
    """((top, bottom), (left, right)) from an int, a pair, "same" or "valid"."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            pairs = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))  # the odd extra goes after, as in PyTorch
            return tuple(pairs)
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = _pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    return ((ph, ph), (pw, pw))


def _conv2d_args(x, weight, bias, stride, padding, dilation, groups):
    """Checked arguments of conv2d: (stride, padding pairs, dilation)."""
    op = "conv2d"
    require_float(op, x, weight, bias)
    same_dtype(op, x, weight, bias)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input of shape (N, C, H, W), got {x.shape}")
    if weight.ndim != 4:
        raise ShapeError(f"{op}: expected weight of shape (out_channels, in_channels/groups, kh, kw), got {weight.shape}")
    stride, dilation = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1 or groups < 1:
        raise ValueError(f"{op}: stride {stride}, dilation {dilation} and groups {groups} must be positive")
    o, cg, kh, kw = weight.shape
    if x.shape[1] != cg * groups:
        raise ShapeError(f"{op}: input of shape {x.shape} has {x.shape[1]} channels, but weight of shape "
                         f"{weight.shape} with groups={groups} expects {cg * groups}")
    if o % groups:
        raise ShapeError(f"{op}: out_channels {o} (weight shape {weight.shape}) is not divisible by groups={groups}")
    if bias is not None and bias.shape != (o,):
        raise ShapeError(f"{op}: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")
    padding = _padding_pairs(padding, (kh, kw), dilation, stride, op)
    hp = x.shape[2] + sum(padding[0])
    wp = x.shape[3] + sum(padding[1])
    if hp < dilation[0] * (kh - 1) + 1 or wp < dilation[1] * (kw - 1) + 1:
        raise ShapeError(f"{op}: kernel ({kh}, {kw}) with dilation {dilation} is larger than the padded "
                         f"input ({hp}, {wp}) of input shape {x.shape}")
    return stride, padding, dilation


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    input (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) or None -> (N, O, Ho, Wo).
    padding: int, (ph, pw), "same" (stride 1) or "valid".
    """
    stride, padding, dilation = _conv2d_args(input, weight, bias, stride, padding, dilation, groups)
    return Conv2d.apply(input, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """1-D convolution, as torch.nn.functional.conv1d: input (N, C, L), weight (O, C/groups, k)
    -> (N, O, Lo); padding int, "same" or "valid". Runs as conv2d on a height-1 image."""
    op = "conv1d"
    if input.ndim != 3:
        raise ShapeError(f"{op}: expected input of shape (N, C, L), got {input.shape}")
    if weight.ndim != 3:
        raise ShapeError(f"{op}: expected weight of shape (out_channels, in_channels/groups, k), got {weight.shape}")
    if input.shape[1] != weight.shape[1] * groups:
        raise ShapeError(f"{op}: input of shape {input.shape} has {input.shape[1]} channels, but weight of shape "
                         f"{weight.shape} with groups={groups} expects {weight.shape[1] * groups}")
    as_int = lambda v, name: v if isinstance(v, int) else _single(v, name, op)  # noqa: E731
    if not isinstance(padding, str):
        padding = (0, as_int(padding, "padding"))
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, stride=(1, as_int(stride, "stride")),
                 padding=padding, dilation=(1, as_int(dilation, "dilation")), groups=groups)
    return out.squeeze(2)


def _single(value, name, op):
    value = tuple(value)
    if len(value) != 1 or not isinstance(value[0], int):
        raise ValueError(f"{op}: {name} must be an int, got {value}")
    return value[0]


# ---------------------------------------------------------------- the definition, for the tests
def conv2d_reference(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """conv2d from its definition, with Tensor ops whose gradients autograd chains together:
    out = sum over kernel positions (i, j) of the input slice that position sees (N, C, Ho, Wo)
    times the weight matrix weight[:, :, i, j], group by group. Slow; for tests."""
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = _conv2d_args(input, weight, bias, stride, padding, dilation, groups)
    o, cg, kh, kw = weight.shape
    og = o // groups
    x = pad(input, (pl, pr, pt, pb))
    ho, wo = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1, (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    outputs = []
    for g in range(groups):
        out = 0
        for i in range(kh):
            for j in range(kw):
                seen = x[:, g * cg:(g + 1) * cg, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                         j * dw:j * dw + sw * (wo - 1) + 1:sw]                    # (N, Cg, Ho, Wo)
                w_ij = weight[g * og:(g + 1) * og, :, i, j]                      # (O/G, Cg)
                out = out + (seen.permute(0, 2, 3, 1) @ w_ij.T).permute(0, 3, 1, 2)  # (N, O/G, Ho, Wo)
        outputs.append(out)
    out = cat(outputs, dim=1) if groups > 1 else outputs[0]
    return out if bias is None else out + bias.reshape(1, o, 1, 1)
