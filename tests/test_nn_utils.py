"""nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils."""
import math

import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from helpers import DEVICES, to_numpy

SHAPES = [(3, 4), (5,), (2, 1, 3)]


def params_with_grads(device, scale, seed=0, missing=()):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        value, grad = rng.standard_normal(shape), rng.standard_normal(shape) * scale
        p = nn.Parameter(tc.tensor(value, device=device))
        t = torch.tensor(value, requires_grad=True)
        if i not in missing:
            p.grad = tc.tensor(grad, device=device)
            t.grad = torch.tensor(grad)
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("scale, max_norm", [(10.0, 1.0), (0.01, 5.0)], ids=["clipped", "unchanged"])
def test_clip_grad_norm_matches_torch(device, norm_type, scale, max_norm):
    ours, theirs = params_with_grads(device, scale, missing=(1,))
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    assert total.device == device
    np.testing.assert_allclose(to_numpy(total), ttotal.numpy(), rtol=1e-12)
    for p, t in zip(ours, theirs):
        assert (p.grad is None) == (t.grad is None)
        if p.grad is not None:
            np.testing.assert_allclose(to_numpy(p.grad), t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("device", DEVICES)
def test_clip_grad_norm_non_finite(device):
    ours, theirs = params_with_grads(device, 1.0)
    ours[0].grad.data[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True).numpy()


@pytest.mark.parametrize("device", DEVICES)
def test_clip_grad_value_matches_torch(device):
    ours, theirs = params_with_grads(device, 3.0, missing=(2,))
    nn.utils.clip_grad_value_(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5, foreach=False)
    for p, t in zip(ours[:2], theirs[:2]):
        np.testing.assert_array_equal(to_numpy(p.grad), t.grad.numpy())
    assert ours[2].grad is None
