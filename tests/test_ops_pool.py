"""F.max_pool2d, F.avg_pool2d and F.adaptive_avg_pool2d against torch: forward and input gradient.

Shapes, kernel sizes, strides and paddings are drawn by hypothesis; the arrays come from a drawn
seed. Max-pool inputs hold distinct values (a random permutation), so the maximum of each
window is unique and the gradient well defined; ties get tests of their own, checked against
torch's CPU max_pool2d, which sends a window's gradient to its first maximum in row-major order.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, assert_fails_cleanly, compare_with_torch, int_or_pair


# ---------------------------------------------------------------- strategies
def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def pool_cases(draw, max_kernel=4):
    """Input shape, kernel_size, stride (None: the kernel size), padding (at most half the
    kernel, as torch requires) and a seed; the padded input always holds at least one window."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kernel, (kh, kw) = int_or_pair(draw, 1, max_kernel)
    stride = None if draw(st.booleans()) else int_or_pair(draw, 1, 3)[0]
    if draw(st.booleans()):
        padding = draw(st.integers(0, min(kh, kw) // 2))
        ph = pw = padding
    else:
        padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
        ph, pw = padding
    h = draw(st.integers(max(1, kh - 2 * ph), 12))
    w = draw(st.integers(max(1, kw - 2 * pw), 12))
    return dict(shape=(n, c, h, w), kernel_size=kernel, stride=stride, padding=padding,
                seed=draw(st.integers(0, 2**32 - 1)))


def distinct_values(shape, seed, sign):
    """An array of `shape` whose elements are all different (a shuffled ramp), exact in float32.
    sign "negative": all < 0, so a padding counted as 0 would win every edge window;
    "mixed": both signs."""
    size = int(np.prod(shape))
    ramp = (np.random.default_rng(seed).permutation(size) + 1.0) / 4096.0
    return (-ramp if sign == "negative" else ramp - ramp.mean()).reshape(shape)


def pool_kwargs(case):
    return dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"])


# ---------------------------------------------------------------- max_pool2d
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=pool_cases(), sign=st.sampled_from(["negative", "mixed"]))
def test_max_pool2d_matches_torch(device, dtype, case, sign):
    """max_pool2d forward and input gradient equal torch's for drawn kernel (int or pair),
    stride (default or given) and padding up to kernel/2; with all-negative inputs this also
    proves padding counts as -inf, never as 0."""
    kw = pool_kwargs(case)
    x = distinct_values(case["shape"], case["seed"], sign)
    out, _ = compare_with_torch(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw),
                                [x], device=device, dtype=dtype, seed=case["seed"])
    assert np.isfinite(out.numpy()).all()
    if sign == "negative":
        assert (out.numpy() < 0).all()


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
    x = np.random.default_rng(case["seed"]).integers(0, levels, case["shape"]).astype(np.float64) - levels
    kw = pool_kwargs(case)
    compare_with_torch(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), [x],
                       device=device, seed=case["seed"])


# ---------------------------------------------------------------- avg_pool2d
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=pool_cases(), count_include_pad=st.booleans())
def test_avg_pool2d_matches_torch(device, dtype, case, count_include_pad):
    """avg_pool2d forward and input gradient equal torch's for drawn kernel, stride and
    padding, with count_include_pad True (padding counts in the divisor) and False."""
    kw = dict(pool_kwargs(case), count_include_pad=count_include_pad)
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])
    compare_with_torch(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw),
                       [x], device=device, dtype=dtype, seed=case["seed"])


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


# ---------------------------------------------------------------- adaptive_avg_pool2d
@st.composite
def adaptive_cases(draw):
    """Input shape and an output size that is 1 or divides the input size (int or pair)."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    oh, ow = draw(st.sampled_from(divisors(h))), draw(st.sampled_from(divisors(w)))
    if draw(st.booleans()):
        oh = ow = 1
    output_size = oh if oh == ow and draw(st.booleans()) else (oh, ow)
    return dict(shape=(n, c, h, w), output_size=output_size, seed=draw(st.integers(0, 2**32 - 1)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=adaptive_cases())
def test_adaptive_avg_pool2d_matches_torch(device, dtype, case):
    """adaptive_avg_pool2d to 1 (global average) and to sizes dividing the input: forward and
    input gradient equal torch's."""
    size = case["output_size"]
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])
    compare_with_torch(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size),
                       [x], device=device, dtype=dtype, seed=case["seed"])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, (1, 1)])
def test_adaptive_avg_pool2d_to_one_is_global_average(device, dtype, size):
    """Output size 1 gives (N, C, 1, 1), the mean over H and W, equal to torch."""
    x = np.random.default_rng(2).standard_normal((3, 4, 7, 5))
    out, _ = compare_with_torch(lambda x: F.adaptive_avg_pool2d(x, size),
                                lambda x: TF.adaptive_avg_pool2d(x, size), [x], device=device, dtype=dtype)
    assert out.shape == (3, 4, 1, 1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pools_on_non_contiguous_input(device, dtype):
    """The pools read non-contiguous views (a transposed input) correctly, gradients included."""
    x = distinct_values((2, 3, 7, 6), 3, "mixed")

    def ours(x):
        v = x.transpose(2, 3)
        return (F.max_pool2d(v, 3, 2, 1).sum() + (F.avg_pool2d(v, 2, 1, 1) ** 2).sum()
                + (F.adaptive_avg_pool2d(v, (3, 1)) ** 2).sum())

    def theirs(x):
        v = x.transpose(2, 3)
        return (TF.max_pool2d(v, 3, 2, 1).sum() + (TF.avg_pool2d(v, 2, 1, 1) ** 2).sum()
                + (TF.adaptive_avg_pool2d(v, (3, 1)) ** 2).sum())

    compare_with_torch(ours, theirs, [x], device=device, dtype=dtype)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pool_float32_stays_float32(pool):
    """float32 input gives float32 output and gradient."""
    x = tc.randn(2, 3, 6, 6, requires_grad=True)
    out = getattr(F, pool)(x, 3, 2, 1)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


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
