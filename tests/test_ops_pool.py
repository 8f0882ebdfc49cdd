"""F.max_pool2d, F.avg_pool2d and F.adaptive_avg_pool2d: the edge cases. The op table
(tests/op_table/nn_ops.py, run by tests/test_op_table.py) proves forward and input gradients
against PyTorch on drawn kernels, strides and paddings (max pool on distinct values, so each
window has one maximum), on transposed, strided and channels-last inputs; this file keeps what
the table does not check: padding never wins a max, ties send the gradient to the first
maximum as torch's CPU max_pool2d does, the avg-pool divisor at the padding, and bad input.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, assert_fails_cleanly, compare_with_torch
from op_table.nn_ops import pool_cases


# ---------------------------------------------------------------- max_pool2d
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel,padding", [(2, 1), (3, 1), ((4, 2), (2, 1)), ((3, 5), (1, 2))])
def test_max_pool2d_padding_never_wins(device, dtype, kernel, padding):
    """On an all-negative input every output is an input element (never 0 or -inf from the
    padding), and the input gradient sums to the cotangent's sum: each output's gradient
    lands on a real input position, none is lost in the padding."""
    x_np = -1.0 - np.random.default_rng(0).permutation(2 * 3 * 5 * 6).reshape(2, 3, 5, 6)
    x = tc.tensor(x_np.astype(dtype), device=device, requires_grad=True)
    out = F.max_pool2d(x, kernel, stride=1, padding=padding)
    assert np.isin(out.numpy(), x_np).all()
    cotangent = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(tc.tensor(cotangent, device=device))
    np.testing.assert_allclose(x.grad.numpy().sum(), cotangent.sum(), rtol=1e-5)


def first_max_gradient(window_values, cotangent):
    """Expected max-pool gradient of one window, computed independently: the whole cotangent
    at the first maximum in row-major order (np.argmax returns the first occurrence)."""
    grad = np.zeros(window_values.shape)
    grad.flat[np.argmax(window_values)] = cotangent
    return grad


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_tie_sends_gradient_to_first_maximum(device, dtype):
    """A window with several equal maxima sends its whole gradient to ONE position, the first
    in row-major order, exactly as torch's CPU max_pool2d (non-overlapping 2x2 windows with
    different tie patterns)."""
    windows = [[[5, 5], [5, 5]], [[1, 5], [5, 1]], [[1, 2], [5, 5]],
               [[3, 1], [3, 3]], [[0, 4], [2, 4]], [[-1, -2], [-3, -1]]]
    x_np = np.zeros((1, 1, 4, 6))
    for k, win in enumerate(windows):
        r, c = divmod(k, 3)
        x_np[0, 0, 2 * r:2 * r + 2, 2 * c:2 * c + 2] = win
    cotangent = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)

    x = tc.tensor(x_np.astype(dtype), device=device, requires_grad=True)
    out = F.max_pool2d(x, 2)
    out.backward(tc.tensor(cotangent.astype(dtype), device=device))
    xt = torch.tensor(x_np.astype(dtype), requires_grad=True)
    TF.max_pool2d(xt, 2).backward(torch.tensor(cotangent.astype(dtype)))

    grad = x.grad.numpy()
    np.testing.assert_array_equal(grad, xt.grad.numpy())
    for k, win in enumerate(windows):
        r, c = divmod(k, 3)
        block = grad[0, 0, 2 * r:2 * r + 2, 2 * c:2 * c + 2]
        assert np.count_nonzero(block) == 1, f"window {k} {win}: gradient {block}"
        np.testing.assert_array_equal(block, first_max_gradient(np.array(win), cotangent[0, 0, r, c]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_constant_input_overlapping_windows(device, dtype):
    """On a constant input every window is one big tie: with overlapping windows (stride 1)
    and padding, each window's gradient goes to its first real position, accumulated exactly
    as torch does."""
    x_np = np.full((1, 2, 5, 4), -2.0, dtype=dtype)
    for kernel, stride, padding in [(2, 1, 0), (3, 1, 1), ((3, 2), (2, 1), (1, 1))]:
        x = tc.tensor(x_np, device=device, requires_grad=True)
        out = F.max_pool2d(x, kernel, stride, padding)
        cotangent = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
        out.backward(tc.tensor(cotangent, device=device))
        xt = torch.tensor(x_np, requires_grad=True)
        TF.max_pool2d(xt, kernel, stride, padding).backward(torch.tensor(cotangent))
        np.testing.assert_array_equal(out.numpy(), np.full(out.shape, -2.0, dtype=dtype))
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@given(case=pool_cases(), data=st.data())
def test_max_pool2d_ties_match_torch(device, case, data):
    """Inputs drawn from very few distinct values (many ties, overlapping windows, padding):
    the gradient equals torch's CPU max_pool2d, i.e. first maximum in row-major order."""
    levels = data.draw(st.integers(1, 3), label="levels")
    shape = case.arrays[0].shape
    x = np.random.default_rng(case.seed).integers(0, levels, shape).astype(np.float64) - levels
    compare_with_torch(lambda x: F.max_pool2d(x, **case.params), lambda x: TF.max_pool2d(x, **case.params), [x],
                       device=device, seed=case.seed)


# ---------------------------------------------------------------- avg_pool2d
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_padding_divisor(device, count_include_pad):
    """The corner output of a 2x2 window with padding 1 on an all-ones input averages one real
    element: 1/4 when padding counts in the divisor, 1 when it does not (as torch)."""
    x = np.ones((1, 1, 4, 4))
    out, ref = compare_with_torch(
        lambda x: F.avg_pool2d(x, 2, padding=1, count_include_pad=count_include_pad),
        lambda x: TF.avg_pool2d(x, 2, padding=1, count_include_pad=count_include_pad), [x], device=device)
    assert out.numpy()[0, 0, 0, 0] == (0.25 if count_include_pad else 1.0)


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("kernel,padding", [(2, 2), (3, 2), (1, 1), ((4, 2), (1, 2)), ((2, 4), (2, 1))])
def test_pool_padding_more_than_half_kernel(pool, kernel, padding):
    """Padding larger than half the kernel is a ValueError naming the op (torch: RuntimeError);
    the input is left as it was."""
    with pytest.raises(RuntimeError):
        getattr(TF, pool)(torch.zeros(1, 1, 6, 6), kernel, padding=padding)
    x = tc.tensor(np.random.default_rng(0).standard_normal((1, 1, 6, 6)), requires_grad=True)
    assert_fails_cleanly(lambda: getattr(F, pool)(x, kernel, padding=padding), [x], ValueError, pool)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pool_kernel_larger_than_input(pool):
    """A kernel that does not fit the (padded) input is a ShapeError naming the op and the shape."""
    with pytest.raises(RuntimeError):
        getattr(TF, pool)(torch.zeros(1, 1, 2, 5), 3)
    x = tc.tensor(np.random.default_rng(0).standard_normal((1, 1, 2, 5)), requires_grad=True)
    assert_fails_cleanly(lambda: getattr(F, pool)(x, 3), [x], tc.ShapeError, pool, "(1, 1, 2, 5)")
