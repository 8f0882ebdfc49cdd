"""Arguments in, results out: how stand-in callables hand values to NumPy and back.

Stand-in arrays are unwrapped to their NumPy arrays; host arrays (NumPy arrays) are refused
with CuPy's "Unsupported type <class 'numpy.ndarray'>" unless the parameter is one through
which CuPy copies host data to the device (then the copy is counted); results are wrapped
back, and when NumPy returns one of the arrays it was given (an `out=` argument, or the input
itself from `asarray`, `astype(copy=False)`, `atleast_1d`) the stand-in object given is
returned, as CuPy returns the same object.
"""
import numpy as np

from ._array import ndarray, wrap_result
from ._counters import COUNTERS


def unwrap(value, pairs, host_ok=False):
    """The NumPy value to pass on for an argument: stand-in arrays unwrapped (and remembered in
    `pairs` so that an `out=` array can be returned as itself), host arrays refused unless
    `host_ok` (then counted as a copy), lists and tuples converted element by element."""
    t = type(value)
    if t is tuple or t is list:
        return t(unwrap(v, pairs, host_ok) for v in value)
    if t is np.ndarray:
        if not host_ok:
            raise TypeError(f"Unsupported type {t}")
        COUNTERS.host_to_device += 1
        return value
    if t is ndarray or isinstance(value, ndarray):
        pairs.append((value._a, value))
        return value._a
    return value


# Parameters that take a shape or axes: CuPy reads them as host sequences of ints, so a NumPy
# array there is a sequence, not host data.
SHAPE_PARAMETERS = frozenset({"shape", "newshape", "axes", "axis", "reps", "pad_width", "indices_or_sections",
                              "source", "destination", "dims", "kth"})


def _method_arg(value, name, pairs, host_parameters, data_parameters):
    if name in SHAPE_PARAMETERS:
        return _unwrap_host(value, pairs)
    t = type(value)
    if (t is list or t is tuple) and name in data_parameters:
        raise TypeError(f"Unsupported type {t}")
    return unwrap(value, pairs, name in host_parameters)


_PLAIN_TYPES = frozenset({int, float, bool, complex, str, type(None), type, np.dtype})


def _all_plain(args, kwargs):
    """True when no argument needs converting or checking (scalars, strings, dtypes)."""
    for v in args:
        if type(v) not in _PLAIN_TYPES:
            return False
    if kwargs:
        return _all_plain(kwargs.values(), None)
    return True


def unwrap_call(spec, args, kwargs, host_parameters=(), data_parameters=()):
    """Unwrap positional and keyword arguments for a method call checked against `spec`:
    host arrays only for `host_parameters` (counted), no lists or tuples for `data_parameters`
    (kernel operands in CuPy). Returns (args, kwargs, pairs)."""
    return _unwrap_each(spec, args, kwargs, _method_arg, host_parameters, data_parameters)


def _unwrap_each(spec, args, kwargs, convert, *rules):
    """Apply convert(value, parameter name, pairs, *rules) to every argument unless none needs it."""
    if _all_plain(args, kwargs):
        return args, kwargs, ()
    pairs = []
    names = spec.names
    n = len(names)
    if args:
        args = tuple(convert(v, names[i] if i < n else spec.var_positional, pairs, *rules)
                     for i, v in enumerate(args))
    if kwargs:
        kwargs = {k: convert(v, k, pairs, *rules) for k, v in kwargs.items()}
    return args, kwargs, pairs


def result_of(value, self, pairs):
    """The stand-in result for NumPy's `value`: `self` or an `out=` argument when NumPy returned
    its array (CuPy returns the same object), else a new stand-in array."""
    if value is getattr(self, "_a", None):
        return self
    for raw, obj in pairs:
        if value is raw:
            return obj
    return wrap_result(value)


def _unwrap_host(value, pairs):
    """Host data with any stand-in arrays inside it unwrapped (nothing counted)."""
    t = type(value)
    if t is tuple or t is list:
        return t(_unwrap_host(v, pairs) for v in value)
    if isinstance(value, ndarray):
        pairs.append((value._a, value))
        return value._a
    return value


# Parameters of namespace functions that take array data (also each argument of *args,
# *arys, *xi, *operands): CuPy refuses a list or tuple there (its functions call array
# methods or launch kernels on them), unlike NumPy.
DATA_PARAMETERS = frozenset({"a", "a1", "a2", "x", "x1", "x2", "y", "ary", "arr", "arr1", "arr2", "array",
                             "m", "M", "A", "condition", "ar", "ar1", "ar2", "b", "v", "prototype",
                             "element", "test_elements", "a_min", "a_max", "args", "arys", "xi", "operands"})
# Parameters taking a sequence of arrays: the sequence is fine, a list inside it is not.
SEQUENCE_PARAMETERS = frozenset({"tup", "arrays", "choicelist", "condlist"})


def _unwrap_function_arg(value, name, pairs, host_parameters, scalar_host_parameters):
    t = type(value)
    if t is ndarray:
        pairs.append((value._a, value))
        return value._a
    if name in SHAPE_PARAMETERS:
        return _unwrap_host(value, pairs)
    if name in host_parameters:
        if t is np.ndarray or t is list or t is tuple:
            COUNTERS.host_to_device += 1  # one copy of the whole host value
            return _unwrap_host(value, pairs)
        return unwrap(value, pairs)
    if t is np.ndarray and name in scalar_host_parameters:
        if value.size != 1:
            raise ValueError("non-scalar numpy.ndarray cannot be used for copyto")
        return value.reshape(())[()]
    if t is list or t is tuple:
        if name in DATA_PARAMETERS:
            raise TypeError(f"Unsupported type {t}")
        if name in SEQUENCE_PARAMETERS:
            for item in value:
                if type(item) is list or type(item) is tuple:
                    raise TypeError(f"Unsupported type {type(item)}")
    return unwrap(value, pairs)


def unwrap_function_call(spec, args, kwargs, host_parameters=(), scalar_host_parameters=()):
    """`unwrap_call` for namespace functions: also refuses lists and tuples where CuPy takes
    array data, accepts host data (counted) for `host_parameters`, and size-1 NumPy arrays
    (as scalars) for `scalar_host_parameters`. Returns (args, kwargs, pairs)."""
    return _unwrap_each(spec, args, kwargs, _unwrap_function_arg, host_parameters, scalar_host_parameters)
