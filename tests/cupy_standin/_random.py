"""`cupy.random`: CuPy's legacy RandomState API, drawing from a NumPy generator.

`RandomState` has exactly the public methods of `cupy.random.RandomState` (so no `random`,
`integers` or `get_state`, which NumPy has), each checked against CuPy's signature, with
CuPy's `dtype=` parameters and checks: `seed` takes an integer in [0, 2**64) (else CuPy's
TypeError / ValueError; a NumPy array seed is hashed, as CuPy does), float draws only in
float32 / float64, `randint` bounds, `shuffle` only of device arrays. Numbers come from
NumPy's PCG64 seeded with the same seed: deterministic per seed, not CuPy's (cuRAND's) values.
Module-level functions (`cupy.random.rand`, `seed`, ...) use one RandomState per device, as
CuPy's `get_random_state()` does.
"""
import hashlib
import inspect
import os
import types

import numpy as np

from ._array import ndarray, wrap
from ._convert import unwrap
from ._counters import COUNTERS
from ._signatures import read_spec
from ._unemulated import Unemulated, unemulated_method

_FLOAT_ONLY = "cupy.random only supports float32 and float64"


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.char not in ("f", "d"):
        raise TypeError(_FLOAT_ONLY)
    return dtype


def _host_parameter(value):
    """A distribution parameter: device arrays unwrapped, host arrays copied (CuPy calls asarray)."""
    return unwrap(value, [], host_ok=True)


def _size(size):
    return () if size is None else size


class RandomState:
    """cupy.random.RandomState(seed=None, method=None), drawing from NumPy's PCG64."""

    def __init__(self, seed=None, method=None):
        self.method = method
        self._generator = None
        self._seed(seed)

    def _seed(self, seed):
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        elif isinstance(seed, np.ndarray):
            seed = int(hashlib.md5(seed, usedforsecurity=False).hexdigest()[:16], 16)
        else:
            seed_array = np.asarray(seed)
            if seed_array.dtype.kind not in "biu":
                raise TypeError("Seed must be an integer.")
            seed = int(seed_array)
            if seed < 0 or seed >= 2**64:
                raise ValueError("Seed must be an integer between 0 and 2**64 - 1")
        self._generator = np.random.Generator(np.random.PCG64(seed))

    def seed(self, seed=None):
        """Reset the generator from `seed` (None: from os.urandom)."""
        self._seed(seed)

    def random_sample(self, size=None, dtype=float):
        """Uniform floats in [0, 1)."""
        return wrap(self._generator.random(_size(size), dtype=_float_dtype(dtype)))

    def rand(self, *size, **kwarg):
        """Uniform floats in [0, 1) of shape `size`."""
        dtype = kwarg.pop("dtype", float)
        if kwarg:
            raise TypeError(f"rand() got unexpected keyword arguments {', '.join(kwarg.keys())}")
        return self.random_sample(size=size, dtype=dtype)

    def randn(self, *size, **kwarg):
        """Standard normal floats of shape `size`."""
        dtype = kwarg.pop("dtype", float)
        if kwarg:
            raise TypeError(f"randn() got unexpected keyword arguments {', '.join(kwarg.keys())}")
        return self.normal(size=size, dtype=dtype)

    def standard_normal(self, size=None, dtype=float):
        """Standard normal floats."""
        return wrap(self._generator.standard_normal(_size(size), dtype=_float_dtype(dtype)))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        """Normal floats with mean `loc` and standard deviation `scale`."""
        dtype = _float_dtype(dtype)
        loc, scale = _host_parameter(loc), _host_parameter(scale)
        shape = np.broadcast_shapes(np.shape(loc), np.shape(scale)) if size is None else size
        values = self._generator.standard_normal(shape, dtype=dtype)
        return wrap((values * scale + loc).astype(dtype, copy=False))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        """Uniform floats in [low, high)."""
        dtype = _float_dtype(dtype)
        low, high = _host_parameter(low), _host_parameter(high)
        shape = np.broadcast_shapes(np.shape(low), np.shape(high)) if size is None else size
        values = self._generator.random(shape, dtype=dtype)
        return wrap((low + (high - low) * values).astype(dtype, copy=False))

    def randint(self, low, high=None, size=None, dtype=int):
        """Integers in [low, high) (or [0, low)), with CuPy's bound checks."""
        if not np.isscalar(low):
            low = _host_parameter(low)
            lo, hi = (np.zeros_like(low), low) if high is None else (low, _host_parameter(high))
            shape = np.broadcast_shapes(np.shape(lo), np.shape(hi)) if size is None else size
            return wrap(self._generator.integers(lo, hi, size=shape).astype(dtype))
        lo, hi1 = (0, int(low) - 1) if high is None else (int(low), int(high) - 1)
        if lo > hi1:
            raise ValueError("low >= high")
        if lo < np.iinfo(dtype).min:
            raise ValueError(f"low is out of bounds for {np.dtype(dtype).name}")
        if hi1 > np.iinfo(dtype).max:
            raise ValueError(f"high is out of bounds for {np.dtype(dtype).name}")
        return wrap(self._generator.integers(lo, hi1, size=_size(size), dtype=dtype, endpoint=True))

    def permutation(self, a):
        """A permuted range(a) for an int `a`, else a permuted copy of the device array `a`."""
        if isinstance(a, int):
            return wrap(self._generator.permutation(a).astype(np.int64))
        order = wrap(self._generator.permutation(len(a)).astype(np.int64))
        return a[order]

    def shuffle(self, a):
        """Shuffle the device array `a` in place along its first axis."""
        if not isinstance(a, ndarray):
            raise TypeError("The array must be cupy.ndarray")
        if a.ndim == 0:
            raise TypeError("An array whose ndim is 0 is not supported")
        a._a[:] = a._a[self._generator.permutation(len(a._a))]

    def choice(self, a, size=None, replace=True, p=None):
        """Random samples from the device array (or range) `a`."""
        raw = _host_parameter(a)
        probabilities = None if p is None else _host_parameter(p)
        if probabilities is not None and not replace:
            raise NotImplementedError
        return wrap(self._generator.choice(raw, size=size, replace=replace, p=probabilities))


def _distribution(name, spec, default_dtype):
    """A RandomState method drawing from numpy.random.Generator.`name` (CuPy's parameter
    names are NumPy's), cast to `dtype`; float results only in float32 / float64."""
    float_result = np.dtype(default_dtype).kind == "f"

    def method(self, *args, **kwargs):
        params = dict(zip(spec.names, args), **kwargs)
        size = params.pop("size", None)
        dtype = params.pop("dtype", default_dtype)
        dtype = _float_dtype(dtype) if float_result else np.dtype(dtype)
        params = {key: _host_parameter(value) for key, value in params.items()}
        values = getattr(self._generator, name)(size=size, **params)
        return wrap(np.asarray(values).astype(dtype, copy=False))

    method.__name__ = name
    method.__doc__ = f"Samples of numpy.random.Generator.{name}, as cupy.random.RandomState.{name}."
    return method


def _count_and_check(spec, implementation):
    def method(self, *args, **kwargs):
        COUNTERS.calls += 1
        spec.check(args, kwargs)
        return implementation(self, *args, **kwargs)
    method.__name__ = implementation.__name__
    method.__doc__ = implementation.__doc__
    return method


def build_random_state_class(cupy_random_state):
    """The stand-in RandomState class: one method per public method of CuPy's, checked
    against CuPy's signatures; names CuPy has and the stand-in cannot draw raise
    NotImplementedError."""
    namespace = {"__doc__": RandomState.__doc__, "__init__": RandomState.__init__, "_seed": RandomState._seed,
                 "__module__": "cupy.random"}
    for name in dir(cupy_random_state):
        if name.startswith("_"):
            continue
        spec = read_spec(getattr(cupy_random_state, name), name)
        implementation = RandomState.__dict__.get(name)
        default_dtype = _default(cupy_random_state, name, "dtype")
        if implementation is None and hasattr(np.random.Generator, name) and default_dtype is not None:
            implementation = _distribution(name, spec, default_dtype)
        if implementation is None:
            namespace[name] = unemulated_method(f"cupy.random.RandomState.{name}")
        else:
            namespace[name] = _count_and_check(spec, implementation)
    return type("RandomState", (), namespace)


def _default(owner, name, parameter):
    """The default of `parameter` in CuPy's owner.`name` (None when it has no such parameter)."""
    params = inspect.signature(getattr(owner, name)).parameters
    return params[parameter].default if parameter in params else None


def build_random_module(cupy_random, device_id):
    """The stand-in `cupy.random` module; `device_id()` gives the current device."""
    module = types.ModuleType("cupy.random", "Random numbers on the emulated device (CuPy stand-in).")
    state_class = build_random_state_class(cupy_random.RandomState)
    states = {}

    def get_random_state():
        """The RandomState of the current device (seeded from $CUPY_SEED or os.urandom)."""
        state = states.get(device_id())
        if state is None:
            seed = os.getenv("CUPY_SEED")
            state = states.setdefault(device_id(), state_class(None if seed is None else np.uint64(int(seed))))
        return state

    def set_random_state(rs):
        """Make `rs` the current device's RandomState."""
        if not isinstance(rs, state_class):
            raise TypeError(f"Random state must be an instance of RandomState. Actual: {type(rs)}")
        states[device_id()] = rs

    def reset_states():
        """Forget every device's RandomState."""
        states.clear()

    helpers = {"RandomState": state_class, "get_random_state": get_random_state,
               "set_random_state": set_random_state, "reset_states": reset_states}
    aliases = {"random": "random_sample", "ranf": "random_sample", "sample": "random_sample"}
    for name in dir(cupy_random):
        if name.startswith("_") or name == "annotations":
            continue
        if name in helpers:
            setattr(module, name, helpers[name])
            continue
        method_name = aliases.get(name, name)
        real = getattr(cupy_random, name)
        if callable(real) and not isinstance(real, type) and hasattr(state_class, method_name):
            setattr(module, name, _module_function(name, method_name, read_spec(real, name), get_random_state))
        else:
            setattr(module, name, Unemulated(f"cupy.random.{name}", real))
    return module


def _module_function(name, method_name, spec, get_random_state):
    def function(*args, **kwargs):
        spec.check(args, kwargs)
        return getattr(get_random_state(), method_name)(*args, **kwargs)
    function.__name__ = name
    function.__doc__ = f"cupy.random.{name}: get_random_state().{method_name}(...)."
    return function
