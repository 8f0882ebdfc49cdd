"""Argument handling shared by the op files: operands, axes, broadcast checks."""
import numbers

import numpy as np

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor


def as_tensor(value, like, op):
    """`value` as a Tensor on `like`'s device; Python scalars take `like`'s floating dtype.

    Numbers never require grad. Arrays and lists are converted (a copy).
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numbers.Number):
        dtype = like.dtype
        if dtype.kind != "f" and (isinstance(value, float) or dtype.kind == "b"):
            dtype = np.dtype("float32") if isinstance(value, float) else np.dtype("int64")
        with backend.device_context(like.device):
            array = backend.module_for_device(like.device).asarray(value, dtype=dtype)
        return Tensor._wrap(array, like.device)
    try:
        return Tensor(value, device=like.device)
    except TypeError as exc:
        raise TypeError(f"{op}: unsupported operand of type {type(value).__name__}") from exc


def binary_operands(a, b, op):
    """Both operands of a binary op as Tensors, checked to broadcast together."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: at least one operand must be a Tensor")
    if not isinstance(a, Tensor):
        a = as_tensor(a, b, op)
    if not isinstance(b, Tensor):
        b = as_tensor(b, a, op)
    check_broadcast(op, a.shape, b.shape)
    return a, b


def check_broadcast(op, *shapes):
    """The broadcast shape of `shapes`; ShapeError naming the op and the shapes when incompatible."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"{op}: shapes {listed} cannot be broadcast together") from None


def normalize_dim(dim, ndim, op):
    """A non-negative axis index for `dim` in an array of `ndim` dimensions."""
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dimension must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dimension {dim} out of range for a tensor with {ndim} dimensions")
    return int(dim) % max(ndim, 1)


def reduction_axes(op, ndim, dim=None, keepdim=False, axis=None, keepdims=None):
    """Merge PyTorch's (dim, keepdim) and NumPy's (axis, keepdims) spellings.

    Returns (axes as a sorted tuple, or None for all axes; keepdims as bool).
    """
    if dim is not None and axis is not None:
        raise TypeError(f"{op}: give either dim= or axis=, not both")
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if dim is None:
        return None, bool(keepdim)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(sorted({normalize_dim(d, ndim, op) for d in dims}))
    if ndim == 0:  # dim 0 / -1 of a 0-d tensor is the tensor itself, as in PyTorch
        return None, bool(keepdim)
    if len(axes) != len(dims):
        raise ValueError(f"{op}: dimension {dim} repeated")
    return axes, bool(keepdim)


def require_float(op, *tensors):
    for t in tensors:
        if t is not None and t.dtype.kind != "f":
            raise TypeError(f"{op}: expected a floating-point tensor, got dtype {t.dtype}")


def same_dtype(op, *tensors):
    """TypeError naming the op when floating tensors of different dtypes meet (as in PyTorch)."""
    dtypes = {t.dtype for t in tensors if t is not None}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: expected all tensors to have the same dtype, got "
                        f"{', '.join(sorted(str(d) for d in dtypes))}")
