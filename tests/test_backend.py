"""Device names, the GPU error messages, and seeding."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import backend
import tinygrad_cnn.nn.functional as F


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
