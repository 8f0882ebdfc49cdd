"""A strict CuPy stand-in for the test suite: CuPy's names, signatures and strictness, NumPy
underneath, one emulated CUDA device. It lets every `cuda:0` test case run in CI without a GPU.

    from cupy_standin import load, counters, counting, reset_counters
    standin = load()             # the module, or None when CuPy is not installed
    with backend.cupy_module_replaced(standin): ...

How the module is made (`build`): for every name in `dir(cupy)` of the installed CuPy,
- `ndarray`, `ufunc`: the stand-in types (`_array`, `_methods`, `_indexing`, `_ufunc`);
- each ufunc: a stand-in ufunc over NumPy's ufunc of the same name; `matmul`: a gufunc;
- each Python function: the NumPy function of the same name behind CuPy's signature and
  host-data rules, or one of `_functions.CUSTOM` where CuPy differs from NumPy (CuPy's
  compiled functions are placeholders unless `_functions.CUSTOM` emulates them);
- `random`, `cuda`, `lib.stride_tricks`, `linalg`: stand-in submodules;
- dtypes, scalar types, constants, exception classes and the functions CuPy re-exports from
  NumPy: the very same objects;
- everything else (ElementwiseKernel, RawKernel, fuse, fft, testing, private modules, ...):
  a placeholder that raises NotImplementedError naming it when called.
A name CuPy lacks (`errstate`, `seterr`) is missing, so using it raises AttributeError.

Counters (`_counters`): `counters` (the module's Counters: `calls`, `device_to_host`,
`host_to_device`), `reset_counters()`, `counting()` — kept here, not on the module, so the
module's names stay exactly CuPy's.
"""
import inspect
import types

import numpy as np

from . import _array, _counters, _cuda, _functions, _methods, _random
from ._array import ndarray
from ._signatures import CallSpec, numpy_translation, read_spec
from ._ufunc import gufunc, ufunc
from ._unemulated import Unemulated

__all__ = ["counters", "counting", "load", "reset_counters", "skip_reason"]

counters = _counters.COUNTERS
_MODULE_ATTRIBUTES = frozenset({"__builtins__", "__cached__", "__file__", "__loader__", "__path__", "__spec__",
                                "__package__", "__name__", "__doc__"})
_state = {}
_NOTHING = object()


def load():
    """The stand-in module (built on first use), or None when CuPy is not installed."""
    if "module" not in _state:
        try:
            import cupy  # noqa: PLC0415 (CuPy is optional: the stand-in is skipped without it)
        except Exception as exc:  # noqa: BLE001 (ImportError, or a CUDA library failing to load)
            _state["module"], _state["error"] = None, f"{type(exc).__name__}: {exc}"
        else:
            _state["module"], _state["error"] = build(cupy), None
    return _state["module"]


def skip_reason():
    """Why the stand-in is unavailable (None when it loads)."""
    load()
    if _state["error"] is None:
        return None
    return f"the CuPy stand-in reads CuPy's names and signatures, and CuPy is not installed ({_state['error']})"


def reset_counters():
    """Zero the stand-in's counters."""
    counters.reset()


def counting():
    """`with counting() as w:` — w.calls, w.device_to_host, w.host_to_device inside the block."""
    return _counters.counting(counters)


def _permissive_spec(qualname):
    """A spec accepting any arguments, for the few callables whose signature CuPy does not expose."""
    params = [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
              inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)]
    return CallSpec(qualname, params, "none available")


def _spec(obj, qualname, documented_key=None):
    return read_spec(obj, qualname, documented_key) or _permissive_spec(qualname)


def _is_passthrough(name, obj, numpy_namespace):
    """Objects that are data, not device work: CuPy's own objects serve as they are."""
    if obj is getattr(numpy_namespace, name, _NOTHING):
        return True
    if obj is None or isinstance(obj, (bool, int, float, complex, str)) or type(obj).__module__ == "__future__":
        return True
    return isinstance(obj, type) and (issubclass(obj, (np.generic, BaseException)) or obj is np.dtype)


def _namespace_function(name, real, numpy_namespace, prefix, custom=None):
    """The stand-in for the CuPy function `prefix`.`name`."""
    qualname = f"{prefix}.{name}"
    spec = _spec(real, name)
    if custom is not None and name in custom:
        return _functions.checked_function(name, spec, custom[name])
    np_func = _functions.ALIASES.get(name) if prefix == "cupy" else None
    if np_func is None:
        np_func = getattr(numpy_namespace, name, None)
    if not callable(np_func):
        return Unemulated(qualname, real)
    renames, bind_from = numpy_translation(spec, np_func)
    return _functions.generic_function(name, spec, np_func, renames, bind_from)


def _fill_namespace(module, real, numpy_namespace, prefix, submodules=None, custom=None):
    """Give `module` a stand-in for every name of the real CuPy (sub)module `real`."""
    submodules = submodules or {}
    ufunc_type = type(getattr(real, "add", None)) if prefix == "cupy" else None
    for name in dir(real):
        if name in _MODULE_ATTRIBUTES:
            continue
        obj = getattr(real, name)
        if name in submodules:
            value = submodules[name]
        elif ufunc_type is not None and type(obj) is ufunc_type:
            value = ufunc(obj, getattr(np, name, None) or getattr(np, name.rstrip("_")))
        elif _is_passthrough(name, obj, numpy_namespace):
            value = obj
        elif (custom and name in custom) or type(obj).__name__ == "function":
            value = _namespace_function(name, obj, numpy_namespace, prefix, custom)
        else:
            value = Unemulated(f"{prefix}.{name}", obj)
        setattr(module, name, value)
    return module


def build(cupy):
    """Build the stand-in module from the installed `cupy` module (once per process: it installs
    the ndarray methods on the shared stand-in class)."""
    module = types.ModuleType("cupy", __doc__)
    module.__file__ = __file__
    _methods.install(cupy.ndarray, lambda name: _spec(getattr(cupy.ndarray, name), name, f"ndarray.{name}"))
    cuda = _cuda.build_cuda_module(cupy.cuda)
    stride_tricks = _fill_namespace(types.ModuleType("cupy.lib.stride_tricks"), cupy.lib.stride_tricks,
                                    np.lib.stride_tricks, "cupy.lib.stride_tricks")
    lib = _fill_namespace(types.ModuleType("cupy.lib"), cupy.lib, np.lib, "cupy.lib",
                          submodules={"stride_tricks": stride_tricks})
    matmul = gufunc(cupy.matmul, np.matmul, _spec(cupy.matmul.__call__, "matmul"))
    linalg = _fill_namespace(types.ModuleType("cupy.linalg"), cupy.linalg, np.linalg, "cupy.linalg",
                             submodules={"matmul": matmul})
    submodules = {
        "ndarray": ndarray, "ufunc": ufunc, "cuda": cuda, "lib": lib, "linalg": linalg, "matmul": matmul,
        "random": _random.build_random_module(cupy.random, _cuda.getDevice),
        "exceptions": cupy.exceptions, "typing": cupy.typing,
    }
    _fill_namespace(module, cupy, np, "cupy", submodules=submodules, custom=_functions.CUSTOM)
    _array.bind_namespace(module)
    _array.set_device_object(cuda.Device(0))
    return module

