"""Reductions: the edge cases. The op table (tests/op_table/reduce.py, run by
tests/test_op_table.py) proves forward and gradients of sum, mean, amax/amin, max/min, var/std
and argmax/argmin, in every spelling, against PyTorch; this file keeps what the table does not
check: tie conventions, the (values, indices) pair of max(dim), the zero-spread gradient of
std, reductions of 0-d tensors, and bad dims.
"""
import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from helpers import DEVICES, DTYPES, compare_with_torch


def torch_dims(dims):
    """torch.amax/amin spell "all axes" as dim=()."""
    return () if dims is None else dims


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


# ---------------------------------------------------------------- max(dim) is a pair
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_int_dim_return_a_named_pair(op, device):
    """max(dim: int) / min(dim: int), method and function, return a (values, indices) pair as
    torch does: unpackable, the same tensors as .values and .indices."""
    x = tc.tensor(np.random.default_rng(0).permutation(12).reshape(3, 4).astype(float), device=device)
    for result in (getattr(x, op)(1), getattr(tc, op)(x, dim=0, keepdim=True)):
        values, indices = result
        assert result.values is values and result.indices is indices
        assert isinstance(values, tc.Tensor) and indices.dtype == np.int64


# ---------------------------------------------------------------- 0-d tensors
ZERO_D = {
    "sum": lambda t: t.sum(dim=0), "mean": lambda t: t.mean(dim=-1), "amax": lambda t: t.amax(dim=0),
    "amin": lambda t: t.amin(dim=-1), "max(dim)": lambda t: t.max(dim=0)[0], "sum(keepdim)": lambda t: t.sum(0, True),
    "max()": lambda t: t.max(), "min()": lambda t: t.min(), "amax()": lambda t: t.amax(),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(ZERO_D))
def test_reducing_dim_0_of_a_0d_tensor_like_torch(name, device):
    """torch accepts dim=0 / dim=-1 on a 0-d tensor (it has one implicit axis) and returns
    the 0-d value itself, as the reductions over all axes do; the gradient is the cotangent."""
    compare_with_torch(ZERO_D[name], ZERO_D[name], [np.array(1.25)], device=device)


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
