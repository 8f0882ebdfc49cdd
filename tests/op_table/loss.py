"""Op-table rows of softmax, log_softmax and the losses: cross_entropy and nll_loss (with and
without class weights), mse_loss, l1_loss, smooth_l1_loss, huber_loss (with and without element
weights), binary_cross_entropy, binary_cross_entropy_with_logits and kl_div.

Class targets are integer inputs of the row (no gradient); some of them may equal ignore_index,
never all (the all-ignored case, huge logits, bad targets and bad arguments have tests in
tests/test_ops_loss.py). Class and element weights of cross-entropy and BCE are constants (no
gradient, as in PyTorch); float targets of BCE and KL, and the element weights of mse/l1/huber,
take gradients where PyTorch gives them.
"""
import warnings

import numpy as np
import torch.nn.functional as TF
from hypothesis import assume
from hypothesis import strategies as st

import tinygrad_cnn.nn.functional as F
from .elementwise import away_from
from .row import MAX_SIZE, Case, OpRow, array_shapes, arrays_from, seeds

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def softmax_cases(draw):
    """x of 1-4 dims (sides 1-5, at most MAX_SIZE elements), scaled by 0.1-10, and a dim
    (negative too)."""
    shape = draw(array_shapes(min_dims=1, max_side=5))
    seed = draw(seeds)
    x = arrays_from(seed, shape)[0] * draw(st.floats(0.1, 10.0))
    return Case((x,), dict(dim=draw(st.integers(-len(shape), len(shape) - 1))), seed)


@st.composite
def class_cases(draw, smoothing, weighted=False):
    """Scores (N, C), (N, C, d1) or (N, C, d1, d2), integer targets (N, *), a reduction and an
    ignore_index (PyTorch's default -100, -1, or a real class, as PyTorch allows) that some
    targets may carry, never all; with `smoothing`, a label_smoothing in [0, 1); with `weighted`,
    a third input: class weights (C,) in [0.1, 3), or None."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    assume(n * c * int(np.prod(extra)) <= MAX_SIZE)
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, c) + extra) * draw(st.floats(0.1, 5.0))
    target = rng.integers(0, c, size=(n,) + extra)
    ignore_index = draw(st.sampled_from([-100, -1, int(rng.integers(0, c))]))
    if draw(st.booleans()):  # mark some targets ignored, keeping at least one
        ignored = rng.random(target.shape) < 0.4
        ignored.reshape(-1)[rng.integers(0, target.size)] = False
        target = np.where(ignored, ignore_index, target)
    if (target == ignore_index).all():  # a class index every target happens to have
        ignore_index = -100
    params = dict(reduction=draw(st.sampled_from(REDUCTIONS)), ignore_index=ignore_index)
    if smoothing:
        params["label_smoothing"] = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.99)))
    if not weighted:
        return Case((scores, target), params, seed)
    weight = rng.uniform(0.1, 3.0, c) if draw(st.booleans()) else None
    return Case((scores, target, weight), params, seed)


@st.composite
def mse_cases(draw):
    """Input and target of one shape (0-d to 4-d) and a reduction."""
    shape = draw(array_shapes())
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, shape, shape)), dict(reduction=draw(st.sampled_from(REDUCTIONS))), seed)


@st.composite
def difference_cases(draw, params=st.just({}), kinks=lambda params: (), weighted=False):
    """Input and target of one shape (0-d to 4-d) whose difference stays away from the loss's
    kinks(params) (|d| = beta for smooth_l1, ...), a reduction, the loss's parameters; with
    `weighted`, a third input: positive element weights of the input's shape."""
    shape = draw(array_shapes())
    seed = draw(seeds)
    params = dict(draw(params), reduction=draw(st.sampled_from(REDUCTIONS)))
    target, d, weight = arrays_from(seed, shape, shape, shape)
    d = away_from(d * 2, kinks(params))
    arrays = (target + d, target) + ((np.abs(weight) + 0.1,) if weighted else ())
    return Case(arrays, params, seed)


def _kinks(name):
    """The kinks of a difference loss: d = 0 for l1, |d| = beta or delta for smooth_l1 / huber."""
    return lambda params: (0.0,) + ((params.get(name, 1.0), -params.get(name, 1.0)) if name else ())


def _weighted(fn):
    """fn(input, target, weight=w, **params) written with the weight as the third positional input."""
    return lambda a, b, w, **params: fn(a, b, weight=w, **params)


@st.composite
def bce_cases(draw, logits=False):
    """Probabilities in [0.02, 0.98) (logits: standard normal * 3) of 0-d to 4-d, float targets in
    [0, 1), a reduction, and constant weights: None, or positive of the input's shape or of its
    trailing dimensions (broadcasting); for logits also a pos_weight (None, per element, or per
    class of the last dimension)."""
    shape = draw(array_shapes())
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3 if logits else rng.uniform(0.02, 0.98, shape)
    target = rng.random(shape)

    def constant_weights():
        kind = draw(st.sampled_from(["none", "full", "trailing"]))
        if kind == "none":
            return None
        return rng.uniform(0.1, 3.0, shape if kind == "full" else shape[len(shape) // 2:])
    arrays = (x, target, constant_weights()) + ((constant_weights(),) if logits else ())
    return Case(arrays, dict(reduction=draw(st.sampled_from(REDUCTIONS))), seed)


@st.composite
def kl_cases(draw):
    """Log-probabilities `input` (standard normal, 0-d to 4-d) and a target of the same shape:
    probabilities in [0.05, 1) or, with log_target, their logs; every reduction (batchmean too)."""
    shape = draw(array_shapes())
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    log_target = draw(st.sampled_from([None, False, True]))
    target = rng.uniform(0.05, 1.0, shape)
    params = dict(reduction=draw(st.sampled_from(REDUCTIONS + ["batchmean"])))
    if log_target is not None:
        params["log_target"] = log_target
    return Case((rng.standard_normal(shape), np.log(target) if log_target else target), params, seed)


def _quiet_mean(fn):
    """kl_div with reduction='mean' warns (in both libraries) that 'batchmean' is the definition;
    tests/test_ops_loss.py checks the warning, the table need not see it."""
    def call(*args, **params):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="reduction: 'mean' divides")
            return fn(*args, **params)
    return call


ROWS = [
    OpRow("F.softmax", F.softmax, softmax_cases(), torch_fn=TF.softmax,
          aliases={"Tensor.softmax": lambda x, dim: x.softmax(dim), "F.softmax(x, dim)": lambda x, dim: F.softmax(x, dim)},
          covers=("Tensor.softmax",)),
    OpRow("F.log_softmax", F.log_softmax, softmax_cases(), torch_fn=TF.log_softmax,
          aliases={"Tensor.log_softmax": lambda x, dim: x.log_softmax(dim),
                   "F.log_softmax(x, dim)": lambda x, dim: F.log_softmax(x, dim)},
          covers=("Tensor.log_softmax",)),
    OpRow("F.cross_entropy", F.cross_entropy, class_cases(smoothing=True), torch_fn=TF.cross_entropy,
          differentiable=(True, False)),
    OpRow("F.cross_entropy (class weights)", F.cross_entropy, class_cases(smoothing=True, weighted=True),
          torch_fn=TF.cross_entropy, differentiable=(True, False, False)),
    OpRow("F.nll_loss", F.nll_loss, class_cases(smoothing=False), torch_fn=TF.nll_loss, differentiable=(True, False)),
    OpRow("F.nll_loss (class weights)", F.nll_loss, class_cases(smoothing=False, weighted=True), torch_fn=TF.nll_loss,
          differentiable=(True, False, False)),
    OpRow("F.mse_loss", F.mse_loss, mse_cases(), torch_fn=TF.mse_loss),
    OpRow("F.mse_loss (weight)", _weighted(F.mse_loss), difference_cases(weighted=True), torch_fn=_weighted(TF.mse_loss)),
    OpRow("F.l1_loss", F.l1_loss, difference_cases(kinks=_kinks(None)), torch_fn=TF.l1_loss),
    OpRow("F.l1_loss (weight)", _weighted(F.l1_loss), difference_cases(kinks=_kinks(None), weighted=True),
          torch_fn=_weighted(TF.l1_loss)),
    OpRow("F.smooth_l1_loss", F.smooth_l1_loss,
          difference_cases(st.fixed_dictionaries({}, optional={"beta": st.sampled_from([0.0, 0.5, 2.0])}), _kinks("beta")),
          torch_fn=TF.smooth_l1_loss),
    OpRow("F.huber_loss", F.huber_loss,
          difference_cases(st.fixed_dictionaries({}, optional={"delta": st.sampled_from([0.5, 2.0])}), _kinks("delta")),
          torch_fn=TF.huber_loss),
    OpRow("F.huber_loss (weight)", _weighted(F.huber_loss), difference_cases(kinks=_kinks("delta"), weighted=True),
          torch_fn=_weighted(TF.huber_loss)),
    OpRow("F.binary_cross_entropy", F.binary_cross_entropy, bce_cases(), torch_fn=TF.binary_cross_entropy,
          differentiable=(True, True, False)),
    OpRow("F.binary_cross_entropy_with_logits",
          lambda x, t, w, pw, **params: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw, **params),
          bce_cases(logits=True), differentiable=(True, True, False, False),
          torch_fn=lambda x, t, w, pw, **params: TF.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw, **params)),
    OpRow("F.kl_div", _quiet_mean(F.kl_div), kl_cases(), torch_fn=_quiet_mean(TF.kl_div)),
]
