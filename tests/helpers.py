"""Helpers for comparing tinygrad_cnn ops with PyTorch.

`DEVICES` parametrizes a test over three cases:
- "cpu": the numpy backend;
- id "standin": the device "cuda:0" served by the strict CuPy stand-in (`cupy_standin`: CuPy's
  names, signatures and strictness, NumPy underneath), marked `standin`; conftest.py runs these
  cases inside `backend.cupy_module_replaced(standin)`. They run everywhere CuPy is installed
  (it imports without a GPU) and skip, saying so, where it is not;
- id "cuda:0": the cupy backend on a real GPU, marked `gpu`, skipped without CuPy and a device.
"""
import cupy_standin
import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import backend

torch.set_num_threads(1)  # tests compare tiny ops: a thread pool only adds overhead

GPU_SKIP_REASON = "needs CuPy and a CUDA device"
STANDIN_SKIP_REASON = cupy_standin.skip_reason()
STANDIN = pytest.param("cuda:0", id="standin", marks=[pytest.mark.standin, pytest.mark.skipif(
    STANDIN_SKIP_REASON is not None, reason=STANDIN_SKIP_REASON or "")])
GPU = pytest.param("cuda:0", id="cuda:0", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not backend.gpu_available(), reason=GPU_SKIP_REASON)])
DEVICES = ["cpu", STANDIN, GPU]


def standin_active():
    """True inside a stand-in case (the library's CuPy is the stand-in)."""
    return STANDIN_SKIP_REASON is None and backend.cupy_module() is cupy_standin.load()

# Tolerances: float64 at rtol 1e-6; float32 loose enough for reordered sums of a few thousand terms.
TOLERANCES = {np.dtype("float64"): dict(rtol=1e-6, atol=1e-8),
              np.dtype("float32"): dict(rtol=2e-4, atol=2e-5)}
DTYPES = [np.float64, np.float32]


def torch_device(device):
    """The torch device to compare against: CUDA when our device is a real GPU and torch has
    CUDA (stand-in cases compare with torch on the CPU)."""
    if device != "cpu" and torch.cuda.is_available() and not standin_active():
        return "cuda"
    return "cpu"


def to_numpy(value):
    """A NumPy array of a torch tensor, a Tensor, or a numpy / cupy / stand-in array."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, tc.Tensor):
        value = value.numpy()
    if STANDIN_SKIP_REASON is None and isinstance(value, cupy_standin.load().ndarray):
        return value.get()
    return backend.to_device(value, "cpu") if not isinstance(value, np.ndarray) else value


def assert_close(ours, theirs, dtype, what="", scale=1.0):
    """assert_allclose with the dtype's tolerance; `scale` widens atol for large-magnitude results."""
    tol = TOLERANCES[np.dtype(dtype)]
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=tol["rtol"], atol=tol["atol"] * scale,
                               err_msg=what)


def compare_with_torch(our_fn, torch_fn, arrays, device="cpu", dtype=np.float64, requires_grad=None,
                       seed=0, atol_scale=1.0):
    """Run `our_fn` on tinygrad_cnn tensors and `torch_fn` on torch tensors built from the same
    numpy `arrays`; compare outputs and the gradient of every input w.r.t. a random cotangent.

    requires_grad: one bool per array (default: all floating arrays). Non-floating arrays
    (targets) are passed as integer tensors. Returns (our_output, torch_output).
    """
    if requires_grad is None:
        requires_grad = [np.asarray(a).dtype.kind == "f" for a in arrays]
    ours, theirs = [], []
    tdev = torch_device(device)
    for a, rg in zip(arrays, requires_grad):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        ours.append(tc.tensor(a, device=device, requires_grad=rg))
        theirs.append(torch.tensor(a, device=tdev, requires_grad=rg))
    out = our_fn(*ours)
    ref = torch_fn(*theirs)
    assert out.shape == tuple(ref.shape), f"shape {out.shape} != torch {tuple(ref.shape)}"
    assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", "")), f"dtype {out.dtype} vs torch {ref.dtype}"
    assert out.device == device
    assert_close(out, ref, dtype, "forward", scale=atol_scale)
    if any(requires_grad):
        cotangent = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
        out.backward(tc.tensor(cotangent, device=device))
        ref.backward(torch.tensor(cotangent, device=tdev))
        for i, (o, t, rg) in enumerate(zip(ours, theirs, requires_grad)):
            if not rg:
                continue
            assert o.grad is not None, f"input {i} got no gradient"
            assert o.grad.shape == o.shape and o.grad.dtype == o.dtype
            assert_close(o.grad, t.grad, dtype, f"gradient of input {i}", scale=atol_scale)
    return out, ref


def leaf(shape, dtype=np.float64, seed=0):
    """A tensor of standard-normal values (from `seed`) that requires grad."""
    return tc.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True)


def assert_fails_cleanly(call, tensors, error, *fragments):
    """call() raises `error` with every fragment in its message, and afterwards the tensors
    hold the same values, shapes and dtypes as before and have no .grad."""
    before = [t.numpy().copy() for t in tensors]
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in error message {message!r}"
    for t, old in zip(tensors, before):
        assert t.shape == old.shape and t.dtype == old.dtype
        np.testing.assert_array_equal(t.numpy(), old)
        assert t.grad is None and t.requires_grad
    return message
