"""Convolutions by im2col and GEMMs (batched over groups), a few images at a time.

Layout: the input is read through its channels-last view x.transpose(0, 2, 3, 1), the
windows are a strided view of it, shape (N, Ho, Wo, kh, kw, C), and copying that view into
the matrix `cols` (N*Ho*Wo, kh*kw*C) is the im2col. Each row of cols is then a run of kw*C
consecutive floats of the padded input, so the copy streams through memory, and

    out (N*Ho*Wo, O) = cols @ wmat,   wmat = weight laid out as (kh*kw*C, O),

is already channels-last: the result is returned as an (N, O, Ho, Wo) view of it, without a
transposing copy. The next conv, pool or batch norm reads that layout just as cheaply.
Groups become a batch axis of the GEMMs. On the CPU the batch is processed in parts of a few
images whose cols fit in the cache, so the GEMM reads cols from cache, not from memory.

Backward (the first three in one pass over cache-sized parts, so each part of the output
gradient is read from memory once):
- weight gradient = cols.T @ g, summed over the parts, with cols rebuilt from the saved input
  (keeping cols from forward would hold 9x the input's memory per 3x3 conv until backward);
- bias gradient = the column sums of g, a matrix-vector product per part;
- input gradient, stride 1: the transposed convolution, i.e. the same im2col + GEMM applied
  to the output gradient with the kernel flipped and its in/out channels swapped;
- input gradient otherwise (strided): one GEMM slab g @ weight[:, :, i, j] per kernel position, then
  col2im: a loop over the kh*kw kernel positions adding each slab into the padded input
  gradient.
Both are deterministic (no atomics). Python loops run over kernel positions and over the
cache-sized parts (a few images each; one image only when its cols alone exceed the part
size), never over output positions.
"""
from .. import backend
from ..autograd import Function
from ..backend import array_module
from ..errors import ShapeError
from .common import require_float, same_dtype


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
    channels_last = c > 1 and x.strides[1] < x.strides[3]
    if not channels_last and groups == 1:
        padded = x
        if pt or pb or pl or pr:
            padded = xp.zeros((n, c, hp, wp), dtype=x.dtype)
            padded[:, :, pt:pt + h, pl:pl + w] = x
        s_n, s_c, s_h, s_w = padded.strides
        windows = backend.as_strided(padded, (kh, kw, c, n, ho, wo),
                                     (s_h * dh, s_w * dw, s_c, s_n, s_h * sh, s_w * sw))
        return windows.reshape(kh * kw * c, n * ho * wo).T[None]

    x_nhwc = x.transpose(0, 2, 3, 1)
    padded = x_nhwc
    if pt or pb or pl or pr:
        padded = xp.zeros((n, hp, wp, c), dtype=x.dtype)
        padded[:, pt:pt + h, pl:pl + w, :] = x_nhwc
    cg = c // groups
    s_n, s_h, s_w, s_c = padded.strides
    windows = backend.as_strided(padded, (n, ho, wo, kh, kw, groups, cg),
                                 (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c * cg, s_c))
    # the copy; for groups=1 the leading axis has length 1 and costs nothing
    cols = windows.transpose(5, 0, 1, 2, 3, 4, 6).reshape(groups, n * ho * wo, kh * kw * cg)
    return cols


class Conv2d(Function):
    """out[n, o] = sum_c,i,j x_padded[n, c, h*sh + i*dh, w*sw + j*dw] * weight[o, c, i, j] + bias[o]."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        xp = array_module(x)
        n = x.shape[0]
        o, cg, kh, kw = weight.shape
        og = o // groups
        ho, wo = _output_size(x.shape, (kh, kw), stride, padding, dilation)
        wmat = weight.reshape(groups, og, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(groups, kh * kw * cg, og)
        out = xp.empty((n * ho * wo, groups, og), dtype=x.dtype)  # channels-last (N, Ho, Wo, O)
        for part in _cache_sized_parts(x, ho * wo * kh * kw * cg):
            cols = _im2col(x[part], padding, (kh, kw), stride, dilation, groups)
            rows = out[part.start * ho * wo:part.stop * ho * wo].transpose(1, 0, 2)  # (G, rows, O/G)
            _matmul_into(cols, wmat, rows)
            if bias is not None:
                rows += bias.reshape(groups, 1, og)
        ctx.geometry = (x.shape, (kh, kw), stride, padding, dilation, groups, ho, wo)
        # Keep the input, not cols (9x larger for a 3x3 kernel): backward redoes the im2col.
        # The input is usually kept alive anyway (relu saves it), so this costs no memory.
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        (n, c, h, w), kernel, stride, padding, dilation, groups, ho, wo = ctx.geometry
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xp = array_module(grad)
        o, cg, kh, kw = weight.shape
        og = o // groups
        gw = xp.zeros((groups, kh * kw * cg, og), dtype=grad.dtype) if need_w else None
        gb = xp.zeros((groups, og), dtype=grad.dtype) if need_b else None
        transposed = _transposed_conv(weight, padding, dilation, groups) if need_x and stride == (1, 1) else None
        grad_x = xp.empty((n * h * w, groups, cg), dtype=grad.dtype) if transposed else None
        # Every gradient that reads the output gradient is computed in one pass over cache-sized
        # parts of the batch, so each part of it is read from memory once.
        per_image = max(ho * wo * kh * kw * cg if need_w else 0, h * w * kh * kw * og if transposed else 0)
        for part in _cache_sized_parts(grad, per_image) if (need_w or need_b or transposed) else ():
            g_rows = _grad_rows(grad[part], groups) if need_w or need_b else None  # (G, rows, O/G)
            if need_w:
                cols = _im2col(x[part], padding, kernel, stride, dilation, groups)
                gw += cols.transpose(0, 2, 1) @ g_rows  # (G, kh*kw*Cg, O/G)
            if need_b:  # column sums of the rows, as a matrix-vector product
                gb += xp.ones(g_rows.shape[1], dtype=grad.dtype) @ g_rows
            if transposed:  # the input gradient of this part: a convolution of its gradient
                g_padding, wmat_t = transposed
                g_cols = _im2col(grad[part], g_padding, kernel, (1, 1), dilation, groups)
                _matmul_into(g_cols, wmat_t, grad_x[part.start * h * w:part.stop * h * w].transpose(1, 0, 2))
        if need_w:
            gw = gw.reshape(groups, kh, kw, cg, og).transpose(0, 4, 3, 1, 2).reshape(o, cg, kh, kw)
        if need_b:
            gb = gb.reshape(o)
        if transposed:
            grad_x = grad_x.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        elif need_x:
            grad_x = _col2im_input_grad(grad, weight, (n, c, h, w), stride, padding, dilation, groups)
        return grad_x, gw, gb


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
    return grad.transpose(0, 2, 3, 1).reshape(n * ho * wo, groups, o // groups).transpose(1, 0, 2)


# The im2col matrix of a whole batch is 9x its input for a 3x3 kernel (38 MB for 64 images of
# 16x32x32): written to memory, then read back by the GEMM. Built a few images at a time, each
# part is still in the CPU cache when the GEMM reads it, which makes the pair up to 2x faster.
_CACHE_BYTES = 2 << 20


def _cache_sized_parts(x, values_per_image):
    """Slices of x's batch whose im2col matrices (values_per_image each) fill about
    _CACHE_BYTES; one slice covering everything on the GPU, where this does not apply."""
    n = x.shape[0]
    if backend.is_gpu_array(x):
        return [slice(0, n)]
    size = max(1, _CACHE_BYTES // max(1, values_per_image * x.itemsize))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _transposed_conv(weight, padding, dilation, groups):
    """For a stride-1 convolution, (padding of the output gradient, weight matrix) that make
    its input gradient a plain convolution of the output gradient: the kernel flipped, in and
    out channels swapped. None when the padding exceeds the kernel's reach (then the padded
    border has no gradient path and col2im is used).

    Even where this copies more values than col2im (O > C) it is faster: its copies stay in
    the cache, while col2im makes kh*kw read-modify-write passes over the input gradient."""
    o, cg, kh, kw = weight.shape
    og = o // groups
    (dh, dw), ((pt, pb), (pl, pr)) = dilation, padding
    reach_h, reach_w = dh * (kh - 1), dw * (kw - 1)
    g_padding = ((reach_h - pt, reach_h - pb), (reach_w - pl, reach_w - pr))
    if min(min(pair) for pair in g_padding) < 0:
        return None
    flipped = weight.reshape(groups, og, cg, kh, kw)[:, :, :, ::-1, ::-1]
    return g_padding, flipped.transpose(0, 3, 4, 1, 2).reshape(groups, kh * kw * og, cg)


def _col2im_input_grad(grad, weight, in_shape, stride, padding, dilation, groups):
    """d(loss)/d(input) (N, C, H, W) of a strided convolution from its output gradient."""
    xp = array_module(grad)
    n, c, h, w = in_shape
    o, cg, kh, kw = weight.shape
    og = o // groups
    (dh, dw), ((pt, pb), (pl, pr)) = dilation, padding
    (sh, sw), ho, wo = stride, grad.shape[2], grad.shape[3]
    w_k = weight.reshape(groups, og, cg, kh * kw).transpose(3, 0, 1, 2)  # (kh*kw, G, O/G, Cg)
    gpad = xp.zeros((n, h + pt + pb, w + pl + pr, groups, cg), dtype=grad.dtype)
    for part in _cache_sized_parts(grad, ho * wo * kh * kw * c):
        m = part.stop - part.start
        # One GEMM per kernel position, batched: slab k = (G, m*Ho*Wo, Cg), contiguous per k,
        # so the adds below move runs of Wo*C values when the stride is 1.
        slabs = _grad_rows(grad[part], groups)[None] @ w_k  # (kh*kw, G, m*Ho*Wo, Cg)
        for k in range(kh * kw):  # col2im: each kernel position adds one strided slab
            i, j = divmod(k, kw)
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            gpad[part, rows, columns] += slabs[k].reshape(groups, m, ho, wo, cg).transpose(1, 2, 3, 0, 4)
    return gpad[:, pt:pt + h, pl:pl + w].reshape(n, h, w, c).transpose(0, 3, 1, 2)


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


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    input (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) or None -> (N, O, Ho, Wo).
    padding: int, (ph, pw), "same" (stride 1) or "valid".
    """
    op = "conv2d"
    x = input
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
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


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
