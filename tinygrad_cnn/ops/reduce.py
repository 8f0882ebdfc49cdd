"""Reductions: sum, mean, max/min (and amax/amin), var, argmax/argmin, topk.

Axes may be given PyTorch's way (`dim`, `keepdim`) or NumPy's (`axis`, `keepdims`); an int or a
tuple. Backward broadcasts the incoming gradient back over the reduced axes.
"""
import builtins
import numbers
from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import Function
from ..backend import array_module
from ..tensor import Tensor
from .common import normalize_dim, reduction_axes, require_float
from .elementwise import maximum, minimum

MaxResult = namedtuple("MaxResult", ["values", "indices"])
TopKResult = namedtuple("TopKResult", ["values", "indices"])


def _keepdims_shape(in_shape, axes):
    """The shape of a reduction over `axes` with keepdims=True."""
    if axes is None:
        return (1,) * len(in_shape)
    return tuple(1 if i in axes else s for i, s in enumerate(in_shape))


def _expand_back(g, in_shape, axes):
    """A gradient of the reduced shape broadcast back to `in_shape` (a read-only view)."""
    return array_module(g).broadcast_to(g.reshape(_keepdims_shape(in_shape, axes)), in_shape)


def _count(in_shape, axes):
    n = 1
    for i, s in enumerate(in_shape):
        if axes is None or i in axes:
            n *= s
    return n


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.in_shape, ctx.axes = x.shape, axes
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.in_shape, ctx.axes)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.in_shape, ctx.axes = x.shape, axes
        return x.mean(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g / _count(ctx.in_shape, ctx.axes), ctx.in_shape, ctx.axes)


class Amax(Function):
    """Largest value over axes; tied maxima share the gradient equally (as torch.amax)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims, smallest=False):
        out = x.min(axis=axes, keepdims=True) if smallest else x.max(axis=axes, keepdims=True)
        ctx.axes = axes
        ctx.save_for_backward(x, out)
        return out if keepdims else out.reshape([s for i, s in enumerate(out.shape)
                                                 if axes is not None and i not in axes])

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        winners = x == out
        share = g.reshape(out.shape) / winners.sum(axis=ctx.axes, keepdims=True)
        return winners * share


class Amin(Amax):
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        return Amax.forward(ctx, x, axes, keepdims, smallest=True)


class MaxAlongDim(Function):
    """Largest (or smallest) value along one axis; the gradient goes to the returned index
    only (as torch.max(x, dim)), so ties do not split it."""

    name = "max"

    @staticmethod
    def forward(ctx, x, axis, keepdims, index):
        """index: the argmax (or argmin) along `axis`, with keepdims=True."""
        xp = array_module(x)
        values = xp.take_along_axis(x, index, axis=axis)
        ctx.in_shape, ctx.axis, ctx.index = x.shape, axis, index
        return values if keepdims else values.squeeze(axis)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        shape = [1] * len(ctx.in_shape)
        shape[ctx.axis] = ctx.in_shape[ctx.axis]
        at_index = xp.arange(ctx.in_shape[ctx.axis]).reshape(shape) == ctx.index
        g = g.reshape(ctx.index.shape)
        return xp.where(at_index, g, xp.zeros((), dtype=g.dtype))


class TopK(MaxAlongDim):
    """The values at `index` (k positions per slice along one axis, keepdims=True); the gradient
    goes back to those positions."""

    name = "topk"

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        grad = xp.zeros(ctx.in_shape, dtype=g.dtype)
        xp.put_along_axis(grad, ctx.index, g, axis=ctx.axis)
        return grad


class Var(Function):
    """Variance over axes with `correction` (1: unbiased, PyTorch's default; 0: biased)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims, correction):
        centered = x - x.mean(axis=axes, keepdims=True)
        divisor = builtins.max(_count(x.shape, axes) - correction, 0)
        ctx.divisor, ctx.axes = divisor, axes
        ctx.save_for_backward(centered)
        with np.errstate(divide="ignore", invalid="ignore"):  # divisor 0 gives inf/nan, as in PyTorch
            return (centered * centered).sum(axis=axes, keepdims=keepdims) / x.dtype.type(divisor)

    @staticmethod
    def backward(ctx, g):
        (centered,) = ctx.saved_tensors
        g = _expand_back(g, centered.shape, ctx.axes)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * centered * (2 / centered.dtype.type(ctx.divisor))


class Std(Function):
    """Standard deviation over axes; where it is 0 the gradient is 0 (as PyTorch)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims, correction):
        xp = array_module(x)
        centered = x - x.mean(axis=axes, keepdims=True)
        divisor = builtins.max(_count(x.shape, axes) - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = xp.sqrt((centered * centered).sum(axis=axes, keepdims=True) / x.dtype.type(divisor))
        ctx.divisor, ctx.axes = divisor, axes
        ctx.save_for_backward(centered, out)
        return out if keepdims else out.reshape(_reduced_shape(x.shape, axes))

    @staticmethod
    def backward(ctx, g):
        centered, out = ctx.saved_tensors
        xp = array_module(g)
        g = g.reshape(out.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = xp.where(out == 0, 0, g / (out * centered.dtype.type(ctx.divisor)))
        return centered * scale


def _reduced_shape(in_shape, axes):
    return tuple(s for i, s in enumerate(in_shape) if axes is not None and i not in axes)


# ---------------------------------------------------------------- PyTorch-named functions
def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """Sum over `dim` (int, tuple or None for all)."""
    axes, keepdims = reduction_axes("sum", x.ndim, dim, keepdim, axis, keepdims)
    return Sum.apply(x, axes=axes, keepdims=keepdims)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Mean over `dim` (int, tuple or None for all)."""
    require_float("mean", x)
    axes, keepdims = reduction_axes("mean", x.ndim, dim, keepdim, axis, keepdims)
    return Mean.apply(x, axes=axes, keepdims=keepdims)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Maximum values over `dim` (int, tuple or None)."""
    axes, keepdims = reduction_axes("amax", x.ndim, dim, keepdim, axis, keepdims)
    _check_not_empty("amax", x, axes)
    return Amax.apply(x, axes=axes, keepdims=keepdims)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Minimum values over `dim` (int, tuple or None)."""
    axes, keepdims = reduction_axes("amin", x.ndim, dim, keepdim, axis, keepdims)
    _check_not_empty("amin", x, axes)
    return Amin.apply(x, axes=axes, keepdims=keepdims)


def _extreme(name, reduce_fn, elementwise_fn, x, dim, keepdim, axis, keepdims):
    if isinstance(dim, Tensor):  # torch.max(a, b): elementwise
        return elementwise_fn(x, dim)
    if axis is None and isinstance(dim, int):  # PyTorch: max(dim) gives (values, indices)
        axes, keepdim = reduction_axes(name, x.ndim, dim, keepdim, None, keepdims)
        _check_not_empty(name, x, axes)
        if axes is None:  # a 0-d tensor: its value, at index 0
            return MaxResult(x, Tensor._wrap(array_module(x.array).zeros((), dtype="int64"), x.device))
        index = (x.array.argmin if name == "min" else x.array.argmax)(axis=axes[0], keepdims=True)
        values = MaxAlongDim.apply(x, axis=axes[0], keepdims=keepdim, index=index)
        index = index if keepdim else index.squeeze(axes[0])
        return MaxResult(values, Tensor._wrap(index.astype("int64", copy=False), x.device))
    return reduce_fn(x, dim, keepdim, axis=axis, keepdims=keepdims)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """PyTorch semantics: `max()` the largest value; `max(dim: int)` a (values, indices) pair;
    `max(other_tensor)` the elementwise maximum. A tuple `dim` or NumPy's `axis=` give values only.
    """
    return _extreme("max", amax, maximum, x, dim, keepdim, axis, keepdims)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """Mirror of `max` for the smallest values."""
    return _extreme("min", amin, minimum, x, dim, keepdim, axis, keepdims)


def _spread(function, name, x, dim, keepdim, correction, unbiased, axis, keepdims, ddof):
    require_float(name, x)
    axes, keepdims = reduction_axes(name, x.ndim, dim, keepdim, axis, keepdims)
    if ddof is not None:
        correction = ddof
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return function.apply(x, axes=axes, keepdims=keepdims, correction=correction)


def var(x, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None, ddof=None):
    """Variance over `dim`. `correction` (or NumPy's `ddof`, or `unbiased=False` for 0) is
    subtracted from the count: 1 by default, as in PyTorch."""
    return _spread(Var, "var", x, dim, keepdim, correction, unbiased, axis, keepdims, ddof)


def std(x, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None, ddof=None):
    """Standard deviation over `dim`, same arguments as var; its gradient is 0 where it is 0."""
    return _spread(Std, "std", x, dim, keepdim, correction, unbiased, axis, keepdims, ddof)


def _arg_reduce(name, x, dim, keepdim, axis, keepdims, largest):
    axes, keepdims = reduction_axes(name, x.ndim, dim, keepdim, axis, keepdims)
    if axes is not None and len(axes) != 1:
        raise ValueError(f"{name}: takes one dimension, got {dim if dim is not None else axis}")
    _check_not_empty(name, x, axes)
    fn = x.array.argmax if largest else x.array.argmin
    out = fn(axis=None if axes is None else axes[0], keepdims=keepdims)
    return Tensor._wrap(out.astype("int64", copy=False), x.device)


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the largest value (int64, no gradient); over the flattened tensor when dim is None."""
    return _arg_reduce("argmax", x, dim, keepdim, axis, keepdims, largest=True)


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the smallest value (int64, no gradient); over the flattened tensor when dim is None."""
    return _arg_reduce("argmin", x, dim, keepdim, axis, keepdims, largest=False)


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002 (PyTorch's names)
    """The k largest (or smallest) values along `dim` and their int64 indices, as a
    (values, indices) pair: values in descending (ascending) order, NaN counted larger than any
    number (as PyTorch); equal values by increasing index (PyTorch leaves their order unspecified).
    `sorted=False` is accepted (PyTorch's order is unspecified then); the values come sorted all
    the same. The gradient of the values goes to the selected positions."""
    x = input
    axis = normalize_dim(dim, x.ndim, "topk")
    size = x.shape[axis] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= size:
        raise RuntimeError(f"topk: selected index k={k!r} out of range for dimension {dim} of size {size} "
                           f"(tensor of shape {x.shape})")
    if x.ndim == 0:  # a 0-d tensor is its own top value, as in PyTorch
        return TopKResult(x, Tensor._wrap(array_module(x.array).zeros((), dtype="int64"), x.device))
    xp = array_module(x.array)
    # Sorting the reversed axis stably and reversing the order gives descending values with
    # equal values by increasing index (NumPy's sort puts NaN last, so it comes first here).
    if largest:
        order = size - 1 - xp.flip(backend.stable_argsort(xp.flip(x.array, axis), axis), axis)
    else:
        order = backend.stable_argsort(x.array, axis)
    index = order[(slice(None),) * axis + (slice(0, k),)].astype("int64", copy=False)
    values = TopK.apply(x, axis=axis, keepdims=True, index=index)
    return TopKResult(values, Tensor._wrap(index, x.device))


def _check_not_empty(name, x, axes):
    if x.array.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
