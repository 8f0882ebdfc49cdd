"""softmax, log_softmax and the losses: cross_entropy (fused with log_softmax), nll_loss, mse_loss."""
import warnings

import numpy as np

from .. import backend
from ..autograd import Function
from ..backend import array_module
from ..errors import ShapeError
from ..tensor import Tensor
from .common import binary_operands, normalize_dim, require_float


def _log_softmax(x, axis):
    xp = array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    name = "log_softmax"

    @staticmethod
    def forward(ctx, x, axis):
        out = _log_softmax(x, axis)
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g - array_module(g).exp(out) * g.sum(axis=ctx.axis, keepdims=True)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        xp = array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(e)
        return e

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return out * (g - (g * out).sum(axis=ctx.axis, keepdims=True))


def _reduce(losses, count, reduction):
    """The per-row `losses` reduced; "mean" divides by `count` (a number, or a 0-d array of the
    rows that count, kept on the device)."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    with np.errstate(invalid="ignore"):  # every row ignored: 0/0 = nan, as in PyTorch
        return losses.sum() / array_module(losses).asarray(count, dtype=losses.dtype)


def _mean_divisor(count, dtype):
    """The divisor of a mean loss's gradient: the count of rows, at least 1 (with every row
    ignored the loss is nan, yet its gradient is 0, as in PyTorch)."""
    return array_module(count).maximum(count, 1).astype(dtype)


class CrossEntropy(Function):
    """Per row: -(1 - s) * log p[target] - s * mean_c log p[c], with p = softmax(logits) and
    s the label smoothing; rows whose target is ignore_index count for nothing.
    Gradient w.r.t. the logits: p - ((1 - s) * onehot(target) + s / C), per row."""

    name = "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target, reduction, label_smoothing, ignore_index):
        xp = array_module(logits)
        n, c = logits.shape
        logp = _log_softmax(logits, 1)
        valid = target != ignore_index
        safe_target = xp.where(valid, target, 0)
        rows = xp.arange(n)
        losses = -logp[rows, safe_target] * (1 - label_smoothing)
        if label_smoothing:
            losses -= logp.mean(axis=1) * label_smoothing
        losses *= valid
        count = valid.sum() if reduction == "mean" else n  # on the device: no synchronization
        ctx.meta = (reduction, label_smoothing, count)
        ctx.save_for_backward(logp, safe_target, valid)
        return _reduce(losses, count, reduction)

    @staticmethod
    def backward(ctx, g):
        logp, target, valid = ctx.saved_tensors
        reduction, smoothing, count = ctx.meta
        xp = array_module(logp)
        n, c = logp.shape
        if reduction == "none":
            row_scale = g * valid
        else:
            row_scale = valid * (g / _mean_divisor(count, g.dtype) if reduction == "mean" else g)
        row_scale = row_scale.astype(logp.dtype, copy=False)[:, None]
        grad = xp.exp(logp)
        if smoothing:
            grad -= logp.dtype.type(smoothing / c)
        grad[xp.arange(n), target] -= logp.dtype.type(1 - smoothing)
        grad *= row_scale
        return grad


class NLLLoss(Function):
    """Per row: -input[target] (input holding log-probabilities)."""

    name = "nll_loss"

    @staticmethod
    def forward(ctx, logp, target, reduction, ignore_index):
        xp = array_module(logp)
        valid = target != ignore_index
        safe_target = xp.where(valid, target, 0)
        losses = -logp[xp.arange(logp.shape[0]), safe_target] * valid
        count = valid.sum() if reduction == "mean" else logp.shape[0]
        ctx.meta = (logp.shape, reduction, count)
        ctx.save_for_backward(safe_target, valid)
        return _reduce(losses, count, reduction)

    @staticmethod
    def backward(ctx, g):
        target, valid = ctx.saved_tensors
        shape, reduction, count = ctx.meta
        xp = array_module(g)
        scale = g / _mean_divisor(count, g.dtype) if reduction == "mean" else g
        grad = xp.zeros(shape, dtype=g.dtype)
        grad[xp.arange(shape[0]), target] = -(scale * valid)
        return grad


class MSELoss(Function):
    name = "mse_loss"

    @staticmethod
    def forward(ctx, a, b, reduction):
        diff = a - b
        ctx.reduction, ctx.count = reduction, diff.size
        ctx.save_for_backward(diff)
        return _reduce(diff * diff, diff.size, reduction)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved_tensors
        if ctx.reduction == "mean":
            g = g * (2 / diff.dtype.type(ctx.count))
        else:
            g = g * 2
        grad = diff * g
        return (grad if ctx.needs_input_grad[0] else None,
                -grad if ctx.needs_input_grad[1] else None)


# ---------------------------------------------------------------- PyTorch-named functions
def softmax(input, dim=-1):  # noqa: A002
    """exp(x) / sum(exp(x)) along `dim`."""
    require_float("softmax", input)
    return Softmax.apply(input, axis=normalize_dim(dim, input.ndim, "softmax"))


def log_softmax(input, dim=-1):  # noqa: A002
    """log(softmax(x)) along `dim`, computed stably."""
    require_float("log_softmax", input)
    return LogSoftmax.apply(input, axis=normalize_dim(dim, input.ndim, "log_softmax"))


def _check_reduction(op, reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _class_targets(op, scores, target, ignore_index):
    """Validate (N, C, *) scores and integer targets (N, *); return both flattened to rows:
    scores (rows, C), target array (rows,), and the per-row output shape."""
    require_float(op, scores)
    if scores.ndim < 2:
        raise ShapeError(f"{op}: expected input of shape (N, C) with C classes, got {scores.shape}")
    if not isinstance(target, Tensor):
        target = Tensor(target, device=scores.device)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices (int64), got dtype {target.dtype} "
                        f"of shape {target.shape}")
    if target.device != scores.device:
        raise RuntimeError(f"{op}: input on {scores.device} but target on {target.device}")
    expected = (scores.shape[0],) + scores.shape[2:]
    if target.shape != expected:
        raise ShapeError(f"{op}: input of shape {scores.shape} needs target of shape {expected}, got {target.shape}")
    c = scores.shape[1]
    t = target.array
    if t.size:  # on a GPU the check is evaluated at the next read from the device
        bad = (t != ignore_index) & ((t < 0) | (t >= c))

        def out_of_range():
            value = int(backend.to_host(t)[0][backend.to_host(bad)[0]].reshape(-1)[0])
            return IndexError(f"{op}: target value {value} is out of range for {c} classes (valid: 0..{c - 1})")
        backend.check(bad, out_of_range)
    out_shape = expected
    if scores.ndim > 2:  # (N, C, d1, ...) -> (N*d1*..., C)
        axes = (0,) + tuple(range(2, scores.ndim)) + (1,)
        scores = scores.permute(*axes).reshape(-1, c)
    return scores, t.reshape(-1).astype("int64", copy=False), out_shape


def cross_entropy(input, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):  # noqa: A002
    """Softmax cross-entropy of logits (N, C) (or (N, C, d1, ...)) against integer targets (N,)
    (or (N, d1, ...)), as torch.nn.functional.cross_entropy without class weights."""
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    scores, t, out_shape = _class_targets(op, input, target, ignore_index)
    out = CrossEntropy.apply(scores, target=t, reduction=reduction, label_smoothing=float(label_smoothing),
                             ignore_index=ignore_index)
    return out.reshape(out_shape) if reduction == "none" else out


def nll_loss(input, target, reduction="mean", ignore_index=-100):  # noqa: A002
    """Negative log-likelihood of log-probabilities (N, C) against integer targets (N,)."""
    op = "nll_loss"
    _check_reduction(op, reduction)
    scores, t, out_shape = _class_targets(op, input, target, ignore_index)
    out = NLLLoss.apply(scores, target=t, reduction=reduction, ignore_index=ignore_index)
    return out.reshape(out_shape) if reduction == "none" else out


def mse_loss(input, target, reduction="mean"):  # noqa: A002
    """Mean (or summed, or per-element) squared error."""
    op = "mse_loss"
    _check_reduction(op, reduction)
    a, b = binary_operands(input, target, op)
    if a.shape != b.shape:
        warnings.warn(f"{op}: input shape {a.shape} and target shape {b.shape} differ and will be "
                      "broadcast; this is often a bug", UserWarning, stacklevel=2)
    return MSELoss.apply(a, b, reduction=reduction)
