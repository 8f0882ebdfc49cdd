"""Array-module dispatch, device names, random generators and reads from the device.

Every op works on raw arrays of an *array module* `xp`: numpy on the CPU, cupy on a CUDA GPU.
`array_module(*arrays)` finds it from the inputs, so op code is written once.

Device names: "cpu"; "gpu" = "cuda" = "cuda:0"; "cuda:N"; "auto" (gpu when CuPy imports and
sees a device, else cpu). Asking for a GPU where there is none raises DeviceError saying why.

Every difference between the NumPy and CuPy APIs that the library meets is handled here:
random generators (numpy's Generator has `random`/`integers`, CuPy's RandomState
`random_sample`/`randint` and no readable state), strided views, scatter-adds, and reading
values back to the host (`to_host`, one transfer for several arrays, plus the checks that ops
defer on a GPU so that they cost no synchronization).
"""
import contextlib
import os
import random as _pyrandom
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import DeviceError

# ---------------------------------------------------------------- the CuPy module
_cupy = None               # the cupy module once imported (or the test suite's stand-in)
_cupy_import_error = None  # why importing it failed: a message only (an exception would keep its frames alive)
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
            _cupy_import_error = f"{type(exc).__name__}: {exc}"
    return _cupy


@contextlib.contextmanager
def cupy_module_replaced(module):
    """Use `module` in place of CuPy inside the block (the test suite runs its strict CuPy
    stand-in this way). Per-device state (the GPU generators, pending checks) starts afresh
    inside and is restored afterwards."""
    global _cupy, _cupy_checked, _gpu_generators, _pending_checks
    saved = (_cupy, _cupy_checked, _gpu_generators, _pending_checks)
    _cupy, _cupy_checked, _gpu_generators, _pending_checks = module, True, {}, []
    try:
        yield module
    finally:
        _cupy, _cupy_checked, _gpu_generators, _pending_checks = saved


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


# ---------------------------------------------------------------- devices
_DEVICE_TYPES = ("cpu", "cuda")


class device(str):
    """A device, as PyTorch's `torch.device`: device("cpu"), device("cuda"), device("cuda:1"),
    device("cuda", 1); `.type` ("cpu" or "cuda") and `.index` (None when not given).

    It is also the device's name as a string ("cuda:1"), so it goes wherever a device name
    goes, and compares equal to it. Creating one checks the name only; whether the device
    exists is checked when something is put on it (DeviceError saying why not).
    """

    def __new__(cls, name, index=None):
        if isinstance(name, device) and index is None:
            return name
        text = str(name).strip().lower()
        kind, _, number = text.partition(":")
        if kind == "gpu":
            kind = "cuda"
        if kind not in _DEVICE_TYPES or (number and not number.isdigit()) or (number and index is not None):
            raise DeviceError(f"unknown device {name!r}: expected 'cpu', 'cuda', 'cuda:N' (or 'gpu', 'auto' "
                              "where a device name is taken)")
        if index is not None:
            if kind == "cpu" and int(index) != 0:
                raise DeviceError(f"device: the CPU has no index {index}")
            number = str(int(index))
        return str.__new__(cls, kind if not number or kind == "cpu" else f"{kind}:{number}")

    @property
    def type(self):
        return self.partition(":")[0]

    @property
    def index(self):
        number = self.partition(":")[2]
        return int(number) if number else None

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    __hash__ = str.__hash__


_device_objects = {}


def as_device(name):
    """The `device` object of a canonical device name (one object per name)."""
    found = _device_objects.get(name)
    if found is None:
        found = _device_objects[name] = device(name)
    return found


def parse_device(device):
    """Canonical device name for `device`: "cpu" or "cuda:N".

    Accepts "cpu", "gpu", "cuda", "cuda:N", "auto" and None (meaning "cpu"). Raises
    DeviceError when a GPU is requested and CuPy is missing or sees no such device, or for
    an unknown name.
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
        raise DeviceError(f"unknown device {device!r}: expected 'cpu', 'gpu', 'cuda', 'cuda:N' or 'auto'")
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


def _gpu_index(device):
    return int(device.split(":")[1])


def device_of(array):
    """Canonical device name of an array: "cpu" or "cuda:N"."""
    if is_gpu_array(array):
        return f"cuda:{array.device.id}"
    return "cpu"


def to_device(array, device):
    """Return `array` on `device` (a canonical name); no copy when it is already there."""
    if device == "cpu":
        if is_gpu_array(array):
            return to_host(array)[0]
        return np.asarray(array)
    cp = cupy_module()
    index = _gpu_index(device)
    if is_gpu_array(array) and array.device.id == index:
        return array
    with cp.cuda.Device(index):
        return cp.asarray(array)


def module_for_device(device):
    """The array module that holds arrays on `device` (a canonical name)."""
    return np if device == "cpu" else cupy_module()


def use_device(device):
    """Make GPU `device` ("cuda:1") current for the rest of the thread, as torch.cuda.set_device:
    where CuPy allocates new arrays and NCCL binds its communicator. A no-op for the CPU."""
    device = parse_device(device)
    if device != "cpu":
        cupy_module().cuda.Device(_gpu_index(device)).use()


def device_context(device):
    """A context manager making `device` current (a no-op for the CPU)."""
    if device == "cpu":
        return contextlib.nullcontext()
    return cupy_module().cuda.Device(_gpu_index(device))


# ---------------------------------------------------------------- reads from the device
# Reading a value from a GPU waits for all queued work: a training step that reads its loss
# every step runs one step at a time. Ops therefore never read from the device; checks that
# need a device value (a target index out of range) are queued with `check` and evaluated at
# the next read, in the same transfer, as CUDA's device-side asserts surface in PyTorch.
_MAX_PENDING_CHECKS = 64
_pending_checks = []


def check(flag, make_error):
    """Raise `make_error()` when the boolean array `flag` holds a True value.

    On the CPU the check runs at once. On a GPU it is queued and evaluated at the next
    `to_host` (Tensor.item(), .numpy(), the training loop's periodic read), so it costs no
    synchronization; the error then names the op that queued it.
    """
    if not is_gpu_array(flag):
        if flag.any():
            raise make_error()
        return
    _pending_checks.append((flag.any(), make_error))
    if len(_pending_checks) >= _MAX_PENDING_CHECKS:
        to_host()


def to_host(*arrays):
    """NumPy copies of `arrays` (NumPy arrays are returned as they are).

    GPU arrays are read in one transfer, together with the pending checks, which raise here
    when one failed. Each call that has anything to read from a GPU is one synchronization.
    """
    global _pending_checks
    gpu = [a for a in arrays if is_gpu_array(a)]
    checks, _pending_checks = _pending_checks, []
    if not gpu and not checks:
        return [np.asarray(a) for a in arrays]
    # Several arrays travel as one byte string: (the bytes of each array, then one byte per check).
    pieces = [_cupy.ascontiguousarray(a).reshape(-1).view(_cupy.uint8) for a in gpu]
    if checks:
        pieces.append(_cupy.stack([flag for flag, _ in checks]).astype(_cupy.uint8))
    host = pieces[0].get() if len(pieces) == 1 else _cupy.concatenate(pieces).get()
    for (_, make_error), failed in zip(checks, host[len(host) - len(checks):]):
        if failed:
            raise make_error()
    out, start = [], 0
    for a in arrays:
        if is_gpu_array(a):
            values = host[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
            out.append(values if len(pieces) == 1 else values.copy())  # a copy is aligned
            start += a.nbytes
        else:
            out.append(np.asarray(a))
    return out


# ---------------------------------------------------------------- random numbers
# One numpy Generator for the CPU and one CuPy RandomState per GPU: every random draw of the
# library (randn, rand, dropout masks, initialization, shuffling, augmentation) goes through
# `generator(device)`, so `manual_seed` makes a whole run repeatable. The functions below
# draw from either kind (and from a caller's numpy Generator or RandomState).
_seed = None
_cpu_generator = np.random.default_rng()
_gpu_generators = {}  # device name -> [RandomState, base seed, forks]


def _seed64(*entropy):
    """A seed in [0, 2**64) mixed from any integers (CuPy's RandomState takes no larger seed)."""
    return int(np.random.SeedSequence([int(e) % 2**128 for e in entropy]).generate_state(1, np.uint64)[0])


def manual_seed(seed):
    """Seed every random source the library uses (CPU, every GPU, Python's and NumPy's global RNG)."""
    global _seed, _cpu_generator
    try:
        seed = int(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"manual_seed: seed must be an integer, got {seed!r}") from None
    _seed = seed
    _cpu_generator = np.random.default_rng(seed % 2**128)  # numpy takes no negative seed
    _gpu_generators.clear()  # re-created from the seed on next use
    _pyrandom.seed(seed)
    np.random.seed(seed % 2**32)
    if _cupy is not None and gpu_available():
        _cupy.random.seed(_seed64(seed))


def generator(device="cpu"):
    """The library's random generator for `device`: numpy.random.Generator or cupy RandomState."""
    if device == "cpu":
        return _cpu_generator
    entry = _gpu_generators.get(device)
    if entry is None:
        base = _seed64(_seed, _gpu_index(device)) if _seed is not None else _seed64(int.from_bytes(os.urandom(8), "little"))
        entry = _gpu_generators[device] = [_gpu_random_state(device, _seed64(base, 0)), base, 0]
    return entry[0]


def _gpu_random_state(device, seed):
    with cupy_module().cuda.Device(_gpu_index(device)):
        return cupy_module().random.RandomState(seed)


def get_rng_state():
    """The state of the library's generators, for checkpoints: {"cpu": ..., "cuda:N": ...}.

    CuPy's generators keep their state on the device, where it cannot be read; each GPU
    generator is instead re-seeded here from (its base seed, a count of such snapshots), and
    that pair is its saved state. Taking a snapshot therefore changes the GPU stream that
    follows, identically in the run that continues and in one resumed from the snapshot.
    """
    state = {"cpu": _cpu_generator.bit_generator.state}
    for device, entry in _gpu_generators.items():
        entry[2] += 1
        entry[0] = _gpu_random_state(device, _seed64(entry[1], entry[2]))
        state[device] = {"base_seed": entry[1], "forks": entry[2]}
    return state


def set_rng_state(state):
    """Restore generators from `get_rng_state()` (also a bare CPU state from older checkpoints)."""
    if "bit_generator" in state:
        state = {"cpu": state}
    _cpu_generator.bit_generator.state = state["cpu"]
    for device, saved in state.items():
        if device != "cpu":
            base, forks = int(saved["base_seed"]), int(saved["forks"])
            _gpu_generators[device] = [_gpu_random_state(device, _seed64(base, forks)), base, forks]


def new_generator(seed, device="cpu"):
    """A private generator for `device` seeded with `seed` (an int or a numpy SeedSequence).

    CPU: numpy.random.Generator. GPU: cupy.random.RandomState.
    """
    if device == "cpu":
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.SeedSequence):
        seed = int(seed.generate_state(1, dtype=np.uint64)[0])
    return _gpu_random_state(device, _seed64(seed))


def _is_numpy_generator(gen):
    return isinstance(gen, np.random.Generator)


def random(gen, shape, dtype=None):
    """Uniform floats in [0, 1) of `shape` (float64 unless `dtype` says float32)."""
    if isinstance(gen, np.random.Generator):
        values = gen.random(shape)
    elif isinstance(gen, np.random.RandomState):
        values = gen.random_sample(shape)
    else:  # CuPy's RandomState draws float32 directly
        return gen.random_sample(shape, dtype=dtype or np.float64)
    return values if dtype is None else values.astype(dtype, copy=False)


def uniform(gen, low, high, shape):
    """Uniform floats in [low, high) of `shape` (float64)."""
    return low + (high - low) * random(gen, shape)


def integers(gen, low, high, shape):
    """Integers in [low, high) of `shape` (int64)."""
    if _is_numpy_generator(gen):
        return gen.integers(low, high, size=shape, dtype=np.int64)
    return gen.randint(low, high, size=shape, dtype=np.int64)


def standard_normal(gen, shape):
    """Standard normal floats of `shape` (float64)."""
    return gen.standard_normal(shape)


def permutation(gen, n):
    """A random permutation of range(n) (int64)."""
    return gen.permutation(n).astype(np.int64, copy=False)


def derive_seed(gen):
    """A fresh 62-bit int seed drawn from `gen` (a host value: drawn on a GPU, it is read back)."""
    value = integers(gen, 0, 2**62, 1)
    return int(to_host(value)[0][0])


# ---------------------------------------------------------------- helpers with GPU variants
def scatter_add(target, index, values):
    """target[index] += values, adding repeated indices (np.add.at semantics), in place."""
    array_module(target).add.at(target, index, values)


def stable_argsort(array, axis):
    """The indices that sort `array` along `axis`, equal values keeping their order (NumPy needs
    kind="stable"; CuPy's argsort is stable and takes no other kind)."""
    if is_gpu_array(array):
        return array.argsort(axis=axis)
    return np.argsort(array, axis=axis, kind="stable")


def as_strided(array, shape, strides):
    """A strided view of `array` (numpy.lib.stride_tricks.as_strided or its cupy twin)."""
    if is_gpu_array(array):
        return _cupy.lib.stride_tricks.as_strided(array, shape=shape, strides=strides)
    return np.lib.stride_tricks.as_strided(array, shape=shape, strides=strides, writeable=False)


# ---------------------------------------------------------------- reuse of large CPU arrays
# A training step allocates its activations (tens of MB) in forward and frees them in backward.
# glibc hands freed blocks that large back to the OS, so every step touched fresh pages again
# (about 17,000 page faults per SmallResNet step at batch 64). The large arrays of conv and
# batch norm come from this workspace instead: a block whose arrays have all been freed is
# handed out again for the next array of the same size. (CuPy pools GPU memory itself.)
_WORKSPACE_MIN_BYTES = 1 << 20        # malloc reuses smaller blocks well by itself
_WORKSPACE_MAX_IDLE_BYTES = 1 << 30   # idle blocks kept at most; beyond, they are freed
_workspace = {}                       # size in bytes -> blocks (uint8 arrays owning memory)
_workspace_lock = threading.Lock()


def _idle(block):
    """True when no array uses `block`: every view of it holds a reference (NumPy points a
    view's `base` at the array that owns the memory), and an idle block has only four: the
    workspace's list, the caller's loop variable, this function's argument and getrefcount's."""
    return sys.getrefcount(block) <= 4


def empty(xp, shape, dtype):
    """An uninitialized array like xp.empty(shape, dtype), its memory reused from arrays of the
    same size that were freed (on the CPU, for arrays of 1 MB and more)."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for s in shape:
        nbytes *= s
    if xp is not np or nbytes < _WORKSPACE_MIN_BYTES:
        return xp.empty(shape, dtype=dtype)
    with _workspace_lock:
        blocks = _workspace.setdefault(nbytes, [])
        for block in blocks:
            if _idle(block):
                return block.view(dtype).reshape(shape)
        _free_idle_blocks(_WORKSPACE_MAX_IDLE_BYTES - nbytes)
        block = np.empty(nbytes, dtype=np.uint8)
        blocks.append(block)
        return block.view(dtype).reshape(shape)


def empty_like(xp, a):
    """`empty` with a's shape and dtype, in a's memory order (a channels-last view of an
    (N, C, H, W) array gives a channels-last array), so elementwise ops stream through both."""
    if xp is not np:
        return xp.empty_like(a)
    if a.flags.c_contiguous:
        return empty(xp, a.shape, a.dtype)
    order = sorted(range(a.ndim), key=lambda axis: -abs(a.strides[axis]))  # outermost axis in memory first
    block = empty(xp, tuple(a.shape[axis] for axis in order), a.dtype)
    return block.transpose(np.argsort(order))


def into_workspace(ufunc, *args, like):
    """ufunc(*args) (an array module's ufunc), its result shaped and laid out like `like`; on the
    CPU the result takes workspace memory (a GPU's memory pool needs no help, so there it is a
    plain call)."""
    if is_gpu_array(like):
        return ufunc(*args)
    return ufunc(*args, out=empty_like(np, like))


def reshape_into_workspace(values, shape):
    """values.reshape(shape): a view when `values` is C-contiguous, else a copy, which takes
    workspace memory on the CPU."""
    if is_gpu_array(values) or values.flags.c_contiguous:
        return values.reshape(shape)
    out = empty(np, shape, values.dtype)
    out.reshape(values.shape)[...] = values
    return out


def _free_idle_blocks(keep_bytes):
    """Free idle workspace blocks, largest first, until at most keep_bytes of them stay."""
    idle = sorted(((size, block) for size, blocks in _workspace.items() for block in blocks if _idle(block)),
                  key=lambda entry: -entry[0])
    total = sum(size for size, _ in idle)
    for size, block in idle:
        if total <= keep_bytes:
            break
        _workspace[size] = [b for b in _workspace[size] if b is not block]
        total -= size


# ---------------------------------------------------------------- CPU threads for memory-bound loops
# NumPy runs each call on one core but releases the GIL inside its loops, so strided copies and
# masks over the batch can be split across threads (BLAS has threads of its own for GEMMs).
_THREADS = min(os.cpu_count() or 1, 4)
_pool = None


def for_batch_parts(n, fn, xp=np):
    """Call fn(part) for contiguous slices `part` covering range(n), in parallel threads on the
    CPU (a few large parts, never one per sample); a single call fn(slice(None)) on the GPU or
    on a one-core machine."""
    global _pool
    parts = min(_THREADS, n)
    if xp is not np or parts < 2:
        fn(slice(None))
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="tinygrad_cnn")
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = [_pool.submit(fn, slice(bounds[i], bounds[i + 1])) for i in range(parts)]
    for f in futures:
        f.result()


def _reset_after_fork():
    """In a forked child (a DataLoader worker): the parent's thread pool has no threads there,
    and a lock may be held by a thread that does not exist; start both afresh."""
    global _pool, _workspace_lock
    _pool = None
    _workspace_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # the library's own state only: nothing of the user's is touched
    os.register_at_fork(after_in_child=_reset_after_fork)
