"""Op-table rows of the reductions: sum, mean, amax/amin (and max/min over all axes or a tuple
of them), max/min along one int dim (values and indices), var, std, argmax/argmin.

Axes are drawn as None, an int (possibly negative) or a tuple of distinct axes, with keepdim
True or False, or left at their defaults; PyTorch's dim=/keepdim= (by keyword or position) and
NumPy's axis=/keepdims= spellings are aliases of one row. Values of max/min/arg* reductions are
all different, so the winner (and its gradient) is unique; tie conventions and 0-d inputs have
tests of their own in tests/test_ops_reduce.py.
"""
import numpy as np
import torch
from hypothesis import assume
from hypothesis import strategies as st

import tinygrad_cnn as tc
from .row import Case, OpRow, array_shapes, arrays_from, distinct_arrays, seeds


# ---------------------------------------------------------------- strategies
@st.composite
def shape_and_dim(draw, kinds=("none", "int", "tuple")):
    """A shape (1-d to 4-d) and the axes to reduce: None, an int in [-ndim, ndim) or a non-empty
    tuple of distinct axes, each spelled positive or negative at random."""
    shape = draw(array_shapes(min_dims=1))
    nd = len(shape)
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-nd, nd - 1))
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return shape, tuple(a - nd if draw(st.booleans()) else a for a in axes)


def reduced_count(shape, dim):
    """How many elements each output of a reduction over `dim` combines."""
    if dim is None:
        return int(np.prod(shape))
    return int(np.prod([shape[d] for d in (dim if isinstance(dim, tuple) else (dim,))]))


@st.composite
def reduce_cases(draw, kinds=("none", "int", "tuple"), distinct=False, spread=False):
    """x and params dim, keepdim (both may be left out: the defaults, all axes and keepdim=False).
    distinct: all values different (max/min/arg*). spread: a correction of 0 or 1 too (or
    left out: 1), with at least two values per output (var/std)."""
    shape, dim = draw(shape_and_dim(kinds))
    params = {}
    if dim is not None or draw(st.booleans()):
        params = dict(dim=dim, keepdim=draw(st.booleans()))
    if spread:
        assume(reduced_count(shape, dim) > 1)
        correction = draw(st.sampled_from([0, 1, None]))
        if correction is not None:
            params["correction"] = correction
    seed = draw(seeds)
    x = distinct_arrays(seed, shape)[0] if distinct else arrays_from(seed, shape)[0]
    return Case((x,), params, seed)


# ---------------------------------------------------------------- spellings
def _numpy_names(params):
    """dim/keepdim renamed axis/keepdims, NumPy's names."""
    names = {"dim": "axis", "keepdim": "keepdims"}
    return {names.get(k, k): v for k, v in params.items()}


def _positional(params):
    """(dim, keepdim) as positional arguments, the rest as keywords."""
    rest = dict(params)
    return [rest.pop(k) for k in ("dim", "keepdim") if k in params], rest


def _spelling_aliases(name):
    """Tensor.<name>(dim, keepdim), Tensor.<name>(dim=, keepdim=), Tensor.<name>(axis=, keepdims=),
    tc.<name>(x, axis=, keepdims=)."""
    def positional(x, **params):
        args, rest = _positional(params)
        return getattr(x, name)(*args, **rest)
    return {f"Tensor.{name}(dim, keepdim)": positional,
            f"Tensor.{name}(dim=, keepdim=)": lambda x, **params: getattr(x, name)(**params),
            f"Tensor.{name}(axis=, keepdims=)": lambda x, **params: getattr(x, name)(**_numpy_names(params)),
            f"tc.{name}(x, axis=, keepdims=)": lambda x, **params: getattr(tc, name)(x, **_numpy_names(params))}


def _as_tuple(params):
    """params with an int dim given as a one-element tuple."""
    dim = params.get("dim")
    return dict(params, dim=(dim,)) if isinstance(dim, int) else params


def _extreme_aliases(name, extreme):
    """amax/amin spelled as max/min over all axes, a tuple of axes, or NumPy's axis=."""
    return {**_spelling_aliases(name),
            f"Tensor.{extreme}(tuple dims)": lambda x, **params: getattr(x, extreme)(**_as_tuple(params)),
            f"tc.{extreme}(x, tuple dims)": lambda x, **params: getattr(tc, extreme)(x, **_as_tuple(params)),
            f"Tensor.{extreme}(axis=)": lambda x, **params: getattr(x, extreme)(**_numpy_names(params))}


def _torch_extreme(name):
    """torch.amax/amin: "all axes" is dim=()."""
    def call(x, dim=None, keepdim=False):
        return getattr(torch, name)(x, dim=() if dim is None else dim, keepdim=keepdim)
    return call


def _spread_aliases(name):
    """var/std: the correction also spelled as NumPy's ddof= or as unbiased=."""
    def ddof(x, correction=1, **params):
        return getattr(tc, name)(x, ddof=correction, **_numpy_names(params))

    def unbiased(x, correction=1, **params):
        return getattr(x, name)(unbiased=bool(correction), **params)
    return {**_spelling_aliases(name), f"tc.{name}(ddof=)": ddof, f"Tensor.{name}(unbiased=)": unbiased}


# ---------------------------------------------------------------- max/min along one dim
def _along_dim(extreme, part):
    """One part of the (values, indices) pair of x.max(dim) / x.min(dim)."""
    return lambda x, dim, keepdim: getattr(getattr(x, extreme)(dim, keepdim), part)


def _along_dim_rows(extreme):
    """The values (their gradient goes to the returned index) and the int64 indices of
    max/min(dim: int), as a pair, by attribute and by position."""
    def by_position(index):
        return lambda x, dim, keepdim: getattr(tc, extreme)(x, dim=dim, keepdim=keepdim)[index]
    cases = reduce_cases(kinds=("int",), distinct=True)
    return [
        OpRow(f"Tensor.{extreme}(dim)", _along_dim(extreme, "values"), cases, torch_fn=_along_dim(extreme, "values"),
              aliases={f"tc.{extreme}(x, dim=)[0]": by_position(0)}, covers=(f"tc.{extreme}", f"Tensor.{extreme}")),
        OpRow(f"Tensor.{extreme}(dim).indices", _along_dim(extreme, "indices"), cases,
              torch_fn=_along_dim(extreme, "indices"), aliases={f"tc.{extreme}(x, dim=)[1]": by_position(1)},
              differentiable=(False,)),
    ]


def _arg_row(name):
    """argmax/argmin over the flattened tensor or one axis: PyTorch's int64 indices, no gradient."""
    return OpRow(f"tc.{name}", getattr(tc, name), reduce_cases(kinds=("none", "int"), distinct=True),
                 torch_fn=getattr(torch, name), aliases=_spelling_aliases(name), covers=(f"Tensor.{name}",),
                 differentiable=(False,))


ROWS = [
    OpRow("tc.sum", tc.sum, reduce_cases(), torch_fn=torch.sum, aliases=_spelling_aliases("sum"),
          covers=("Tensor.sum",)),
    OpRow("tc.mean", tc.mean, reduce_cases(), torch_fn=torch.mean, aliases=_spelling_aliases("mean"),
          covers=("Tensor.mean",)),
    OpRow("tc.amax", tc.amax, reduce_cases(distinct=True), torch_fn=_torch_extreme("amax"),
          aliases=_extreme_aliases("amax", "max"), covers=("Tensor.amax",)),
    OpRow("tc.amin", tc.amin, reduce_cases(distinct=True), torch_fn=_torch_extreme("amin"),
          aliases=_extreme_aliases("amin", "min"), covers=("Tensor.amin",)),
    *_along_dim_rows("max"),
    *_along_dim_rows("min"),
    OpRow("tc.var", tc.var, reduce_cases(spread=True), torch_fn=torch.var, aliases=_spread_aliases("var"),
          covers=("Tensor.var",)),
    OpRow("tc.std", tc.std, reduce_cases(spread=True), torch_fn=torch.std, aliases=_spread_aliases("std"),
          covers=("Tensor.std",)),
    _arg_row("argmax"),
    _arg_row("argmin"),
]


# ---------------------------------------------------------------- topk
@st.composite
def topk_cases(draw):
    """All-different values (0-d to 4-d), k from 0 to the dimension's size, dim (or the default
    -1), largest and sorted (or their defaults)."""
    shape = draw(array_shapes())
    seed = draw(seeds)
    params = {}
    if shape and draw(st.booleans()):
        params["dim"] = draw(st.integers(-len(shape), len(shape) - 1))
    size = shape[params.get("dim", -1)] if shape else 1
    params["k"] = draw(st.integers(0 if shape else 1, size))
    for name in ("largest", "sorted"):
        if draw(st.booleans()):
            params[name] = True if name == "sorted" else draw(st.booleans())
    return Case((distinct_arrays(seed, shape)[0],), params, seed)


def _topk(part):
    """One part of x.topk(...): the values (their gradient goes to the chosen positions) or the indices."""
    return lambda x, **params: getattr(x.topk(**params), part)


ROWS += [
    OpRow("Tensor.topk", _topk("values"), topk_cases(), torch_fn=_topk("values"),
          aliases={"tc.topk(x, k, ...)[0]": lambda x, k, **params: tc.topk(x, k, **params)[0]}, covers=("tc.topk",)),
    OpRow("Tensor.topk().indices", _topk("indices"), topk_cases(), torch_fn=_topk("indices"),
          aliases={"tc.topk(x, k, ...)[1]": lambda x, k, **params: tc.topk(x, k, **params)[1]}, differentiable=(False,)),
]
