"""`.data` as in PyTorch (a Tensor sharing memory, outside the graph) and the in-place methods
(`add_`, `mul_`, `fill_`, `normal_`, ... and `+=`): values against torch, PyTorch's errors on
tensors that take part in autograd, and the idioms of public model code."""
import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from helpers import DEVICES, to_numpy


def pair(values, requires_grad=False, device="cpu"):
    return (tc.tensor(np.array(values, dtype=np.float64), device=device, requires_grad=requires_grad),
            torch.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad))


@pytest.mark.parametrize("device", DEVICES)
def test_data_is_a_detached_tensor_sharing_memory(device):
    w = nn.Parameter(tc.tensor(np.arange(4.0), device=device))
    d = w.data
    assert isinstance(d, tc.Tensor) and not d.requires_grad and d.grad_fn is None and d.device == device
    d[1] = 10.0                               # a write through .data changes the parameter
    d.mul_(2)
    np.testing.assert_array_equal(w.numpy(), [0.0, 20.0, 4.0, 6.0])
    w.data = tc.tensor(np.ones(4), device=device)  # assigning .data replaces the values
    np.testing.assert_array_equal(w.numpy(), np.ones(4))
    assert w.requires_grad and isinstance(w, nn.Parameter)
    assert w.array is w.data.array             # the raw array is one attribute away


METHODS = [("add_", (2.5,), {}), ("add_", ("other",), {"alpha": 0.5}), ("sub_", ("other",), {}),
           ("sub_", (1.0,), {"alpha": 3}), ("mul_", ("other",), {}), ("div_", (4.0,), {}),
           ("clamp_", (), {"min": -0.5, "max": 1.0}), ("clamp_", (0.0,), {}), ("fill_", (7.0,), {}),
           ("zero_", (), {}), ("copy_", ("other",), {})]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, args, kwargs", METHODS, ids=[f"{m[0]}-{i}" for i, m in enumerate(METHODS)])
def test_in_place_methods_match_torch(device, name, args, kwargs):
    ours, theirs = pair([[-1.0, 0.5], [2.0, -3.0]], device=device)
    other, t_other = pair([[0.25, 2.0], [-1.0, 4.0]], device=device)
    result = getattr(ours, name)(*[other if a == "other" else a for a in args], **kwargs)
    getattr(theirs, name)(*[t_other if a == "other" else a for a in args], **kwargs)
    assert result is ours
    np.testing.assert_allclose(to_numpy(ours), theirs.numpy(), rtol=1e-15)


@pytest.mark.parametrize("op", ["add_", "mul_", "fill_", "zero_", "normal_", "uniform_", "setitem", "+="])
def test_in_place_on_a_leaf_that_requires_grad_raises_like_torch(op):
    calls = {"add_": lambda t: t.add_(1), "mul_": lambda t: t.mul_(2), "fill_": lambda t: t.fill_(0),
             "zero_": lambda t: t.zero_(), "normal_": lambda t: t.normal_(), "uniform_": lambda t: t.uniform_(),
             "setitem": lambda t: t.__setitem__(0, 1.0), "+=": lambda t: t.__iadd__(1.0)}
    ours, theirs = pair([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        calls[op](theirs)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        calls[op](ours)
    np.testing.assert_array_equal(ours.numpy(), [1.0, 2.0])
    with tc.no_grad():                       # allowed under no_grad, as in torch
        calls[op](ours)
    with torch.no_grad():
        calls[op](theirs)
    if op not in ("normal_", "uniform_"):
        np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())


def test_in_place_on_a_tensor_in_the_graph_is_refused():
    x = tc.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="part of the autograd graph"):
        y.mul_(3)


def test_augmented_assignment_in_a_residual_block_keeps_the_graph():
    """`out += identity` (torchvision's BasicBlock) on tensors in the graph: a new tensor, with
    PyTorch's gradients."""
    rng = np.random.default_rng(0)
    a0, b0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    a, b = tc.tensor(a0, requires_grad=True), tc.tensor(b0, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    out = a * 2
    out += b
    out *= 3.0
    (out * out).sum().backward()
    tout = ta * 2
    tout += tb
    tout *= 3.0
    (tout * tout).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)


def test_manual_sgd_on_data_as_in_pytorch_examples():
    """`p.data -= lr * p.grad.data` (the MNIST tutorials' update) updates the parameter in place."""
    w = nn.Parameter(tc.tensor(np.array([1.0, -2.0])))
    array = w.array
    (w * w).sum().backward()
    w.data -= 0.1 * w.grad.data
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6])
    assert w.array is array


@pytest.mark.parametrize("device", DEVICES)
def test_random_fills_are_seeded_and_have_the_right_statistics(device):
    t = tc.zeros(200, 500, device=device)
    tc.manual_seed(3)
    first = to_numpy(t.normal_(1.0, 2.0)).copy()
    tc.manual_seed(3)
    np.testing.assert_array_equal(to_numpy(t.normal_(1.0, 2.0)), first)
    assert abs(first.mean() - 1.0) < 0.03 and abs(first.std() - 2.0) < 0.03 and first.dtype == np.float32
    u = to_numpy(t.uniform_(-1.0, 3.0))
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.02
    b = to_numpy(t.bernoulli_(0.3))
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01


def test_init_functions_accept_data_tensors():
    """`nn.init.kaiming_normal_(m.weight.data)` and `m.weight.data.normal_(0, 0.01)`, as written
    in public model code, initialize the parameter itself."""
    conv = nn.Conv2d(3, 8, 3)
    tc.manual_seed(0)
    nn.init.kaiming_normal_(conv.weight.data, mode="fan_out", nonlinearity="relu")
    std = np.sqrt(2.0 / (8 * 9))
    assert abs(conv.weight.numpy().std() - std) < 0.2 * std
    conv.bias.data.zero_()
    assert not conv.bias.numpy().any()
    conv.weight.data.normal_(0, 0.01)
    assert abs(conv.weight.numpy().std() - 0.01) < 0.003
