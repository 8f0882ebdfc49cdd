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


# ---------------------------------------------------------------- class weights, BCE, KL, the difference losses
def _classes(device, requires_grad=True):
    rng = np.random.default_rng(7)
    logits = tc.tensor(rng.standard_normal((4, 3)), device=device, requires_grad=requires_grad)
    return logits, tc.tensor(np.array([0, 2, 1, 2]), device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_weight_that_requires_grad_is_refused_like_torch(device, name):
    """Class weights are constants: torch refuses one that requires grad (RuntimeError), unless
    nothing is recorded (no_grad)."""
    weight = np.array([1.0, 2.0, 0.5])
    with pytest.raises(RuntimeError):
        getattr(TF, name)(torch.zeros(4, 3, dtype=torch.float64), torch.tensor([0, 2, 1, 2]),
                          torch.tensor(weight, requires_grad=True))
    logits, target = _classes(device)
    w = tc.tensor(weight, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"{name}(.|\n)*weight"):
        getattr(F, name)(logits, target, w)
    with tc.no_grad():
        getattr(F, name)(logits, target, w)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("weight", [np.ones(2), np.ones(4), np.ones((3, 1)), np.ones(3, dtype=np.float32)],
                         ids=["short", "long", "2-d", "float32"])
def test_class_weight_of_wrong_size_or_dtype_raises_like_torch(device, name, weight):
    """A weight that is not one value per class, or of another dtype than the input: RuntimeError
    (as torch) naming the op."""
    with pytest.raises(RuntimeError):
        getattr(TF, name)(torch.zeros(4, 3, dtype=torch.float64), torch.tensor([0, 2, 1, 2]), torch.tensor(weight))
    logits, target = _classes(device)
    with pytest.raises(RuntimeError, match=name):
        getattr(F, name)(logits, target, tc.tensor(weight, device=device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_weighted_cross_entropy_independent_numpy(device, smoothing):
    """PyTorch's weighted mean written out in numpy: sum over kept rows of
    -(1 - s) w[t] log p[t] - (s / C) sum_c w[c] log p[c], divided by the sum of w[t] over kept rows."""
    rng = np.random.default_rng(8)
    x, t, w = rng.standard_normal((6, 4)), np.array([0, 3, -100, 2, 2, 1]), rng.uniform(0.2, 3.0, 4)
    z = x - x.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    keep = t != -100
    tk = t[keep]
    rows = -(1 - smoothing) * w[tk] * logp[keep][np.arange(keep.sum()), tk] - smoothing / 4 * (logp[keep] * w).sum(1)
    got = F.cross_entropy(tc.tensor(x, device=device), tc.tensor(t, device=device), tc.tensor(w, device=device),
                          label_smoothing=smoothing)
    np.testing.assert_allclose(got.item(), rows.sum() / w[tk].sum(), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_weighted_cross_entropy_every_row_ignored_like_torch(device):
    """Every target ignored with class weights: loss nan for 'mean' (0 / 0), gradient zeros, as torch."""
    x, w = np.random.default_rng(9).standard_normal((3, 4)), np.array([1.0, 2.0, 3.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out, _ = compare_with_torch(lambda a, t: F.cross_entropy(a, t, tc.tensor(w, device=device)),
                                    lambda a, t: TF.cross_entropy(a, t, torch.tensor(w)), [x, np.full(3, -100)],
                                    device=device)
    assert np.isnan(out.item())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_bce_input_outside_0_1_raises_like_torch(device, bad):
    """Probabilities outside [0, 1] (or nan): RuntimeError naming the op and the value, at once on
    the CPU, at the next read on a GPU."""
    x, t = np.array([0.2, bad, 0.7]), np.array([0.0, 1.0, 1.0])
    with pytest.raises(RuntimeError):
        TF.binary_cross_entropy(torch.tensor(x), torch.tensor(t))
    with pytest.raises(RuntimeError, match="binary_cross_entropy(.|\n)*between 0 and 1"):
        F.binary_cross_entropy(tc.tensor(x, device=device), tc.tensor(t, device=device)).item()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_bce_target_of_another_shape_raises_value_error_like_torch(device, name):
    x, t = np.full((3, 2), 0.5), np.full(2, 1.0)
    with pytest.raises(ValueError):
        getattr(TF, name)(torch.tensor(x), torch.tensor(t))
    with pytest.raises(ValueError, match=rf"{name}(.|\n)*\(2,\)"):
        getattr(F, name)(tc.tensor(x, device=device), tc.tensor(t, device=device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,argument", [("binary_cross_entropy", "weight"),
                                           ("binary_cross_entropy_with_logits", "weight"),
                                           ("binary_cross_entropy_with_logits", "pos_weight")])
def test_bce_weights_that_require_grad_are_refused_like_torch(device, name, argument):
    x, t, w = np.full(3, 0.5), np.array([0.0, 1.0, 1.0]), np.ones(3)
    with pytest.raises(RuntimeError):
        getattr(TF, name)(torch.tensor(x), torch.tensor(t), **{argument: torch.tensor(w, requires_grad=True)})
    with pytest.raises(RuntimeError, match=argument):
        getattr(F, name)(tc.tensor(x, device=device, requires_grad=True), tc.tensor(t, device=device),
                         **{argument: tc.tensor(w, device=device, requires_grad=True)})


@pytest.mark.parametrize("device", DEVICES)
def test_bce_at_probabilities_0_and_1_like_torch(device):
    """log clamped at -100 in the loss; the input gradient's denominator clamped at 1e-12; the
    target gradient log(1 - x) - log(x) unclamped (infinite), all as torch."""
    x, t = np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.3, 0.6, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in REDUCTIONS:
            ours, theirs = [tc.tensor(x, device=device, requires_grad=True), tc.tensor(t, device=device, requires_grad=True)], \
                [torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)]
            out = F.binary_cross_entropy(*ours, reduction=reduction)
            ref = TF.binary_cross_entropy(*theirs, reduction=reduction)
            np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
            out.sum().backward()
            ref.sum().backward()
            for a, b in zip(ours, theirs):
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_bce_with_logits_huge_logits_like_torch(device, dtype, pos_weight):
    """Logits of +-1000 (sigmoid saturates, exp overflows): finite loss and gradients equal torch's."""
    x, t = np.array([-1000.0, 1000.0, -80.0, 80.0, 0.0]), np.array([1.0, 0.0, 0.3, 0.6, 0.5])
    pw = None if pos_weight is None else np.full(5, pos_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = compare_with_torch(
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=None if pw is None else tc.tensor(
                pw.astype(dtype), device=device), reduction="none"),
            lambda a, b: TF.binary_cross_entropy_with_logits(a, b, pos_weight=None if pw is None else torch.tensor(
                pw.astype(dtype)), reduction="none"),
            [x, t], device=device, dtype=dtype)
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_zero_and_negative_targets_like_torch(device, log_target):
    """target 0 contributes 0 (xlogy), a negative target nan, and the target's gradient at 0 is
    nan, all as torch; log_target=True has no such points."""
    x, t = np.array([-0.2, -0.7, -3.0, -1.0]), np.array([0.0, 1.0, -0.5, 0.6])
    ours = [tc.tensor(x, device=device, requires_grad=True), tc.tensor(t, device=device, requires_grad=True)]
    theirs = [torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.kl_div(*ours, reduction="none", log_target=log_target)
    ref = TF.kl_div(*theirs, reduction="none", log_target=log_target)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    out.backward(tc.tensor(np.ones(4), device=device))
    ref.backward(torch.ones(4, dtype=torch.float64))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_kl_div_invalid_reduction_raises(device):
    x = tc.tensor(np.zeros(3), device=device)
    with pytest.raises(ValueError, match="kl_div(.|\n)*batchmean"):
        F.kl_div(x, x, reduction="avg")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs", [("smooth_l1_loss", dict(beta=-0.5)), ("huber_loss", dict(delta=0.0)),
                                         ("huber_loss", dict(delta=-1.0))])
def test_negative_beta_or_delta_raises_like_torch(device, name, kwargs):
    a = np.zeros(3)
    with pytest.raises(RuntimeError):
        getattr(TF, name)(torch.tensor(a), torch.tensor(a), **kwargs)
    with pytest.raises(RuntimeError, match=name):
        getattr(F, name)(tc.tensor(a, device=device), tc.tensor(a, device=device), **kwargs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["l1_loss", "smooth_l1_loss", "huber_loss"])
def test_difference_losses_broadcast_with_a_warning_like_torch(device, name):
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3,))
    with pytest.warns(UserWarning):
        compare_with_torch(getattr(F, name), getattr(TF, name), [a, b], device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_element_weight_of_another_shape_raises_value_error_like_torch(device, name):
    a, w = np.zeros((2, 3)), np.ones(3)
    with pytest.raises(ValueError):
        getattr(TF, name)(torch.tensor(a), torch.tensor(a), weight=torch.tensor(w))
    with pytest.raises(ValueError, match=name):
        getattr(F, name)(tc.tensor(a, device=device), tc.tensor(a, device=device), weight=tc.tensor(w, device=device))


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.1}, {"weight": [1.0, 2.0, 3.0]}, {"reduction": "none"}])
def test_an_ignored_row_with_masked_logits_adds_nothing_like_torch(kwargs):
    """A row whose target is ignore_index counts for nothing even when its logits hold -inf
    (masked classes): multiplying its -inf log-probability by 0 would make the loss nan."""
    x = np.array([[-np.inf, 1.0, 2.0], [0.5, 1.0, -1.0], [2.0, -np.inf, 0.0]])
    t = np.array([-100, 1, 0])
    ours_kw = {k: tc.tensor(np.array(v)) if k == "weight" else v for k, v in kwargs.items()}
    torch_kw = {k: torch.tensor(v, dtype=torch.float64) if k == "weight" else v for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value" warnings either
        ours = F.cross_entropy(tc.tensor(x), tc.tensor(t), **ours_kw).numpy()
        nll = F.nll_loss(tc.tensor(x), tc.tensor(t), reduction="none").numpy()
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), **torch_kw).numpy()
    if "label_smoothing" in kwargs:  # the third row holds -inf too: inf in both libraries
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_array_equal(nll, torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(t),
                                                                     reduction="none").numpy())
