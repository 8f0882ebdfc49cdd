"""F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d and F.adaptive_max_pool2d: the edge cases.
The op table (tests/op_table/nn_ops.py and nn_more.py, run by tests/test_op_table.py) proves
forward and input gradients against PyTorch on drawn kernels, strides, paddings, dilations,
ceil_mode and output sizes (max pool on distinct values, so each window has one maximum), on
transposed, strided and channels-last inputs; this file keeps what the table does not check:
padding never wins a max, ties (and NaN) send the gradient where torch's CPU kernels do, the
avg-pool divisor at the padding and at the ceil_mode overhang, ceil_mode's output sizes,
outputs larger than the input, the fast paths adaptive pooling keeps, and bad input.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, assert_fails_cleanly, compare_with_torch, to_numpy
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


# ---------------------------------------------------------------- ceil_mode, divisor_override
def test_ceil_mode_output_sizes_equal_torch():
    """ceil_mode rounds the output size up, but a last window starting in the right padding is
    dropped (PyTorch's rule): every output size over a grid of sizes, kernels, strides,
    paddings and dilations equals torch's, for max and average pooling."""
    x_t = torch.zeros(1, 1, 9, 9)
    for size in range(1, 10):
        x_t, x = torch.zeros(1, 1, size, 3), tc.zeros(1, 1, size, 3)
        for k in range(1, 5):
            for s in range(1, 4):
                for p in range(0, k // 2 + 1):
                    for d in (1, 2):
                        try:
                            expected = TF.max_pool2d(x_t, (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=True).shape
                        except RuntimeError:
                            continue
                        assert F.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=True).shape == tuple(expected)
                        if d == 1:
                            expected = TF.avg_pool2d(x_t, (k, 1), (s, 1), (p, 0), ceil_mode=True).shape
                            assert F.avg_pool2d(x, (k, 1), (s, 1), (p, 0), ceil_mode=True).shape == tuple(expected)


@pytest.mark.parametrize("device", DEVICES)
def test_avg_pool2d_ceil_mode_divisor_counts_padding_but_not_the_overhang(device):
    """kernel 3, stride 2, padding 1, ceil_mode on 6 values: the last window covers input 5, the
    right padding and one position beyond it. With count_include_pad it divides by 2 (input and
    padding), without by 1; divisor_override replaces both."""
    x = np.arange(1.0, 7.0).reshape(1, 1, 1, 6)
    for kwargs, last in [(dict(count_include_pad=True), 6 / 2), (dict(count_include_pad=False), 6 / 1),
                         (dict(divisor_override=4), 6 / 4)]:
        out, _ = compare_with_torch(lambda x: F.avg_pool2d(x, (1, 3), (1, 2), (0, 1), ceil_mode=True, **kwargs),
                                    lambda x: TF.avg_pool2d(x, (1, 3), (1, 2), (0, 1), ceil_mode=True, **kwargs),
                                    [x], device=device)
        assert out.numpy()[0, 0, 0, -1] == last


def test_pool_options_refused_as_torch():
    x = tc.tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)
    with pytest.raises(RuntimeError):
        TF.avg_pool2d(torch.zeros(1, 1, 4, 4), 2, divisor_override=0)
    assert_fails_cleanly(lambda: F.avg_pool2d(x, 2, divisor_override=0), [x], ValueError, "avg_pool2d", "0")
    assert_fails_cleanly(lambda: F.max_pool2d(x, 2, return_indices=True), [x], NotImplementedError, "return_indices")
    assert_fails_cleanly(lambda: F.adaptive_max_pool2d(x, 2, return_indices=True), [x], NotImplementedError,
                         "return_indices")
    with pytest.raises(RuntimeError):
        TF.adaptive_avg_pool2d(torch.zeros(1, 1, 4, 4), -1)
    assert_fails_cleanly(lambda: F.adaptive_avg_pool2d(x, (2, -1)), [x], ValueError, "adaptive_avg_pool2d", "-1")
    assert_fails_cleanly(lambda: F.adaptive_max_pool2d(x[0], 2), [x], tc.ShapeError, "adaptive_max_pool2d",
                         "(1, 4, 4)")


# ---------------------------------------------------------------- adaptive pooling
@pytest.mark.parametrize("device", DEVICES)
def test_adaptive_max_pool2d_ties_and_nan_as_torch(device):
    """Overlapping adaptive windows over ties, an inf and a NaN: the values, and the gradient
    going to the first maximum of each window in row-major order (the NaN, when a window
    holds one), equal torch's."""
    x = np.zeros((1, 1, 5, 7))
    x[0, 0, 1:3, 2:5] = 1.0
    x[0, 0, 3, 3], x[0, 0, 4, 1] = np.nan, np.inf
    for output_size in [(2, 3), (3, 2), (4, 4), (7, 9)]:
        ours = tc.tensor(x, device=device, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        out, ref = F.adaptive_max_pool2d(ours, output_size), TF.adaptive_max_pool2d(theirs, output_size)
        np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
        cotangent = np.arange(1.0, 1.0 + np.prod(out.shape)).reshape(out.shape)
        out.backward(tc.tensor(cotangent, device=device))
        ref.backward(torch.tensor(cotangent))
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("pool", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
def test_adaptive_pools_larger_than_the_input(device, pool):
    """An output larger than the input repeats input positions in several windows: the gradient
    sums them (deterministically, no atomics), as torch's."""
    x = np.random.default_rng(3).permutation(12).reshape(1, 2, 2, 3) / 4.0
    compare_with_torch(lambda x: getattr(F, pool)(x, (5, 7)), lambda x: getattr(TF, pool)(x, (5, 7)), [x],
                       device=device)


def test_adaptive_pools_keep_the_strided_fast_paths():
    """Output size 1 is a mean, and output sizes dividing the input are strided pools (one node
    of avg_pool2d / max_pool2d); other sizes use the adaptive windows."""
    x = tc.randn(2, 3, 6, 8, requires_grad=True)
    assert F.adaptive_avg_pool2d(x, 1)._node.name == "mean"
    assert F.adaptive_avg_pool2d(x, (3, 4))._node.name == "avg_pool2d"
    assert F.adaptive_max_pool2d(x, (2, None))._node.name == "max_pool2d"
    assert F.adaptive_avg_pool2d(x, (4, 3))._node.name == "adaptive_avg_pool2d"
    assert F.adaptive_max_pool2d(x, 5)._node.name == "adaptive_max_pool2d"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 1, 1), (3, 2, 1)])
def test_max_pool_gradient_goes_where_torchs_does_with_nans_and_ties(device, kernel, stride, padding):
    """NaN windows: the output is NaN and the gradient goes to the window's last NaN; ties: to
    the first maximal position (both PyTorch's rules)."""
    rng = np.random.default_rng(kernel * 10 + stride)
    x = rng.integers(0, 3, (2, 3, 6, 6)).astype(np.float64)  # many ties
    x[rng.random(x.shape) < 0.15] = np.nan
    x[0, 0, :2, :2] = [[1.0, np.nan], [np.nan, 0.0]]
    g = rng.standard_normal((2, 3) + (((6 + 2 * padding - kernel) // stride + 1),) * 2)
    ours = tc.tensor(x, requires_grad=True, device=device)
    out = F.max_pool2d(ours, kernel, stride, padding)
    out.backward(tc.tensor(g, device=device))
    theirs = torch.tensor(x, requires_grad=True)
    t_out = torch.nn.functional.max_pool2d(theirs, kernel, stride, padding)
    t_out.backward(torch.tensor(g))
    np.testing.assert_array_equal(to_numpy(out), t_out.detach().numpy())
    # overlapping windows add their gradients in another order: equal up to rounding
    np.testing.assert_allclose(to_numpy(ours.grad), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
