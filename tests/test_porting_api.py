"""The PyTorch names scripts reach for outside the ops: tc.device, tc.cuda, tc.accelerator,
tc.autograd.Variable, nn.DataParallel / nn.parallel, Tensor.is_cuda, and one clear line for a
PyTorch name this library lacks."""
import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import backend, nn
from helpers import DEVICES


@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 0), ("cuda", 3)])
def test_device_objects_like_torch(args):
    ours, theirs = tc.device(*args), torch.device(*args)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs)
    assert tc.device(ours) is ours and ours == str(theirs)   # also the plain name


@pytest.mark.parametrize("bad", ["tpu", "cuda:x", "cuda:0:1"])
def test_unknown_device_names_raise_like_torch(bad):
    with pytest.raises(RuntimeError):
        torch.device(bad)
    with pytest.raises(RuntimeError, match="unknown device"):
        tc.device(bad)


@pytest.mark.parametrize("device", DEVICES)
def test_tensors_and_modules_take_device_objects(device):
    d = tc.device(device)
    x = tc.zeros(2, device=d)
    assert x.device == d and isinstance(x.device, tc.device) and x.device.type == d.type
    assert x.is_cuda == (d.type == "cuda") and x.to(d) is x
    layer = nn.Linear(2, 3).to(d)
    assert layer.weight.device == d


def test_cuda_and_accelerator_without_a_gpu():
    if backend.gpu_available():
        pytest.skip("a GPU is present")
    assert tc.cuda.is_available() is False and tc.cuda.device_count() == 0
    assert tc.accelerator.is_available() is False and tc.accelerator.current_accelerator() is None
    device = tc.accelerator.current_accelerator().type if tc.accelerator.is_available() else "cpu"  # the idiom
    assert device == "cpu"


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_cuda_and_accelerator_with_a_gpu(device):
    assert tc.cuda.is_available() and tc.cuda.device_count() >= 1 and tc.cuda.current_device() == 0
    assert tc.accelerator.current_accelerator() == tc.device("cuda")
    tc.cuda.synchronize()
    tc.cuda.empty_cache()


def test_variable_is_a_detached_alias_as_in_pytorch():
    """Variable(t) is a new Tensor sharing t's data, outside t's graph, with its own
    requires_grad, as torch.autograd.Variable (checked on torch alongside)."""
    for lib in (tc, torch):
        t = lib.ones(2)
        v = lib.autograd.Variable(t, requires_grad=True)
        assert v is not t and v.requires_grad and not t.requires_grad
        with lib.no_grad():
            v.mul_(3.0)
        assert t.tolist() == [3.0, 3.0]  # the same memory
        y = lib.ones(2, requires_grad=True) * 2
        assert lib.autograd.Variable(y).grad_fn is None and not lib.autograd.Variable(y).requires_grad
    v = tc.autograd.Variable(np.array([1.0, 2.0]), requires_grad=True)
    assert isinstance(v, tc.Tensor) and v.requires_grad


def test_data_parallel_keeps_torchs_state_dict_keys():
    ours = nn.DataParallel(nn.Linear(3, 2))
    theirs = torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["module.weight", "module.bias"]
    x = tc.ones(4, 3)
    np.testing.assert_array_equal(ours(x).numpy(), ours.module(x).numpy())
    np.testing.assert_array_equal(nn.parallel.data_parallel(ours.module, x).numpy(), ours.module(x).numpy())
    with pytest.raises(NotImplementedError, match="one process per GPU"):
        nn.DataParallel(nn.Linear(3, 2), device_ids=[0, 1])


@pytest.mark.parametrize("module, name, fragment", [
    (tc, "compile", "no compiler"), (tc.nn, "LSTM", "convolutional networks"),
    (tc.nn, "Conv2D", "did you mean tc.nn.Conv2d?"), (tc.optim, "Adamw", "did you mean tc.optim.AdamW?"),
    (tc.nn.functional, "Relu", "did you mean F.relu?"), (tc, "frobnicate", "Porting PyTorch code"),
])
def test_a_missing_pytorch_name_says_what_to_use(module, name, fragment):
    with pytest.raises(AttributeError) as info:
        getattr(module, name)
    message = str(info.value)
    assert name in message and fragment in message and "\n" not in message


def test_bad_pooling_and_loss_arguments_raise_runtime_error_as_torch():
    """PyTorch refuses these with RuntimeError, which ported `except RuntimeError` code catches."""
    for lib in (tc, torch):
        F_ = lib.nn.functional
        x = lib.ones(1, 1, 4, 4)
        for bad in (lambda: F_.max_pool2d(x, 2, stride=0), lambda: F_.max_pool2d(x, 2, padding=2),
                    lambda: F_.avg_pool2d(x, 2, divisor_override=0), lambda: F_.adaptive_avg_pool2d(x, (1, 2, 3)),
                    lambda: F_.adaptive_avg_pool2d(x, (-1, 2)),
                    lambda: F_.cross_entropy(lib.ones(2, 3), lib.tensor([0, 1]), label_smoothing=1.5)):
            with pytest.raises(RuntimeError):
                bad()


def test_numpy_integers_are_sizes_as_in_torch():
    for lib in (tc, torch):
        x = lib.ones(1, 2, 3, 3)
        F_ = lib.nn.functional
        assert tuple(F_.pad(x, tuple(np.array([1, 1, 1, 1]))).shape) == (1, 2, 5, 5)
        assert tuple(F_.group_norm(x, np.int64(1)).shape) == (1, 2, 3, 3)
        assert tuple(F_.layer_norm(x, (np.int64(3), np.int64(3))).shape) == (1, 2, 3, 3)
        assert tuple(F_.adaptive_avg_pool2d(x, (np.int64(2), 2)).shape) == (1, 2, 2, 2)
