"""The named methods of the stand-in ndarray: exactly the public methods of `cupy.ndarray`.

`install(ndarray, specs)` gives the stand-in class one method per public method name of the
installed `cupy.ndarray`, each checking its arguments against CuPy's signature first:
- a *generic* method calls NumPy's method of the same name on the underlying array (CuPy and
  NumPy agree on the positional order of these), refusing host arrays among the arguments;
- a *custom* method (below) implements what CuPy does differently: transfers (`get`, `set`,
  `item`, `tolist`), `fill`'s scalar rule, `take`/`put` wrapping indices, `argmax(dtype=)`,
  syncing methods (`nonzero`, `compress`), `sort(kind=)`;
- a method CuPy has and NumPy cannot emulate (`toDlpack`, `mdspan`) raises NotImplementedError.
A NumPy method that CuPy lacks (`resize`, `itemset`, `setflags`, ...) does not exist.
"""
import pickle
import warnings

import numpy as np

from ._array import check_dtype, ndarray, operand, wrap, wrap_result
from ._convert import result_of, unwrap, unwrap_call
from ._counters import COUNTERS
from ._indexing import _fill_value, scatter
from ._unemulated import unemulated_method

# Properties and attributes defined on the class itself, not methods.
ATTRIBUTES = frozenset({"T", "mT", "base", "data", "device", "dtype", "flags", "flat", "imag", "real",
                        "itemsize", "nbytes", "ndim", "shape", "size", "strides", "cstruct"})
UNEMULATED = frozenset({"toDlpack", "mdspan"})
# Parameters through which CuPy copies host data to the device (it calls cupy.array on them).
HOST_PARAMETERS = {"take": {"indices"}, "put": {"indices", "values"}, "compress": {"condition"}}
# Parameters that are kernel operands in CuPy: a list or tuple there is refused.
DATA_PARAMETERS = {"clip": {"min", "max"}, "searchsorted": {"v"}}


def generic_method(name, spec):
    """A method calling NumPy's ndarray method `name` after CuPy's argument checks."""
    np_method = getattr(np.ndarray, name)
    host_parameters = HOST_PARAMETERS.get(name, ())
    data_parameters = DATA_PARAMETERS.get(name, ())

    def method(self, *args, **kwargs):
        COUNTERS.calls += 1
        spec.check(args, kwargs)
        if args or kwargs:
            args, kwargs, pairs = unwrap_call(spec, args, kwargs, host_parameters, data_parameters)
            return result_of(np_method(self._a, *args, **kwargs), self, pairs)
        value = np_method(self._a)
        return self if value is self._a else wrap_result(value)

    method.__name__ = name
    method.__doc__ = f"cupy.ndarray.{name}, computed by numpy.ndarray.{name} (CuPy's signature: {spec.describe()})."
    return method


def checked_method(name, spec, implementation):
    """`implementation` behind CuPy's argument checks for ndarray.`name`."""
    def method(self, *args, **kwargs):
        COUNTERS.calls += 1
        spec.check(args, kwargs)
        return implementation(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = implementation.__doc__
    return method


def _out_array(out):
    """The NumPy array behind an `out=` stand-in argument (None stays None)."""
    return None if out is None else operand(out)


# ------------------------------------------------------------------ custom methods
def get(self, stream=None, order="C", out=None, blocking=True):
    """Copy to the host: a NumPy array (a device-to-host sync; none for an empty array)."""
    a = self._a
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError("Only numpy.ndarray can be obtained fromcupy.ndarray")
        if a.dtype != out.dtype:
            raise TypeError(f"{out.dtype} array cannot be obtained from {a.dtype} array")
        if a.shape != out.shape:
            raise ValueError(f"Shape mismatch. Expected shape: {a.shape}, actual shape: {out.shape}")
        COUNTERS.device_to_host += 1
        np.copyto(out, a)
        return out
    if a.size == 0:
        return np.empty(a.shape, dtype=a.dtype)
    COUNTERS.device_to_host += 1
    order = order.upper()
    if order == "A":
        order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    if order not in ("C", "F"):
        raise ValueError(f"unsupported order: {order}")
    return np.array(a, order=order, copy=True)


def set(self, arr, stream=None):
    """Copy the host array `arr` (same shape and dtype) into this array (a host-to-device copy)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
    a = self._a
    if a.dtype != arr.dtype:
        raise TypeError(f"{arr.dtype} array cannot be set to {a.dtype} array")
    if a.shape != arr.shape:
        raise ValueError(f"Shape mismatch. Old shape: {a.shape}, new shape: {arr.shape}")
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        raise RuntimeError("Cannot set to non-contiguous array")
    COUNTERS.host_to_device += 1
    np.copyto(a, arr)


def item(self):
    """The single element as a Python scalar (a device-to-host sync)."""
    COUNTERS.device_to_host += 1
    return self._a.item()


def tolist(self):
    """The values as nested Python lists (a device-to-host sync)."""
    COUNTERS.device_to_host += 1
    return self._a.tolist()


def fill(self, value):
    """Fill with a scalar: a 0-d stand-in array, a Python or NumPy scalar or a 0-d NumPy array."""
    if isinstance(value, ndarray):
        if value._a.shape != ():
            raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
        self._a[...] = value._a
        return
    self._a.fill(_fill_value(value, self._a.dtype))


def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
    """A copy (or, with copy=False and nothing to change, the array itself) of another dtype."""
    result = self._a.astype(check_dtype(dtype), order=order, casting=casting or "unsafe", copy=copy)
    return self if result is self._a else wrap(result)


def view(self, dtype=None, type=None):
    """A view with another dtype (the stand-in has no ndarray subclasses for `type`)."""
    if type is not None:
        raise NotImplementedError("cupy.ndarray.view(type=...) is not emulated by the CuPy stand-in")
    return wrap(self._a.view() if dtype is None else self._a.view(check_dtype(dtype)))


def arg_reduction(np_func):
    """An argmax-like method with CuPy's extra dtype= for the index type."""
    def method(self, axis=None, out=None, dtype=None, keepdims=False):
        result = np_func(self._a, axis=axis, keepdims=keepdims)
        if dtype is not None:
            result = np.asarray(result).astype(dtype)
        if out is not None:
            _out_array(out)[...] = result
            return out
        return wrap(result)
    method.__doc__ = f"numpy.{np_func.__name__} plus CuPy's dtype= for the index type."
    return method


def take(self, indices, axis=None, out=None):
    """Elements at `indices` (host indices are copied to the device); indices out of range wrap
    around, as in CuPy."""
    pairs = []
    raw = unwrap(indices, pairs, host_ok=True)
    if type(raw) in (list, tuple):
        COUNTERS.host_to_device += 1
    result = np.take(self._a, raw, axis=axis, out=_out_array(out), mode="wrap")
    return out if out is not None else wrap(result)


def put(self, indices, values, mode="wrap"):
    """Replace elements at `indices` by `values` (CuPy's default mode is 'wrap')."""
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError("clipmode not understood")
    pairs = []
    raw_indices = unwrap(indices, pairs, host_ok=True)
    raw_values = unwrap(values, pairs, host_ok=True)
    if mode == "raise":
        COUNTERS.device_to_host += 1  # CuPy reads an error flag back
    np.put(self._a, raw_indices, raw_values, mode=mode)


def nonzero(self):
    """Indices of the non-zero elements (CuPy counts them on the host: a sync)."""
    if self._a.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. "
                         "Use cp.atleast_1d(scalar).nonzero() instead.")
    COUNTERS.device_to_host += 1
    return wrap_result(np.nonzero(self._a))


def compress(self, condition, axis=None, out=None):
    """Elements where `condition` holds (host conditions are copied; a sync)."""
    if np.isscalar(condition):
        raise ValueError("condition must be a 1-d array")
    raw = unwrap(condition, [], host_ok=True)
    if np.ndim(raw) != 1:
        raise ValueError("condition must be a 1-d array")
    COUNTERS.device_to_host += 1
    result = np.compress(raw, self._a, axis=axis, out=_out_array(out))
    return out if out is not None else wrap(result)


def ptp(self, axis=None, out=None, keepdims=False):
    """Range of values (maximum - minimum) along an axis."""
    result = np.ptp(self._a, axis=axis, out=_out_array(out), keepdims=keepdims)
    return out if out is not None else wrap(result)


def dot(self, b, out=None):
    """Dot product with the stand-in array `b`."""
    result = np.dot(self._a, operand(b), out=_out_array(out))
    return out if out is not None else wrap(result)


def _check_kind(kind):
    if kind is not None and kind != "stable":
        raise ValueError("kind can only be None or 'stable'")


def sort(self, axis=-1, kind=None):
    """Sort in place; CuPy's sort is stable and accepts no other kind."""
    _check_kind(kind)
    self._a.sort(axis=axis, kind="stable")


def argsort(self, axis=-1, kind=None):
    """Indices that sort the array (stable)."""
    _check_kind(kind)
    return wrap(self._a.argsort(axis=axis, kind="stable"))


def reduced_view(self, dtype=None):
    """A view with contiguous axes merged (here: flattened when C-contiguous)."""
    a = self._a
    return wrap(a.reshape(-1) if a.flags.c_contiguous and a.ndim > 1 else a.view())


def _deprecated_scatter(np_ufunc, ufunc_name):
    def method(self, slices, value):
        warnings.warn(f"`ndarray.scatter_{ufunc_name}` is deprecated. Please use `cupy.{np_ufunc.__name__}.at` "
                      "instead.", DeprecationWarning, stacklevel=3)
        scatter(self, slices, value, np_ufunc)
    method.__doc__ = f"Deprecated CuPy method: cupy.{np_ufunc.__name__}.at."
    return method


def dump(self, file):
    """Pickle to `file` (a path or a binary file object); reading the array is a sync."""
    if isinstance(file, str):
        with open(file, "wb") as f:
            pickle.dump(self, f, -1)
    else:
        pickle.dump(self, file, -1)


def dumps(self):
    """Pickled bytes of the array (reading it is a sync)."""
    return pickle.dumps(self, -1)


def tobytes(self, order="C"):
    """The raw bytes (a device-to-host sync)."""
    COUNTERS.device_to_host += 1
    return self._a.tobytes(order)


def tofile(self, fid, sep="", format="%s"):
    """Write the values to a file (a device-to-host sync)."""
    COUNTERS.device_to_host += 1
    self._a.tofile(fid, sep, format)


CUSTOM = {
    "get": get, "set": set, "item": item, "tolist": tolist, "fill": fill, "astype": astype,
    "view": view, "argmax": arg_reduction(np.argmax), "argmin": arg_reduction(np.argmin),
    "take": take, "put": put, "nonzero": nonzero, "compress": compress, "ptp": ptp, "dot": dot,
    "sort": sort, "argsort": argsort, "reduced_view": reduced_view,
    "scatter_add": _deprecated_scatter(np.add, "add"), "scatter_max": _deprecated_scatter(np.maximum, "max"),
    "scatter_min": _deprecated_scatter(np.minimum, "min"),
    "dump": dump, "dumps": dumps, "tobytes": tobytes, "tofile": tofile,
}


def install(cupy_ndarray, read_spec):
    """Give the stand-in `ndarray` one method per public method of `cupy_ndarray`; returns the
    names set.

    `read_spec(name)` returns the CallSpec of cupy.ndarray.`name`.
    """
    installed = []
    for name in dir(cupy_ndarray):
        if name.startswith("_") or name in ATTRIBUTES:
            continue
        qualname = f"cupy.ndarray.{name}"
        if name in UNEMULATED or (name not in CUSTOM and not hasattr(np.ndarray, name)):
            setattr(ndarray, name, unemulated_method(qualname))
        else:
            spec = read_spec(name)
            if name in CUSTOM:
                setattr(ndarray, name, checked_method(name, spec, CUSTOM[name]))
            else:
                setattr(ndarray, name, generic_method(name, spec))
        installed.append(name)
    return installed
