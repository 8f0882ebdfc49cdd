"""CuPy's namespace functions (`cupy.zeros`, `cupy.sum`, `cupy.asarray`, ...), computed by NumPy.

Every function checks its arguments against the signature of the CuPy function of the same
name, refuses host data where CuPy does (`_convert.unwrap_function_call`), calls the NumPy
function of the same name and wraps the result. The functions below are the exceptions, where
CuPy's behaviour is not NumPy's:
- transfers: only `array`, `asarray`, `asanyarray`, `asfarray` and the `from*`/`load*` readers
  accept host data (each call a counted host-to-device copy); `ascontiguousarray` and
  `asfortranarray` take device arrays only (a Cython-typed parameter in CuPy); `asnumpy` reads
  back (a sync);
- indices: `take`, `put`, `take_along_axis` wrap out-of-range indices as CuPy does;
- CuPy's limits: `sort` / `argsort` are stable only, `pad` lacks mode 'median'; `argmax` and
  friends take CuPy's `dtype=` (before `out`);
- syncs: `nonzero`, `argwhere`, `flatnonzero`, `unique`, `compress`, `extract`, `bincount`
  and one-argument `where` read a count back to the host;
- 0-d results: `count_nonzero`, `allclose`, `array_equal`, `array_equiv` return 0-d arrays
  where NumPy returns Python scalars;
- `empty` / `empty_like` return garbage (`_memory.garbage_fill`);
- names CuPy keeps that NumPy 2 removed (`round_`, `product`, `in1d`, `trapz`, ...) call
  NumPy's current spelling.
"""
import numpy as np

from . import _array, _methods
from ._array import check_dtype, ndarray, operand, wrap
from ._convert import result_of, unwrap, unwrap_function_call
from ._counters import COUNTERS
from ._memory import MemoryPool, PinnedMemoryPool, garbage_fill
from ._methods import CUSTOM as CUSTOM_METHODS

_SCALAR_HOST_PARAMETERS = {"copyto": {"src"}, "full": {"fill_value"}, "full_like": {"fill_value"}}
_SYNCING = frozenset({"argwhere", "flatnonzero", "unique", "extract", "bincount"})
_RETURNS_ARRAY = frozenset({"count_nonzero", "allclose", "array_equal", "array_equiv"})
# CuPy names whose NumPy spelling changed in NumPy 2.
ALIASES = {
    "alltrue": np.all, "sometrue": np.any, "cumproduct": np.cumprod, "product": np.prod,
    "round_": np.round, "trapz": np.trapezoid,
    "in1d": lambda ar1, ar2, assume_unique=False, invert=False, kind=None: np.isin(
        np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert, kind=kind),
    "msort": lambda a: np.sort(a, axis=0),
}


def generic_function(name, spec, np_func, renames, bind_from):
    """cupy.`name` computed by `np_func` after CuPy's argument checks.

    `renames` / `bind_from` (from `_signatures.numpy_translation`) map CuPy's parameter names
    and order onto NumPy's."""
    scalar_host = _SCALAR_HOST_PARAMETERS.get(name, ())
    syncs = name in _SYNCING
    returns_array = name in _RETURNS_ARRAY

    def function(*args, **kwargs):
        COUNTERS.calls += 1
        spec.check(args, kwargs)
        args, kwargs, pairs = unwrap_function_call(spec, args, kwargs, (), scalar_host)
        if bind_from is not None and len(args) > bind_from:
            kwargs = dict(kwargs, **dict(zip(spec.names[bind_from:], args[bind_from:])))
            args = args[:bind_from]
        if renames and kwargs:
            kwargs = {renames.get(k, k): v for k, v in kwargs.items()}
        if syncs:
            COUNTERS.device_to_host += 1
        value = np_func(*args, **kwargs)
        if returns_array and not isinstance(value, np.ndarray):
            value = np.asarray(value)
        return result_of(value, None, pairs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"cupy.{name}, computed by NumPy (CuPy's signature: {spec.describe()})."
    return function


def checked_function(name, spec, implementation):
    """`implementation` of cupy.`name` behind CuPy's argument checks."""
    def function(*args, **kwargs):
        COUNTERS.calls += 1
        spec.check(args, kwargs)
        return implementation(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = implementation.__doc__
    return function


# ------------------------------------------------------------------ transfers
def _contains_device_array(value):
    if isinstance(value, ndarray):
        return True
    if type(value) in (list, tuple):
        return any(_contains_device_array(v) for v in value)
    return False


def _raw_nested(value):
    if isinstance(value, ndarray):
        return value._a
    if type(value) in (list, tuple):
        return [_raw_nested(v) for v in value]
    return value


def from_host(obj, dtype=None, order="K", ndmin=0):
    """A new device array holding a copy of host data `obj` (a counted host-to-device copy;
    a nested sequence of device arrays is assembled on the device, uncounted)."""
    if _contains_device_array(obj):
        obj = _raw_nested(obj)
    else:
        COUNTERS.host_to_device += 1
    if order not in ("C", "F"):
        order = "F" if isinstance(obj, np.ndarray) and obj.flags.fnc else "C"
    result = np.array(obj, dtype=dtype, order=order, ndmin=ndmin, copy=True)
    check_dtype(result.dtype)
    return wrap(result)


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """A device array from a device array (copied unless copy=False/None allows) or host data (copied)."""
    if subok:
        raise NotImplementedError
    order = "K" if order is None else order
    if isinstance(obj, ndarray):
        result = np.array(obj._a, dtype=None if dtype is None else check_dtype(dtype), copy=copy, order=order,
                          ndmin=ndmin)
        return obj if result is obj._a else wrap(result)
    return from_host(obj, dtype, order, ndmin)


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """`a` itself when it is a device array of the dtype, else a device array (host data copied)."""
    if isinstance(a, ndarray):
        result = np.asarray(a._a, dtype=None if dtype is None else check_dtype(dtype), order=order, copy=copy)
        return a if result is a._a else wrap(result)
    return from_host(a, dtype, order or "K")


def asfarray(a, dtype=np.float64):
    """asarray with a floating dtype."""
    if not np.issubdtype(dtype, np.inexact):
        dtype = np.float64
    return asarray(a, dtype=dtype)


def _typed_array_argument(a, name="a"):
    if not isinstance(a, ndarray):
        raise TypeError(f"Argument '{name}' has incorrect type (expected cupy._core.core._ndarray_base, "
                        f"got {type(a).__name__})")
    return a._a


def ascontiguousarray(a, dtype=None):
    """A C-contiguous device array (`a` itself when it already is one); device arrays only."""
    raw = _typed_array_argument(a)
    result = np.ascontiguousarray(raw, dtype=dtype)
    return a if result is raw else wrap(result)


def asfortranarray(a, dtype=None):
    """A Fortran-contiguous device array (`a` itself when it already is one); device arrays only."""
    raw = _typed_array_argument(a)
    result = np.asfortranarray(raw, dtype=dtype)
    return a if result is raw else wrap(result)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """A NumPy array of `a` (read back from the device: a sync); host values pass through."""
    if isinstance(a, ndarray):
        return CUSTOM_METHODS["get"](a, stream=stream, order=order, out=out, blocking=blocking)
    if out is None:
        return np.asarray(a, order=order)
    out[...] = a
    return out


def get_array_module(*args):
    """The stand-in module when an argument is a stand-in array, else numpy."""
    for arg in args:
        if isinstance(arg, ndarray):
            return _array._NAMESPACE["module"]
    return np


def copy(a, order="K"):
    """A copy of the device array `a` (host arrays are refused)."""
    return wrap(np.array(operand(a), order=order, copy=True))


def _host_reader(np_reader):
    def read(*args, **kwargs):
        return from_host(np_reader(*args, **kwargs))
    read.__doc__ = f"numpy.{np_reader.__name__}, then a copy to the device."
    return read


# ------------------------------------------------------------------ indices
def take(a, indices, axis=None, out=None):
    """a.take(indices, axis, out): indices out of range wrap around."""
    return CUSTOM_METHODS["take"](_as_device(a), indices, axis, out)


def put(a, ind, v, mode="wrap"):
    """a.put(ind, v, mode)."""
    return CUSTOM_METHODS["put"](_as_device(a), ind, v, mode)


def compress(condition, a, axis=None, out=None):
    """a.compress(condition, axis, out) (a sync)."""
    return CUSTOM_METHODS["compress"](_as_device(a), condition, axis, out)


def nonzero(a):
    """a.nonzero() (a sync)."""
    return CUSTOM_METHODS["nonzero"](_as_device(a))


def _as_device(a):
    operand(a)  # host arrays raise CuPy's TypeError
    return a


def _arg_reduction(method_name):
    def function(a, axis=None, dtype=None, out=None, keepdims=False):
        return CUSTOM_METHODS[method_name](_as_device(a), axis, out, dtype, keepdims)
    function.__doc__ = f"a.{method_name}(axis, out, dtype, keepdims) (CuPy's order: dtype before out)."
    return function


def _nan_arg_reduction(np_func):
    def function(a, axis=None, dtype=None, out=None, keepdims=False):
        return _methods.arg_reduction(np_func)(_as_device(a), axis, out, dtype, keepdims)
    function.__doc__ = f"numpy.{np_func.__name__} with CuPy's dtype= and argument order."
    return function


def sort(a, axis=-1, kind=None):
    """A sorted copy (stable; CuPy accepts no other kind); axis=None sorts the flattened array."""
    raw = operand(a)
    if axis is None:
        raw, axis = raw.ravel(), -1
    copied = wrap(raw.copy())
    CUSTOM_METHODS["sort"](copied, axis, kind)
    return copied


def argsort(a, axis=-1, kind=None):
    """Indices that sort `a` (stable)."""
    raw = operand(a)
    if axis is None:
        return CUSTOM_METHODS["argsort"](wrap(raw.ravel()), -1, kind)
    return CUSTOM_METHODS["argsort"](a, axis, kind)


_PAD_KEYWORDS = {"empty": (), "edge": (), "wrap": (), "constant": ("constant_values",), "linear_ramp": ("end_values",),
                 "maximum": ("stat_length",), "mean": ("stat_length",), "minimum": ("stat_length",),
                 "reflect": ("reflect_type",), "symmetric": ("reflect_type",)}


def pad(array, pad_width, mode="constant", **kwargs):
    """numpy.pad for the modes CuPy implements (no 'median'), with their keywords only."""
    raw = operand(array)
    if not callable(mode):
        if mode not in _PAD_KEYWORDS:
            raise ValueError(f"mode '{mode}' is not supported")
        unsupported = set(kwargs) - set(_PAD_KEYWORDS[mode])
        if unsupported:
            raise ValueError(f"unsupported keyword arguments for mode '{mode}': {unsupported}")
    kwargs = {k: operand(v) if isinstance(v, ndarray) else v for k, v in kwargs.items()}
    return wrap(np.pad(raw, pad_width, mode=mode, **kwargs))


def take_along_axis(a, indices, axis):
    """Values at `indices` along `axis`; indices out of range wrap around (CuPy indexes with them)."""
    raw = unwrap(indices, [], host_ok=True)
    if raw.dtype.kind not in "iu":
        raise IndexError("`indices` must be an integer array")
    arr = operand(a)
    if axis is None:
        arr, axis = arr.ravel(), 0
    axis = np.lib.array_utils.normalize_axis_index(axis, arr.ndim)
    if arr.ndim != raw.ndim:
        raise ValueError("`indices` and `a` must have the same number of dimensions")
    if arr.shape[axis]:
        raw = np.remainder(raw, arr.shape[axis])
    return wrap(np.take_along_axis(arr, raw, axis))


def where(condition, x=None, y=None):
    """Elements of x where condition, else of y; with condition alone, its nonzero indices (a sync)."""
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("Must provide both 'x' and 'y' or neither.")
    return wrap(np.where(operand(condition), operand(x), operand(y)))


# ------------------------------------------------------------------ uninitialized memory
def empty(shape, dtype=float, order="C"):
    """An uninitialized array (holding garbage, as pool memory does)."""
    return wrap(garbage_fill(np.empty(shape, dtype=check_dtype(dtype), order=order)))


def empty_like(prototype, dtype=None, order="K", subok=None, shape=None):
    """An uninitialized array like `prototype` (holding garbage)."""
    if subok is not None:
        raise TypeError("subok is not supported yet")
    raw = operand(prototype)
    result = np.empty_like(raw, dtype=None if dtype is None else check_dtype(dtype), order=order, shape=shape)
    return wrap(garbage_fill(result))


# ------------------------------------------------------------------ runtime
_MEMORY_POOL = MemoryPool()
_PINNED_MEMORY_POOL = PinnedMemoryPool()


def get_default_memory_pool():
    """The (emulated) device memory pool."""
    return _MEMORY_POOL


def get_default_pinned_memory_pool():
    """The (emulated) pinned host memory pool."""
    return _PINNED_MEMORY_POOL


def is_available():
    """True: the stand-in always has its one emulated device."""
    return True


def show_config(*, _full=False):
    """Print what this module is."""
    print("CuPy stand-in (tests/cupy_standin): NumPy underneath, one emulated CUDA device")


def size(a, axis=None):
    """Number of elements (along `axis`)."""
    return np.size(a._a if isinstance(a, ndarray) else a, axis)


def min_scalar_type(a):
    """numpy.min_scalar_type; a device array gives its dtype."""
    return a.dtype if isinstance(a, ndarray) else np.min_scalar_type(a)


CUSTOM = {
    "array": array, "asarray": asarray, "asanyarray": asarray, "asfarray": asfarray,
    "ascontiguousarray": ascontiguousarray, "asfortranarray": asfortranarray, "asnumpy": asnumpy,
    "get_array_module": get_array_module, "copy": copy,
    "take": take, "put": put, "compress": compress, "nonzero": nonzero, "take_along_axis": take_along_axis,
    "where": where, "empty": empty, "empty_like": empty_like, "sort": sort, "argsort": argsort, "pad": pad,
    "argmax": _arg_reduction("argmax"), "argmin": _arg_reduction("argmin"),
    "nanargmax": _nan_arg_reduction(np.nanargmax), "nanargmin": _nan_arg_reduction(np.nanargmin),
    "get_default_memory_pool": get_default_memory_pool,
    "get_default_pinned_memory_pool": get_default_pinned_memory_pool,
    "is_available": is_available, "show_config": show_config, "size": size, "min_scalar_type": min_scalar_type,
    **{name: _host_reader(getattr(np, name)) for name in
       ("frombuffer", "fromfile", "fromfunction", "fromiter", "fromstring", "loadtxt", "genfromtxt")},
}
