"""The row of the op table, the case it draws, and the helpers rows are written with.

A row names one public op and says how to prove it: our function, PyTorch's (and/or our slow
reference implementation), a hypothesis strategy drawing `Case`s (input arrays and keyword
parameters), which inputs take a gradient, which the op updates in place, and tolerances.
`tests/test_op_table.py` runs every invariant on every row, on every device.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

seeds = st.integers(0, 2**32 - 1)

# Inputs of at most this many elements keep the table fast (and within the gradcheck's
# element-by-element mode for most draws).
MAX_SIZE = 64


@dataclass(frozen=True)
class Case:
    """One call of an op: its input arrays (NumPy; float64 for floating inputs, which the tests
    cast to the dtype under test; None for an absent optional input), its keyword parameters,
    and a seed (for the cotangent, and for the library's generator in random ops)."""
    arrays: tuple
    params: dict = field(default_factory=dict)
    seed: int = 0


@dataclass
class OpRow:
    """One public op and how to prove it.

    name: the row's id (the public spelling it proves first, e.g. "F.conv2d").
    ours(*tensors, **params) -> Tensor: the op under test.
    cases: a hypothesis strategy drawing Case.
    torch_fn(*torch_tensors, **params) -> torch.Tensor: PyTorch's op, or None.
    reference(*tensors, **params) -> Tensor: our slow definition of the op (Tensor ops), or None.
    aliases: other spellings of the same op ({label: callable with ours' signature}); each is
        compared with `ours` on the same inputs.
    covers: the public names this row proves ("F.conv2d", "tc.add", "Tensor.add", ...).
    differentiable: per input, whether it takes a gradient (default: every floating input).
    mutates: indices of inputs the op updates in place (compared with PyTorch's after the call
        and exempt from the no-mutation invariant), e.g. batch norm's running statistics.
    tol: {dtype: (rtol, atol)} overriding the defaults for the comparison with PyTorch.
    random: the op draws from the library's generator: every call is preceded by
        tc.manual_seed(case.seed), and PyTorch cannot be compared (give a reference).
    gradcheck: run the numerical gradient check (False for ops with kinks inside the drawn
        domain that the cases cannot avoid).
    layouts: run the non-contiguous / channels-last invariant.
    dtypes: the floating dtypes to test.
    """
    name: str
    ours: Callable
    cases: st.SearchStrategy
    torch_fn: Optional[Callable] = None
    reference: Optional[Callable] = None
    aliases: dict = field(default_factory=dict)
    covers: tuple = ()
    differentiable: Optional[tuple] = None
    mutates: tuple = ()
    tol: dict = field(default_factory=dict)
    random: bool = False
    gradcheck: bool = True
    layouts: bool = True
    dtypes: tuple = (np.float64, np.float32)

    def __post_init__(self):
        if self.torch_fn is None and self.reference is None:
            raise ValueError(f"op table row {self.name!r}: give torch_fn, reference or both")
        if self.random and self.reference is None:
            raise ValueError(f"op table row {self.name!r}: a random op needs a reference drawing the same numbers")

    def takes_grad(self, case):
        """Per input of `case`: whether it takes a gradient."""
        if self.differentiable is not None:
            return tuple(bool(d) and a is not None for d, a in zip(self.differentiable, case.arrays))
        return tuple(a is not None and np.asarray(a).dtype.kind == "f" and i not in self.mutates
                     for i, a in enumerate(case.arrays))

    def __repr__(self):
        return self.name


# ---------------------------------------------------------------- helpers for writing rows
def arrays_from(seed, *shapes, low=None, high=None, away_from=None):
    """Standard normal arrays of `shapes` from `seed` (uniform in [low, high) when both are given).

    away_from: push values to at least 0.1 from this point (the kink of relu/abs at 0), so
    that numerical and analytic gradients agree."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        a = rng.uniform(low, high, shape) if low is not None else rng.standard_normal(shape)
        if away_from is not None:
            gap = a - away_from
            a = away_from + np.where(gap >= 0, 1, -1) * (0.1 + np.abs(gap))
        out.append(a)
    return out


def array_shapes(min_dims=0, max_dims=4, max_side=4):
    """Shapes of min_dims..max_dims axes of sides 1..max_side, of at most MAX_SIZE elements."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side).filter(
        lambda shape: np.prod(shape, dtype=int) <= MAX_SIZE)


def distinct_arrays(seed, *shapes, low=-2.0, high=2.0):
    """Arrays of `shapes` holding all-different values (a shuffled linspace): no ties within
    or between them, so max/min/sort-like ops have one answer."""
    rng = np.random.default_rng(seed)
    sizes = [int(np.prod(s, dtype=int)) for s in shapes]
    values = rng.permutation(np.linspace(low, high, max(sum(sizes), 2)))
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(values[start:start + size].reshape(shape))
        start += size
    return out


def int_or_pair(draw, lo, hi):
    """(argument, (a, b)): an int or a pair of ints, both forms PyTorch accepts."""
    if draw(st.booleans()):
        v = draw(st.integers(lo, hi))
        return v, (v, v)
    pair = (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))
    return pair, pair
