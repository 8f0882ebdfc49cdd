"""Elementwise ops: the edge cases. The op table (tests/op_table/elementwise.py, run by
tests/test_op_table.py) proves forward and gradients of every op and spelling against PyTorch;
this file keeps what the table does not check: special values (x ** 0 at 0, sigmoid's far
tails), tie conventions (maximum/minimum, clip at its bounds), a 0-d tensor operand beside a
larger one, a Python number as a branch of where, gradients shared inside one graph, 0-d
results holding arrays, and shape errors.
"""
import operator
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from helpers import DEVICES, DTYPES, compare_with_torch


# ---------------------------------------------------------------- special values
@pytest.mark.parametrize("device", DEVICES)
def test_pow_zero_exponent_at_zero_base_has_zero_gradient(device):
    """x ** 0 is constant 1, so its gradient is 0 everywhere, also at x = 0 (torch gives 0,
    not 0 * inf = nan)."""
    x = np.array([0.0, 1.5, -2.0])
    compare_with_torch(lambda t: t ** 0, lambda t: t ** 0, [x], device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_tails_are_accurate_and_warning_free(dtype, device):
    """sigmoid at +-20, +-40, +-1000: no overflow warning, and the tiny values in the lower
    tail (sigmoid(-40) ~ 4e-18) and their gradients agree with torch to a *relative*
    tolerance, which a naive 1/(1+exp(-x)) or a clipped one would fail."""
    x = np.array([-1000.0, -80.0, -40.0, -20.0, -1.0, 0.0, 1.0, 20.0, 40.0, 80.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = tc.tensor(x, device=device, requires_grad=True)
        out = t.sigmoid()
        out.sum().backward()
    ref = torch.tensor(x, requires_grad=True)
    ref_out = torch.sigmoid(ref)
    ref_out.sum().backward()
    rtol = 1e-6 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out.to("cpu").numpy(),
                               ref_out.detach().numpy(), rtol=rtol, atol=0)
    np.testing.assert_allclose(t.grad.to("cpu").numpy(), ref.grad.numpy(), rtol=rtol, atol=0)
    assert out.dtype == np.dtype(dtype)


# ---------------------------------------------------------------- ties
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_the_gradient_like_torch(op, dtype, device):
    """Where a == b each input gets half the gradient (as torch); with broadcasting the halves
    are then summed to the operand's shape."""
    a = np.array([[1.0, 2.0, 3.0], [3.0, 0.0, -1.0]])
    b = np.array([[1.0, 5.0, 3.0], [0.0, 0.0, 4.0]])
    compare_with_torch(getattr(tc, op), getattr(torch, op), [a, b], device=device, dtype=dtype)
    # broadcast operand with ties in some rows
    compare_with_torch(getattr(tc, op), getattr(torch, op), [a, np.array([[3.0], [0.0]])], device=device, dtype=dtype)
    # equal inputs: each gets half, so the cotangent is split exactly in two
    x = tc.tensor(a.astype(dtype), device=device, requires_grad=True)
    y = tc.tensor(a.astype(dtype), device=device, requires_grad=True)
    g = np.random.default_rng(3).standard_normal(a.shape).astype(dtype)
    getattr(tc, op)(x, y).backward(tc.tensor(g, device=device))
    np.testing.assert_array_equal(x.grad.to("cpu").numpy(), g / 2)
    np.testing.assert_array_equal(y.grad.to("cpu").numpy(), g / 2)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_at_the_bounds_passes_the_gradient_like_torch(dtype, device):
    """Values exactly on a bound keep their gradient (torch.clamp's convention)."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    for lo, hi in [(-0.5, 1.0), (None, 0.5), (0.0, None), (0.5, 0.5)]:
        compare_with_torch(lambda t: t.clamp(lo, hi), lambda t: torch.clamp(t, lo, hi), [x], device=device,
                           dtype=dtype)


# ---------------------------------------------------------------- broadcasting a 0-d operand
# name: (ours, torch's)
ZERO_D_OPERAND = {
    "add": (operator.add,) * 2, "sub": (operator.sub,) * 2, "mul": (operator.mul,) * 2,
    "div": (operator.truediv,) * 2, "pow": (operator.pow,) * 2,
    "maximum": (tc.maximum, torch.maximum), "minimum": (tc.minimum, torch.minimum),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ZERO_D_OPERAND))
@pytest.mark.parametrize("shapes", [((), (2, 3)), ((3, 1), ())], ids=["0-d op 2-d", "2-d op 0-d"])
def test_zero_dim_operand_broadcasts_like_torch(name, shapes, dtype, device):
    """A 0-d tensor beside a larger one broadcasts; its gradient is the sum over the other's
    shape (the op table cannot lay out a 0-d input beside others, so this case lives here).
    Values in [0.5, 2): positive bases for pow, nonzero divisors, no ties."""
    rng = np.random.default_rng(1)
    arrays = [rng.uniform(0.5, 2.0, s) for s in shapes]
    compare_with_torch(*ZERO_D_OPERAND[name], arrays, device=device, dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_where_with_a_zero_dim_branch_and_condition(dtype, device):
    """where(cond, a, b) with a 0-d condition or a 0-d branch beside a larger one, as torch."""
    rng = np.random.default_rng(2)
    a, b0 = rng.standard_normal((2, 3)), rng.standard_normal(())
    compare_with_torch(lambda x, y: tc.where(np.array(True), x, y), lambda x, y: torch.where(torch.tensor(True), x, y),
                       [a, b0], device=device, dtype=dtype)
    compare_with_torch(lambda x, y: tc.where(x > 0, x, y), lambda x, y: torch.where(x > 0, x, y), [a, b0],
                       device=device, dtype=dtype)


# ---------------------------------------------------------------- spellings the table cannot draw
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_where_with_a_python_scalar_branch(dtype, device):
    """where(cond, x, 0.0) and where(cond, 1.5, x) accept a number for one branch, as torch."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4))
    compare_with_torch(lambda t: tc.where(t > 0, t, 0.0), lambda t: torch.where(t > 0, t, 0.0), [x],
                       device=device, dtype=dtype)
    compare_with_torch(lambda t: tc.where(t > 0, 1.5, t), lambda t: torch.where(t > 0, 1.5, t), [x],
                       device=device, dtype=dtype)


# ---------------------------------------------------------------- graph properties
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_add_gradient_shared_between_a_leaf_and_a_pending_node(dtype, device):
    """add hands one gradient array to both operands. When one operand is a leaf and the other
    is an op still waiting in the backward queue, later accumulation into the leaf's .grad must
    not change the gradient the waiting op receives. Here `a` is used by the add, inside the
    exp chain, and by a product that is processed in between."""
    rng = np.random.default_rng(2)
    a, b, c = rng.uniform(-0.5, 0.5, 3), rng.uniform(-0.5, 0.5, 3), rng.uniform(1, 2, 3)

    def f(a, b, c):
        return (a + a.exp().exp()) * c + a * b.exp()

    compare_with_torch(f, f, [a, b, c], device=device, dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["exp", "add", "mul", "sum", "getitem"])
def test_zero_dim_results_hold_arrays(name, device):
    """Ops on 0-d tensors return tensors whose .array (and the inputs' .grad.array) are arrays,
    not immutable numpy scalars, so in-place updates such as zero_grad(set_to_none=False) work."""
    x = tc.tensor(np.array(1.5), device=device, requires_grad=True)
    v = tc.tensor(np.array([1.5, 2.0]), device=device, requires_grad=True)
    out = {"exp": lambda: x.exp(), "add": lambda: x + x, "mul": lambda: x * 2.0, "sum": lambda: v.sum(),
           "getitem": lambda: v[1]}[name]()
    assert out.shape == ()
    assert hasattr(out.array, "__setitem__"), type(out.array)
    out.backward()
    leaf = v if name in ("sum", "getitem") else x
    assert hasattr(leaf.grad.array, "__setitem__"), type(leaf.grad.array)
    leaf.zero_grad(set_to_none=False)
    assert float(leaf.grad.to("cpu").numpy().sum()) == 0.0


# ---------------------------------------------------------------- bad input
MISMATCH_OPS = {
    "add": [operator.add, tc.add], "sub": [operator.sub, tc.sub], "mul": [operator.mul, tc.mul],
    "div": [operator.truediv, tc.div], "pow": [operator.pow, tc.pow],
    "maximum": [tc.maximum], "minimum": [tc.minimum], "where": [lambda a, b: tc.where(a > 0, a, b)],
}


@pytest.mark.parametrize("name, fn", [(n, f) for n, fns in MISMATCH_OPS.items() for f in fns])
def test_broadcast_mismatch_raises_shape_error_naming_op_and_shapes(name, fn):
    """Shapes that do not broadcast raise tc.ShapeError (a ValueError) naming the op and both
    shapes, before any computation."""
    a = tc.tensor(np.ones((3, 4)), requires_grad=True)
    b = tc.tensor(np.ones((2, 5)))
    with pytest.raises(tc.ShapeError) as info:
        fn(a, b)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert name in message and "(3, 4)" in message and "(2, 5)" in message, message


# ---------------------------------------------------------------- activations: kinks, tails, erf
KINKS = [
    ("relu6", {}, [-1.0, 0.0, 3.0, 6.0, 7.0]),
    ("hardtanh", {}, [-2.0, -1.0, 0.0, 1.0, 2.0]),
    ("hardtanh", dict(min_val=-0.5, max_val=2.0), [-0.5, 2.0]),
    ("hardswish", {}, [-4.0, -3.0, 0.0, 3.0, 4.0]),
    ("hardsigmoid", {}, [-4.0, -3.0, 0.0, 3.0, 4.0]),
    ("elu", dict(alpha=2.0), [-1.0, 0.0, 1.0]),
    ("relu", {}, [-1.0, 0.0, 1.0]),
    ("softplus", dict(beta=2.0, threshold=5.0), [2.5, 2.4999, 2.5001]),
    ("softplus", {}, [20.0, 19.99, 20.01]),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,params,x", KINKS, ids=[f"{k[0]}{k[1]}" for k in KINKS])
def test_activation_values_and_gradients_at_their_kinks_like_torch(name, params, x, dtype, device):
    """Exactly at a kink the gradient is a convention: PyTorch's (hardtanh and relu6 pass none on
    their bounds, unlike clamp; hardswish gives 0 at -3 and 1 at 3; elu alpha at 0; softplus
    switches to x only above its threshold)."""
    import tinygrad_cnn.nn.functional as F  # noqa: PLC0415
    compare_with_torch(lambda t: getattr(F, name)(t, **params), lambda t: getattr(torch.nn.functional, name)(t, **params),
                       [np.array(x)], device=device, dtype=dtype)


TAILS = np.array([-1e4, -800.0, -90.0, -40.0, -9.0, -6.0, -5.99, -2.0, -1.99, -1e-8, 0.0, 1e-8, 1.99, 2.0, 5.99, 6.0,
                  9.0, 40.0, 90.0, 800.0, 1e4])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,params", [("gelu", {}), ("gelu", dict(approximate="tanh")), ("silu", {}), ("elu", {}),
                                         ("softplus", {}), ("softplus", dict(beta=-1.0)), ("hardswish", {})])
def test_activation_tails_are_finite_warning_free_and_like_torch(name, params, dtype, device):
    """Far tails (exp would overflow) and the joints of erf's pieces (|x| = 2 and 6): no warning,
    finite values and gradients equal to torch's."""
    import tinygrad_cnn.nn.functional as F  # noqa: PLC0415
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = compare_with_torch(lambda t: getattr(F, name)(t, **params),
                                    lambda t: getattr(torch.nn.functional, name)(t, **params),
                                    [TAILS], device=device, dtype=dtype)
    assert np.isfinite(out.numpy()).all()


def test_erf_accuracy_against_math_erf():
    """erf (two Chebyshev pieces, see ops/elementwise.py) against Python's math.erf on 200,001
    points of [-7, 7]: float64 within 3e-15 relative (1e-16 absolute beyond |x| = 2), float32
    within 2e-7 absolute; odd, and exact at 0, +-inf; nan stays nan."""
    import math  # noqa: PLC0415
    x = np.linspace(-7.0, 7.0, 200_001)
    expected = np.array([math.erf(v) for v in x])
    got = tc.erf(tc.tensor(x)).numpy()
    assert np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-300)) < 3e-15
    assert np.max(np.abs(got - expected)[np.abs(x) >= 2]) <= 1.2e-16
    got32 = tc.erf(tc.tensor(x.astype(np.float32))).numpy()
    assert got32.dtype == np.float32 and np.max(np.abs(got32 - expected)) < 2e-7
    np.testing.assert_array_equal(tc.erf(tc.tensor(-x)).numpy(), -got)
    special = tc.erf(tc.tensor([0.0, -np.inf, np.inf, np.nan])).numpy()
    np.testing.assert_array_equal(special[:3], [0.0, -1.0, 1.0])
    assert np.isnan(special[3])


@pytest.mark.parametrize("device", DEVICES)
def test_comparisons_with_none_answer_like_torch(device):
    """t == None is False and t != None is True (Python's identity answer), as with torch tensors;
    an ordering against None is a TypeError."""
    t = tc.tensor([1.0, 2.0], device=device)
    assert (t == None) is False and (t != None) is True  # noqa: E711 (the comparison is the test)
    assert (torch.tensor([1.0]) == None) is False  # noqa: E711
    with pytest.raises(TypeError):
        t < None  # noqa: B015
