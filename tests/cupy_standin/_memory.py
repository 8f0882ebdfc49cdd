"""Device memory as the stand-in shows it: uninitialized allocations and the memory pools.

- `cupy.empty`, `empty_like` and `ndarray(shape)` return memory that a real pool hands back
  with stale contents; the stand-in fills it with garbage (NaN for floats, -1 / the maximum for
  integers, True for bools) so code that reads memory it never wrote fails here as well.
- `get_default_memory_pool()`: `used_bytes()` is the memory held by live stand-in arrays
  (each allocation rounded up to CuPy's 512-byte blocks, found by walking the garbage
  collector's objects, so it is slow and meant for tests of memory use); `total_bytes()` also
  counts blocks freed since the last `free_all_blocks()` (the high-water mark since then).
"""
import gc

import numpy as np

_BLOCK = 512  # CuPy's allocation unit


def garbage_fill(array):
    """Fill the new, contiguous NumPy array `array` with stale-memory garbage; return it."""
    if array.dtype == np.bool_:
        array.fill(True)
    elif array.size:
        array.reshape(-1, order="A").view(np.uint8).fill(0xFF)  # NaN for floats, all-ones for ints
    return array


def _owner(array):
    """The NumPy array that owns the memory `array` views."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def live_device_bytes():
    """Bytes held by live stand-in arrays, per allocation rounded up to 512 bytes."""
    from ._array import ndarray  # noqa: PLC0415 (_array imports this module)
    owners = {}
    for obj in gc.get_objects():
        if type(obj) is ndarray:
            owner = _owner(obj._a)
            owners[id(owner)] = owner.nbytes
    return sum(-(-n // _BLOCK) * _BLOCK for n in owners.values())


class MemoryPool:
    """cupy.cuda.MemoryPool as far as tests need it: used/total/free bytes and free_all_blocks."""

    def __init__(self):
        self._total = 0
        self._limit = 0

    def used_bytes(self):
        """Bytes held by live arrays."""
        used = live_device_bytes()
        self._total = max(self._total, used)
        return used

    def total_bytes(self):
        """Bytes held by the pool: live arrays plus blocks kept for reuse."""
        return max(self._total, self.used_bytes())

    def free_bytes(self):
        """Bytes in blocks kept for reuse."""
        return self.total_bytes() - self.used_bytes()

    def free_all_blocks(self, stream=None):
        """Release the blocks kept for reuse."""
        self._total = live_device_bytes()

    def free_all_free(self):
        """Deprecated CuPy alias of free_all_blocks."""
        self.free_all_blocks()

    def n_free_blocks(self):
        """Number of blocks kept for reuse (0 or 1 here: the stand-in keeps no block list)."""
        return int(self.free_bytes() > 0)

    def set_limit(self, size=None, fraction=None):
        """Record a limit (not enforced)."""
        self._limit = int(size or 0)

    def get_limit(self):
        """The recorded limit."""
        return self._limit


class PinnedMemoryPool:
    """cupy.cuda.PinnedMemoryPool: the stand-in allocates no pinned memory."""

    def free_all_blocks(self):
        """Nothing to release."""

    def n_free_blocks(self):
        """Always 0."""
        return 0
