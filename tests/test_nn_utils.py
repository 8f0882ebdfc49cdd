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


def _trained_bn(num_features, seed, torch_bn):
    """An eval-mode BatchNorm of ours with non-trivial running statistics and affine parameters,
    and torch's with the same values."""
    rng = np.random.default_rng(seed)
    ours = nn.BatchNorm2d(num_features) if isinstance(torch_bn, torch.nn.BatchNorm2d) else nn.BatchNorm1d(num_features)
    values = {"weight": rng.uniform(0.5, 2, num_features), "bias": rng.standard_normal(num_features),
              "running_mean": rng.standard_normal(num_features), "running_var": rng.uniform(0.2, 3, num_features)}
    ours.load_state_dict({**{k: v.astype(np.float32) for k, v in values.items()},
                          "num_batches_tracked": np.array(5)})
    torch_bn.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in values.items()}, strict=False)
    return ours.eval(), torch_bn.eval()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["conv", "conv_no_bias", "grouped", "transposed"])
def test_fuse_conv_bn_eval_matches_bn_of_conv_and_torch(device, kind):
    tc.manual_seed(0)
    if kind == "transposed":
        conv, transpose = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1), True
    else:
        conv, transpose = nn.Conv2d(4, 6, 3, padding=1, bias=kind != "conv_no_bias", groups=2 if kind == "grouped" else 1), False
    torch_conv = (torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1) if transpose else
                  torch.nn.Conv2d(4, 6, 3, padding=1, bias=kind != "conv_no_bias", groups=2 if kind == "grouped" else 1))
    torch_conv.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in conv.state_dict().items()})
    bn, torch_bn = _trained_bn(6, 1, torch.nn.BatchNorm2d(6))
    conv.eval(), torch_conv.eval()
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose).to(device)
    torch_fused = torch.nn.utils.fuse_conv_bn_eval(torch_conv, torch_bn, transpose=transpose)
    np.testing.assert_allclose(to_numpy(fused.weight), torch_fused.weight.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_numpy(fused.bias), torch_fused.bias.detach().numpy(), rtol=1e-6, atol=1e-6)
    assert (fused.weight.requires_grad, fused.bias.requires_grad) == \
        (torch_fused.weight.requires_grad, torch_fused.bias.requires_grad)  # no bias before: a constant bias

    x = np.random.default_rng(2).standard_normal((2, 4, 7, 7)).astype(np.float32)
    with tc.no_grad():
        expected = bn.to(device)(conv.to(device)(tc.tensor(x, device=device)))
        got = fused(tc.tensor(x, device=device))
    np.testing.assert_allclose(to_numpy(got), to_numpy(expected), rtol=1e-5, atol=1e-5)
    assert conv.bias is None if kind == "conv_no_bias" else conv.bias is not None  # the original is unchanged
    assert fused.weight is not conv.weight and not np.shares_memory(to_numpy(fused.weight), to_numpy(conv.weight))


def test_fuse_linear_bn_eval_matches_torch():
    tc.manual_seed(0)
    linear, torch_linear = nn.Linear(5, 3), torch.nn.Linear(5, 3)
    torch_linear.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in linear.state_dict().items()})
    bn, torch_bn = _trained_bn(3, 3, torch.nn.BatchNorm1d(3))
    fused = nn.utils.fuse_linear_bn_eval(linear.eval(), bn)
    torch_fused = torch.nn.utils.fuse_linear_bn_eval(torch_linear.eval(), torch_bn)
    x = np.random.default_rng(4).standard_normal((4, 5)).astype(np.float32)
    with torch.no_grad():
        expected = torch_fused(torch.tensor(x)).numpy()
    np.testing.assert_allclose(fused(tc.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_fusion_refuses_training_mode_and_batch_statistics():
    conv, bn = nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3)
    with pytest.raises(RuntimeError, match="fuse_conv_bn_eval: fusion only for eval"):
        nn.utils.fuse_conv_bn_eval(conv, bn.eval())
    with pytest.raises(RuntimeError, match="no running statistics"):
        nn.utils.fuse_conv_bn_eval(conv.eval(), nn.BatchNorm2d(3, track_running_stats=False).eval())
    with pytest.raises(ValueError, match="3 outputs do not match the batch norm's 4 features"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(4).eval())
