"""The stand-in's `ndarray`: a NumPy array behind CuPy's strictness.

An `ndarray` holds a NumPy array in `_a` and behaves as a `cupy.ndarray` does (CuPy v14,
`cupy/_core/core.pyx`):
- `__array__` refuses implicit conversion, so `numpy.asarray(a)` raises CuPy's TypeError;
- operators accept stand-in arrays, Python scalars and NumPy scalars, and raise CuPy's
  "Unsupported type <class 'numpy.ndarray'>" for host arrays (also through `__array_ufunc__`,
  which NumPy calls for `numpy_array + a`); objects that opt out of NumPy's ufuncs
  (`__array_ufunc__ = None`) get NotImplemented so their reflected operator runs;
- results are arrays: a reduction or full integer indexing gives a 0-d array, never a NumPy
  scalar; converting to a Python number, printing or `.get()` is a device-to-host sync;
- `__array_function__` / `__array_ufunc__` dispatch NumPy's functions to the stand-in's function
  of the same name, as CuPy dispatches to its own.

Named methods (`sum`, `astype`, `get`, ...) are added by `_methods.install`, indexing lives in
`_indexing`.
"""
import warnings
from types import GenericAlias

import numpy as np

from ._counters import COUNTERS
from ._memory import garbage_fill
from ._unemulated import not_emulated, unemulated_property

_new = object.__new__
_PY_SCALARS = frozenset({int, float, bool, complex})
# NumPy scalar types of the dtypes CuPy supports (CuPy's `_scalar.scalar_type_set`).
NUMPY_SCALARS = frozenset(np.dtype(c).type for c in "?bBhHiIlLqQefdFD")
SCALAR_TYPES = _PY_SCALARS | NUMPY_SCALARS
SUPPORTED_KINDS = frozenset("biufc")
_IMPLICIT_CONVERSION = ("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")
_NAMESPACE = {}  # "module": the stand-in module, set by the package when it builds it


def bind_namespace(module):
    """Let `__array_function__` / `__array_ufunc__` find functions in the stand-in `module`."""
    _NAMESPACE["module"] = module


def check_dtype(dtype):
    """Raise CuPy's error for a dtype CuPy cannot hold (object, strings, datetimes, long double)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in SUPPORTED_KINDS or dtype.itemsize > 16 or (dtype.kind == "f" and dtype.itemsize > 8):
        raise ValueError(f"Unsupported dtype {dtype}")
    return dtype


def operand(x):
    """The NumPy value to compute with for a kernel argument `x` (array or scalar), or CuPy's
    TypeError for anything else (host arrays, lists, None, ...)."""
    t = type(x)
    if t is ndarray:
        return x._a
    if t in SCALAR_TYPES:
        return x
    if isinstance(x, ndarray):
        return x._a
    raise TypeError(f"Unsupported type {t}")


def wrap(value):
    """A stand-in array around the NumPy array `value`; a NumPy scalar becomes a 0-d array."""
    obj = _new(ndarray)
    obj._a = value if type(value) is np.ndarray else np.asarray(value)
    return obj


def wrap_result(value):
    """`value` with every NumPy array or scalar in it (also in a tuple or list) made a stand-in array."""
    t = type(value)
    if t is np.ndarray:
        obj = _new(ndarray)
        obj._a = value
        return obj
    if isinstance(value, (np.generic, np.ndarray)):
        return wrap(np.asarray(value))
    if t is tuple or t is list:
        return t(wrap_result(v) for v in value)
    return value


_MISSING = object()


def _binary_slow(np_func, x, y, self_first, result=wrap):
    """`x <op> y` where the non-stand-in operand is not a plain scalar (CuPy's `_should_use_rop`)."""
    other = y if self_first else x
    if isinstance(other, ndarray):
        return result(np_func(operand(x), operand(y)))
    if isinstance(other, np.generic):
        if other.dtype.kind not in SUPPORTED_KINDS:
            raise TypeError(f"Unsupported type {type(other)}")
        return result(np_func(operand(x) if self_first else x, y if self_first else operand(y)))
    ufunc_attr = getattr(type(other), "__array_ufunc__", _MISSING)
    if ufunc_attr is None:
        return NotImplemented  # the other type opted out of NumPy's ufuncs: its reflected operator runs
    if ufunc_attr is _MISSING and getattr(other, "__array_priority__", 0) > ndarray.__array_priority__:
        return NotImplemented
    raise TypeError(f"Unsupported type {type(other)}")


def _binary(np_func, name, result=wrap):
    """The operator `name`, its reflected twin and its in-place form, computing with the NumPy
    ufunc `np_func`; `result` makes the stand-in result from NumPy's."""
    def op(self, other):
        COUNTERS.calls += 1
        t = type(other)
        if t is ndarray:
            return result(np_func(self._a, other._a))
        if t in SCALAR_TYPES:
            return result(np_func(self._a, other))
        return _binary_slow(np_func, self, other, True, result)

    def rop(self, other):
        COUNTERS.calls += 1
        t = type(other)
        if t in SCALAR_TYPES:
            return result(np_func(other, self._a))
        if t is ndarray:
            return result(np_func(other._a, self._a))
        return _binary_slow(np_func, other, self, False, result)

    def iop(self, other):
        COUNTERS.calls += 1
        np_func(self._a, operand(other), out=self._a)
        return self

    op.__name__, rop.__name__, iop.__name__ = f"__{name}__", f"__r{name}__", f"__i{name}__"
    return op, rop, iop


def _comparison(np_func, name, unrelated):
    """A rich comparison; `unrelated` (0 or 1) fills the result against objects that are
    neither scalars nor arrays (CuPy compares `a == None` to all-False without an error)."""
    compare = _binary(np_func, name)[0]

    def cmp(self, other):
        t = type(other)
        if t is not ndarray and t not in SCALAR_TYPES:
            if unrelated is not None and (other is None or type(other).__eq__ is object.__eq__):
                COUNTERS.calls += 1
                return wrap(np.full(self._a.shape, bool(unrelated)))
            if isinstance(other, np.ndarray) and other.ndim == 0:
                other = other.item()  # CuPy's workaround for comparisons with 0-d NumPy arrays
        return compare(self, other)
    cmp.__name__ = f"__{name}__"
    return cmp


def _unary(np_func, name):
    def op(self):
        COUNTERS.calls += 1
        return wrap(np_func(self._a))
    op.__name__ = f"__{name}__"
    return op


def _to_host_scalar(convert, name):
    """float(a), int(a), complex(a): a device-to-host sync, NumPy's rules for the conversion."""
    def method(self):
        COUNTERS.calls += 1
        COUNTERS.device_to_host += 1
        return convert(self._a)
    method.__name__ = f"__{name}__"
    return method


def _printed(convert, name):
    def method(self, *args):
        COUNTERS.calls += 1
        COUNTERS.device_to_host += 1
        return convert(self._a, *args)
    method.__name__ = f"__{name}__"
    return method


def _rebuild(host_array):
    """Unpickle a stand-in array (pickling reads it to the host, as CuPy's __reduce__ does)."""
    return _NAMESPACE["module"].array(host_array)


class ndarray:
    """ndarray(shape, dtype=float, memptr=None, strides=None, order='C')

    A stand-in for cupy.ndarray: the values live in a NumPy array, everything else follows CuPy.
    """

    __slots__ = ("__weakref__", "_a")
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise not_emulated("cupy.ndarray(memptr=..., strides=...)")
        self._a = garbage_fill(np.empty(shape, dtype=check_dtype(dtype), order=order))

    # ------------------------------------------------------------ NumPy interoperability
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT_CONVERSION)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inout = inputs
        if "out" in kwargs:
            out = kwargs["out"]
            if len(out) != 1:
                raise ValueError("The 'out' parameter must have exactly one array value")
            inout += out
            kwargs["out"] = out[0]
        if method not in ("__call__", "outer", "at", "reduce", "accumulate", "reduceat"):
            return NotImplemented
        func = getattr(_NAMESPACE["module"], ufunc.__name__, None)
        if func is None:
            return NotImplemented
        if method != "__call__":
            func = getattr(func, method, None)
            if func is None:
                return NotImplemented
        for x in inout:
            if type(x) not in SCALAR_TYPES and not isinstance(x, (ndarray, np.ndarray)):
                return NotImplemented
        if ufunc.__name__ in ("greater", "greater_equal", "less", "less_equal", "equal", "not_equal"):
            inputs = tuple(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x for x in inputs)
        return func(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        module = _NAMESPACE["module"]
        try:
            for part in func.__module__.split(".")[1:]:
                module = getattr(module, part)
            standin_func = getattr(module, func.__name__)
        except AttributeError:
            return NotImplemented
        if standin_func is func:
            return NotImplemented
        for t in types:
            if not issubclass(t, (ndarray, np.ndarray)):
                return NotImplemented
        return standin_func(*args, **kwargs)

    @classmethod
    def __class_getitem__(cls, item):
        first, second = item
        return GenericAlias(cls, (first, second))

    def __array_finalize__(self, obj):
        """Present because CuPy's ndarray has it (for subclasses); does nothing."""

    __cuda_array_interface__ = unemulated_property("cupy.ndarray.__cuda_array_interface__")
    cstruct = unemulated_property("cupy.ndarray.cstruct")
    flat = unemulated_property("cupy.ndarray.flat")

    def __dlpack__(self, *args, **kwargs):
        raise not_emulated("cupy.ndarray.__dlpack__")

    def __dlpack_device__(self):
        raise not_emulated("cupy.ndarray.__dlpack_device__")

    # ------------------------------------------------------------ conversion (syncs)
    __int__ = _to_host_scalar(int, "int")
    __float__ = _to_host_scalar(float, "float")
    __complex__ = _to_host_scalar(complex, "complex")
    __oct__ = _to_host_scalar(lambda a: oct(int(a)), "oct")
    __hex__ = _to_host_scalar(lambda a: hex(int(a)), "hex")
    __bytes__ = _to_host_scalar(bytes, "bytes")
    __repr__ = _printed(repr, "repr")
    __str__ = _printed(str, "str")
    __format__ = _printed(format, "format")

    def __bool__(self):
        COUNTERS.calls += 1
        size = self._a.size
        if size == 0:
            warnings.warn("The truth value of an empty array is ambiguous. Returning False, but in "
                          "future this will result in an error. Use `array.size > 0` to check that an "
                          "array is not empty.", DeprecationWarning, stacklevel=2)
            return False
        if size == 1:
            COUNTERS.device_to_host += 1
            return bool(self._a.reshape(()))
        raise ValueError("The truth value of an array with more than one element is ambiguous. "
                         "Use a.any() or a.all()")

    # ------------------------------------------------------------ container protocol
    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return self._a.shape[0]

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    def __getitem__(self, slices):
        return getitem(self, slices)

    def __setitem__(self, slices, value):
        setitem(self, slices, value)

    def __delitem__(self, slices):
        raise NotImplementedError("Subscript deletion not supported by cupy.ndarray")

    # ------------------------------------------------------------ copies and pickling
    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return _rebuild, (self.get(order="A"),)

    # ------------------------------------------------------------ arithmetic
    __add__, __radd__, __iadd__ = _binary(np.add, "add")
    __sub__, __rsub__, __isub__ = _binary(np.subtract, "sub")
    __mul__, __rmul__, __imul__ = _binary(np.multiply, "mul")
    __truediv__, __rtruediv__, __itruediv__ = _binary(np.true_divide, "truediv")
    __div__, __idiv__ = _binary(np.true_divide, "div")[::2]  # CuPy keeps Python 2's names, without __rdiv__
    __floordiv__, __rfloordiv__, __ifloordiv__ = _binary(np.floor_divide, "floordiv")
    __mod__, __rmod__, __imod__ = _binary(np.remainder, "mod")
    __lshift__, __rlshift__, __ilshift__ = _binary(np.left_shift, "lshift")
    __rshift__, __rrshift__, __irshift__ = _binary(np.right_shift, "rshift")
    __and__, __rand__, __iand__ = _binary(np.bitwise_and, "and")
    __or__, __ror__, __ior__ = _binary(np.bitwise_or, "or")
    __xor__, __rxor__, __ixor__ = _binary(np.bitwise_xor, "xor")
    __matmul__, __rmatmul__ = _binary(np.matmul, "matmul")[:2]  # no __imatmul__ in CuPy
    __pow__, __rpow__, __ipow__ = _binary(np.power, "pow")
    __divmod__, __rdivmod__ = _binary(np.divmod, "divmod", result=wrap_result)[:2]

    __neg__ = _unary(np.negative, "neg")
    __abs__ = _unary(np.absolute, "abs")
    __invert__ = _unary(np.invert, "invert")

    def __pos__(self):
        COUNTERS.calls += 1
        if self._a.dtype == np.bool_:
            warnings.warn("Applying '+' to a non-numerical array is ill-defined. Returning a copy, "
                          "but in the future this will error.", DeprecationWarning, stacklevel=2)
            return wrap(self._a.copy())
        return wrap(np.positive(self._a))

    __lt__ = _comparison(np.less, "lt", None)
    __le__ = _comparison(np.less_equal, "le", None)
    __gt__ = _comparison(np.greater, "gt", None)
    __ge__ = _comparison(np.greater_equal, "ge", None)
    __eq__ = _comparison(np.equal, "eq", 0)
    __ne__ = _comparison(np.not_equal, "ne", 1)

    # ------------------------------------------------------------ attributes
    @property
    def shape(self):
        """Lengths of axes (settable when a view can take the new shape, as in CuPy)."""
        return self._a.shape

    @shape.setter
    def shape(self, new_shape):
        view = self._a.view()
        view.shape = new_shape  # NumPy refuses (AttributeError) where CuPy does: no view possible
        self._a = view

    dtype = property(lambda self: self._a.dtype, doc="Element type.")
    ndim = property(lambda self: self._a.ndim, doc="Number of dimensions.")
    size = property(lambda self: self._a.size, doc="Number of elements.")
    itemsize = property(lambda self: self._a.itemsize, doc="Size of each element in bytes.")
    nbytes = property(lambda self: self._a.nbytes, doc="Total size of all elements in bytes.")
    strides = property(lambda self: self._a.strides, doc="Strides of axes in bytes.")
    T = property(lambda self: wrap(self._a.T), doc="Shape-reversed view of the array.")
    mT = property(lambda self: wrap(self._a.mT), doc="Matrix-transpose view of the array.")

    @property
    def real(self):
        """The real part (a view for complex arrays, the array itself otherwise)."""
        return self if self._a.dtype.kind != "c" else wrap(self._a.real)

    @real.setter
    def real(self, value):
        self._a.real = operand(value)

    @property
    def imag(self):
        """The imaginary part (zeros for non-complex arrays)."""
        return wrap(self._a.imag) if self._a.dtype.kind == "c" else wrap(np.zeros_like(self._a))

    @imag.setter
    def imag(self, value):
        if self._a.dtype.kind != "c":
            raise TypeError("cupy.ndarray does not have imaginary part to set")
        self._a.imag = operand(value)

    @property
    def base(self):
        """The array this one views (a new stand-in around it), or None when it owns its data."""
        base = self._a.base
        while base is not None and not isinstance(base, np.ndarray):
            base = getattr(base, "base", None)
        return None if base is None else wrap(base)

    @property
    def flags(self):
        """Memory-layout flags: c_contiguous, f_contiguous, owndata (also as flags['C_CONTIGUOUS'])."""
        f = self._a.flags
        return Flags(f.c_contiguous, f.f_contiguous, self._a.base is None)

    @property
    def device(self):
        """The (emulated) CUDA device holding the array: always device 0."""
        return _DEVICE[0]

    @property
    def data(self):
        """A MemoryPointer-like object: `.ptr` (the address of the first element), `.device`."""
        return _MemoryPointer(self._a.__array_interface__["data"][0])


_FLAG_KEYS = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous", "OWNDATA": "owndata"}


class Flags:
    """CuPy's `flags` object: c_contiguous, f_contiguous, owndata, fnc, forc and item access."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, c_contiguous, f_contiguous, owndata):
        self.c_contiguous, self.f_contiguous, self.owndata = c_contiguous, f_contiguous, owndata

    @property
    def fnc(self):
        """F-contiguous and not C-contiguous."""
        return self.f_contiguous and not self.c_contiguous

    @property
    def forc(self):
        """F-contiguous or C-contiguous."""
        return self.f_contiguous or self.c_contiguous

    def __getitem__(self, name):
        try:
            return getattr(self, _FLAG_KEYS[name])
        except KeyError:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags") from None

    def __repr__(self):
        return "\n".join(f"  {key} : {getattr(self, attr)}" for key, attr in _FLAG_KEYS.items())


class _MemoryPointer:
    """What `a.data` gives: the address (`ptr`) and device of the array's first element."""

    __slots__ = ("ptr",)

    def __init__(self, ptr):
        self.ptr = ptr

    device = property(lambda self: _DEVICE[0])
    device_id = property(lambda self: 0)

    def __int__(self):
        return self.ptr


_DEVICE = []  # [the cuda.Device(0) object], filled by the package when it builds the module


def set_device_object(device):
    """Tell arrays which object to return from `.device`."""
    _DEVICE[:] = [device]


from ._indexing import getitem, setitem  # noqa: E402 (_indexing imports ndarray from this module)
