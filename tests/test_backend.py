"""Device names, the GPU error messages, seeding, generator states, reads from the device and
the workspace of large arrays."""
import gc
import subprocess
import sys
import weakref

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import backend
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES


@pytest.mark.parametrize("name", ["cpu", "CPU", None])
def test_cpu_names(name):
    assert backend.parse_device(name) == "cpu"


def test_auto_picks_cpu_without_gpu():
    expected = "cuda:0" if backend.gpu_available() else "cpu"
    assert backend.parse_device("auto") == expected


@pytest.mark.parametrize("name", ["gpu", "cuda", "cuda:0", "cuda:3"])
def test_gpu_names_raise_a_clear_error_without_gpu(name):
    if backend.gpu_available():
        pytest.skip("a GPU is present")
    with pytest.raises(tc.DeviceError) as info:
        backend.parse_device(name)
    reason = "CuPy" if backend.cupy_module() is None else "CUDA device"
    assert reason in str(info.value) and name in str(info.value)


def test_gpu_names_are_canonical_with_gpu():
    if not backend.gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    assert backend.parse_device("gpu") == backend.parse_device("cuda") == backend.parse_device("cuda:0") == "cuda:0"


def test_unknown_device_name():
    with pytest.raises(ValueError, match="tpu"):
        backend.parse_device("tpu")


def test_array_module_dispatch_on_numpy():
    assert backend.array_module(np.zeros(2), None) is np
    assert backend.device_of(np.zeros(2)) == "cpu"


def test_manual_seed_repeats_every_random_source():
    def draw():
        x = tc.ones(1000)
        return (tc.randn(5).numpy(), tc.rand(5).numpy(), F.dropout(x, 0.5).numpy(), np.random.rand(2))

    tc.manual_seed(123)
    first = draw()
    tc.manual_seed(123)
    second = draw()
    tc.manual_seed(124)
    third = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], third[0])


def test_randn_statistics():
    tc.manual_seed(0)
    sample = tc.randn(200_000).numpy()
    assert abs(sample.mean()) < 0.02 and abs(sample.std() - 1) < 0.02  # ~9 sigma bounds
    uniform = tc.rand(200_000).numpy()
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.01


# ---------------------------------------------------------------- seeds and generator states
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", [2**64, 2**70 + 5, -3])
def test_manual_seed_takes_any_integer(seed, device):
    """Seeds outside NumPy's and CuPy's ranges (CuPy refuses >= 2**64) still seed every source
    repeatably (as torch.manual_seed does), on every device."""
    tc.manual_seed(seed)
    first = tc.randn(4, device=device).numpy()
    tc.manual_seed(seed)
    np.testing.assert_array_equal(tc.randn(4, device=device).numpy(), first)


@pytest.mark.parametrize("bad, error", [("abc", ValueError), (None, TypeError), ([1], TypeError)])
def test_manual_seed_refuses_non_integers_naming_the_value(bad, error):
    with pytest.raises(error, match="manual_seed.*seed must be an integer"):
        tc.manual_seed(bad)


def test_rng_state_round_trip_repeats_the_draws():
    tc.manual_seed(5)
    tc.randn(3)
    state = backend.get_rng_state()
    after = tc.randn(6).numpy()
    tc.randn(10)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(tc.randn(6).numpy(), after)
    backend.set_rng_state(state["cpu"])  # the bare CPU state older checkpoints hold
    np.testing.assert_array_equal(tc.randn(6).numpy(), after)


# ---------------------------------------------------------------- reading from the device
def test_to_host_returns_numpy_values_and_runs_pending_checks():
    a, b = backend.to_host(np.arange(3), np.float32(2.5))
    np.testing.assert_array_equal(a, [0, 1, 2])
    assert b == 2.5
    with pytest.raises(ValueError, match="flag raised"):
        backend.check(np.array([False, True]), lambda: ValueError("flag raised"))
    backend.check(np.zeros(3, dtype=bool), lambda: ValueError("never"))


# ---------------------------------------------------------------- the workspace
def test_workspace_hands_out_freed_memory_and_never_shares_live_arrays():
    shape = (512, 1024)  # 2 MB of float32: above the workspace's threshold
    a = backend.empty(np, shape, np.float32)
    b = backend.empty(np, shape, np.float32)
    assert not np.shares_memory(a, b)
    view = a.T[::2]  # a view keeps a's memory in use
    address = a.__array_interface__["data"][0]
    del a
    c = backend.empty(np, shape, np.float32)
    assert c.__array_interface__["data"][0] != address and not np.shares_memory(c, view)
    del view
    d = backend.empty(np, (2, 512, 512), np.float32)  # same size, other shape: the freed block again
    assert d.__array_interface__["data"][0] == address
    small = backend.empty(np, (3,), np.float64)
    assert small.shape == (3,) and small.dtype == np.float64


def test_workspace_keeps_channels_last_layout():
    x = np.zeros((2, 8, 8, 512), dtype=np.float32).transpose(0, 3, 1, 2)  # channels-last (N, C, H, W)
    out = backend.empty_like(np, x)
    assert out.shape == x.shape and out.strides == x.strides


def test_importing_the_library_changes_nothing_process_wide():
    """A fresh interpreter: NumPy's error handling, its global random state, the environment and
    the threads look the same before and after `import tinygrad_cnn`. (glibc's malloc settings,
    which the library used to change on import, cannot be read back; tinygrad_cnn no longer
    calls mallopt at all: see backend.empty.)"""
    code = (
        "import os, threading, numpy as np\n"
        "def snapshot():\n"
        "    return (np.geterr(), np.random.get_state()[1].tobytes(), dict(os.environ), threading.active_count())\n"
        "before = snapshot()\n"
        "import tinygrad_cnn\n"
        "assert snapshot() == before, 'import changed process state'\n"
        "print('unchanged')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "unchanged" in out.stdout, out.stderr


def test_a_failed_cupy_import_keeps_no_frame_of_its_first_caller_alive():
    """The reason a CuPy import failed is kept as a message: an exception object would hold its
    traceback, and through it the frames (and locals) of whoever asked first, for the whole process."""
    saved = (backend._cupy, backend._cupy_checked, backend._cupy_import_error, sys.modules.get("cupy", _ABSENT))

    class Big:
        def __init__(self):
            self.payload = np.ones(2 ** 20)  # 8 MB

    def first_caller():
        big = Big()  # referenced by this frame only
        assert backend.cupy_module() is None
        return weakref.ref(big)

    sys.modules["cupy"] = None  # `import cupy` raises ImportError
    backend._cupy, backend._cupy_checked = None, False
    try:
        ref = first_caller()
        gc.collect()
        assert ref() is None, "the failed import keeps the first caller's frame alive"
        assert "import of cupy halted" in backend._cupy_import_error
    finally:
        backend._cupy, backend._cupy_checked, backend._cupy_import_error = saved[:3]
        if saved[3] is _ABSENT:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = saved[3]


_ABSENT = object()
