"""CuPy's ufuncs (`cupy.add`, `cupy.exp`, ...) and `cupy.matmul`, computed by NumPy's.

CuPy's ufunc (`cupy/_core/_kernel.pyx`) differs from NumPy's:
- keywords are only `out`, `dtype`, `casting` and `_where` (note the underscore: `where=` is
  "Wrong arguments"); inputs must be arrays or Python/NumPy scalars (host arrays, lists and
  0-d NumPy arrays raise "Unsupported type ...");
- `reduce` / `accumulate` work for `add` and `multiply` only, `reduceat` for `add`;
  `at` exists for the ufuncs with a scatter kernel (`add`, `subtract`, `maximum`, `minimum`,
  bitwise and/or/xor), each for a few dtypes; every other combination raises
  NotImplementedError as in CuPy;
- the name is CuPy's (`cupy_add`), and results are always arrays (0-d for scalar inputs).
"""
import numpy as np

from ._array import ndarray, operand, wrap, wrap_result
from ._convert import unwrap
from ._counters import COUNTERS
from ._indexing import scatter

# CuPy's scatter ops, the NumPy ufunc doing the same, and the dtypes CuPy's kernels accept.
_INT_DTYPES = (np.int32, np.int64, np.uint32, np.uint64)
_SCATTER = {
    "add": (np.add, _INT_DTYPES + (np.float16, np.float32, np.float64),
            "int32, int64, float16, float32, float64, uint32, uint64"),
    "sub": (np.subtract, (np.int32, np.uint32), "int32, uint32,"),
    "max": (np.maximum, _INT_DTYPES + (np.float32, np.float64), "int32, int64, float32, float64, uint32, uint64"),
    "min": (np.minimum, _INT_DTYPES + (np.float32, np.float64), "int32, int64, float32, float64, uint32, uint64"),
    "and": (np.bitwise_and, _INT_DTYPES, "int32, int64, uint32, uint64"),
    "or": (np.bitwise_or, _INT_DTYPES, "int32, int64, uint32, uint64"),
    "xor": (np.bitwise_xor, _INT_DTYPES, "int32, int64, uint32, uint64"),
}


def _describe_kwargs(kwargs):
    return "{" + ", ".join(f"{k!r}: {type(v).__name__}" for k, v in kwargs.items()) + "}"


def _out_operand(out):
    if isinstance(out, ndarray):
        return out._a
    raise TypeError(f"Unsupported type {type(out)}")


class ufunc:
    """A CuPy ufunc computed by the NumPy function `np_func` (usually the NumPy ufunc of the same name)."""

    def __init__(self, real, np_func):
        self.name = self.__name__ = real.name
        self.nin, self.nout, self.nargs = real.nin, real.nout, real.nargs
        self.__doc__ = real.__doc__
        self._real = real
        self._np = np_func
        self._np_is_ufunc = isinstance(np_func, np.ufunc)
        self._scatter_op = real._scatter_op

    def __repr__(self):
        return f"<ufunc '{self.name}'>"

    @property
    def types(self):
        """CuPy's type signatures of the ufunc's loops."""
        return self._real.types

    def __call__(self, *args, **kwargs):
        COUNTERS.calls += 1
        if not kwargs and len(args) == self.nin and self._np_is_ufunc:
            if self.nin == 2:
                result = self._np(operand(args[0]), operand(args[1]))
            else:
                result = self._np(operand(args[0]))
            return wrap(result) if self.nout == 1 else wrap_result(result)
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        kwargs = dict(kwargs)
        out = kwargs.pop("out", None)
        where = kwargs.pop("_where", None)
        dtype = kwargs.pop("dtype", None)
        casting = kwargs.pop("casting", None)
        if kwargs:
            raise TypeError(f"Wrong arguments {_describe_kwargs(kwargs)} (cupy ufunc {self.name!r} "
                            "takes only out=, dtype=, casting= and _where=)")
        n = len(args)
        if not self.nin <= n <= self.nargs:
            raise TypeError(f"Wrong number of arguments for {self.name!r}. It must be either {self.nin} "
                            f"or {self.nargs} (with outputs), but given {n}.")
        inputs = [operand(x) for x in args[:self.nin]]
        outs = list(args[self.nin:])
        if out is not None:
            if outs:
                raise ValueError("Cannot specify 'out' as both a positional and keyword argument")
            if isinstance(out, tuple):
                if len(out) != self.nout:
                    raise ValueError("The 'out' tuple must have exactly one entry per ufunc output")
                outs = list(out)
            else:
                if self.nout != 1:
                    raise ValueError("'out' must be a tuple of arrays")
                outs = [out]
        outs += [None] * (self.nout - len(outs))
        np_kwargs = {}
        if dtype is not None:
            np_kwargs["dtype"] = np.dtype(dtype)
        if casting is not None:
            np_kwargs["casting"] = casting
        if where is not None:
            if isinstance(where, ndarray):
                if where.dtype != np.bool_:
                    raise TypeError(f"Cannot cast array data from {where.dtype!r} to {np.dtype(bool)!r} "
                                    "according to the rule 'safe'")
                np_kwargs["where"] = where._a
            else:
                np_kwargs["where"] = bool(operand(where))
        raw_outs = tuple(None if o is None else _out_operand(o) for o in outs)
        if self._np_is_ufunc:
            if any(o is not None for o in raw_outs) or "where" in np_kwargs:
                np_kwargs["out"] = raw_outs if any(o is not None for o in raw_outs) else None
            result = self._np(*inputs, **np_kwargs)
        else:
            result = self._np(*inputs)
            if dtype is not None:
                result = np.asarray(result).astype(dtype)
            if raw_outs[0] is not None:
                raw_outs[0][...] = result
        results = result if self.nout > 1 else (result,)
        final = tuple(o if o is not None else wrap(r) for o, r in zip(outs, results))
        return final if self.nout > 1 else final[0]

    # ------------------------------------------------------------ ufunc methods
    def outer(self, A, B, **kwargs):
        """Apply the ufunc to all pairs (a, b); host A or B are copied to the device, as CuPy does."""
        COUNTERS.calls += 1
        A, B = (x if isinstance(x, ndarray) else _to_device(x) for x in (A, B))
        a = A._a.reshape(A.shape + (1,) * B.ndim)
        b = B._a.reshape((1,) * A.ndim + B.shape)
        return self(wrap(a), wrap(b), **kwargs)

    def at(self, a, indices, b=None):
        """In place: a[indices] <op>= b for the ufuncs CuPy has a scatter kernel for."""
        COUNTERS.calls += 1
        if self._scatter_op is None:
            raise NotImplementedError(f"`{self.name}.at` is not supported yet")
        if not isinstance(a, ndarray):
            raise AttributeError(f"'{type(a).__name__}' object has no attribute '_scatter_op'")  # noqa: TRY004 (CuPy's error)
        np_ufunc, dtypes, names = _SCATTER[self._scatter_op]
        if not issubclass(a.dtype.type, dtypes) and _has_array_index(indices):
            raise TypeError(f"cupy.{np_ufunc.__name__}.at only supports {names} as data type")
        scatter(a, indices, b, np_ufunc)

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        """Reduce with the ufunc: add (a sum) and multiply (a product) only, as in CuPy."""
        COUNTERS.calls += 1
        np_func = {"cupy_add": np.sum, "cupy_multiply": np.prod}.get(self.name)
        if np_func is None:
            raise NotImplementedError(f"`{self.name}.reduce` is not supported yet")
        result = np_func(operand(array), axis=axis, dtype=dtype, out=None if out is None else _out_operand(out),
                         keepdims=keepdims)
        return out if out is not None else wrap(result)

    def accumulate(self, array, axis=0, dtype=None, out=None):
        """Accumulate with the ufunc: add (cumsum) and multiply (cumprod) only, as in CuPy."""
        COUNTERS.calls += 1
        np_func = {"cupy_add": np.cumsum, "cupy_multiply": np.cumprod}.get(self.name)
        if np_func is None:
            raise NotImplementedError(f"`{self.name}.accumulate` is not supported yet")
        result = np_func(operand(array), axis=axis, dtype=dtype, out=None if out is None else _out_operand(out))
        return out if out is not None else wrap(result)

    def reduceat(self, array, indices, axis=0, dtype=None, out=None):
        """Sums over index ranges (add only, as in CuPy)."""
        COUNTERS.calls += 1
        if self.name != "cupy_add":
            raise NotImplementedError(f"`{self.name}.reduceat` is not supported yet")
        raw_indices = unwrap(indices, [], host_ok=True)
        result = np.add.reduceat(operand(array), raw_indices, axis=axis, dtype=dtype,
                                 out=None if out is None else _out_operand(out))
        return out if out is not None else wrap(result)


def _has_array_index(indices):
    items = indices if type(indices) is tuple else (indices,)
    return any(not (s is None or s is Ellipsis or isinstance(s, slice) or
                    (np.isscalar(s) and not isinstance(s, (bool, np.bool_)))) for s in items)


def _to_device(value):
    """Host data copied to the device (counted), as cupy.array does."""
    COUNTERS.host_to_device += 1
    return wrap(np.array(value))


class gufunc:
    """CuPy's generalized ufunc (`cupy.matmul`), computed by the NumPy gufunc `np_func`; its
    keywords are checked against CuPy's `__call__` signature by `spec`."""

    def __init__(self, real, np_func, spec):
        self.__name__ = getattr(real, "__name__", np_func.__name__)
        self.__doc__ = real.__doc__
        self._np = np_func
        self._spec = spec

    def __repr__(self):
        return f"<gufunc 'cupy.{self._np.__name__}'>"

    def __call__(self, *args, **kwargs):
        COUNTERS.calls += 1
        self._spec.check(args, kwargs)
        out = kwargs.pop("out", None)
        inputs = [operand(x) for x in args]
        if out is None:
            return wrap(self._np(*inputs, **kwargs))
        if isinstance(out, tuple):
            if not all(o is None or isinstance(o, ndarray) for o in out):
                raise TypeError("`out` tuple must contain `cupy.ndarray` or None")
            self._np(*inputs, out=tuple(None if o is None else o._a for o in out), **kwargs)
            return out[0] if len(out) == 1 else out
        if not isinstance(out, ndarray):
            raise TypeError("`out` must be a tuple or `cupy.ndarray`")
        self._np(*inputs, out=out._a, **kwargs)
        return out
