"""matmul / @ and F.linear against torch: forward and the gradient of every operand.

matmul follows NumPy's (and torch's) rules: 2-D products, batched products whose batch axes
broadcast, and 1-D operands promoted to a row (left) or a column (right), that axis being
removed from the result. Shapes are drawn by hypothesis; arrays come from a drawn seed.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, assert_fails_cleanly, compare_with_torch, leaf

# The three spellings of a matrix product in tinygrad_cnn.
SPELLINGS = {"@": lambda a, b: a @ b, "tc.matmul": lambda a, b: tc.matmul(a, b),
             "Tensor.matmul": lambda a, b: a.matmul(b)}


# ---------------------------------------------------------------- strategies
@st.composite
def broadcast_batch_shapes(draw):
    """Batch shapes for a and b that broadcast together: each a suffix of one common batch
    shape (0-3 axes), with some of its axes set to 1."""
    batch = draw(st.lists(st.integers(1, 4), max_size=3))

    def one():
        keep = draw(st.integers(0, len(batch)))
        return tuple(1 if draw(st.booleans()) else s for s in batch[len(batch) - keep:])
    return one(), one()


@st.composite
def matmul_shapes(draw):
    """Shapes (a, b) of a valid product: 2-D, batched with broadcasting, or with a 1-D operand
    on one side (1-D on both sides has a test of its own)."""
    n, k, m = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    batch_a, batch_b = draw(broadcast_batch_shapes())
    vector = draw(st.sampled_from([None, None, "a", "b"]))
    a_shape = (k,) if vector == "a" else batch_a + (n, k)
    b_shape = (k,) if vector == "b" else batch_b + (k, m)
    return a_shape, b_shape


def standard_normal(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


# ---------------------------------------------------------------- matmul against torch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", list(SPELLINGS))
@given(shapes=matmul_shapes(), seed=st.integers(0, 2**32 - 1))
def test_matmul_matches_torch(device, dtype, spelling, shapes, seed):
    """a @ b (and tc.matmul, Tensor.matmul): forward and both gradients equal torch.matmul's,
    for 2-D, batched, broadcast-batch and one-sided 1-D operands. Broadcast batch axes are
    summed back in the gradient of the operand that was broadcast."""
    compare_with_torch(SPELLINGS[spelling], torch.matmul, standard_normal(seed, *shapes),
                       device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_shape,b_shape,out_shape", [
    ((2, 1, 4, 3), (5, 3, 2), (2, 5, 4, 2)),
    ((3, 4), (2, 4, 5), (2, 3, 5)),
    ((2, 3, 4), (4, 5), (2, 3, 5)),
    ((1, 2, 3), (4, 1, 3, 2), (4, 1, 2, 2)),
    ((3, 1, 2, 2), (1, 4, 2, 3), (3, 4, 2, 3)),
])
def test_matmul_broadcast_batch_dims(device, dtype, a_shape, b_shape, out_shape):
    """Hand-picked broadcasts of the batch axes (missing axes, axes of length 1 on either side)
    give torch's output shape, values and gradients."""
    out, _ = compare_with_torch(lambda a, b: a @ b, torch.matmul, standard_normal(1, a_shape, b_shape),
                                device=device, dtype=dtype)
    assert out.shape == out_shape


VECTOR_CASES = [
    ((3,), (3, 4)),        # vector @ matrix -> (4,)
    ((4, 3), (3,)),        # matrix @ vector -> (4,)
    ((3,), (2, 5, 3, 4)),  # vector @ batch -> (2, 5, 4)
    ((2, 5, 4, 3), (3,)),  # batch @ vector -> (2, 5, 4)
    ((1,), (1, 1)),
    ((3,), (3,)),          # vector @ vector -> a 0-d scalar (dot product)
    ((1,), (1,)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_shape,b_shape", VECTOR_CASES, ids=[f"{a}@{b}".replace(" ", "") for a, b in VECTOR_CASES])
def test_matmul_vector_operands(device, dtype, a_shape, b_shape):
    """1-D operands on either side, NumPy's rules: promoted to a row (left) or a column
    (right) and that axis removed from the result; vector @ vector is a 0-d dot product."""
    a, b = standard_normal(2, a_shape, b_shape)
    out, _ = compare_with_torch(lambda a, b: a @ b, torch.matmul, [a, b], device=device, dtype=dtype)
    assert out.shape == np.matmul(a, b).shape


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("requires_grad", [(True, False), (False, True)])
@pytest.mark.parametrize("a_shape,b_shape", [((4, 3), (3, 2)), ((2, 1, 4, 3), (5, 3, 2)), ((3,), (2, 3, 4))])
def test_matmul_gradient_of_one_operand(device, requires_grad, a_shape, b_shape):
    """With only one operand requiring grad (a frozen weight), its gradient equals torch's and
    the other operand gets none."""
    found = []

    def ours(a, b):
        found.extend([a, b])
        return a @ b

    compare_with_torch(ours, torch.matmul, standard_normal(3, a_shape, b_shape), device=device,
                       requires_grad=list(requires_grad))
    assert [t.grad is not None for t in found] == list(requires_grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_non_contiguous_operands(device, dtype):
    """Transposed (non-contiguous) operands and an operand used on both sides (its gradient
    accumulates) give torch's values and gradients."""
    a, b = standard_normal(4, (2, 3, 4), (3, 4))

    def ours(a, b):
        return (a.transpose(1, 2) @ a) @ (b.T @ b)

    def theirs(a, b):
        return (a.transpose(1, 2) @ a) @ (b.T @ b)

    compare_with_torch(ours, theirs, [a, b], device=device, dtype=dtype)


# ---------------------------------------------------------------- linear against torch
@st.composite
def linear_cases(draw):
    """Input shape (..., in) with 0-2 leading axes (covering (in,), (N, in), (N, T, in)),
    weight (out, in), bias or not, and a seed."""
    lead = tuple(draw(st.lists(st.integers(1, 5), max_size=2)))
    fan_in, fan_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return dict(x_shape=lead + (fan_in,), w_shape=(fan_out, fan_in), bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=linear_cases())
def test_linear_matches_torch(device, dtype, case):
    """F.linear forward and the gradients of input, weight and bias equal torch's for inputs
    (in,), (N, in) and (N, T, in), with and without bias."""
    shapes = [case["x_shape"], case["w_shape"]] + ([case["w_shape"][:1]] if case["bias"] else [])
    compare_with_torch(F.linear, TF.linear, standard_normal(case["seed"], *shapes),
                       device=device, dtype=dtype, seed=case["seed"])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape", [(6, 4), (3, 5, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_fixed_shapes(device, dtype, x_shape, bias):
    """(N, in) and (N, T, in) inputs with and without bias, at fixed shapes."""
    shapes = [x_shape, (7, 4)] + ([(7,)] if bias else [])
    out, _ = compare_with_torch(F.linear, TF.linear, standard_normal(5, *shapes), device=device, dtype=dtype)
    assert out.shape == x_shape[:-1] + (7,)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("requires_grad", [(True, False, False), (False, True, False), (False, False, True),
                                           (False, True, True)])
def test_linear_gradient_of_a_subset_of_inputs(device, requires_grad):
    """Only some of input / weight / bias requiring grad: those gradients equal torch's."""
    found = []

    def ours(*tensors):
        found.extend(tensors)
        return F.linear(*tensors)

    compare_with_torch(ours, TF.linear, standard_normal(6, (3, 2, 4), (5, 4), (5,)), device=device,
                       requires_grad=list(requires_grad))
    assert [t.grad is not None for t in found] == list(requires_grad)


def test_matmul_and_linear_float32_stay_float32():
    """float32 operands give float32 results and gradients."""
    a, w, b = tc.randn(3, 4, requires_grad=True), tc.randn(5, 4, requires_grad=True), tc.randn(5, requires_grad=True)
    out = F.linear(a, w, b) + a @ w.T
    assert out.dtype == np.float32
    out.sum().backward()
    assert a.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("spelling", list(SPELLINGS))
@pytest.mark.parametrize("a_shape,b_shape", [((2, 3), (4, 5)), ((3,), (4,)), ((3,), (4, 2)), ((2, 3), (2,)),
                                             ((2, 2, 3), (2, 4, 2))])
def test_matmul_mismatched_inner_dims(spelling, a_shape, b_shape):
    """Inner dimensions that differ: a tc.ShapeError (a ValueError and a RuntimeError, as torch
    raises) naming matmul and both shapes; the operands are left untouched."""
    with pytest.raises(RuntimeError):
        torch.matmul(torch.zeros(a_shape), torch.zeros(b_shape))
    a, b = leaf(a_shape), leaf(b_shape)
    call = lambda: SPELLINGS[spelling](a, b)  # noqa: E731
    assert_fails_cleanly(call, [a, b], tc.ShapeError, "matmul", str(a_shape), str(b_shape))
    assert_fails_cleanly(call, [a, b], ValueError)
    assert_fails_cleanly(call, [a, b], RuntimeError)


def test_matmul_batch_dims_that_do_not_broadcast():
    """Batch axes 2 and 5 cannot broadcast: a ShapeError naming matmul (torch: RuntimeError)."""
    with pytest.raises(RuntimeError):
        torch.matmul(torch.zeros(2, 3, 4), torch.zeros(5, 4, 2))
    a, b = leaf((2, 3, 4)), leaf((5, 4, 2))
    assert_fails_cleanly(lambda: a @ b, [a, b], tc.ShapeError, "matmul")


@pytest.mark.parametrize("x_shape,w_shape", [((4, 3), (5, 6)), ((2, 7, 3), (5, 6)), ((6,), (5, 4))])
def test_linear_mismatched_inner_dims(x_shape, w_shape):
    """Input features that do not match the weight's: a ShapeError naming linear and both
    shapes (torch: RuntimeError); nothing changed afterwards."""
    with pytest.raises(RuntimeError):
        TF.linear(torch.zeros(x_shape), torch.zeros(w_shape))
    x, w = leaf(x_shape), leaf(w_shape)
    assert_fails_cleanly(lambda: F.linear(x, w), [x, w], tc.ShapeError, "linear", str(x_shape), str(w_shape))
    assert_fails_cleanly(lambda: F.linear(x, w), [x, w], RuntimeError)


def test_linear_bias_of_wrong_shape():
    """A bias that is not (out_features,) is a ShapeError naming linear and the bias shape."""
    x, w, b = leaf((4, 3)), leaf((5, 3)), leaf((4,))
    with pytest.raises(RuntimeError):
        TF.linear(torch.zeros(4, 3), torch.zeros(5, 3), torch.zeros(4))
    assert_fails_cleanly(lambda: F.linear(x, w, b), [x, w, b], tc.ShapeError, "linear", "(4,)")


def test_matmul_mixed_dtypes_is_type_error():
    """float64 @ float32 is a TypeError naming matmul (torch: RuntimeError), as is F.linear."""
    a, b = leaf((2, 3)), leaf((3, 4), dtype=np.float32)
    w = leaf((4, 3), dtype=np.float32)
    assert_fails_cleanly(lambda: a @ b, [a, b], TypeError, "matmul")
    assert_fails_cleanly(lambda: F.linear(a, w), [a, w], TypeError, "linear")
