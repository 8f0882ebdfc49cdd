"""softmax, log_softmax and the losses: the edge cases. The op table (tests/op_table/loss.py,
run by tests/test_op_table.py) proves forward and gradients of softmax, log_softmax,
cross_entropy (reductions, label smoothing, ignored targets, (N, C, d1, ...) inputs), nll_loss
and mse_loss against PyTorch; this file keeps what the table does not check: huge logits,
independent checks of the definitions, every target ignored, broadcasting with a warning, and
bad targets and arguments.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, compare_with_torch
from op_table.loss import REDUCTIONS, class_cases, softmax_cases


# ---------------------------------------------------------------- softmax / log_softmax
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(case=softmax_cases())
def test_softmax_family_stable_with_huge_logits(device, dtype, name, case):
    """Logits offset by up to +-1e4 (exp would overflow): finite results equal to torch's."""
    x = case.arrays[0] + np.random.default_rng(case.seed).choice([-1e4, 0.0, 1e4, 3e4], size=case.arrays[0].shape)
    dim = case.params["dim"]
    out, _ = compare_with_torch(lambda t: getattr(F, name)(t, dim), lambda t: getattr(TF, name)(t, dim),
                                [x], device=device, dtype=dtype, seed=case.seed, atol_scale=10.0)
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("device", DEVICES)
def test_softmax_rows_sum_to_one(device):
    """An independent check: softmax along dim 1 sums to 1 and equals exp(log_softmax)."""
    x = tc.tensor(np.random.default_rng(0).standard_normal((4, 7, 3)) * 30, device=device)
    s = F.softmax(x, dim=1).numpy()
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(F.log_softmax(x, dim=1).numpy()), s, rtol=1e-10, atol=1e-300)


# ---------------------------------------------------------------- cross_entropy / nll_loss
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=class_cases(smoothing=False))
def test_cross_entropy_is_nll_of_log_softmax(device, dtype, case):
    """The composition nll_loss(log_softmax(x)) gives torch's cross_entropy and its gradient."""
    ignore = case.params["ignore_index"]
    compare_with_torch(lambda x, t: F.nll_loss(F.log_softmax(x, 1), t, ignore_index=ignore),
                       lambda x, t: TF.cross_entropy(x, t, ignore_index=ignore),
                       list(case.arrays), device=device, dtype=dtype, seed=case.seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=class_cases(smoothing=False), smoothing=st.sampled_from([0.0, 0.1]))
def test_cross_entropy_huge_logits(device, dtype, case, smoothing):
    """Logits with offsets of +-1e4 per element: finite loss and gradient, equal to torch's."""
    scores, target = case.arrays
    scores = scores + np.random.default_rng(case.seed).choice([-1e4, 0.0, 1e4], size=scores.shape)
    kwargs = dict(case.params, label_smoothing=smoothing)
    out, _ = compare_with_torch(lambda x, t: F.cross_entropy(x, t, **kwargs),
                                lambda x, t: TF.cross_entropy(x, t, **kwargs),
                                [scores, target], device=device, dtype=dtype, seed=case.seed, atol_scale=10.0)
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_all_rows_ignored_matches_torch(device, name, reduction):
    """Every target equal to ignore_index: torch gives loss nan for 'mean' (0 / 0), 0 otherwise,
    and a gradient of zeros in every case."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    target = np.full(3, -100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0 / 0 in the forward of 'mean'
        compare_with_torch(lambda a, t: getattr(F, name)(a, t, reduction=reduction),
                           lambda a, t: getattr(TF, name)(a, t, reduction=reduction),
                           [x, target], device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_independent_numpy(device):
    """Label-smoothed cross-entropy computed by hand in numpy (no torch): mean over kept rows of
    -(1 - s) log p[t] - s * mean_c log p[c]."""
    rng = np.random.default_rng(4)
    x, t, s = rng.standard_normal((6, 5)), np.array([0, 4, -100, 2, 2, 1]), 0.25
    z = x - x.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    keep = t != -100
    rows = -(1 - s) * logp[np.arange(6), np.where(keep, t, 0)] - s * logp.mean(axis=1)
    expected = rows[keep].mean()
    got = F.cross_entropy(tc.tensor(x, device=device), tc.tensor(t, device=device), label_smoothing=s)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)


# ---------------------------------------------------------------- mse_loss
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_broadcast_warns_like_torch(device, reduction):
    """Different shapes broadcast with a UserWarning (as in torch); values and gradients equal torch's."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3,))
    with pytest.warns(UserWarning):
        compare_with_torch(lambda x, y: F.mse_loss(x, y, reduction=reduction),
                           lambda x, y: TF.mse_loss(x, y, reduction=reduction), [a, b], device=device)


# ---------------------------------------------------------------- bad input
def _logits(device, n=4, c=10):
    return tc.tensor(np.random.default_rng(0).standard_normal((n, c)), device=device, requires_grad=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("float_dtype", ["float32", "float64"])
def test_float_targets_raise_type_error(device, float_dtype):
    """Float targets (class probabilities are not supported) -> TypeError naming the op and the dtype."""
    target = tc.tensor(np.array([0, 1, 2, 3], dtype=float_dtype), device=device)
    with pytest.raises(TypeError, match=rf"cross_entropy(.|\n)*{float_dtype}"):
        F.cross_entropy(_logits(device), target)
    with pytest.raises(TypeError, match=rf"nll_loss(.|\n)*{float_dtype}"):
        F.nll_loss(_logits(device), target)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("bad", [10, -1, 11, -5])
def test_target_out_of_range_raises_index_error(device, name, bad):
    """A target outside 0..C-1 (C = 10) that is not ignore_index -> IndexError (as PyTorch) naming the value:
    at once on the CPU, at the next read from the device on a GPU (where checking at once would
    wait for the GPU at every step)."""
    target = tc.tensor(np.array([0, bad, 2, 3]), device=device)
    with pytest.raises(IndexError):
        getattr(torch.nn.functional, name)(torch.zeros(4, 10), torch.tensor([0, bad, 2, 3]))
    with pytest.raises(IndexError, match=rf"{name}(.|\n)*{bad}"):
        getattr(F, name)(_logits(device), target).item()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("target_shape", [(3,), (5,), (4, 1), ()])
def test_target_of_wrong_shape_raises_shape_error(device, name, target_shape):
    """A target whose shape does not fit (N, C) logits -> tc.ShapeError naming both shapes."""
    target = tc.tensor(np.zeros(target_shape, dtype=np.int64), device=device)
    with pytest.raises(tc.ShapeError) as info:
        getattr(F, name)(_logits(device), target)
    assert str((4, 10)) in str(info.value) and str(target_shape) in str(info.value), str(info.value)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["avg", "elementwise_mean", None, "Mean"])
def test_invalid_reduction_raises_value_error(device, reduction):
    """An unknown reduction -> ValueError for every loss."""
    logits, target = _logits(device), tc.tensor(np.array([0, 1, 2, 3]), device=device)
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, target, reduction=reduction)
    with pytest.raises(ValueError, match="reduction"):
        F.nll_loss(logits, target, reduction=reduction)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(logits, logits.detach(), reduction=reduction)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_label_smoothing_out_of_range_raises(device, smoothing):
    """label_smoothing outside [0, 1] -> ValueError (torch raises too)."""
    with pytest.raises(ValueError):
        F.cross_entropy(_logits(device), tc.tensor(np.array([0, 1, 2, 3]), device=device), label_smoothing=smoothing)
