"""Batch normalization with PyTorch's semantics, forward and backward each fused in one op.

Training: normalize with the batch mean and the *biased* batch variance; update the running
estimates in place with momentum (new = (1 - momentum) * old + momentum * batch), using the
*unbiased* variance; the gradient flows through the batch statistics:

    dx = weight * invstd * (g - mean(g) - xhat * mean(g * xhat))     (means over N, H, W)

Eval: y = (x - running_mean) * weight / sqrt(running_var + eps) + bias, an affine map.
"""
from ..autograd import Function
from ..backend import array_module
from ..errors import ShapeError
from .common import require_float, same_dtype


def _stat_axes_and_shape(x):
    """Axes reduced over (all but channels) and the broadcast shape of per-channel values."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return axes, shape


class BatchNorm(Function):
    name = "batch_norm"

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        xp = array_module(x)
        axes, shape = _stat_axes_and_shape(x)
        count = x.size // x.shape[1]
        if training:
            mean = x.mean(axis=axes, keepdims=True)
            xhat = x - mean
            var = (xhat * xhat).mean(axis=axes, keepdims=True)
            invstd = 1 / xp.sqrt(var + eps)
            xhat *= invstd
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(-1)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var.reshape(-1)
        else:
            invstd = 1 / xp.sqrt(running_var.reshape(shape) + eps)
            xhat = (x - running_mean.reshape(shape)) * invstd
        out = xhat * weight.reshape(shape) if weight is not None else xhat.copy()
        if bias is not None:
            out += bias.reshape(shape)
        ctx.training, ctx.count = training, count
        ctx.save_for_backward(xhat, invstd, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, weight = ctx.saved_tensors
        axes, shape = _stat_axes_and_shape(g)
        grad_b = g.sum(axis=axes)
        grad_w = (g * xhat).sum(axis=axes)
        grad_x = None
        if ctx.needs_input_grad[0]:
            scale = invstd if weight is None else invstd * weight.reshape(shape)
            if ctx.training:
                n = g.dtype.type(ctx.count)
                grad_x = (g - grad_b.reshape(shape) / n - xhat * (grad_w.reshape(shape) / n)) * scale
            else:
                grad_x = g * scale
        return (grad_x,
                grad_w if ctx.needs_input_grad[1] else None,
                grad_b if ctx.needs_input_grad[2] else None)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,  # noqa: A002
               momentum=0.1, eps=1e-5):
    """Batch norm over (N, C) or (N, C, *spatial) input, as torch.nn.functional.batch_norm.

    running_mean / running_var: Tensors (C,) updated in place when training (may be None
    when training, then no running estimate is kept). weight / bias: Tensors (C,) or None.
    """
    op = "batch_norm"
    x = input
    require_float(op, x, weight, bias)
    same_dtype(op, x, weight, bias, running_mean, running_var)
    if x.ndim < 2:
        raise ShapeError(f"{op}: expected input of shape (N, C) or (N, C, H, W), got {x.shape}")
    c = x.shape[1]
    for label, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"{op}: {label} of shape {t.shape} does not fit input of shape {x.shape} "
                             f"({c} channels)")
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{op}: running_mean and running_var are required when training=False")
    if training and x.numel() // max(c, 1) <= 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of shape {x.shape}")
    if momentum is None:
        raise ValueError(f"{op}: momentum=None (cumulative average) is not supported; give a number")
    for t in (running_mean, running_var):
        if t is not None and t.device != x.device:
            raise RuntimeError(f"{op}: running statistics on {t.device} but input on {x.device}")
    return BatchNorm.apply(x, weight, bias,
                           running_mean=None if running_mean is None else running_mean.data,
                           running_var=None if running_var is None else running_var.data,
                           training=bool(training), momentum=float(momentum), eps=float(eps))
