"""Reductions against PyTorch: sum, mean, amax/amin, max/min, var/std, argmax/argmin.

Axes are drawn by hypothesis as None, an int (possibly negative) or a tuple of distinct axes
(each possibly spelled negatively), with keepdim True or False. Values for max/min/arg*
reductions are distinct (a shuffled linspace) so the winner is unique; tie conventions have
deterministic tests.
"""
import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cnn as tc
from helpers import DEVICES, DTYPES, compare_with_torch

# ---------------------------------------------------------------- strategies and value makers
seeds = st.integers(0, 2**32 - 1)


@st.composite
def shapes_and_dims(draw, kinds=("none", "int", "tuple"), min_dims=1, max_dims=4):
    """A shape and the axes to reduce: None, an int in [-ndim, ndim) or a non-empty tuple of
    distinct axes, each spelled positive or negative at random."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4))
    nd = len(shape)
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-nd, nd - 1))
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return shape, tuple(a - nd if draw(st.booleans()) else a for a in axes)


def values(rng, shape):
    return rng.standard_normal(shape)


def distinct(rng, shape):
    """All-different values (a shuffled linspace): a unique max/min along every axis."""
    return rng.permutation(np.linspace(-2.0, 2.0, int(np.prod(shape)))).reshape(shape)


def reduced_count(shape, dims):
    """How many elements each output of a reduction over `dims` combines."""
    if dims is None:
        return int(np.prod(shape))
    dims = dims if isinstance(dims, tuple) else (dims,)
    return int(np.prod([shape[d] for d in dims]))


def torch_dims(dims):
    """torch.amax/amin spell "all axes" as dim=()."""
    return () if dims is None else dims


# ---------------------------------------------------------------- sum / mean
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["method", "function"])
@pytest.mark.parametrize("op", ["sum", "mean"])
@given(case=shapes_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_sum_mean_match_torch(op, spelling, dtype, device, case, keepdim, seed):
    """sum/mean over None, an int, a negative int or a tuple of axes, keepdim True/False:
    value, shape and gradient equal torch's."""
    shape, dims = case
    x = values(np.random.default_rng(seed), shape)
    if spelling == "method":
        ours = lambda t: getattr(t, op)(dim=dims, keepdim=keepdim)  # noqa: E731
    else:
        ours = lambda t: getattr(tc, op)(t, dims, keepdim)  # noqa: E731
    compare_with_torch(ours, lambda t: getattr(torch, op)(t, dim=dims, keepdim=keepdim), [x], device=device,
                       dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_full_reduction_default_arguments(op, dtype, device):
    """x.sum() and x.mean() with no arguments reduce everything to a 0-d tensor, as torch."""
    x = np.random.default_rng(4).standard_normal((3, 4, 5))
    compare_with_torch(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), [x], device=device, dtype=dtype)


# ---------------------------------------------------------------- amax / amin / max / min
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["method", "function"])
@pytest.mark.parametrize("op", ["amax", "amin"])
@given(case=shapes_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_amax_amin_match_torch(op, spelling, dtype, device, case, keepdim, seed):
    """amax/amin over any axes (distinct values): value and gradient (all of it to the unique
    winner) equal torch.amax/amin's."""
    shape, dims = case
    x = distinct(np.random.default_rng(seed), shape)
    if spelling == "method":
        ours = lambda t: getattr(t, op)(dim=dims, keepdim=keepdim)  # noqa: E731
    else:
        ours = lambda t: getattr(tc, op)(t, dims, keepdim)  # noqa: E731
    compare_with_torch(ours, lambda t: getattr(torch, op)(t, dim=torch_dims(dims), keepdim=keepdim), [x],
                       device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4), seed=seeds)
def test_max_min_full_reduction_match_torch(op, dtype, device, shape, seed):
    """x.max() / tc.min(x) with no dim give the 0-d extreme value, as torch."""
    x = distinct(np.random.default_rng(seed), shape)
    compare_with_torch(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), [x], device=device, dtype=dtype,
                       seed=seed)
    compare_with_torch(lambda t: getattr(tc, op)(t), lambda t: getattr(torch, op)(t), [x], device=device,
                       dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
@given(case=shapes_and_dims(kinds=("int",)), keepdim=st.booleans(), seed=seeds)
def test_max_min_with_int_dim_return_values_and_indices(op, dtype, device, case, keepdim, seed):
    """max(dim: int) / min(dim: int), method and function, return a (values, indices) pair like
    torch: unpackable, with .values/.indices; values and their gradient equal torch's, indices
    are torch's int64."""
    shape, dim = case
    x = distinct(np.random.default_rng(seed), shape)
    ref = getattr(torch.tensor(x.astype(dtype)), op)(dim, keepdim)
    for call in (lambda t: getattr(t, op)(dim, keepdim), lambda t: getattr(tc, op)(t, dim=dim, keepdim=keepdim)):
        compare_with_torch(lambda t: call(t)[0], lambda t: getattr(t, op)(dim, keepdim)[0], [x], device=device,
                           dtype=dtype, seed=seed)
        result = call(tc.tensor(x.astype(dtype), device=device))
        values_, indices = result
        assert result.values is values_ and result.indices is indices
        assert indices.dtype == np.int64 and indices.shape == tuple(ref.indices.shape)
        np.testing.assert_array_equal(indices.to("cpu").numpy(), ref.indices.numpy())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
@given(case=shapes_and_dims(kinds=("int", "tuple")), keepdim=st.booleans(), seed=seeds)
def test_max_min_with_tuple_dims_or_axis_return_values(op, dtype, device, case, keepdim, seed):
    """max/min with a tuple of dims, or with NumPy's axis= (int or tuple), return the values
    only: a Tensor equal to torch.amax/amin, gradient included."""
    shape, dims = case
    x = distinct(np.random.default_rng(seed), shape)
    tuple_dims = dims if isinstance(dims, tuple) else (dims,)
    reference = lambda t: getattr(torch, "a" + op)(t, dim=tuple_dims, keepdim=keepdim)  # noqa: E731
    out, _ = compare_with_torch(lambda t: getattr(t, op)(dim=tuple_dims, keepdim=keepdim), reference, [x],
                                device=device, dtype=dtype, seed=seed)
    assert isinstance(out, tc.Tensor)
    out, _ = compare_with_torch(lambda t: getattr(t, op)(axis=dims, keepdims=keepdim), reference, [x],
                                device=device, dtype=dtype, seed=seed)
    assert isinstance(out, tc.Tensor)


# ---------------------------------------------------------------- ties
TIES = np.array([[1.0, 3.0, 3.0, -1.0],
                 [2.0, 2.0, 0.0, 2.0],
                 [3.0, 0.5, 3.0, 3.0]])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("dims", [None, 0, 1, -1, (0, 1)])
def test_amax_amin_ties_split_the_gradient_equally_like_torch(dims, op, dtype, device):
    """With several equal extremes, amax/amin share the gradient equally among them (as
    torch.amax/amin)."""
    x = TIES if op == "amax" else -TIES
    for keepdim in (False, True):
        compare_with_torch(lambda t: getattr(t, op)(dim=dims, keepdim=keepdim),
                           lambda t: getattr(torch, op)(t, dim=torch_dims(dims), keepdim=keepdim), [x],
                           device=device, dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["max", "min"])
def test_full_max_min_ties_split_the_gradient_like_torch(op, device):
    """x.max() with tied maxima distributes the gradient evenly among them (torch's rule for
    the full reduction)."""
    x = TIES if op == "max" else -TIES
    compare_with_torch(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), [x], device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1])
def test_max_min_with_int_dim_ties_match_torch(dim, op, device):
    """max(dim: int) with ties: the values' gradient goes where torch sends it (to the position
    the returned index names, as torch.max(dim) does), and the indices equal torch's."""
    x = TIES if op == "max" else -TIES
    compare_with_torch(lambda t: getattr(t, op)(dim).values, lambda t: getattr(t, op)(dim).values, [x],
                       device=device)
    ours = getattr(tc.tensor(x, device=device), op)(dim).indices.to("cpu").numpy()
    np.testing.assert_array_equal(ours, getattr(torch.tensor(x), op)(dim).indices.numpy())


# ---------------------------------------------------------------- var / std
VAR_SPELLINGS = {
    # name: (correction -> keyword arguments)
    "correction": lambda c: dict(correction=c),
    "unbiased": lambda c: dict(unbiased=bool(c)),
    "ddof": lambda c: dict(ddof=c),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("op", ["var", "std"])
@given(case=shapes_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_var_std_match_torch(op, correction, dtype, device, case, keepdim, seed):
    """var/std with correction 0 or 1 given as correction=, unbiased= or ddof=, over any axes,
    keepdim True/False: value and gradient equal torch.var/std(correction=...). At least two
    elements are reduced, so the spread is positive (zero spread has its own test)."""
    shape, dims = case
    assume(reduced_count(shape, dims) > 1)
    x = values(np.random.default_rng(seed), shape)
    for spelling in VAR_SPELLINGS.values():
        kwargs = spelling(correction)
        compare_with_torch(lambda t: getattr(t, op)(dims, keepdim, **kwargs),
                           lambda t: getattr(torch, op)(t, dim=dims, keepdim=keepdim, correction=correction), [x],
                           device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_default_is_unbiased_and_function_spelling(op, dtype, device):
    """With no arguments var/std use correction=1 (torch's default); tc.var/tc.std take the
    same arguments as the methods."""
    x = np.random.default_rng(6).standard_normal((4, 5))
    compare_with_torch(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), [x], device=device, dtype=dtype)
    compare_with_torch(lambda t: getattr(tc, op)(t, 1), lambda t: getattr(torch, op)(t, 1), [x], device=device,
                       dtype=dtype)
    compare_with_torch(lambda t: getattr(tc, op)(t, axis=0, keepdims=True, ddof=0),
                       lambda t: getattr(torch, op)(t, 0, keepdim=True, correction=0), [x], device=device,
                       dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("correction", [0, 1])
def test_std_of_constant_values_has_zero_gradient_like_torch(correction, dtype, device):
    """Where the values reduced are all equal, std is 0 and torch defines its gradient as 0
    (not 0/0 = nan); also for a single element with correction=0."""
    x = np.array([[1.5, 1.5, 1.5], [1.0, 2.0, 4.0]])
    compare_with_torch(lambda t: t.std(dim=1, correction=correction),
                       lambda t: t.std(dim=1, correction=correction), [x], device=device, dtype=dtype)
    if correction == 0:
        compare_with_torch(lambda t: t.std(correction=0), lambda t: t.std(correction=0), [np.array([2.0])],
                           device=device, dtype=dtype)


# ---------------------------------------------------------------- argmax / argmin
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["method", "function", "axis="])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
@given(case=shapes_and_dims(kinds=("none", "int")), keepdim=st.booleans(), seed=seeds)
def test_argmax_argmin_match_torch(op, spelling, dtype, device, case, keepdim, seed):
    """argmax/argmin over one axis or the flattened tensor (dim=None), keepdim True/False:
    int64 indices of torch's shape and value."""
    shape, dim = case
    x = distinct(np.random.default_rng(seed), shape).astype(dtype)
    t = tc.tensor(x, device=device)
    if spelling == "method":
        ours = getattr(t, op)(dim=dim, keepdim=keepdim)
    elif spelling == "function":
        ours = getattr(tc, op)(t, dim, keepdim)
    else:
        ours = getattr(t, op)(axis=dim, keepdims=keepdim)
    ref = getattr(torch, op)(torch.tensor(x), dim=dim, keepdim=keepdim)
    assert ours.dtype == np.int64
    assert ours.shape == tuple(ref.shape)
    np.testing.assert_array_equal(ours.to("cpu").numpy(), ref.numpy())


# ---------------------------------------------------------------- both spellings agree
SPELLED_OPS = {
    "sum": {}, "mean": {}, "amax": {}, "amin": {}, "var": {}, "std": {"correction": 0},
    "max": {}, "min": {}, "argmax": {}, "argmin": {},
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", list(SPELLED_OPS))
@given(case=shapes_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_dim_keepdim_and_axis_keepdims_spellings_are_identical(op, device, case, keepdim, seed):
    """x.op(dim=d, keepdim=k), x.op(d, k) and x.op(axis=d, keepdims=k) give identical values
    and identical gradients (for max/min with an int dim, the values part of the pair)."""
    shape, dims = case
    if op in ("argmax", "argmin") and isinstance(dims, tuple):
        dims = dims[0]
    if op in ("var", "std"):
        assume(reduced_count(shape, dims) > 1)
    x = distinct(np.random.default_rng(seed), shape)
    kwargs = SPELLED_OPS[op]
    results = []
    for call in (lambda t: getattr(t, op)(dim=dims, keepdim=keepdim, **kwargs),
                 lambda t: getattr(t, op)(dims, keepdim, **kwargs),
                 lambda t: getattr(t, op)(axis=dims, keepdims=keepdim, **kwargs)):
        t = tc.tensor(x, device=device, requires_grad=op not in ("argmax", "argmin"))
        out = call(t)
        if isinstance(out, tuple):
            out = out[0]
        if t.requires_grad:
            out.backward(tc.tensor(np.random.default_rng(seed).standard_normal(out.shape), device=device))
            results.append((out.to("cpu").numpy(), t.grad.to("cpu").numpy()))
        else:
            results.append((out.to("cpu").numpy(), None))
    for value, grad in results[1:]:
        np.testing.assert_array_equal(value, results[0][0])
        assert value.shape == results[0][0].shape
        if grad is not None:
            np.testing.assert_array_equal(grad, results[0][1])


# ---------------------------------------------------------------- 0-d tensors
ZERO_D = {
    "sum": lambda t: t.sum(dim=0), "mean": lambda t: t.mean(dim=-1), "amax": lambda t: t.amax(dim=0),
    "amin": lambda t: t.amin(dim=-1), "max(dim)": lambda t: t.max(dim=0)[0], "sum(keepdim)": lambda t: t.sum(0, True),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(ZERO_D))
def test_reducing_dim_0_of_a_0d_tensor_like_torch(name, device):
    """torch accepts dim=0 / dim=-1 on a 0-d tensor (it has one implicit axis) and returns
    the 0-d value itself; the gradient is the cotangent."""
    compare_with_torch(ZERO_D[name], ZERO_D[name], [np.array(1.25)], device=device)


# ---------------------------------------------------------------- no input modified
REDUCTIONS = {
    "sum": lambda t: t.sum(dim=1), "mean": lambda t: t.mean(dim=(0, 2), keepdim=True),
    "amax": lambda t: t.amax(dim=-1), "amin": lambda t: t.amin(), "max": lambda t: t.max(1)[0],
    "min": lambda t: t.min(dim=(0, 1)), "var": lambda t: t.var(dim=0), "std": lambda t: t.std(dim=2, correction=0),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions_do_not_modify_inputs_or_saved_buffers(name, device):
    """Forward and backward leave the input and the cotangent untouched; a second backward
    (retain_graph=True) adds the same gradient again."""
    rng = np.random.default_rng(9)
    x_np = distinct(rng, (3, 4, 5))
    x = tc.tensor(x_np, device=device, requires_grad=True)
    out = REDUCTIONS[name](x)
    cotangent = tc.tensor(rng.standard_normal(out.shape), device=device)
    cot_before = cotangent.to("cpu").numpy().copy()
    out.backward(cotangent, retain_graph=True)
    first = x.grad.to("cpu").numpy().copy()
    np.testing.assert_array_equal(x.to("cpu").numpy(), x_np)
    np.testing.assert_array_equal(cotangent.to("cpu").numpy(), cot_before)
    out.backward(cotangent)
    np.testing.assert_allclose(x.grad.to("cpu").numpy(), 2 * first, rtol=1e-12)
    np.testing.assert_array_equal(x.to("cpu").numpy(), x_np)


# ---------------------------------------------------------------- bad input
ALL_REDUCTIONS = ["sum", "mean", "amax", "amin", "max", "min", "var", "std", "argmax", "argmin"]


@pytest.mark.parametrize("op", ALL_REDUCTIONS)
@pytest.mark.parametrize("dim", [2, -3, 7])
def test_out_of_range_dim_raises_index_error(op, dim):
    """A dim outside [-ndim, ndim) raises IndexError (as torch), for the method and the function."""
    x = tc.tensor(np.ones((3, 4)))
    with pytest.raises(IndexError):
        getattr(x, op)(dim=dim)
    with pytest.raises(IndexError):
        getattr(tc, op)(x, axis=dim)
    if op not in ("argmax", "argmin"):
        with pytest.raises(IndexError):
            getattr(x, op)(dim=(0, dim))


@pytest.mark.parametrize("op", ALL_REDUCTIONS)
def test_dim_and_axis_together_raise_type_error(op):
    """Giving both dim= and axis= is ambiguous and raises TypeError."""
    x = tc.tensor(np.ones((3, 4)))
    with pytest.raises(TypeError):
        getattr(x, op)(dim=0, axis=0)
    with pytest.raises(TypeError):
        getattr(tc, op)(x, dim=1, axis=0)
