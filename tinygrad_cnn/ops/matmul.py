"""Matrix products: matmul (2-D, batched, broadcast; 1-D operands as in NumPy) and linear."""
from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from .common import as_tensor, check_broadcast, require_float, same_dtype


class MatMul(Function):
    """out = a @ b for a (..., n, k), b (..., k, m); batch axes broadcast (the engine sums them back)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g @ b.swapaxes(-1, -2) if ctx.needs_input_grad[0] else None
        gb = a.swapaxes(-1, -2) @ g if ctx.needs_input_grad[1] else None
        return ga, gb


class Linear(Function):
    """out = x @ weight.T + bias for x (..., in), weight (out, in), bias (out,)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              weight if ctx.needs_input_grad[0] else None)
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])  # (rows, out)
        gx = g @ weight if ctx.needs_input_grad[0] else None
        gw = g2.T @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def matmul(a, b):
    """Matrix product with NumPy/PyTorch rules: 1-D operands are promoted to a row (a) or a
    column (b) and that axis is removed from the result; batch axes broadcast."""
    if not isinstance(a, Tensor):
        a = as_tensor(a, b, "matmul")
    if not isinstance(b, Tensor):
        b = as_tensor(b, a, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    same_dtype("matmul", a, b)
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({a2.shape[-1]} != {b2.shape[-2]})")
    check_broadcast("matmul (batch dimensions)", a2.shape[:-2], b2.shape[:-2])
    out = MatMul.apply(a2, b2)
    if a.ndim == 1 or b.ndim == 1:  # drop the promoted axes: (..., 1, m) / (..., n, 1) / (..., 1, 1)
        shape = out.shape[:-2] + (() if a.ndim == 1 else out.shape[-2:-1]) + (() if b.ndim == 1 else out.shape[-1:])
        out = out.reshape(shape)
    return out


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias, as torch.nn.functional.linear: x (..., in), weight (out, in)."""
    require_float("linear", x, weight, bias)
    same_dtype("linear", x, weight, bias)
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                         f"(expected input (..., {weight.shape[1] if weight.ndim == 2 else '?'}))")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")
    return Linear.apply(x, weight, bias)
