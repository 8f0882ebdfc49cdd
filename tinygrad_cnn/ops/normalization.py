"""Batch normalization with PyTorch's semantics, forward and backward each fused in one op.

`batch_norm_reference` at the end of this file computes the same from the formulas below with
Tensor ops; the op table tests the fused op against it.

Training: normalize with the batch mean and the *biased* batch variance; update the running
estimates in place with momentum (new = (1 - momentum) * old + momentum * batch), using the
*unbiased* variance; the gradient flows through the batch statistics:

    dx = weight * invstd * (g - mean(g) - xhat * mean(g * xhat))     (means over N, H, W)

Eval: y = (x - running_mean) * weight / sqrt(running_var + eps) + bias, an affine map.

The work is done on the "rows" view of the data, (N*H*W, C) with channels last: free for conv
outputs, which are channels-last already. Per-channel sums are then a matrix-vector product
(ones @ rows) and sums of products an einsum, both single passes over memory.
"""
import numpy as np

from .. import backend
from ..autograd import Function, no_grad
from ..backend import array_module
from ..errors import ShapeError
from .common import require_float, same_dtype


# Per-channel elementwise work on (M, C) rows would run NumPy's inner loops over only C values
# (16 for SmallResNet's narrow layers), restarting the loop every row. Viewing r consecutive
# rows side by side as one row of r*C values keeps the loops long; up to _WIDE_ROW_VALUES
# values per row (2 KB of float32), so that a per-channel vector tiled r times stays in L1.
_WIDE_ROW_VALUES = 512


class _Rows:
    """The geometry of an (N, C, *spatial) array's data as rows with channels last.

    `wide(a)` gives the (M, C) matrix of channel values (M = N * prod(spatial)) viewed as
    (M / r, r * C): r consecutive rows side by side. Per-channel vectors are tiled r times to
    match (`tile`) and per-column results folded back to C values (`fold`). For conv outputs,
    which are channels-last, no copy is made.
    """

    def __init__(self, shape, xp):
        self.shape, self.channels = shape, shape[1]
        self.count = 1  # M, the values per channel
        for i, s in enumerate(shape):
            if i != 1:
                self.count *= s
        # a GPU runs each op as one kernel over all values: side-by-side rows would only add calls
        self.r = 1 if xp is not np else next((r for r in (32, 16, 8, 4, 2)
                                              if self.channels * r <= _WIDE_ROW_VALUES and self.count % r == 0), 1)

    def wide(self, a):
        # (N, *spatial, C) -> (M, C): a view for conv outputs, which are channels-last
        rows = backend.reshape_into_workspace(array_module(a).moveaxis(a, 1, -1), (self.count, self.channels))
        if self.r == 1:
            return rows
        return rows.reshape(self.count // self.r, self.r * self.channels)     # (M, C) -> (M/r, r*C)

    def tile(self, vector):
        """A per-channel vector (C,) repeated to the wide row's length (r*C,)."""
        return array_module(vector).tile(vector, self.r) if self.r > 1 else vector

    def fold(self, columns):
        """Per-column sums (r*C,) folded to per-channel sums (C,)."""
        return columns.reshape(self.r, self.channels).sum(axis=0) if self.r > 1 else columns

    def column_sums(self, wide):
        """Per-channel sums, as one matrix-vector product."""
        xp = array_module(wide)
        return self.fold(xp.ones(wide.shape[0], dtype=wide.dtype) @ wide)

    def column_dots(self, a, b):
        """Per-channel sums of a * b, without a temporary of their size."""
        return self.fold(array_module(a).einsum("ij,ij->j", a, b))

    def to_array(self, wide):
        """A wide result back as an (N, C, *spatial) view."""
        n, c, spatial = self.shape[0], self.channels, tuple(self.shape[2:])
        # (M/r, r*C) -> (N, *spatial, C) -> (N, C, *spatial)
        return array_module(wide).moveaxis(wide.reshape((n,) + spatial + (c,)), -1, 1)


class BatchNorm(Function):
    name = "batch_norm"

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        xp = array_module(x)
        rows = _Rows(x.shape, xp)
        x_wide = rows.wide(x)
        dtype = x.dtype.type
        if training:
            # Sum values shifted by the first row: float32 sums of 10^4 terms lose digits in
            # proportion to the values' magnitude, and |x - x[0]| is of the order of the spread.
            first = x_wide[0, :rows.channels]
            centered = backend.into_workspace(xp.subtract, x_wide, rows.tile(first), like=x_wide)
            shifted_mean = rows.column_sums(centered) / dtype(rows.count)
            centered -= rows.tile(shifted_mean)
            mean = shifted_mean + first
            var = rows.column_dots(centered, centered) / dtype(rows.count)
            invstd = dtype(1) / xp.sqrt(var + dtype(eps))
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * rows.count / (rows.count - 1)) * var
        else:
            invstd = dtype(1) / xp.sqrt(running_var + dtype(eps))
            if not any(ctx.needs_input_grad):
                # inference: one affine map x * scale + (bias - mean * scale), two passes, nothing saved
                scale = invstd if weight is None else invstd * weight
                shift = -running_mean * scale if bias is None else bias - running_mean * scale
                out = backend.into_workspace(xp.multiply, x_wide, rows.tile(scale), like=x_wide)
                out += rows.tile(shift)
                return rows.to_array(out)
            centered = backend.into_workspace(xp.subtract, x_wide, rows.tile(running_mean), like=x_wide)
        scale = invstd if weight is None else invstd * weight
        out = backend.into_workspace(xp.multiply, centered, rows.tile(scale), like=centered)
        if bias is not None:
            out += rows.tile(bias)
        ctx.training, ctx.rows = training, rows
        ctx.save_for_backward(centered, invstd, weight)
        return rows.to_array(out)

    @staticmethod
    def backward(ctx, g):
        centered, invstd, weight = ctx.saved_tensors
        layout = ctx.rows
        g_wide = layout.wide(g)
        grad_b = layout.column_sums(g_wide)
        grad_w = layout.column_dots(g_wide, centered) * invstd  # sum(g * xhat)
        grad_x = None
        if ctx.needs_input_grad[0]:
            scale = invstd if weight is None else invstd * weight
            xp = array_module(g_wide)
            wide = backend.into_workspace(xp.multiply, g_wide, layout.tile(scale), like=g_wide)
            if ctx.training:
                n = g.dtype.type(layout.count)
                # scale * (g - mean(g) - xhat * mean(g * xhat)), with xhat = centered * invstd
                wide -= backend.into_workspace(xp.multiply, centered, layout.tile(scale * invstd * grad_w / n),
                                               like=centered)
                wide -= layout.tile(scale * grad_b / n)
            grad_x = layout.to_array(wide)
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
                           running_mean=None if running_mean is None else running_mean.array,
                           running_var=None if running_var is None else running_var.array,
                           training=bool(training), momentum=float(momentum), eps=float(eps))


def batch_norm_reference(input, running_mean, running_var, weight=None, bias=None, training=False,  # noqa: A002
                         momentum=0.1, eps=1e-5):
    """Batch norm from its formulas with Tensor ops, autograd deriving the gradient (through the
    batch statistics when training). Updates the running statistics as `batch_norm`. For tests."""
    axes = (0,) + tuple(range(2, input.ndim))              # every axis but the channels
    shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)  # a per-channel vector, broadcastable
    if training:
        mean, var = input.mean(axes), input.var(axes, correction=0)
        count = input.numel() // input.shape[1]
        with no_grad():
            for stat, batch in ((running_mean, mean), (running_var, var * (count / (count - 1)))):
                if stat is not None:
                    stat.array[...] = ((1 - momentum) * stat + momentum * batch).array
    else:
        mean, var = running_mean, running_var
    out = (input - mean.reshape(shape)) / (var.reshape(shape) + eps).sqrt()
    out = out if weight is None else out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)
