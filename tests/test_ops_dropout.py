"""F.dropout and F.dropout2d: the edge cases. The op table (tests/op_table/nn_ops.py, run by
tests/test_op_table.py) proves forward and gradient (identity in eval, a scaled 0/1 mask per
element or per channel in training, the same mask in the gradient) against a reference drawing
the same numbers from the library's generator; this file keeps what the table does not check:
the edge cases p = 0 and p = 1, ValueError for p outside [0, 1], unbatched (C, H, W) input and
other ranks, the kept fraction close to 1 - p, and masks repeatable with tc.manual_seed.

The mask is random, so instead of comparing with torch element by element these tests check
the defining properties, recovering the mask from the output (inputs are drawn nonzero).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES

OPS = ["dropout", "dropout2d"]

# ---------------------------------------------------------------- strategies
probabilities = st.one_of(st.sampled_from([0.1, 0.5, 0.9]), st.floats(0.01, 0.99))


def nonzero_array(seed, shape):
    """Normal values pushed away from 0, so a zero in the output can only come from the mask."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return x + np.where(x >= 0, 0.1, -0.1)


# ---------------------------------------------------------------- p = 0, p = 1, p out of range
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OPS)
def test_p_zero_is_identity_in_training(device, op):
    """p = 0 keeps everything: the output and the gradient equal input and cotangent."""
    x0 = nonzero_array(0, (3, 4, 5, 5))
    x = tc.tensor(x0, device=device, requires_grad=True)
    out = getattr(F, op)(x, 0.0, training=True)
    np.testing.assert_array_equal(out.numpy(), x0)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(x0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_p_one_gives_zeros(device, dtype, op):
    """p = 1 drops everything: zeros (no nan/inf from 1 / (1 - p)), as torch, and a zero gradient."""
    x0 = nonzero_array(0, (3, 4, 5, 5)).astype(dtype)
    x = tc.tensor(x0, device=device, requires_grad=True)
    out = getattr(F, op)(x, 1.0, training=True)
    ref = getattr(TF, op)(torch.tensor(x0), 1.0, training=True)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(out.numpy(), np.zeros_like(x0))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(x0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("p", [-0.1, 1.0001, 2.0, -1.0])
@pytest.mark.parametrize("training", [True, False])
def test_p_outside_unit_interval_raises(device, op, p, training):
    """p outside [0, 1] -> ValueError naming p, in training and in eval (torch raises in both)."""
    x = tc.tensor(np.ones((2, 3, 4, 4)), device=device)
    with pytest.raises(ValueError):
        getattr(TF, op)(torch.ones(2, 3, 4, 4), p, training=training)
    with pytest.raises(ValueError, match=str(p)):
        getattr(F, op)(x, p, training=training)


# ---------------------------------------------------------------- ranks, kept fraction, seeds
@pytest.mark.parametrize("device", DEVICES)
def test_dropout2d_unbatched_input_drops_whole_channels(device):
    """dropout2d on (C, H, W), documented as unbatched: each channel entirely kept or dropped.
    (torch 2.x still reads 3-d input as (N, C, L), with a warning that this will change.)"""
    tc.manual_seed(0)
    out = F.dropout2d(tc.tensor(nonzero_array(0, (400, 3, 3)), device=device), 0.5, training=True).numpy()
    kept = out != 0
    np.testing.assert_array_equal(kept.any(axis=(1, 2)), kept.all(axis=(1, 2)))
    assert 0 < kept.all(axis=(1, 2)).sum() < 400


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5, 6)])
def test_dropout2d_rejects_wrong_rank(device, shape):
    """dropout2d needs (N, C, H, W) or (C, H, W) input: other ranks raise tc.ShapeError."""
    with pytest.raises(tc.ShapeError):
        F.dropout2d(tc.tensor(np.ones(shape), device=device), 0.5, training=True)


def _within_six_sigma(kept, trials, p):
    """|kept - trials (1 - p)| within 6 binomial standard deviations (+1 for tiny variances)."""
    expected = trials * (1 - p)
    bound = 6 * np.sqrt(trials * p * (1 - p)) + 1
    assert abs(kept - expected) <= bound, f"kept {kept} of {trials}, expected {expected:.0f} +- {bound:.0f}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_dropout_kept_fraction_close_to_one_minus_p(device, p):
    """On 200,000 elements the number kept is Binomial(n, 1 - p): within 6 sigma of n (1 - p)."""
    x = tc.ones(400, 500, dtype="float64", device=device)
    kept = int((F.dropout(x, p, training=True).numpy() != 0).sum())
    _within_six_sigma(kept, x.numel(), p)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_dropout2d_kept_fraction_close_to_one_minus_p(device, p):
    """On 40,000 channels the number of channels kept is within 6 sigma of 40,000 (1 - p)."""
    x = tc.ones(200, 200, 2, 2, dtype="float64", device=device)
    kept = int((F.dropout2d(x, p, training=True).numpy() != 0).all(axis=(2, 3)).sum())
    _within_six_sigma(kept, 200 * 200, p)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OPS)
@given(seed=st.integers(0, 2**31 - 1), p=probabilities)
def test_manual_seed_repeats_masks(device, op, seed, p):
    """tc.manual_seed(n) before two runs gives the same sequence of masks; another seed gives other masks."""
    x = tc.ones(64, 64, 2, 2, dtype="float64", device=device)  # 4,096 channels: masks never collide by chance

    def two_masks(s):
        tc.manual_seed(s)
        return [getattr(F, op)(x, p, training=True).numpy() for _ in range(2)]

    first, again, other = two_masks(seed), two_masks(seed), two_masks(seed + 1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other)), "different seeds gave the same masks"
    assert not np.array_equal(first[0], first[1]), "consecutive calls reused one mask"
