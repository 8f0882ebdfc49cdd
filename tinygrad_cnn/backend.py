"""Array-module dispatch, device names and the library's random number generators.

Every op works on raw arrays of an *array module* `xp`: numpy on the CPU, cupy on a CUDA GPU.
`array_module(*arrays)` finds it from the inputs, so op code is written once.

Device names: "cpu"; "gpu" = "cuda" = "cuda:0"; "cuda:N"; "auto" (gpu when CuPy imports and
sees a device, else cpu). Asking for a GPU where there is none raises DeviceError saying why.

All GPU-specific code of the library lives in this file.
"""
import os
import random as _pyrandom
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import DeviceError

_cupy = None
_cupy_import_error = None
_cupy_checked = False


def cupy_module():
    """Return the cupy module, or None when CuPy is not installed (the import is tried once)."""
    global _cupy, _cupy_import_error, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: PLC0415 (optional dependency, imported on demand)
            _cupy = cupy
        except Exception as exc:  # ImportError, or a CUDA library failing to load
            _cupy_import_error = exc
    return _cupy


def gpu_count():
    """Number of CUDA devices CuPy can see (0 when CuPy is missing or no driver/device)."""
    cp = cupy_module()
    if cp is None:
        return 0
    try:
        return cp.cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def gpu_available():
    """True when CuPy imports and sees at least one CUDA device."""
    return gpu_count() > 0


def is_gpu_array(array):
    """True for a cupy ndarray (without importing cupy when it was never loaded)."""
    return _cupy is not None and isinstance(array, _cupy.ndarray)


def array_module(*arrays):
    """The array module (numpy or cupy) of the given arrays; numpy when none is a cupy array."""
    for a in arrays:
        if is_gpu_array(a):
            return _cupy
    return np


def as_array(value):
    """`value` itself, or a 0-d array for a numpy scalar (numpy ufuncs on 0-d arrays return
    scalars; tensors and gradients always hold arrays)."""
    if isinstance(value, np.generic):
        return np.asarray(value)
    return value


def parse_device(device):
    """Canonical device name for `device`: "cpu" or "cuda:N".

    Accepts "cpu", "gpu", "cuda", "cuda:N", "auto" and None (meaning "cpu"). Raises
    DeviceError when a GPU is requested and CuPy is missing or sees no such device, and
    ValueError for an unknown name.
    """
    if device is None:
        return "cpu"
    if not isinstance(device, str):
        device = str(device)
    name = device.strip().lower()
    if name == "cpu":
        return "cpu"
    if name == "auto":
        return "cuda:0" if gpu_available() else "cpu"
    if name in ("gpu", "cuda"):
        index = 0
    elif name.startswith("cuda:") and name[5:].isdigit():
        index = int(name[5:])
    else:
        raise ValueError(f"unknown device {device!r}: expected 'cpu', 'gpu', 'cuda', 'cuda:N' or 'auto'")
    if cupy_module() is None:
        raise DeviceError(
            f"device {device!r} needs CuPy, which is not installed ({_cupy_import_error}); "
            "install the extra matching your CUDA version: pip install -e '.[cuda12]' or '.[cuda13]'")
    count = gpu_count()
    if count == 0:
        raise DeviceError(f"device {device!r} requested, but CuPy sees no CUDA device (driver missing or no GPU)")
    if index >= count:
        raise DeviceError(f"device {device!r} requested, but only {count} CUDA device(s) exist")
    return f"cuda:{index}"


def device_of(array):
    """Canonical device name of an array: "cpu" or "cuda:N"."""
    if is_gpu_array(array):
        return f"cuda:{array.device.id}"
    return "cpu"


def to_device(array, device):
    """Return `array` on `device` (a canonical name); no copy when it is already there."""
    if device == "cpu":
        if is_gpu_array(array):
            return array.get()
        return np.asarray(array)
    cp = cupy_module()
    index = int(device.split(":")[1])
    if is_gpu_array(array) and array.device.id == index:
        return array
    with cp.cuda.Device(index):
        return cp.asarray(array)


def module_for_device(device):
    """The array module that holds arrays on `device` (a canonical name)."""
    return np if device == "cpu" else cupy_module()


def device_context(device):
    """A context manager making `device` current (a no-op for the CPU)."""
    if device == "cpu":
        return _NullContext()
    return cupy_module().cuda.Device(int(device.split(":")[1]))


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------- random numbers
# One numpy Generator for the CPU and one cupy RandomState per GPU: every random draw of the
# library (randn, rand, dropout masks, initialization, shuffling, augmentation) goes through
# `generator(device)`, so `manual_seed` makes a whole run repeatable.
_seed = None
_cpu_generator = np.random.default_rng()
_gpu_generators = {}


def manual_seed(seed):
    """Seed every random source the library uses (CPU, every GPU, Python's and NumPy's global RNG)."""
    global _seed, _cpu_generator
    seed = int(seed)
    _seed = seed
    _cpu_generator = np.random.default_rng(seed)
    _gpu_generators.clear()  # re-created from the seed on next use
    _pyrandom.seed(seed)
    np.random.seed(seed % 2**32)
    cp = cupy_module()
    if cp is not None and gpu_available():
        cp.random.seed(seed)


def generator(device="cpu"):
    """The library's random generator for `device`: numpy.random.Generator or cupy RandomState."""
    if device == "cpu":
        return _cpu_generator
    gen = _gpu_generators.get(device)
    if gen is None:
        cp = cupy_module()
        index = int(device.split(":")[1])
        with cp.cuda.Device(index):
            seed = _seed + index if _seed is not None else None
            gen = cp.random.RandomState(seed)
        _gpu_generators[device] = gen
    return gen


def get_rng_state():
    """The CPU generator's state (a dict of plain values), for checkpoints."""
    return _cpu_generator.bit_generator.state


def set_rng_state(state):
    """Restore the CPU generator's state returned by get_rng_state."""
    _cpu_generator.bit_generator.state = state


# ---------------------------------------------------------------- helpers with GPU variants
def scatter_add(target, index, values):
    """target[index] += values, adding repeated indices (np.add.at semantics), in place."""
    xp = array_module(target)
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx  # noqa: PLC0415
        cupyx.scatter_add(target, index, values)


def as_strided(array, shape, strides):
    """A strided view of `array` (numpy.lib.stride_tricks.as_strided or its cupy twin)."""
    if is_gpu_array(array):
        return _cupy.lib.stride_tricks.as_strided(array, shape=shape, strides=strides)
    return np.lib.stride_tricks.as_strided(array, shape=shape, strides=strides, writeable=False)


# ---------------------------------------------------------------- CPU threads for memory-bound loops
# NumPy runs each call on one core but releases the GIL inside its loops, so strided copies and
# masks over the batch can be split across threads. BLAS has threads of its own for GEMMs.
_threads = min(os.cpu_count() or 1, 4)
_pool = None


def set_num_threads(n):
    """Threads used for the batch-parallel NumPy loops of pooling and im2col/col2im (default: cores, at most 4)."""
    global _threads, _pool
    _threads = max(1, int(n))
    _pool = None


def get_num_threads():
    return _threads


def for_batch_parts(n, fn, xp=np):
    """Call fn(part) for contiguous slices `part` covering range(n), in parallel threads on the
    CPU (a few large parts, never one per sample); a single call fn(slice(None)) on the GPU or
    when one thread is set."""
    global _pool
    parts = min(_threads, n)
    if xp is not np or parts < 2:
        fn(slice(None))
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads, thread_name_prefix="tinygrad_cnn")
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = [_pool.submit(fn, slice(bounds[i], bounds[i + 1])) for i in range(parts)]
    for f in futures:
        f.result()


# ---------------------------------------------------------------- reuse of freed CPU memory
def keep_freed_memory():
    """Ask glibc's malloc to keep freed large blocks for reuse instead of returning them to
    the OS. A training step allocates and frees many 1-40 MB temporaries; by default each is
    a fresh mmap, and touching its pages for the first time (page faults) cost up to a third
    of a batch-norm pass. The process then stays at its peak memory, which a training run
    reaches anyway. Called on import on Linux with glibc, unless TINYGRAD_CNN_KEEP_MEMORY=0.
    Returns True when the setting was applied.
    """
    import ctypes  # noqa: PLC0415
    import platform  # noqa: PLC0415
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(libc.mallopt(m_trim_threshold, (1 << 31) - 1))


if os.environ.get("TINYGRAD_CNN_KEEP_MEMORY", "1") != "0":
    keep_freed_memory()
