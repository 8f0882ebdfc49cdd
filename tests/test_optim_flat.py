"""Flat parameter and gradient buffers (optim/flat.py): an optimizer moves its parameters into one
buffer per dtype and device, gradients land in a second buffer, and a step updates whole
buffers; the results stay PyTorch's (test_optim.py compares every update rule), also when the
module is moved after the optimizer was built, when some parameters have no gradient, and
after load_state_dict."""
import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn, optim
from tinygrad_cnn.optim.flat import FlatBuffer
from helpers import DEVICES, to_numpy


def small_model():
    # no batch norm: it makes the conv bias's gradient zero up to rounding, which Adam scales up
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))


def torch_twin(model):
    twin = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(3 * 4 * 4, 5))
    twin.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in model.state_dict().items()})
    return twin.double() if model[0].weight.dtype == np.float64 else twin


def batch(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 2, 4, 4)).astype(dtype), rng.integers(0, 5, 4)


def train_both(model, twin, opt, topt, steps, device="cpu"):
    for step in range(steps):
        x, y = batch(step, model[0].weight.dtype)
        loss = F.cross_entropy(model(tc.tensor(x, device=device)), tc.tensor(y, device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()


def assert_same_weights(model, twin, rtol=1e-10):
    theirs = twin.state_dict()
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(to_numpy(value), theirs[key].detach().numpy(), rtol=rtol, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("device", DEVICES)
def test_parameters_and_gradients_live_in_one_buffer(device):
    model = small_model().double().to(device)
    values = {k: to_numpy(v).copy() for k, v in model.state_dict().items()}
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    params = list(model.parameters())
    (buffer,) = {p._flat for p in params}
    assert isinstance(buffer, FlatBuffer) and buffer.params == params
    assert buffer.size == sum(p.numel() for p in params)
    for key, value in model.state_dict().items():  # values kept by the move into the buffer
        np.testing.assert_array_equal(to_numpy(value), values[key], err_msg=key)
    for p, view in zip(params, buffer.views):
        assert p.array is view
    x, y = batch()
    F.cross_entropy(model(tc.tensor(x, device=device)), tc.tensor(y, device=device)).backward()
    for p, slot in zip(params, buffer.grad_views):
        assert p.grad.array is slot                              # the gradient was written in place
    expected = np.concatenate([to_numpy(p.grad).reshape(-1) for p in params])
    np.testing.assert_array_equal(to_numpy(buffer.grad), expected)
    opt.step()
    flat_momentum = {id(opt.state[p]["momentum_buffer"].base) for p in params}
    assert len(flat_momentum) == 1                               # the state is one flat array too


def test_one_buffer_per_dtype_and_per_group():
    a = nn.Parameter(tc.zeros(3, dtype="float64"))
    b = nn.Parameter(tc.zeros(2, dtype="float32"))
    c = nn.Parameter(tc.zeros(4, dtype="float64"))
    d = nn.Parameter(tc.zeros(5, dtype="float64"))
    opt = optim.Adam([{"params": [a, b, c]}, {"params": [d], "lr": 0.1}])
    assert a._flat is c._flat and a._flat is not b._flat and d._flat not in (a._flat, b._flat)
    assert a._flat.params == [a, c] and b._flat.params == [b]
    assert len(opt._buffers[0]) == 2 and len(opt._buffers[1]) == 1


def test_whole_buffer_and_per_parameter_steps_agree_with_torch():
    """Steps where every parameter has a gradient run on the whole buffer; a step where one has
    none runs parameter by parameter (PyTorch skips it). Both follow torch.optim exactly."""
    tc.manual_seed(0)
    model = small_model().double()
    twin = torch_twin(model)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)
    topt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True,
                           foreach=False)
    train_both(model, twin, opt, topt, 2)
    model[3].bias.requires_grad_(False)  # no gradient for one parameter: the per-parameter path
    twin[3].bias.requires_grad_(False)
    train_both(model, twin, opt, topt, 2)
    model[3].bias.requires_grad_(True)
    twin[3].bias.requires_grad_(True)
    train_both(model, twin, opt, topt, 2)
    assert_same_weights(model, twin)


def test_moving_the_module_after_building_the_optimizer():
    """PyTorch lets a model change dtype after its optimizer was built (the Parameter objects
    stay); the buffer is rebuilt at the next step and training goes on as in torch."""
    tc.manual_seed(1)
    model = small_model()
    twin = torch_twin(model)
    opt = optim.Adam(model.parameters(), lr=0.01)
    topt = torch.optim.Adam(twin.parameters(), lr=0.01, foreach=False)
    model.double()
    twin.double()
    old = model[0].weight._flat
    assert old is None
    train_both(model, twin, opt, topt, 3)
    assert model[0].weight._flat is not None and model[0].weight._flat.dtype == np.float64
    assert_same_weights(model, twin)


def test_load_state_dict_then_whole_buffer_steps():
    """A loaded state (separate arrays) is copied into the flat state at the next step."""
    tc.manual_seed(2)
    model = small_model().double()
    twin = torch_twin(model)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9, foreach=False)
    train_both(model, twin, opt, topt, 2)
    saved = opt.state_dict()
    opt2 = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    opt2.load_state_dict(saved)
    train_both(model, twin, opt2, topt, 2)
    assert_same_weights(model, twin)


def test_a_gradient_assigned_by_hand_is_used():
    p = nn.Parameter(tc.tensor(np.arange(4.0)))
    opt = optim.SGD([p], lr=0.5)
    p.grad = tc.tensor(np.ones(4))
    opt.step()
    np.testing.assert_array_equal(p.numpy(), np.arange(4.0) - 0.5)


def test_flat_buffer_rejects_mixed_dtypes():
    with pytest.raises(ValueError, match="one dtype and device"):
        FlatBuffer([nn.Parameter(tc.zeros(2, dtype="float32")), nn.Parameter(tc.zeros(2, dtype="float64"))])
