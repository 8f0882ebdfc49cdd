"""F.batch_norm: the edge cases. The op table (tests/op_table/nn_ops.py, run by
tests/test_op_table.py) proves forward, the gradients of x / weight / bias and the running
statistics against torch.nn.functional.batch_norm on (N, C), (N, C, L) and (N, C, H, W) inputs,
in training and in eval (where the statistics must stay as they were); this file keeps what
the table does not check: the statistics updated in place (views see them), over several
steps, the unbiased running variance checked independently, no_grad, and bad arguments
leaving the statistics alone.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, assert_close


# ---------------------------------------------------------------- running statistics
@pytest.mark.parametrize("device", DEVICES)
def test_running_stats_are_updated_in_place(device):
    """Training updates running_mean / running_var in their own arrays: views taken before the
    call see the new values (as torch's in-place update), and backward leaves them alone."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 2, 2))
    rm, rv = tc.zeros(3, dtype="float64", device=device), tc.ones(3, dtype="float64", device=device)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    rm_view, rv_view = rm.array, rv.array
    out = F.batch_norm(tc.tensor(x, device=device, requires_grad=True), rm, rv, None, None, True, 0.1, 1e-5)
    TF.batch_norm(torch.tensor(x), trm, trv, None, None, True, 0.1, 1e-5)
    assert rm.array is rm_view and rv.array is rv_view, "running tensors were replaced, not updated"
    assert_close(rm_view, trm, np.float64, "running_mean (in place)")
    assert_close(rv_view, trv, np.float64, "running_var (in place)")
    out.sum().backward()
    assert_close(rm, trm, np.float64, "running_mean after backward")
    assert_close(rv, trv, np.float64, "running_var after backward")


@pytest.mark.parametrize("device", DEVICES)
def test_running_stats_follow_torch_over_several_steps(device):
    """Five training steps with momentum 0.3 on changing batches: running stats track torch's."""
    rng = np.random.default_rng(3)
    rm, rv = tc.zeros(3, dtype="float64", device=device), tc.ones(3, dtype="float64", device=device)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for step in range(5):
        x = rng.standard_normal((4, 3, 2, 2)) * (step + 1) + step
        F.batch_norm(tc.tensor(x, device=device), rm, rv, None, None, True, 0.3, 1e-5)
        TF.batch_norm(torch.tensor(x), trm, trv, None, None, True, 0.3, 1e-5)
    assert_close(rm, trm, np.float64, "running_mean")
    assert_close(rv, trv, np.float64, "running_var")


@pytest.mark.parametrize("device", DEVICES)
def test_running_var_uses_unbiased_estimate(device):
    """An independent numpy check: momentum 1 makes running_var the unbiased batch variance
    while the output is normalized with the biased one."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 2))
    rm, rv = tc.zeros(2, dtype="float64", device=device), tc.ones(2, dtype="float64", device=device)
    out = F.batch_norm(tc.tensor(x, device=device), rm, rv, None, None, True, 1.0, 0.0)
    np.testing.assert_allclose(rm.numpy(), x.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), x.var(axis=(0, 2), ddof=1), rtol=1e-12)
    expected = (x - x.mean(axis=(0, 2), keepdims=True)) / x.std(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_no_grad_training_still_updates_running_stats(device):
    """Under no_grad, training-mode batch norm records nothing but still updates the running stats."""
    x = np.random.default_rng(2).standard_normal((5, 3))
    rm, rv = tc.zeros(3, dtype="float64", device=device), tc.ones(3, dtype="float64", device=device)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    with tc.no_grad():
        out = F.batch_norm(tc.tensor(x, device=device, requires_grad=True), rm, rv, training=True)
    TF.batch_norm(torch.tensor(x), trm, trv, training=True)
    assert out.grad_fn is None and not out.requires_grad
    assert_close(rm, trm, np.float64, "running_mean")
    assert_close(rv, trv, np.float64, "running_var")


# ---------------------------------------------------------------- errors leave the stats alone
def _running(device, c=3):
    rng = np.random.default_rng(9)
    rm0, rv0 = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    return rm0, rv0, tc.tensor(rm0, device=device), tc.tensor(rv0, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
def test_one_value_per_channel_in_training_raises_and_keeps_stats(device, shape):
    """Training on one value per channel is an error (as in torch) and the running stats stay as they were."""
    rm0, rv0, rm, rv = _running(device)
    x = np.random.default_rng(0).standard_normal(shape)
    with pytest.raises(ValueError):
        TF.batch_norm(torch.tensor(x), torch.tensor(rm0), torch.tensor(rv0), training=True)
    with pytest.raises(ValueError, match="value per channel"):
        F.batch_norm(tc.tensor(x, device=device), rm, rv, None, None, True, 0.1, 1e-5)
    np.testing.assert_array_equal(rm.numpy(), rm0)
    np.testing.assert_array_equal(rv.numpy(), rv0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("wrong", ["weight", "bias", "running_mean", "running_var"])
def test_wrong_shaped_argument_raises_and_keeps_stats(device, wrong):
    """A (C+1,)-shaped weight / bias / running stat raises tc.ShapeError naming it; stats unchanged."""
    rm0, rv0, rm, rv = _running(device)
    args = dict(weight=tc.ones(3, dtype="float64", device=device), bias=tc.zeros(3, dtype="float64", device=device),
                running_mean=rm, running_var=rv)
    args[wrong] = tc.ones(4, dtype="float64", device=device)
    x = tc.tensor(np.random.default_rng(0).standard_normal((4, 3, 2, 2)), device=device)
    with pytest.raises(tc.ShapeError, match=wrong):
        F.batch_norm(x, args["running_mean"], args["running_var"], args["weight"], args["bias"], True, 0.1, 1e-5)
    np.testing.assert_array_equal(rm.numpy(), rm0)
    np.testing.assert_array_equal(rv.numpy(), rv0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("training", [True, False])
def test_running_stats_of_other_dtype_raise_and_keep_stats(device, training):
    """float32 input with float64 running statistics: torch refuses ("mixed dtype"); so must we
    (a TypeError naming batch_norm, as for a weight of another dtype), leaving the stats alone,
    rather than silently returning float64 (eval) or mixing precisions (training)."""
    rm0, rv0, rm, rv = _running(device)  # float64
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    with pytest.raises(RuntimeError, match="mixed dtype"):
        TF.batch_norm(torch.tensor(x), torch.tensor(rm0), torch.tensor(rv0), training=training)
    with pytest.raises(TypeError, match="batch_norm"):
        F.batch_norm(tc.tensor(x, device=device), rm, rv, None, None, training, 0.1, 1e-5)
    np.testing.assert_array_equal(rm.numpy(), rm0)
    np.testing.assert_array_equal(rv.numpy(), rv0)


@pytest.mark.parametrize("device", DEVICES)
def test_weight_of_other_dtype_raises(device):
    """A float32 weight with float64 input is a TypeError naming batch_norm (torch raises too)."""
    rm0, rv0, rm, rv = _running(device)
    x = tc.tensor(np.ones((4, 3)), device=device)
    with pytest.raises(TypeError, match="batch_norm"):
        F.batch_norm(x, rm, rv, tc.ones(3, device=device), None, True, 0.1, 1e-5)
    np.testing.assert_array_equal(rm.numpy(), rm0)


@pytest.mark.parametrize("device", DEVICES)
def test_eval_without_running_stats_raises(device):
    """Eval needs running statistics (torch raises too)."""
    x = tc.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(ValueError):
        F.batch_norm(x, None, None, training=False)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "nc"])
def test_eval_without_grad_equals_torch(device, affine, dtype, layout):
    """Inference (eval mode, nothing requiring grad) takes a path of its own (one affine map,
    nothing saved): same numbers as torch, the input and the statistics untouched."""
    rng = np.random.default_rng(7)
    shape = (3, 5) if layout == "nc" else (3, 5, 4, 6)
    x = rng.standard_normal(shape).astype(dtype) * 3 + 1
    if layout == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)   # NHWC memory, NCHW view
    stats = {k: rng.uniform(0.3, 2, 5).astype(dtype) for k in ("rm", "rv", "w", "b")}
    ours = {k: tc.tensor(v.copy(), device=device) for k, v in stats.items()}
    x_ours = tc.tensor(x, device=device)
    x_before = x_ours.numpy().copy()
    with tc.no_grad():
        out = F.batch_norm(x_ours, ours["rm"], ours["rv"], ours["w"] if affine else None,
                           ours["b"] if affine else None, False, 0.1, 1e-5)
    expected = TF.batch_norm(torch.tensor(x), torch.tensor(stats["rm"]), torch.tensor(stats["rv"]),
                             torch.tensor(stats["w"]) if affine else None, torch.tensor(stats["b"]) if affine else None,
                             False, 0.1, 1e-5)
    assert out.dtype == dtype and out.shape == shape
    assert_close(out, expected, dtype, "eval batch_norm without grad")
    np.testing.assert_array_equal(x_ours.numpy(), x_before)
    for k in ("rm", "rv"):
        np.testing.assert_array_equal(ours[k].numpy(), stats[k])
