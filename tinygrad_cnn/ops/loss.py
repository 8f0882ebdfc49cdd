"""softmax, log_softmax and the losses, with PyTorch's names, argument orders and numerics:
cross_entropy (fused with log_softmax; class weights, label smoothing, ignore_index), nll_loss,
the losses of a difference (mse_loss, l1_loss, smooth_l1_loss, huber_loss), binary_cross_entropy,
binary_cross_entropy_with_logits and kl_div.

Every loss takes reduction="mean" | "sum" | "none" (kl_div also "batchmean"), and PyTorch's
deprecated size_average= / reduce= where PyTorch still does (with PyTorch's warning). Class and
element weights (`weight`, `pos_weight`) are constants: like PyTorch, the losses that take them
as constants refuse a weight that requires grad while gradients are recorded.
"""
import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..errors import ArgumentError, DeviceError, ShapeError
from ..tensor import Tensor
from .common import as_tensor, binary_operands, check_broadcast, normalize_dim, require_float
from .elementwise import stable_sigmoid


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
    """The elementwise `losses` reduced; "mean" divides by `count` (a number, or a 0-d array on the
    device: the rows that count, or their total weight)."""
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    count = total.dtype.type(count) if isinstance(count, numbers.Number) else count.astype(total.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):  # every row ignored: 0/0 = nan, as in PyTorch
        return total / count


def _mean_divisor(count, dtype):
    """The divisor of a mean loss's gradient: the count (or total weight) of the rows, 1 where that
    is 0 (with every row ignored the loss is nan, yet its gradient is 0, as in PyTorch)."""
    return array_module(count).where(count == 0, 1, count).astype(dtype)


def _target_weights(target, weight, ignore_index):
    """(target with ignored entries replaced by class 0, whether each row counts, each row's
    weight: weight[target], or 1, and 0 where the target is ignore_index)."""
    xp = array_module(target)
    valid = target != ignore_index
    safe_target = xp.where(valid, target, 0)
    return safe_target, valid, (valid if weight is None else weight[safe_target] * valid)


class CrossEntropy(Function):
    """Per row i with p = softmax(logits[i]), s the label smoothing and w the class weights
    (all 1 without weights): -(1 - s) w[t] log p[t] - (s / C) sum_c w[c] log p[c]; rows whose
    target is ignore_index count for nothing, and "mean" divides by the sum of w[t] over the
    other rows (PyTorch's weighted mean). Writing the row's loss as -sum_c a_c log p[c], its
    gradient w.r.t. the logits is p * sum_c a_c - a."""

    name = "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target, weight, reduction, label_smoothing, ignore_index):
        xp = array_module(logits)
        n, c = logits.shape
        logp = _log_softmax(logits, 1)
        safe_target, valid, row_weight = _target_weights(target, weight, ignore_index)
        # an ignored row's log-probabilities are set aside, not multiplied by 0: with masked logits
        # they may hold -inf, and 0 * inf is nan
        picked = xp.where(valid, logp[xp.arange(n), safe_target], 0)
        losses = -picked * row_weight * (1 - label_smoothing)
        kept = valid.astype(logits.dtype)
        if label_smoothing:
            class_sum = logp.sum(axis=1) if weight is None else (logp * weight).sum(axis=1)
            losses -= xp.where(valid, class_sum, 0) * (label_smoothing / c)
        count = row_weight.sum() if reduction == "mean" else n  # on the device: no synchronization
        ctx.meta = (reduction, label_smoothing, count)
        ctx.save_for_backward(logp, safe_target, kept, row_weight if weight is not None else None, weight)
        return _reduce(losses, count, reduction)

    @staticmethod
    def backward(ctx, g):
        logp, target, kept, row_weight, weight = ctx.saved_tensors
        reduction, smoothing, count = ctx.meta
        xp = array_module(logp)
        n, c = logp.shape
        grad = xp.exp(logp)
        if weight is not None:  # times sum_c a_c, which is 1 without weights
            grad *= ((1 - smoothing) * row_weight + (smoothing / c) * weight.sum())[:, None]
        if smoothing:
            grad -= (smoothing / c) * weight if weight is not None else logp.dtype.type(smoothing / c)
        grad[xp.arange(n), target] -= (1 - smoothing) * row_weight if weight is not None else \
            logp.dtype.type(1 - smoothing)
        if reduction == "none":
            row_scale = g * kept
        else:  # ignored rows (kept = 0) get no gradient
            row_scale = kept * (g / _mean_divisor(count, g.dtype) if reduction == "mean" else g)
        grad *= row_scale.astype(logp.dtype, copy=False)[:, None]
        return grad


class NLLLoss(Function):
    """Per row: -w[target] * input[target] (input holding log-probabilities; w the class weights,
    1 without); "mean" divides by the sum of w[target] over the rows not ignored."""

    name = "nll_loss"

    @staticmethod
    def forward(ctx, logp, target, weight, reduction, ignore_index):
        xp = array_module(logp)
        safe_target, valid, row_weight = _target_weights(target, weight, ignore_index)
        picked = xp.where(valid, logp[xp.arange(logp.shape[0]), safe_target], 0)  # an ignored row's -inf * 0 is nan
        losses = -picked * row_weight
        count = row_weight.sum() if reduction == "mean" else logp.shape[0]
        ctx.meta = (logp.shape, reduction, count)
        ctx.save_for_backward(safe_target, row_weight)
        return _reduce(losses, count, reduction)

    @staticmethod
    def backward(ctx, g):
        target, row_weight = ctx.saved_tensors
        shape, reduction, count = ctx.meta
        xp = array_module(g)
        scale = g / _mean_divisor(count, g.dtype) if reduction == "mean" else g
        grad = xp.zeros(shape, dtype=g.dtype)
        grad[xp.arange(shape[0]), target] = -(scale * row_weight)
        return grad


# ---------------------------------------------------------------- elementwise losses
def _reduce_elementwise(ctx, losses, reduction, weight=None, count=None):
    """Elementwise losses, times a constant `weight` when given, reduced ("mean" over `count`
    elements, default all of them); ctx keeps what `_incoming_gradient` needs."""
    if weight is not None:
        losses = losses * weight
    ctx.reduction, ctx.count = reduction, losses.size if count is None else count
    return _reduce(losses, ctx.count, reduction)


def _incoming_gradient(ctx, g, weight=None):
    """The gradient reaching each elementwise loss: g, divided by the count for "mean", times the weight."""
    if ctx.reduction == "mean":
        g = g / g.dtype.type(ctx.count)
    return g if weight is None else g * weight


def _difference_forward(ctx, a, b, reduction, pointwise):
    """The loss of d = a - b: `pointwise(d)` gives (the elementwise loss, its derivative in d);
    the derivative is kept for backward."""
    losses, slope = pointwise(a - b)
    ctx.save_for_backward(slope if any(ctx.needs_input_grad) else None)
    return _reduce_elementwise(ctx, losses, reduction)


def _difference_backward(ctx, g):
    """Gradients of a loss of d = input - target: slope * g for the input, its negative for the target."""
    (slope,) = ctx.saved_tensors
    grad = slope * _incoming_gradient(ctx, g)
    return (grad if ctx.needs_input_grad[0] else None,
            -grad if ctx.needs_input_grad[1] else None)


class MSELoss(Function):
    """d^2 per element."""

    name = "mse_loss"
    backward = staticmethod(_difference_backward)

    @staticmethod
    def forward(ctx, a, b, reduction):
        return _difference_forward(ctx, a, b, reduction, lambda d: (d * d, 2 * d))


class L1Loss(Function):
    """|d| per element; gradient sign(d) (0 at d = 0, as PyTorch)."""

    name = "l1_loss"
    backward = staticmethod(_difference_backward)

    @staticmethod
    def forward(ctx, a, b, reduction):
        xp = array_module(a, b)
        return _difference_forward(ctx, a, b, reduction, lambda d: (xp.abs(d), xp.sign(d)))


def _huber(d, delta):
    """Huber's loss of d and its derivative: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta);
    d clamped to [-delta, delta]."""
    xp = array_module(d)
    magnitude = xp.abs(d)
    loss = xp.where(magnitude < delta, 0.5 * d * d, delta * (magnitude - 0.5 * delta))
    return loss.astype(d.dtype, copy=False), xp.clip(d, -delta, delta)


class SmoothL1Loss(Function):
    """Huber's loss with delta = beta, divided by beta: 0.5 d^2 / beta where |d| < beta, else
    |d| - 0.5 beta; gradient d / beta, or sign(d)."""

    name = "smooth_l1_loss"
    backward = staticmethod(_difference_backward)

    @staticmethod
    def forward(ctx, a, b, reduction, beta):
        def pointwise(d):
            loss, slope = _huber(d, beta)
            return loss / beta, slope / beta
        return _difference_forward(ctx, a, b, reduction, pointwise)


class HuberLoss(Function):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); gradient d clamped to [-delta, delta]."""

    name = "huber_loss"
    backward = staticmethod(_difference_backward)

    @staticmethod
    def forward(ctx, a, b, reduction, delta):
        return _difference_forward(ctx, a, b, reduction, lambda d: _huber(d, delta))


# ---------------------------------------------------------------- binary cross-entropy
_BCE_EPSILON = float(np.float32(1e-12))  # PyTorch's clamp of x (1 - x), the float 1e-12f in every dtype


class BinaryCrossEntropy(Function):
    """Per element: -w (t log x + (1 - t) log(1 - x)), each log clamped at -100 (as PyTorch).
    Gradients: input w (x - t) / max(x (1 - x), 1e-12f); target w (log(1 - x) - log x), the
    logs not clamped (so infinite at x = 0 or 1, as PyTorch's)."""

    name = "binary_cross_entropy"

    @staticmethod
    def forward(ctx, x, t, weight, reduction):
        xp = array_module(x)
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, then clamped; x outside [0, 1]:
            log_x, log_1mx = xp.log(x), xp.log1p(-x)          # nan (refused, on a GPU at the next read)
        losses = -(t * xp.maximum(log_x, -100) + (1 - t) * xp.maximum(log_1mx, -100))
        ctx.save_for_backward(x, t, weight, log_x, log_1mx)
        return _reduce_elementwise(ctx, losses, reduction, weight)

    @staticmethod
    def backward(ctx, g):
        x, t, weight, log_x, log_1mx = ctx.saved_tensors
        xp = array_module(g)
        g = _incoming_gradient(ctx, g, weight)
        gx = g * (x - t) / xp.maximum(x * (1 - x), _BCE_EPSILON) if ctx.needs_input_grad[0] else None
        gt = g * (log_1mx - log_x) if ctx.needs_input_grad[1] else None
        return gx, gt


class BinaryCrossEntropyWithLogits(Function):
    """binary_cross_entropy(sigmoid(x), t) computed from the logits x without overflow: per
    element w ((1 - t) x + l softplus(-x)) with l = 1 + (pos_weight - 1) t (l = 1 without
    pos_weight), softplus(-x) = log(1 + exp(-|x|)) + max(-x, 0).
    Gradients: input w (l sigmoid(x) - pos_weight t) (w (sigmoid(x) - t) without pos_weight);
    target w ((pos_weight - 1) softplus(-x) - x)."""

    name = "binary_cross_entropy_with_logits"

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        xp = array_module(x)
        softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
        scale = softplus_neg if pos_weight is None else (1 + (pos_weight - 1) * t) * softplus_neg
        ctx.save_for_backward(x, t, weight, pos_weight, softplus_neg)
        return _reduce_elementwise(ctx, (1 - t) * x + scale, reduction, weight)

    @staticmethod
    def backward(ctx, g):
        x, t, weight, pos_weight, softplus_neg = ctx.saved_tensors
        g = _incoming_gradient(ctx, g, weight)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            s = stable_sigmoid(x)
            gx = g * (s - t if pos_weight is None else (1 + (pos_weight - 1) * t) * s - pos_weight * t)
        if ctx.needs_input_grad[1]:
            gt = g * (-x if pos_weight is None else (pos_weight - 1) * softplus_neg - x)
        return gx, gt


# ---------------------------------------------------------------- KL divergence
class KLDiv(Function):
    """Per element, with input x = log q: t (log t - x) (xlogy: 0 where t = 0), or, with
    log_target, exp(t) (t - x). Gradients: input -t (or -exp(t)); target log t + 1 - x (nan where
    t = 0, as PyTorch's xlogy gradient), or exp(t) (t - x + 1)."""

    name = "kl_div"

    @staticmethod
    def forward(ctx, x, t, reduction, count, log_target):
        xp = array_module(x)
        if log_target:
            losses = xp.exp(t) * (t - x)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):  # log of 0 (unused) and of negatives (nan)
                losses = xp.where(t == 0, 0, t * xp.log(t)).astype(x.dtype, copy=False) - t * x
        ctx.log_target = log_target
        ctx.save_for_backward(x, t)
        return _reduce_elementwise(ctx, losses, reduction, count=count)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        xp = array_module(g)
        g = _incoming_gradient(ctx, g)
        weight = xp.exp(t) if ctx.log_target else t
        gx = -g * weight if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            if ctx.log_target:
                gt = g * weight * (t - x + 1)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):  # d/dt xlogy(t, t) = log t + t / t
                    gt = g * (xp.where(t != 0, xp.log(t), 0).astype(x.dtype, copy=False) + t / t - x)
        return gx, gt


# ---------------------------------------------------------------- PyTorch-named functions
def softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """exp(x) / sum(exp(x)) along `dim`. Without `dim`, PyTorch's deprecated implicit choice
    (dim 0 for 0-, 1- and 3-d input, else 1) with PyTorch's warning. `dtype`: cast first."""
    return _softmax_family(Softmax, "softmax", input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """log(softmax(x)) along `dim`, computed stably; `dim` and `dtype` as softmax."""
    return _softmax_family(LogSoftmax, "log_softmax", input, dim, dtype)


def _softmax_family(function, op, input, dim, dtype):  # noqa: A002
    if dtype is not None:
        input = input.to(dtype=dtype)
    require_float(op, input)
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
                      "dim=X as an argument.", UserWarning, stacklevel=3)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return function.apply(input, axis=normalize_dim(dim, input.ndim, op))


def _check_reduction(op, reduction, allowed=("mean", "sum", "none")):
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be {', '.join(repr(r) for r in allowed)}, got {reduction!r}")


def legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated size_average= / reduce=: when either is given, the reduction they mean
    (reduce=False: "none"; else size_average=False: "sum"; else "mean"), with PyTorch's warning;
    otherwise `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                  UserWarning, stacklevel=3)
    return reduction


def _constant_weight(op, name, weight, like, shape=None):
    """`weight` (a Tensor, array or None) as an array on `like`'s device, checked: a constant
    (RuntimeError while recording a graph if it requires grad, as PyTorch), of `like`'s dtype,
    and of `shape` when given."""
    if weight is None:
        return None
    if not isinstance(weight, Tensor):
        weight = as_tensor(weight, like, op)
    if weight.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}: the function is not differentiable with respect to argument '{name}'; "
                           f"this input cannot have requires_grad=True (use {name}.detach())")
    if weight.device != like.device:
        raise DeviceError(f"{op}: input on {like.device} but {name} on {weight.device}")
    if weight.dtype != like.dtype:
        raise RuntimeError(f"{op}: {name} of dtype {weight.dtype} does not match input of dtype {like.dtype}")
    if shape is not None and weight.shape != shape:
        raise RuntimeError(f"{op}: {name} should be defined for all {shape[0]} classes or none, got a {name} "
                           f"of shape {weight.shape}")
    return weight.array


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


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits (N, C) (or (N, C, d1, ...)) against integer class targets
    (N,) (or (N, d1, ...)), as torch.nn.functional.cross_entropy: class weights `weight` (C,),
    ignore_index, label_smoothing in [0, 1], all with PyTorch's weighted mean."""
    op = "cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    scores, t, out_shape = _class_targets(op, input, target, ignore_index)
    w = _constant_weight(op, "weight", weight, input, (input.shape[1],))
    out = CrossEntropy.apply(scores, target=t, weight=w, reduction=reduction,
                             label_smoothing=float(label_smoothing), ignore_index=ignore_index)
    return out.reshape(out_shape) if reduction == "none" else out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
             reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C) (or (N, C, d1, ...)) against integer
    targets (N,) (or (N, d1, ...)), with class weights `weight` (C,) and ignore_index."""
    op = "nll_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    scores, t, out_shape = _class_targets(op, input, target, ignore_index)
    w = _constant_weight(op, "weight", weight, input, (input.shape[1],))
    out = NLLLoss.apply(scores, target=t, weight=w, reduction=reduction, ignore_index=ignore_index)
    return out.reshape(out_shape) if reduction == "none" else out


def _difference_loss(op, function, input, target, reduction, weight=None, mean_over_weight=True,  # noqa: A002
                     **params):
    """`function` (a loss of input - target) applied to both operands as Tensors, warning as PyTorch
    when their shapes differ and broadcast. With elementwise `weight` (of the input's shape;
    differentiable, as in PyTorch): "none" gives weight * loss, "sum" its sum, "mean" its sum /
    weight.sum() (mse, l1: `mean_over_weight`) or its mean (huber)."""
    _check_reduction(op, reduction)
    a, b = binary_operands(input, target, op)
    if a.shape != b.shape:
        warnings.warn(f"{op}: using a target size {b.shape} that is different to the input size {a.shape}; this "
                      "will likely lead to incorrect results due to broadcasting; please ensure they have the "
                      "same size", UserWarning, stacklevel=3)
    if weight is None:
        return function.apply(a, b, reduction=reduction, **params)
    if not isinstance(weight, Tensor):
        weight = as_tensor(weight, a, op)
    if weight.shape != a.shape:
        raise ValueError(f"{op}: weights and input must have the same size, got weight {weight.shape} "
                         f"and input {a.shape}")
    weighted = function.apply(a, b, reduction="none", **params) * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.sum() / weight.sum() if mean_over_weight else weighted.mean()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):  # noqa: A002
    """(input - target)^2, reduced; `weight`: elementwise weights (mean: sum(w l) / sum(w))."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _difference_loss("mse_loss", MSELoss, input, target, reduction, weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):  # noqa: A002
    """|input - target|, reduced; `weight`: elementwise weights (mean: sum(w l) / sum(w))."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _difference_loss("l1_loss", L1Loss, input, target, reduction, weight)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):  # noqa: A002
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, with d = input - target; beta = 0
    is l1_loss."""
    op = "smooth_l1_loss"
    if beta < 0:
        raise RuntimeError(f"{op}: does not support negative values for beta, got {beta}")
    reduction = legacy_reduction(size_average, reduce, reduction)
    if beta == 0:
        return _difference_loss(op, L1Loss, input, target, reduction)
    return _difference_loss(op, SmoothL1Loss, input, target, reduction, beta=float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):  # noqa: A002
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), with d = input - target;
    `weight`: elementwise weights (mean: the mean of w l)."""
    op = "huber_loss"
    if delta <= 0:
        raise RuntimeError(f"{op}: does not support non-positive values for delta, got {delta}")
    return _difference_loss(op, HuberLoss, input, target, reduction, weight, mean_over_weight=False,
                            delta=float(delta))


def _binary_operands(op, input, target):  # noqa: A002
    """Probabilities (or logits) and a float target of the same shape (ValueError otherwise, as PyTorch)."""
    x, t = binary_operands(input, target, op)
    require_float(op, x, t)
    if x.shape != t.shape:
        raise ValueError(f"{op}: using a target size {t.shape} that is different to the input size {x.shape} "
                         "is not supported; please ensure they have the same size")
    return x, t


def _broadcast_weight(op, name, weight, x):
    """A constant weight that broadcasts to x's shape (RuntimeError naming both shapes otherwise)."""
    w = _constant_weight(op, name, weight, x)
    if w is not None and check_broadcast(op, w.shape, x.shape) != x.shape:
        raise ShapeError(f"{op}: {name} of shape {w.shape} cannot be broadcast to the input's shape {x.shape}")
    return w


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1] (RuntimeError otherwise),
    each log clamped at -100 as PyTorch; the target may require grad."""
    op = "binary_cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    x, t = _binary_operands(op, input, target)
    w = _broadcast_weight(op, "weight", weight, x)
    bad = ~((x.array >= 0) & (x.array <= 1))  # NaN too; on a GPU checked at the next read

    def out_of_range():
        values = backend.to_host(x.array)[0]
        value = values[~((values >= 0) & (values <= 1))].reshape(-1)[0]
        return RuntimeError(f"{op}: all elements of input should be between 0 and 1, got {value}")
    backend.check(bad, out_of_range)
    return BinaryCrossEntropy.apply(x, t, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                     reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target) computed stably from the logits; `weight`
    weighs elements, `pos_weight` the positive term (broadcast over the last dimension for one
    weight per class); the target may require grad."""
    op = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    x, t = _binary_operands(op, input, target)
    w = _broadcast_weight(op, "weight", weight, x)
    pw = _broadcast_weight(op, "pos_weight", pos_weight, x)
    return BinaryCrossEntropyWithLogits.apply(x, t, weight=w, pos_weight=pw, reduction=reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):  # noqa: A002
    """Kullback-Leibler divergence with `input` log-probabilities and `target` probabilities (or
    log-probabilities with log_target=True), pointwise target * (log target - input). reduction
    "batchmean" divides the sum by the batch size (the KL divergence's definition); "mean", PyTorch's
    default, by the number of elements, with PyTorch's warning."""
    op = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size. "
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition. "
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    _check_reduction(op, reduction, ("mean", "batchmean", "sum", "none"))
    x, t = binary_operands(input, target, op)
    require_float(op, x, t)
    shape = check_broadcast(op, x.shape, t.shape)
    if reduction == "batchmean":
        reduction, count = ("mean", x.shape[0]) if x.ndim else ("sum", 1)
    else:
        count = math.prod(shape)
    return KLDiv.apply(x, t, reduction=reduction, count=count, log_target=bool(log_target))
