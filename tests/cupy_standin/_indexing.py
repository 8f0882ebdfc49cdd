"""`a[idx]` and `a[idx] = value` with CuPy's rules (`cupy/_core/_routines_indexing.pyx`).

Where CuPy differs from NumPy:
- integer-array ("advanced") indices out of range wrap around (CuPy never checks them on the
  device); out-of-range integer scalars still raise IndexError, as in CuPy;
- a 0-d integer array index is an array index (result copied, index wrapped), not a scalar;
- host index arrays (NumPy arrays, lists, Python bools) are accepted, each one a host-to-device
  copy; float scalars are truncated with int() as CuPy does;
- boolean-mask indexing reads the number of True values back to the host: a sync;
- full integer indexing gives a 0-d array that views the element (as in CuPy), not a scalar;
- assignment without an array index goes through CuPy's `fill`: a host value must be a
  scalar or a 0-d NumPy array, anything else raises
  ValueError('non-scalar numpy.ndarray cannot be used for fill'); with an array index a host
  value is copied to the device.
"""
import numpy as np

from ._array import ndarray, wrap, wrap_result
from ._counters import COUNTERS

_PY_SCALARS = (int, float, bool, complex)


def _is_basic(items):
    for s in items:
        t = type(s)
        if t is int or t is slice or s is None or s is Ellipsis:
            continue
        return False
    return True


def _has_ellipsis(items):
    for s in items:
        if s is Ellipsis:
            return True
    return False


def _host_index(s):
    """A host index (NumPy array, list, bool) as a NumPy array, counted as a host-to-device copy."""
    COUNTERS.host_to_device += 1
    try:
        arr = np.asarray(s)
    except ValueError:
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and "
                         "integer or boolean arrays are valid indices") from None
    if isinstance(s, (list, tuple)) and arr.size == 0:
        arr = arr.astype(np.int32)  # an empty list means no indices, not an empty mask
    if arr.dtype.kind not in "biu":
        raise IndexError(f"arrays used as indices must be of integer or boolean type (actual: {arr.dtype.type})")
    return arr


def _advanced_key(a, items):
    """NumPy index tuple for CuPy's `items` on the NumPy array `a`.

    Returns (key, forced_copy, has_array): integer arrays are wrapped into range, host arrays
    converted (counted), masks counted as syncs; `forced_copy` is True when CuPy returns a copy
    where NumPy would return a view (a 0-d integer array index); `has_array` is False when
    only scalars, slices, None and Ellipsis remain (CuPy's basic indexing).
    """
    converted, axes_used = [], 0
    forced_copy = has_array = False
    for s in items:
        t = type(s)
        if t is ndarray or isinstance(s, ndarray):
            arr = s._a
            if arr.dtype.kind not in "biu":
                raise IndexError("arrays used as indices must be of integer or boolean type. "
                                 f"(actual: {arr.dtype.type})")
        elif t is int or t is slice or s is None or s is Ellipsis:
            converted.append(s)
            axes_used += 0 if (s is None or s is Ellipsis) else 1
            continue
        elif isinstance(s, (bool, np.bool_)):
            arr = _host_index(s)
        elif np.isscalar(s):
            converted.append(int(s))  # CuPy keeps scalars as scalars, through int()
            axes_used += 1
            continue
        else:
            arr = _host_index(s)
        has_array = True
        if arr.dtype.kind == "b":
            if arr.size:
                COUNTERS.device_to_host += 1  # CuPy reads the number of True values back
            axes_used += arr.ndim
        else:
            axes_used += 1
            forced_copy = forced_copy or arr.ndim == 0
        converted.append(arr)
    # Wrap every integer array into its axis' range, as CuPy's kernels do.
    ellipsis_span = a.ndim - axes_used
    axis = 0
    for i, s in enumerate(converted):
        if s is None:
            continue
        if s is Ellipsis:
            axis += max(ellipsis_span, 0)
            continue
        if type(s) is np.ndarray:
            if s.dtype.kind == "b":
                axis += s.ndim
                continue
            if axis < a.ndim and a.shape[axis]:
                converted[i] = np.remainder(s, a.shape[axis])
        axis += 1
    return tuple(converted), forced_copy, has_array


def getitem(self, slices):
    """self[slices] for a stand-in array `self`."""
    COUNTERS.calls += 1
    a = self._a
    items = slices if type(slices) is tuple else (slices,)
    if _is_basic(items):
        if not _has_ellipsis(items):
            items += (Ellipsis,)  # NumPy then returns a 0-d view instead of a scalar, as CuPy does
        return wrap(a[items])
    key, forced_copy, has_array = _advanced_key(a, items)
    if not has_array:
        return wrap(a[key if _has_ellipsis(key) else key + (Ellipsis,)])
    result = a[key]
    if forced_copy:
        result = np.array(result)
    return wrap_result(result)


def setitem(self, slices, value):
    """self[slices] = value for a stand-in array `self`."""
    COUNTERS.calls += 1
    a = self._a
    t = type(value)
    if t is ndarray or isinstance(value, ndarray):
        value, host = value._a, False
    else:
        host = not (t in _PY_SCALARS or isinstance(value, np.generic))
    items = slices if type(slices) is tuple else (slices,)
    key, has_array = (items, False) if _is_basic(items) else _advanced_key(a, items)[::2]
    if not has_array:
        if host:
            value = _fill_value(value, a.dtype)
        a[key] = value
        return
    if host:
        COUNTERS.host_to_device += 1
        value = np.asarray(value, dtype=a.dtype)
    a[key] = value


def _fill_value(value, dtype):
    """CuPy's `ndarray.fill` conversion of a host value: only scalars (and 0-d arrays) fill."""
    converted = np.asarray(value, dtype=dtype)
    if converted.shape != ():
        raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
    return converted[()]


def scatter(self, slices, value, np_ufunc):
    """`np_ufunc.at(self, slices, value)` with CuPy's index rules (cupy.add.at and friends)."""
    a = self._a
    items = slices if type(slices) is tuple else (slices,)
    key, has_array = (items, False) if _is_basic(items) else _advanced_key(a, items)[::2]
    if type(value) is ndarray or isinstance(value, ndarray):
        value = value._a
    elif not (type(value) in _PY_SCALARS or isinstance(value, np.generic) or value is None):
        if not has_array:  # CuPy applies the ufunc in place: a host value is refused
            raise TypeError(f"Unsupported type {type(value)}")
        COUNTERS.host_to_device += 1  # with an array index CuPy copies the value to the device
        value = np.asarray(value, dtype=a.dtype)
    np_ufunc.at(a, key, value)
