"""Elementwise ops against PyTorch: forward values and the gradient of every input.

Inputs are built from a drawn seed (numpy's default_rng), shapes and broadcast pairs are drawn
by hypothesis. Values stay away from the kinks of each op (0 for relu/abs/leaky_relu, ties for
maximum/minimum/clip) so that the gradient is unambiguous; the tie conventions have
deterministic tests of their own.
"""
import operator
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, compare_with_torch

# ---------------------------------------------------------------- strategies and value makers
seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)
broadcast_triples = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, min_side=1, max_side=4)
# Python scalars for the reversed operators: ints and floats with |s| in [0.5, 3].
scalars = st.one_of(st.sampled_from([-3, -2, -1, 1, 2, 3]),
                    st.floats(0.5, 3.0).flatmap(lambda v: st.sampled_from([v, -v])))
positive_scalars = st.one_of(st.sampled_from([1, 2, 3]), st.floats(0.5, 3.0))


def any_values(rng, shape):
    """Standard normal values."""
    return rng.standard_normal(shape)


def positive(rng, shape):
    """Values in [0.1, 3]: inside the domain of log, sqrt and fractional powers."""
    return rng.uniform(0.1, 3.0, shape)


def nonzero(rng, shape):
    """|x| in [0.1, 2] with a random sign: away from the kink of relu/abs/leaky_relu at 0."""
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def wide(rng, shape):
    """Values up to about +-30, reaching the flat tails of sigmoid and tanh."""
    return rng.standard_normal(shape) * 10.0


def distinct(rng, *shapes):
    """Arrays of the given shapes whose values are all different (one shuffled linspace):
    no ties inside or between them."""
    sizes = [int(np.prod(s)) for s in shapes]
    values = rng.permutation(np.linspace(-2.0, 2.0, sum(sizes)))
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(values[start:start + size].reshape(shape))
        start += size
    return out


DOMAINS = {"any": any_values, "positive": positive, "nonzero": nonzero, "wide": wide}


# ---------------------------------------------------------------- binary arithmetic
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}
SPELLINGS = {
    "operator": lambda name: BINARY[name],
    "function": lambda name: getattr(tc, name),
    "method": lambda name: (lambda a, b: getattr(a, name)(b)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(BINARY))
@given(shapes=broadcast_pairs, seed=seeds)
def test_binary_arithmetic_matches_torch(name, dtype, device, shapes, seed):
    """a (+,-,*,/) b with broadcasting: output and both gradients (summed to each operand's
    shape) equal PyTorch's, for the operator, the tc function and the method spelling."""
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a = any_values(rng, a_shape)
    b = nonzero(rng, b_shape) if name == "div" else any_values(rng, b_shape)
    for spelling in SPELLINGS.values():
        compare_with_torch(spelling(name), BINARY[name], [a, b], device=device, dtype=dtype, seed=seed)


REVERSED = {
    "scalar+x": lambda x, s: s + x, "x+scalar": lambda x, s: x + s,
    "scalar-x": lambda x, s: s - x, "x-scalar": lambda x, s: x - s,
    "scalar*x": lambda x, s: s * x, "x*scalar": lambda x, s: x * s,
    "scalar/x": lambda x, s: s / x, "x/scalar": lambda x, s: x / s,
    "-x": lambda x, s: -x, "x**2*scalar": lambda x, s: -(x ** 2) * s,
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("expr", list(REVERSED))
@given(shape=shapes, seed=seeds, s=scalars)
def test_operators_with_python_scalars_match_torch(expr, dtype, device, shape, seed, s):
    """Operators with a Python int/float on either side (`2.0 - x`, `3 / x`, unary minus) give
    PyTorch's values, dtype and gradient; the scalar takes the tensor's dtype."""
    x = nonzero(np.random.default_rng(seed), shape)
    fn = REVERSED[expr]
    compare_with_torch(lambda t: fn(t, s), lambda t: fn(t, s), [x], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_neg_function_and_method(dtype, device):
    """tc.neg and Tensor.neg equal torch.neg, gradient included."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    compare_with_torch(tc.neg, torch.neg, [x], device=device, dtype=dtype)
    compare_with_torch(lambda t: t.neg(), torch.neg, [x], device=device, dtype=dtype)


# ---------------------------------------------------------------- pow
POW_SCALAR = [(2, "any"), (3, "any"), (2.0, "any"), (1, "any"), (0.5, "positive"), (1.5, "positive"),
              (-0.5, "positive"), (-1, "nonzero"), (-2, "nonzero"), (0, "nonzero")]
POW_SPELLINGS = {"operator": lambda x, p: x ** p, "method": lambda x, p: x.pow(p),
                 "function": lambda x, p: tc.pow(x, p)}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exponent, domain", POW_SCALAR, ids=[f"p={p!r}" for p, _ in POW_SCALAR])
@given(shape=shapes, seed=seeds)
def test_pow_tensor_scalar_matches_torch(exponent, domain, dtype, device, shape, seed):
    """x ** p, x.pow(p), tc.pow(x, p) for Python-number exponents (2, 3, 0.5, -1, ...) equal
    torch, gradient included; fractional exponents get positive bases, negative ones nonzero bases."""
    x = DOMAINS[domain](np.random.default_rng(seed), shape)
    for fn in POW_SPELLINGS.values():
        compare_with_torch(lambda t: fn(t, exponent), lambda t: t ** exponent, [x], device=device, dtype=dtype,
                           seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["operator", "function"])
@given(shape=shapes, seed=seeds, base=positive_scalars)
def test_pow_scalar_tensor_matches_torch(spelling, dtype, device, shape, seed, base):
    """base ** x for a positive Python-number base (`2 ** x`, tc.pow(2.5, x)) equals torch."""
    x = any_values(np.random.default_rng(seed), shape)
    ours = (lambda t: base ** t) if spelling == "operator" else (lambda t: tc.pow(base, t))
    compare_with_torch(ours, lambda t: base ** t, [x], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(shapes=broadcast_pairs, seed=seeds)
def test_pow_tensor_tensor_matches_torch(dtype, device, shapes, seed):
    """a ** b (operator, method, function) with positive base a and broadcasting: value and
    both gradients (d/db = a**b log a)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shapes.input_shapes[0])
    b = rng.uniform(-2.0, 2.0, shapes.input_shapes[1])
    for fn in POW_SPELLINGS.values():
        compare_with_torch(fn, torch.pow, [a, b], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
def test_pow_zero_exponent_at_zero_base_has_zero_gradient(device):
    """x ** 0 is constant 1, so its gradient is 0 everywhere, also at x = 0 (torch gives 0,
    not 0 * inf = nan)."""
    x = np.array([0.0, 1.5, -2.0])
    compare_with_torch(lambda t: t ** 0, lambda t: t ** 0, [x], device=device)


# ---------------------------------------------------------------- unary functions
UNARY = {
    # name: (ours, torch, domain)
    "exp": (tc.exp, torch.exp, "any"), "Tensor.exp": (lambda t: t.exp(), torch.exp, "any"),
    "log": (tc.log, torch.log, "positive"), "Tensor.log": (lambda t: t.log(), torch.log, "positive"),
    "sqrt": (tc.sqrt, torch.sqrt, "positive"), "Tensor.sqrt": (lambda t: t.sqrt(), torch.sqrt, "positive"),
    "abs": (tc.abs, torch.abs, "nonzero"), "Tensor.abs": (lambda t: t.abs(), torch.abs, "nonzero"),
    "builtin abs": (abs, abs, "nonzero"),
    "relu": (tc.relu, torch.relu, "nonzero"), "Tensor.relu": (lambda t: t.relu(), torch.relu, "nonzero"),
    "F.relu": (F.relu, TF.relu, "nonzero"),
    "F.leaky_relu": (F.leaky_relu, TF.leaky_relu, "nonzero"),
    "F.leaky_relu(0.2)": (lambda t: F.leaky_relu(t, 0.2), lambda t: TF.leaky_relu(t, 0.2), "nonzero"),
    "Tensor.leaky_relu(0.3)": (lambda t: t.leaky_relu(0.3), lambda t: TF.leaky_relu(t, 0.3), "nonzero"),
    "Tensor.leaky_relu": (lambda t: t.leaky_relu(), TF.leaky_relu, "nonzero"),
    "sigmoid": (tc.sigmoid, torch.sigmoid, "wide"), "Tensor.sigmoid": (lambda t: t.sigmoid(), torch.sigmoid, "any"),
    "F.sigmoid": (F.sigmoid, torch.sigmoid, "wide"),
    "tanh": (tc.tanh, torch.tanh, "wide"), "Tensor.tanh": (lambda t: t.tanh(), torch.tanh, "any"),
    "F.tanh": (F.tanh, torch.tanh, "any"),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(UNARY))
@given(shape=shapes, seed=seeds)
def test_unary_matches_torch(name, dtype, device, shape, seed):
    """Unary functions (exp, log, sqrt, abs, relu, leaky_relu, sigmoid, tanh) in every spelling
    equal PyTorch in value and gradient on inputs inside their domain and off their kinks."""
    ours, theirs, domain = UNARY[name]
    x = DOMAINS[domain](np.random.default_rng(seed), shape)
    compare_with_torch(ours, theirs, [x], device=device, dtype=dtype, seed=seed)


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


# ---------------------------------------------------------------- maximum / minimum / clip / where
MAXMIN = {
    "maximum": (tc.maximum, torch.maximum), "Tensor.maximum": (lambda a, b: a.maximum(b), torch.maximum),
    "max(a, b)": (tc.max, torch.max), "Tensor.max(b)": (lambda a, b: a.max(b), torch.max),
    "minimum": (tc.minimum, torch.minimum), "Tensor.minimum": (lambda a, b: a.minimum(b), torch.minimum),
    "min(a, b)": (tc.min, torch.min), "Tensor.min(b)": (lambda a, b: a.min(b), torch.min),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MAXMIN))
@given(shapes=broadcast_pairs, seed=seeds)
def test_maximum_minimum_match_torch(name, dtype, device, shapes, seed):
    """Elementwise maximum/minimum (also as max(a, b) / min(a, b)) with broadcasting and no
    ties: value and both gradients equal torch's."""
    a, b = distinct(np.random.default_rng(seed), *shapes.input_shapes)
    ours, theirs = MAXMIN[name]
    compare_with_torch(ours, theirs, [a, b], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["maximum", "minimum"])
@given(shape=shapes, seed=seeds, s=st.floats(-1.0, 1.0))
def test_maximum_minimum_with_python_scalar(op, device, shape, seed, s):
    """tc.maximum(x, 0.3) takes a Python number as the other operand (like torch.maximum with a
    0-d tensor); values differ from the scalar, so there are no ties."""
    x = distinct(np.random.default_rng(seed), shape)[0]
    assume(np.min(np.abs(x - s)) > 1e-3)
    compare_with_torch(lambda t: getattr(tc, op)(t, s),
                       lambda t: getattr(torch, op)(t, torch.tensor(s, dtype=t.dtype)), [x], device=device,
                       seed=seed)


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


CLIP_BOUNDS = {"min only": (True, False), "max only": (False, True), "both": (True, True)}
CLIP_SPELLINGS = {
    "Tensor.clip": lambda t, lo, hi: t.clip(lo, hi), "Tensor.clamp": lambda t, lo, hi: t.clamp(min=lo, max=hi),
    "tc.clip": lambda t, lo, hi: tc.clip(t, min=lo, max=hi), "tc.clamp": lambda t, lo, hi: tc.clamp(t, lo, hi),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bounds", list(CLIP_BOUNDS))
@given(shape=shapes, seed=seeds, lo=st.floats(-2.5, 1.0), width=st.floats(0.1, 3.0))
def test_clip_matches_torch(bounds, dtype, device, shape, seed, lo, width):
    """clip/clamp (method and function) with min only, max only or both equals torch.clamp,
    gradient included; no value sits on a bound."""
    x = distinct(np.random.default_rng(seed), shape)[0]
    use_lo, use_hi = CLIP_BOUNDS[bounds]
    lo, hi = (lo if use_lo else None), (lo + width if use_hi else None)
    for bound in (lo, hi):
        assume(bound is None or np.min(np.abs(x - bound)) > 1e-3)
    for fn in CLIP_SPELLINGS.values():
        compare_with_torch(lambda t: fn(t, lo, hi), lambda t: torch.clamp(t, min=lo, max=hi), [x], device=device,
                           dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_at_the_bounds_passes_the_gradient_like_torch(dtype, device):
    """Values exactly on a bound keep their gradient (torch.clamp's convention)."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    for lo, hi in [(-0.5, 1.0), (None, 0.5), (0.0, None), (0.5, 0.5)]:
        compare_with_torch(lambda t: t.clamp(lo, hi), lambda t: torch.clamp(t, lo, hi), [x], device=device,
                           dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(shapes=broadcast_triples, seed=seeds)
def test_where_matches_torch(dtype, device, shapes, seed):
    """where(cond, a, b) with cond, a, b broadcasting together: value and gradients of a and b
    (each summed to its own shape), with cond given as a bool Tensor or a numpy array."""
    rng = np.random.default_rng(seed)
    c_shape, a_shape, b_shape = shapes.input_shapes
    cond = rng.random(c_shape) > 0.5
    a, b = any_values(rng, a_shape), any_values(rng, b_shape)
    compare_with_torch(tc.where, torch.where, [cond, a, b], device=device, dtype=dtype, seed=seed)
    compare_with_torch(lambda x, y: tc.where(cond, x, y), lambda x, y: torch.where(torch.tensor(cond), x, y),
                       [a, b], device=device, dtype=dtype, seed=seed)


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


# ---------------------------------------------------------------- broadcasting and graph properties
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(BINARY))
def test_gradient_of_broadcast_operand_is_summed_to_its_shape(name, device):
    """The gradient w.r.t. an operand that was broadcast is the full gradient summed over the
    broadcast axes (computed here independently with numpy), and has the operand's shape."""
    rng = np.random.default_rng(7)
    a_np = rng.uniform(0.5, 2.0, (2, 3, 4))
    b_np = rng.uniform(0.5, 2.0, (3, 1))
    g = rng.standard_normal((2, 3, 4))
    a = tc.tensor(a_np, device=device, requires_grad=True)
    b = tc.tensor(b_np, device=device, requires_grad=True)
    BINARY[name](a, b).backward(tc.tensor(g, device=device))
    full_grad_b = {"add": g, "sub": -g, "mul": g * a_np, "div": -g * a_np / b_np ** 2}[name]
    expected = full_grad_b.sum(axis=(0, 2)).reshape(3, 1)
    assert b.grad.shape == (3, 1)
    np.testing.assert_allclose(b.grad.to("cpu").numpy(), expected, rtol=1e-10)
    full_grad_a = {"add": g, "sub": g, "mul": g * b_np, "div": g / b_np}[name]
    np.testing.assert_allclose(a.grad.to("cpu").numpy(), full_grad_a, rtol=1e-10)


def _all_ops():
    """(name, fn, input makers) for every elementwise op, for the property tests below."""
    p, n, r = positive, nonzero, any_values
    return {
        "add": (operator.add, [r, r]), "sub": (operator.sub, [r, r]), "mul": (operator.mul, [r, r]),
        "div": (operator.truediv, [r, n]), "neg": (operator.neg, [r]), "pow2": (lambda x: x ** 2, [r]),
        "pow0.5": (lambda x: x ** 0.5, [p]), "pow-1": (lambda x: x ** -1, [n]), "rpow": (lambda x: 2.0 ** x, [r]),
        "pow_tt": (lambda a, b: a ** b, [p, r]), "exp": (tc.exp, [r]), "log": (tc.log, [p]),
        "sqrt": (tc.sqrt, [p]), "abs": (tc.abs, [n]), "relu": (tc.relu, [n]),
        "leaky_relu": (F.leaky_relu, [n]), "sigmoid": (tc.sigmoid, [r]), "tanh": (tc.tanh, [r]),
        "maximum": (tc.maximum, [r, r]), "minimum": (tc.minimum, [r, r]),
        "clip": (lambda x: x.clip(-0.5, 0.5), [r]), "clip_min": (lambda x: x.clip(min=0.1), [r]),
        "where": (lambda a, b: tc.where(a > b, a, b), [r, r]),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(_all_ops()))
def test_ops_do_not_modify_inputs_or_saved_buffers(name, device):
    """Forward and backward leave the input arrays and the cotangent untouched; a second
    backward through the same graph (retain_graph=True) adds exactly the same gradient again,
    so backward did not modify any saved buffer either."""
    fn, makers = _all_ops()[name]
    rng = np.random.default_rng(11)
    shapes_ = [(3, 4), (4,)][:len(makers)]  # the second operand is broadcast
    arrays = [make(rng, s) for make, s in zip(makers, shapes_)]
    inputs = [tc.tensor(a, device=device, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    cotangent = tc.tensor(rng.standard_normal(out.shape), device=device)
    cot_before = cotangent.to("cpu").numpy().copy()
    out.backward(cotangent, retain_graph=True)
    first = [t.grad.to("cpu").numpy().copy() for t in inputs]
    for t, a in zip(inputs, arrays):
        np.testing.assert_array_equal(t.to("cpu").numpy(), a)
    np.testing.assert_array_equal(cotangent.to("cpu").numpy(), cot_before)
    out.backward(cotangent)
    for t, g in zip(inputs, first):
        np.testing.assert_allclose(t.grad.to("cpu").numpy(), 2 * g, rtol=1e-12)
    for t, a in zip(inputs, arrays):
        np.testing.assert_array_equal(t.to("cpu").numpy(), a)


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
    """Ops on 0-d tensors return tensors whose .data (and the inputs' .grad.data) are arrays,
    not immutable numpy scalars, so in-place updates such as zero_grad(set_to_none=False) work."""
    x = tc.tensor(np.array(1.5), device=device, requires_grad=True)
    v = tc.tensor(np.array([1.5, 2.0]), device=device, requires_grad=True)
    out = {"exp": lambda: x.exp(), "add": lambda: x + x, "mul": lambda: x * 2.0, "sum": lambda: v.sum(),
           "getitem": lambda: v[1]}[name]()
    assert out.shape == ()
    assert hasattr(out.data, "__setitem__"), type(out.data)
    out.backward()
    leaf = v if name in ("sum", "getitem") else x
    assert hasattr(leaf.grad.data, "__setitem__"), type(leaf.grad.data)
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
