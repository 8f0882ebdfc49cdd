"""Counters of what the code under test asks of the (emulated) GPU.

- `calls`: every call of a namespace function (`cupy.zeros`, `cupy.random.seed`, ...), of an
  ndarray method, of an operator (`a + b`, `a[i]`, `a[i] = v`, `-a`) and of a ufunc or ufunc
  method (`cupy.add.at`). Attribute reads (`a.shape`, `a.dtype`) do not count.
- `device_to_host`: every point where the host waits for device data: `.get()`,
  `cupy.asnumpy`, `float()`, `int()`, `bool()`, `complex()`, `.item()`, `.tolist()`,
  `repr()`/`str()`/`format()`, `.tobytes()`, pickling, the calls CuPy documents as
  synchronizing (boolean-mask indexing, `nonzero`, `argwhere`, `flatnonzero`, `unique`,
  `compress`, `extract`, `bincount`, one-argument `where`) and explicit synchronizations
  (`Device.synchronize()`, `Stream.synchronize()`, `Event.synchronize()`).
- `host_to_device`: every copy of host data to the device: `cupy.array` / `asarray` /
  `asanyarray` (and the `from*`/`load*` readers) given host data, `ndarray.set`, host index
  arrays in `a[idx]`, and host values assigned through integer-array indices.

One `Counters` object belongs to each stand-in module (`module.counters`);
`module.reset_counters()` zeroes it and `module.counting()` measures a block.
"""
import contextlib

FIELDS = ("calls", "device_to_host", "host_to_device")


class Counters:
    """Running totals of `calls`, `device_to_host` and `host_to_device` (plain int attributes)."""

    __slots__ = FIELDS

    def __init__(self):
        self.reset()

    def reset(self):
        """Set every counter to zero."""
        self.calls = 0
        self.device_to_host = 0
        self.host_to_device = 0

    def snapshot(self):
        """The current totals as a dict {field: int}."""
        return {name: getattr(self, name) for name in FIELDS}

    def __repr__(self):
        return "Counters(" + ", ".join(f"{k}={v}" for k, v in self.snapshot().items()) + ")"


class Window:
    """The counts accumulated since a `counting()` block began: live inside the block, frozen
    when it ends. Attributes `calls`, `device_to_host`, `host_to_device`."""

    def __init__(self, counters):
        self._counters = counters
        self._start = counters.snapshot()
        self._final = None

    def _value(self, name):
        if self._final is not None:
            return self._final[name]
        return getattr(self._counters, name) - self._start[name]

    calls = property(lambda self: self._value("calls"))
    device_to_host = property(lambda self: self._value("device_to_host"))
    host_to_device = property(lambda self: self._value("host_to_device"))

    def freeze(self):
        """Stop following the counters (called when the block ends)."""
        self._final = {name: self._value(name) for name in FIELDS}

    def as_dict(self):
        """The counts as a dict {field: int}."""
        return {name: self._value(name) for name in FIELDS}

    def __repr__(self):
        return "Window(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


@contextlib.contextmanager
def counting(counters):
    """`with counting(c) as w:` — w holds what was counted inside the block."""
    window = Window(counters)
    try:
        yield window
    finally:
        window.freeze()


COUNTERS = Counters()  # the stand-in module's counters (the package builds one module)
