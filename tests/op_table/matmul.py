"""Op-table rows of the matrix products: matmul (@) and F.linear.

matmul follows NumPy's (and PyTorch's) rules: 2-D products, batched products whose batch axes
broadcast, and 1-D operands promoted to a row (left) or a column (right), that axis being
removed from the result. Shape errors and mixed dtypes have tests in tests/test_ops_matmul.py.
"""
import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import assume
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from .row import MAX_SIZE, Case, OpRow, arrays_from, seeds


@st.composite
def broadcast_batch_shapes(draw):
    """Batch shapes for a and b that broadcast together: each a suffix of one common batch
    shape (0-3 axes), with some of its axes set to 1."""
    batch = draw(st.lists(st.integers(1, 3), max_size=3))

    def one():
        keep = draw(st.integers(0, len(batch)))
        return tuple(1 if draw(st.booleans()) else s for s in batch[len(batch) - keep:])
    return one(), one()


@st.composite
def matmul_cases(draw):
    """Operands of a valid product: 2-D, batched with broadcasting, 1-D on one side or both."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(broadcast_batch_shapes())
    vector = draw(st.sampled_from([None, None, "a", "b", "both"]))
    a_shape = (k,) if vector in ("a", "both") else batch_a + (n, k)
    b_shape = (k,) if vector in ("b", "both") else batch_b + (k, m)
    assume(max(np.prod(a_shape), np.prod(b_shape)) <= MAX_SIZE)
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, a_shape, b_shape)), {}, seed)


@st.composite
def linear_cases(draw):
    """Input (in,), (N, in) or (N, T, in), weight (out, in) and a bias (out,) or None."""
    lead = tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    fan_in, fan_out = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    assume(np.prod(lead) * fan_in <= MAX_SIZE)
    seed = draw(seeds)
    shapes = [lead + (fan_in,), (fan_out, fan_in)] + ([(fan_out,)] if draw(st.booleans()) else [])
    arrays = arrays_from(seed, *shapes)
    return Case(tuple(arrays) + (None,) * (3 - len(arrays)), {}, seed)


ROWS = [
    OpRow("tc.matmul", tc.matmul, matmul_cases(), torch_fn=torch.matmul,
          aliases={"a @ b": lambda a, b: a @ b, "Tensor.matmul": lambda a, b: a.matmul(b)},
          covers=("Tensor.matmul", "Tensor.__matmul__")),
    OpRow("F.linear", F.linear, linear_cases(), torch_fn=TF.linear),
]
