"""`tc.cuda`: the part of `torch.cuda` that training scripts use, over CuPy (see backend.py).

    device = "cuda" if tc.cuda.is_available() else "cpu"
"""
from . import backend

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize", "manual_seed",
           "manual_seed_all", "empty_cache"]


def is_available():
    """True when CuPy is installed and sees a CUDA device."""
    return backend.gpu_available()


def device_count():
    """The number of CUDA devices CuPy sees (0 without CuPy or a driver)."""
    return backend.gpu_count()


def current_device():
    """The index of the current CUDA device."""
    if not is_available():
        raise backend.DeviceError("tc.cuda.current_device(): no CUDA device (CuPy missing or no GPU)")
    return backend.cupy_module().cuda.Device().id


def set_device(device):
    """Make `device` (an index, "cuda:i" or a tc.device) the current GPU, as torch.cuda.set_device."""
    if not is_available():
        raise backend.DeviceError("tc.cuda.set_device(): no CUDA device (CuPy missing or no GPU)")
    backend.use_device(f"cuda:{device}" if isinstance(device, int) else device)


def synchronize(device=None):
    """Wait for all queued work on a GPU (the current one, or `device`)."""
    name = backend.parse_device(device if device is not None else "cuda")
    with backend.device_context(name):
        backend.cupy_module().cuda.get_current_stream().synchronize()


def manual_seed(seed):
    """Seed the library's generators (CPU and GPU alike, as `tc.manual_seed`)."""
    backend.manual_seed(seed)


manual_seed_all = manual_seed


def empty_cache():
    """Give CuPy's cached, unused GPU memory back to the driver (a no-op without a GPU)."""
    if is_available():
        backend.cupy_module().get_default_memory_pool().free_all_blocks()
