"""`tc.accelerator`: PyTorch's device-agnostic accelerator API, for the idiom of its current
examples:

    device = tc.accelerator.current_accelerator().type if tc.accelerator.is_available() else "cpu"

The only accelerator this library drives is a CUDA GPU through CuPy.
"""
from . import backend
from . import cuda as _cuda

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "synchronize"]


def is_available():
    """True when a CUDA GPU can be used."""
    return _cuda.is_available()


def current_accelerator():
    """device("cuda") when a GPU can be used, else None."""
    return backend.device("cuda") if is_available() else None


def device_count():
    """The number of CUDA GPUs (0 without CuPy or a GPU)."""
    return _cuda.device_count()


def current_device_index():
    """The index of the current GPU, -1 without one."""
    return _cuda.current_device() if is_available() else -1


def synchronize(device=None):
    """Wait for all queued work on `device` (the current GPU by default); nothing on the CPU."""
    if is_available():
        _cuda.synchronize(device)
