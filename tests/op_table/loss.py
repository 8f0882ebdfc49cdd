"""Op-table rows of softmax, log_softmax and the losses: cross_entropy, nll_loss, mse_loss.

Class targets are integer inputs of the row (no gradient); some of them may equal ignore_index,
never all (the all-ignored case, huge logits, bad targets and bad arguments have tests in
tests/test_ops_loss.py).
"""
import numpy as np
import torch.nn.functional as TF
from hypothesis import assume
from hypothesis import strategies as st

import tinygrad_cnn.nn.functional as F
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
def class_cases(draw, smoothing):
    """Scores (N, C), (N, C, d1) or (N, C, d1, d2), integer targets (N, *), a reduction and an
    ignore_index (PyTorch's default -100, -1, or a real class, as PyTorch allows) that some
    targets may carry, never all; with `smoothing`, a label_smoothing in [0, 1)."""
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
    return Case((scores, target), params, seed)


@st.composite
def mse_cases(draw):
    """Input and target of one shape (0-d to 4-d) and a reduction."""
    shape = draw(array_shapes())
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, shape, shape)), dict(reduction=draw(st.sampled_from(REDUCTIONS))), seed)


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
    OpRow("F.nll_loss", F.nll_loss, class_cases(smoothing=False), torch_fn=TF.nll_loss, differentiable=(True, False)),
    OpRow("F.mse_loss", F.mse_loss, mse_cases(), torch_fn=TF.mse_loss),
]
