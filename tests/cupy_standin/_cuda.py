"""`cupy.cuda` for one emulated device: devices, streams, events and the runtime calls the
library makes.

- `runtime.getDeviceCount()` is 1; `runtime.getDevice()` / `setDevice(i)`; a device id of 1 or
  more fails as CUDA fails (CUDARuntimeError 'cudaErrorInvalidDevice: invalid device
  ordinal') when it is made current: `with Device(1):`, `Device(1).use()`.
- `Device(i)`: context manager, `.id`, `.use()`, `.synchronize()` (a counted sync), `int()`.
- `Stream` / `Event` / `get_current_stream()` / `get_elapsed_time()`: work runs at once on the
  host, so streams are always done; `synchronize()` counts as a sync.
- The current device and stream are per thread, as in CuPy.
Every other name of the real `cupy.cuda` (and of `cupy.cuda.runtime`) is a placeholder that
raises NotImplementedError when called.
"""
import threading
import time
import types

from ._counters import COUNTERS
from ._memory import MemoryPool, PinnedMemoryPool
from ._unemulated import Unemulated

DEVICE_COUNT = 1


class CUDARuntimeError(RuntimeError):
    """What CUDA's runtime API raises (CuPy's cupy_backends...runtime.CUDARuntimeError)."""

    def __init__(self, status, message):
        self.status = status
        super().__init__(message)


_INVALID_DEVICE = (101, "cudaErrorInvalidDevice: invalid device ordinal")
_local = threading.local()


def _current():
    if not hasattr(_local, "device"):
        _local.device = 0
        _local.device_stack = []
        _local.streams = []
    return _local


def getDeviceCount():
    """Number of CUDA devices: one emulated device."""
    return DEVICE_COUNT


def getDevice():
    """The current device id."""
    return _current().device


def setDevice(device):
    """Make `device` current; an id without a device raises CUDARuntimeError."""
    device = int(device)
    if not 0 <= device < DEVICE_COUNT:
        raise CUDARuntimeError(*_INVALID_DEVICE)
    _current().device = device


def deviceSynchronize():
    """Wait for the device: a counted sync."""
    COUNTERS.device_to_host += 1


class Device:
    """Device(device=None): a CUDA device (the current one when None)."""

    def __init__(self, device=None):
        self.id = getDevice() if device is None else int(device)

    def __enter__(self):
        state = _current()
        previous = state.device
        if self.id != previous:
            setDevice(self.id)
        state.device_stack.append(previous)
        return self

    def __exit__(self, *exc):
        setDevice(_current().device_stack.pop())

    def use(self):
        """Make this device current."""
        setDevice(self.id)

    def synchronize(self):
        """Wait for the device: a counted sync."""
        if not 0 <= self.id < DEVICE_COUNT:
            raise CUDARuntimeError(*_INVALID_DEVICE)
        COUNTERS.device_to_host += 1

    def __int__(self):
        return self.id

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class Event:
    """Event(block=False, disable_timing=False, interprocess=False): records a host time."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.disable_timing = disable_timing
        self._time = None

    def record(self, stream=None):
        """Record the current time."""
        self._time = time.perf_counter()

    def synchronize(self):
        """Wait for the event: a counted sync."""
        COUNTERS.device_to_host += 1

    @property
    def done(self):
        """Always True: the stand-in's work is done when a call returns."""
        return True


def get_elapsed_time(start_event, end_event):
    """Milliseconds between two recorded events."""
    if start_event._time is None or end_event._time is None:
        raise CUDARuntimeError(400, "cudaErrorInvalidResourceHandle: invalid resource handle")
    return (end_event._time - start_event._time) * 1000.0


class Stream:
    """Stream(null=False, non_blocking=False, ptds=False, priority=None): a CUDA stream."""

    null = None  # set below: the default stream

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        self.ptr = 0 if null else id(self)
        self.priority = priority or 0

    def __enter__(self):
        _current().streams.append(self)
        return self

    def __exit__(self, *exc):
        _current().streams.pop()

    def use(self):
        """Make this stream current for the thread."""
        state = _current()
        if state.streams:
            state.streams[-1] = self
        else:
            state.streams.append(self)
        return self

    def synchronize(self):
        """Wait for the stream: a counted sync."""
        COUNTERS.device_to_host += 1

    @property
    def done(self):
        """Always True."""
        return True

    def record(self, event=None):
        """Record an event on this stream."""
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event):
        """Nothing to wait for."""

    def __repr__(self):
        return f"<Stream {self.ptr} (device {getDevice()})>"


Stream.null = Stream(null=True)


def get_current_stream(device_id=None):
    """The thread's current stream (the null stream by default)."""
    streams = _current().streams
    return streams[-1] if streams else Stream.null


def get_device_id():
    """The current device id."""
    return getDevice()


def _fill_from_real(module, real, implemented):
    """Give `module` every name of `real`: `implemented` ones, constants as they are, the rest
    as placeholders."""
    for name in dir(real):
        if name.startswith("__") or name in implemented:
            continue
        value = getattr(real, name, None)
        if isinstance(value, (int, float, str)):
            setattr(module, name, value)
        else:
            setattr(module, name, Unemulated(f"{module.__name__}.{name}", value))
    for name, value in implemented.items():
        setattr(module, name, value)
    return module


def build_cuda_module(real_cuda):
    """The stand-in `cupy.cuda` module, with the real `cupy.cuda`'s names."""
    runtime = _fill_from_real(
        types.ModuleType("cupy.cuda.runtime", "CUDA runtime calls for one emulated device."), real_cuda.runtime,
        {"getDeviceCount": getDeviceCount, "getDevice": getDevice, "setDevice": setDevice,
         "deviceSynchronize": deviceSynchronize, "CUDARuntimeError": CUDARuntimeError, "is_hip": False})
    return _fill_from_real(
        types.ModuleType("cupy.cuda", "CUDA for one emulated device (CuPy stand-in)."), real_cuda,
        {"runtime": runtime, "Device": Device, "Stream": Stream, "Event": Event,
         "get_current_stream": get_current_stream, "get_elapsed_time": get_elapsed_time,
         "get_device_id": get_device_id, "MemoryPool": MemoryPool, "PinnedMemoryPool": PinnedMemoryPool,
         "is_available": lambda: True})
