"""F.batch_norm against torch.nn.functional.batch_norm.

Forward, the gradients of x / weight / bias, and the running statistics updated in place
(biased batch variance to normalize, unbiased variance for the running estimate), on (N, C),
(N, C, L) and (N, C, H, W) inputs drawn by hypothesis, in training and in eval.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, assert_close, to_numpy, torch_device


# ---------------------------------------------------------------- strategies
@st.composite
def bn_shapes(draw, training):
    """(N, C), (N, C, L) or (N, C, H, W); in training at least 2 values per channel."""
    spatial_dims = draw(st.integers(0, 2))
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 4))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(spatial_dims))
    if training and n * int(np.prod(spatial, dtype=int)) < 2:
        n = 2
    return (n, c) + spatial


@st.composite
def bn_cases(draw, training):
    """Everything one batch_norm call needs: arrays from a drawn seed plus the call's options."""
    shape = draw(bn_shapes(training))
    c = shape[1]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.floats(0.1, 3.0))
    offset = draw(st.floats(-2.0, 2.0))
    return dict(
        x=rng.standard_normal(shape) * scale + offset,
        weight=rng.standard_normal(c) if draw(st.booleans()) else None,
        bias=rng.standard_normal(c) if draw(st.booleans()) else None,
        # in training the running statistics are optional (torch allows None); eval needs them
        running=(rng.standard_normal(c), rng.uniform(0.2, 3.0, c))
        if (not training or draw(st.booleans())) else None,
        momentum=draw(st.one_of(st.sampled_from([0.0, 0.1, 1.0]), st.floats(0.0, 1.0))),
        eps=draw(st.sampled_from([1e-5, 1e-3, 0.1, 1.0])),
        x_requires_grad=draw(st.booleans()) if draw(st.booleans()) else True,  # mostly True
    )


def _ours(array, device, dtype, requires_grad=False):
    return None if array is None else tc.tensor(np.asarray(array, dtype=dtype), device=device,
                                                 requires_grad=requires_grad)


def _theirs(array, device, dtype, requires_grad=False):
    return None if array is None else torch.tensor(np.asarray(array, dtype=dtype), device=torch_device(device),
                                                    requires_grad=requires_grad)


def run_and_compare(case, training, device, dtype, seed=0):
    """Call both libraries on the same data; compare output, gradients and running statistics."""
    x = _ours(case["x"], device, dtype, requires_grad=case["x_requires_grad"])
    tx = _theirs(case["x"], device, dtype, requires_grad=case["x_requires_grad"])
    w, b = (_ours(case[k], device, dtype, requires_grad=True) for k in ("weight", "bias"))
    tw, tb = (_theirs(case[k], device, dtype, requires_grad=True) for k in ("weight", "bias"))
    if case["running"] is None:
        rm = rv = trm = trv = None
    else:
        rm, rv = (_ours(a, device, dtype) for a in case["running"])
        trm, trv = (_theirs(a, device, dtype) for a in case["running"])
    # views held before the call must see the update: the running tensors change in place
    rm_view, rv_view = (None, None) if rm is None else (rm.data, rv.data)
    x_before = to_numpy(x.data).copy()

    out = F.batch_norm(x, rm, rv, w, b, training, case["momentum"], case["eps"])
    ref = TF.batch_norm(tx, trm, trv, tw, tb, training, case["momentum"], case["eps"])

    np.testing.assert_array_equal(to_numpy(x.data), x_before, err_msg="batch_norm modified its input")
    assert out.shape == tuple(ref.shape) and out.dtype == np.dtype(dtype) and out.device == x.device
    # float32: the gradient through the batch statistics cancels terms of size |w| * invstd
    var = case["x"].var(axis=(0,) + tuple(range(2, x.ndim)))
    invstd = 1 / np.sqrt((var if training else case["running"][1]) + case["eps"])
    wmax = 1.0 if case["weight"] is None else np.abs(case["weight"]).max()
    scale = max(1.0, float(invstd.max() * wmax))
    assert_close(out, ref, dtype, "forward", scale=scale)
    if rm is not None:
        assert_close(rm_view, trm, dtype, "running_mean (in place)")
        assert_close(rv_view, trv, dtype, "running_var (in place)")
        assert rm.data is rm_view and rv.data is rv_view, "running tensors were replaced, not updated"

    if not out.requires_grad:  # neither x nor weight nor bias asked for a gradient
        assert not ref.requires_grad
        return
    cot = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(tc.tensor(cot, device=device))
    ref.backward(torch.tensor(cot, device=torch_device(device)))
    for name, o, t in (("x", x, tx), ("weight", w, tw), ("bias", b, tb)):
        if o is None or not o.requires_grad:
            assert o is None or o.grad is None, f"{name} got a gradient it did not ask for"
            continue
        assert o.grad is not None and o.grad.shape == o.shape and o.grad.dtype == o.dtype, name
        assert_close(o.grad, t.grad, dtype, f"gradient of {name}", scale=scale)
    np.testing.assert_array_equal(to_numpy(x.data), x_before, err_msg="batch_norm modified its input")
    if rm is not None:  # backward must not touch the running statistics either
        assert_close(rm.data, trm, dtype, "running_mean after backward")
        assert_close(rv.data, trv, dtype, "running_var after backward")


# ---------------------------------------------------------------- against torch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=bn_cases(training=True))
def test_batch_norm_training_matches_torch(device, dtype, case):
    """Training: output, gradients of x/weight/bias (x with or without requires_grad), and running
    stats updated in place as torch does."""
    run_and_compare(case, True, device, dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=bn_cases(training=False))
def test_batch_norm_eval_matches_torch(device, dtype, case):
    """Eval: normalizes with the running statistics; output and gradients equal torch's."""
    run_and_compare(case, False, device, dtype)


@pytest.mark.parametrize("device", DEVICES)
@given(case=bn_cases(training=False))
def test_eval_leaves_running_stats_untouched(device, case):
    """Eval mode never writes to running_mean / running_var (forward or backward)."""
    rm0, rv0 = case["running"]
    x = _ours(case["x"], device, np.float64, requires_grad=True)
    rm, rv = _ours(rm0, device, np.float64), _ours(rv0, device, np.float64)
    out = F.batch_norm(x, rm, rv, None, None, False, case["momentum"], case["eps"])
    out.sum().backward()
    np.testing.assert_array_equal(rm.numpy(), rm0)
    np.testing.assert_array_equal(rv.numpy(), rv0)


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
