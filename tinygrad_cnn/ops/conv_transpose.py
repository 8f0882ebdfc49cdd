"""Transposed convolution (conv_transpose2d), built from the convolution machinery of conv.py.

A convolution whose input is (N, C_out, Ho, Wo) and whose weight is (C_in, C_out/groups, kh, kw)
maps to (N, C_in, H, W). The transposed convolution is that linear map's adjoint, from
(N, C_in, H, W) back to (N, C_out, Ho, Wo), with
    Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + output_padding_h + 1   (likewise Wo).
So, calling that convolution "the adjoint convolution":
- forward = the adjoint convolution's input gradient, with x in the role of its output gradient
  (col2im, or for stride 1 a convolution of x with the flipped kernel);
- input gradient = the adjoint convolution's forward applied to g;
- weight gradient = the adjoint convolution's weight gradient, with g as its input and x as its
  output gradient.

output_padding adds rows at the bottom (columns at the right) of the output. The adjoint
convolution accounts for them by a bottom padding reduced by output_padding, so that its output
is exactly (H, W). Where output_padding exceeds the padding, the last output_padding - padding
rows are reached by no kernel position: they hold the bias only (`extra`), and the adjoint
convolution covers the rows before them.
"""
from ..autograd import Function
from ..backend import array_module
from ..errors import ShapeError
from .common import require_float, same_dtype
from .conv import ConvGeometry, WeightGrad, _pair, convolve, input_grad_accumulator, one_pass_over_parts


def _adjoint_geometry(in_shape, weight_shape, stride, padding, output_padding, dilation, groups):
    """(the adjoint convolution's ConvGeometry, the extra (rows, columns) of bias only) of a
    transposed convolution of an (N, C_in, H, W) input."""
    n, _, h, w = in_shape
    c_in, cg, kh, kw = weight_shape
    core, paddings, extra = [], [], []
    for size, k, s, p, op, d in zip((h, w), (kh, kw), stride, padding, output_padding, dilation):
        reached = min(op, p)  # output padding that kernel positions reach
        core.append((size - 1) * s - 2 * p + d * (k - 1) + reached + 1)
        paddings.append((p, p - reached))
        extra.append(op - reached)
    geometry = ConvGeometry((n, cg * groups) + tuple(core), (kh, kw), stride, tuple(paddings), dilation, groups,
                            (h, w))
    return geometry, tuple(extra)


class ConvTranspose2d(Function):
    """out = the adjoint of conv2d(., weight) applied to x, plus bias[o] (see the module docstring)."""

    name = "conv_transpose2d"

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups):
        xp = array_module(x)
        geometry, extra = _adjoint_geometry(x.shape, weight.shape, stride, padding, output_padding, dilation, groups)
        n, c_out, core_h, core_w = geometry.in_shape
        if core_h > 0 and core_w > 0:
            accumulator = input_grad_accumulator(weight, geometry, x.dtype)
            one_pass_over_parts(x, [accumulator])
            core = accumulator.result()  # (N, C_out, core_h, core_w), memory of its own
        else:
            core = None  # no output position is reached by any kernel position
        if extra == (0, 0) and core is not None:
            out = core
        else:
            out = xp.zeros((n, c_out, core_h + extra[0], core_w + extra[1]), dtype=x.dtype)
            if core is not None:
                out[:, :, :core_h, :core_w] = core
        if bias is not None:
            out += bias.reshape(1, c_out, 1, 1)
        ctx.geometry = geometry
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        geo = ctx.geometry
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xp = array_module(g)
        _, _, core_h, core_w = geo.in_shape
        g_core = g[:, :, :core_h, :core_w]  # the rows and columns kernel positions reach
        reached = core_h > 0 and core_w > 0
        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = convolve(g_core, weight, None, geo.stride, geo.padding, geo.dilation, geo.groups) if reached \
                else xp.zeros((g.shape[0], weight.shape[0]) + geo.out_hw, dtype=g.dtype)
        if need_w:
            if reached:
                accumulator = WeightGrad(g_core, weight, geo)
                one_pass_over_parts(x, [accumulator])
                grad_w = accumulator.result()
            else:
                grad_w = xp.zeros(weight.shape, dtype=g.dtype)
        if need_b:
            grad_b = g.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b


def _conv_transpose2d_args(x, weight, bias, stride, padding, output_padding, dilation, groups):
    """Checked (stride, padding, output_padding, dilation) pairs of conv_transpose2d."""
    op = "conv_transpose2d"
    require_float(op, x, weight, bias)
    same_dtype(op, x, weight, bias)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input of shape (N, C, H, W), got {x.shape}")
    if weight.ndim != 4:
        raise ShapeError(f"{op}: expected weight of shape (in_channels, out_channels/groups, kh, kw), "
                         f"got {weight.shape}")
    if isinstance(padding, str):
        raise TypeError(f"{op}: padding must be an int or a pair of ints, got {padding!r}")
    stride, padding = _pair(stride, "stride", op), _pair(padding, "padding", op)
    output_padding, dilation = _pair(output_padding, "output_padding", op), _pair(dilation, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise RuntimeError(f"{op}: stride {stride} and dilation {dilation} must be positive")
    if min(padding) < 0 or min(output_padding) < 0:
        raise RuntimeError(f"{op}: padding {padding} and output_padding {output_padding} must be non-negative")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise RuntimeError(f"{op}: groups must be a positive int, got {groups!r}")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise RuntimeError(f"{op}: output_padding {output_padding} must be smaller than either stride "
                               f"{stride} or dilation {dilation}")
    c_in, cg, kh, kw = weight.shape
    if c_in % groups:
        raise ShapeError(f"{op}: weight of shape {weight.shape} has {c_in} input channels, not divisible by "
                         f"groups={groups}")
    if x.shape[1] != c_in:
        raise ShapeError(f"{op}: input of shape {x.shape} has {x.shape[1]} channels, but weight of shape "
                         f"{weight.shape} expects {c_in} (its first dimension)")
    if bias is not None and bias.shape != (cg * groups,):
        raise ShapeError(f"{op}: bias of shape {bias.shape} does not fit weight of shape {weight.shape} with "
                         f"groups={groups} ({cg * groups} output channels)")
    out_hw = output_size(x.shape[2:], (kh, kw), stride, padding, output_padding, dilation)
    if min(out_hw) < 1:
        raise ShapeError(f"{op}: input of shape {x.shape} with kernel ({kh}, {kw}), stride {stride}, padding "
                         f"{padding} and dilation {dilation} gives a non-positive output size {out_hw}")
    return stride, padding, output_padding, dilation


def output_size(in_hw, kernel, stride, padding, output_padding, dilation):
    """(Ho, Wo) of a transposed convolution of an (H, W) input."""
    return tuple((size - 1) * s - 2 * p + d * (k - 1) + op + 1
                 for size, k, s, p, op, d in zip(in_hw, kernel, stride, padding, output_padding, dilation))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    """2-D transposed convolution, as torch.nn.functional.conv_transpose2d.

    input (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw), bias (C_out,) or None
    -> (N, C_out, Ho, Wo) with Ho = (H - 1) * stride - 2 * padding + dilation * (kh - 1)
    + output_padding + 1. padding, output_padding, stride, dilation: an int or a pair.
    """
    stride, padding, output_padding, dilation = _conv_transpose2d_args(
        input, weight, bias, stride, padding, output_padding, dilation, groups)
    return ConvTranspose2d.apply(input, weight, bias, stride=stride, padding=padding,
                                 output_padding=output_padding, dilation=dilation, groups=groups)

