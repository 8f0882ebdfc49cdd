"""softmax, log_softmax, cross_entropy, nll_loss and mse_loss against PyTorch.

Forward and every input gradient (via helpers.compare_with_torch), on hypothesis-drawn shapes,
dims, targets, reductions, label smoothing and ignored rows, in float64 and float32; numerical
stability with huge logits; and the errors raised for bad targets and bad arguments.
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

REDUCTIONS = ["mean", "sum", "none"]


# ---------------------------------------------------------------- strategies
seeds = st.integers(0, 2**32 - 1)


@st.composite
def shape_and_dim(draw, max_dims=4):
    """Any shape of 1..max_dims dims (sizes 1..5) and a dim of it, negative or not."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=max_dims)))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return shape, dim


@st.composite
def class_problem(draw, min_classes=2):
    """Scores of shape (N, C), (N, C, d1) or (N, C, d1, d2) and integer targets (N, *).

    Some rows may carry `ignore_index` (drawn: torch's default -100, -1, or a real class
    index, which torch also allows), but never all of them (see the dedicated test).
    """
    n = draw(st.integers(1, 5))
    c = draw(st.integers(min_classes, 6))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    rng = np.random.default_rng(draw(seeds))
    scores = rng.standard_normal((n, c) + extra) * draw(st.floats(0.1, 5.0))
    target = rng.integers(0, c, size=(n,) + extra)
    ignore_index = draw(st.sampled_from([-100, -1, int(rng.integers(0, c))]))
    if draw(st.booleans()):  # mark some rows ignored, keeping at least one
        ignored = rng.random(target.shape) < 0.4
        ignored.reshape(-1)[rng.integers(0, target.size)] = False
        target = np.where(ignored, ignore_index, target)
    if (target == ignore_index).all():  # ignore_index drawn as a class every row happens to have
        ignore_index = -100
    return scores, target, ignore_index


# ---------------------------------------------------------------- softmax / log_softmax
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(sd=shape_and_dim(), seed=seeds, scale=st.floats(0.1, 10.0))
def test_softmax_family_matches_torch(device, dtype, name, sd, seed, scale):
    """softmax / log_softmax along any dim (negative too): forward and gradient equal torch's."""
    shape, dim = sd
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    compare_with_torch(lambda t: getattr(F, name)(t, dim), lambda t: getattr(TF, name)(t, dim),
                       [x], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(sd=shape_and_dim(max_dims=3), seed=seeds)
def test_softmax_family_stable_with_huge_logits(device, dtype, name, sd, seed):
    """Logits offset by up to +-1e4 (exp would overflow): finite results equal to torch's."""
    shape, dim = sd
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) + rng.choice([-1e4, 0.0, 1e4, 3e4], size=shape)
    out, _ = compare_with_torch(lambda t: getattr(F, name)(t, dim), lambda t: getattr(TF, name)(t, dim),
                                [x], device=device, dtype=dtype, seed=seed, atol_scale=10.0)
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
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(problem=class_problem(), smoothing=st.one_of(st.just(0.0), st.floats(0.0, 0.99)), seed=seeds)
def test_cross_entropy_matches_torch(device, dtype, reduction, problem, smoothing, seed):
    """cross_entropy with label smoothing and ignored rows, (N, C) and (N, C, d1, ...): forward and
    the gradient of the logits equal torch's."""
    scores, target, ignore = problem
    kwargs = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=ignore)
    compare_with_torch(lambda x, t: F.cross_entropy(x, t, **kwargs),
                       lambda x, t: TF.cross_entropy(x, t, **kwargs),
                       [scores, target], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(problem=class_problem(), seed=seeds)
def test_nll_loss_matches_torch(device, dtype, reduction, problem, seed):
    """nll_loss of arbitrary scores (not only log-probabilities), with ignored rows: forward and gradient."""
    scores, target, ignore = problem
    kwargs = dict(reduction=reduction, ignore_index=ignore)
    compare_with_torch(lambda x, t: F.nll_loss(x, t, **kwargs), lambda x, t: TF.nll_loss(x, t, **kwargs),
                       [scores, target], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(problem=class_problem(), seed=seeds)
def test_cross_entropy_is_nll_of_log_softmax(device, dtype, problem, seed):
    """The composition nll_loss(log_softmax(x)) gives torch's cross_entropy and its gradient."""
    scores, target, ignore = problem
    compare_with_torch(lambda x, t: F.nll_loss(F.log_softmax(x, 1), t, ignore_index=ignore),
                       lambda x, t: TF.cross_entropy(x, t, ignore_index=ignore),
                       [scores, target], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(problem=class_problem(), smoothing=st.sampled_from([0.0, 0.1]), seed=seeds)
def test_cross_entropy_huge_logits(device, dtype, reduction, problem, smoothing, seed):
    """Logits with offsets of +-1e4 per element: finite loss and gradient, equal to torch's."""
    scores, target, ignore = problem
    rng = np.random.default_rng(seed)
    scores = scores + rng.choice([-1e4, 0.0, 1e4], size=scores.shape)
    kwargs = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=ignore)
    out, _ = compare_with_torch(lambda x, t: F.cross_entropy(x, t, **kwargs),
                                lambda x, t: TF.cross_entropy(x, t, **kwargs),
                                [scores, target], device=device, dtype=dtype, seed=seed, atol_scale=10.0)
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
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shape=st.lists(st.integers(1, 5), min_size=0, max_size=4).map(tuple), seed=seeds,
       target_grad=st.booleans())
def test_mse_loss_matches_torch(device, dtype, reduction, shape, seed, target_grad):
    """mse_loss on equal shapes: forward and the gradients of input (and target when it requires grad)."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    compare_with_torch(lambda x, y: F.mse_loss(x, y, reduction=reduction),
                       lambda x, y: TF.mse_loss(x, y, reduction=reduction),
                       [a, b], device=device, dtype=dtype, seed=seed, requires_grad=[True, target_grad])


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


@pytest.mark.parametrize("device", DEVICES)
def test_losses_do_not_modify_inputs(device):
    """Forward and backward of every loss leave logits and targets as they were."""
    rng = np.random.default_rng(7)
    x0, t0 = rng.standard_normal((5, 4)), np.array([0, 3, -100, 1, 2])
    x, t = tc.tensor(x0, device=device, requires_grad=True), tc.tensor(t0, device=device)
    loss = (F.cross_entropy(x, t, label_smoothing=0.1) + F.nll_loss(F.log_softmax(x, 1), t)
            + F.mse_loss(x, x.detach() * 2) + F.softmax(x, 0).sum())
    loss.backward()
    np.testing.assert_array_equal(x.numpy(), x0)
    np.testing.assert_array_equal(t.numpy(), t0)
