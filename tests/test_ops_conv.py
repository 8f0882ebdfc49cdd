"""F.conv2d and F.conv1d against torch.nn.functional: forward and every input gradient.

Shapes and parameters are drawn by hypothesis (batch, channels, groups, rectangular images and
kernels, stride, padding as int / pair / "same" / "valid", dilation, bias); the arrays come from
a drawn seed. Also: non-contiguous inputs, float32 staying float32, the absence of Python loops
over the batch or output positions, and bad inputs failing cleanly.
"""
import os
import sys
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops import conv as conv_module
from helpers import DEVICES, DTYPES, assert_fails_cleanly, compare_with_torch, int_or_pair, leaf

# torch warns that padding="same" with even kernels copies the input; that is its business.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

# float32 convolutions sum up to a few hundred products (the weight gradient sums over
# batch * output positions), so their absolute error is some 10x the default float32 atol.
F32_ATOL_SCALE = 10.0


def atol_scale(dtype):
    return F32_ATOL_SCALE if np.dtype(dtype) == np.float32 else 1.0


# ---------------------------------------------------------------- strategies
@st.composite
def channels_and_groups(draw):
    """(in_channels, out_channels, groups): channels 1-6, groups dividing both (groups > 1
    in most draws, including depthwise cases)."""
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 6 // groups))
    cout = groups * draw(st.integers(1, 6 // groups))
    return cin, cout, groups


@st.composite
def conv2d_cases(draw):
    """Keyword arguments of a conv2d call, the array shapes, bias or not and a seed.
    Every drawn case has an output of at least 1 x 1."""
    n = draw(st.integers(1, 4))
    cin, cout, groups = draw(channels_and_groups())
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dilation, (dh, dw) = int_or_pair(draw, 1, 3)
    eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    assume(eff_h <= 12 and eff_w <= 12)
    mode = draw(st.sampled_from(["int", "pair", "same", "valid"]))
    if mode == "same":  # pads eff - 1 in all, so any input size fits the kernel
        padding, (ph, pw) = "same", ((eff_h - 1) / 2, (eff_w - 1) / 2)
        stride = draw(st.sampled_from([1, (1, 1)]))
    else:
        if mode == "valid":
            padding, (ph, pw) = "valid", (0, 0)
        elif mode == "int":
            padding = draw(st.integers(0, 3))
            ph = pw = padding
        else:
            padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
            ph, pw = padding
        stride, _ = int_or_pair(draw, 1, 3)
    h = draw(st.integers(max(1, int(eff_h - 2 * ph)), 12))  # padded input >= dilated kernel
    w = draw(st.integers(max(1, int(eff_w - 2 * pw)), 12))
    bias = draw(st.booleans())
    return dict(x_shape=(n, cin, h, w), w_shape=(cout, cin // groups, kh, kw), bias=bias,
                seed=draw(st.integers(0, 2**32 - 1)),
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


@st.composite
def conv1d_cases(draw):
    """Like conv2d_cases for conv1d: input (N, C, L), weight (O, C/groups, k)."""
    n = draw(st.integers(1, 4))
    cin, cout, groups = draw(channels_and_groups())
    k = draw(st.integers(1, 5))
    d = draw(st.integers(1, 3))
    eff = d * (k - 1) + 1
    mode = draw(st.sampled_from(["int", "same", "valid"]))
    if mode == "same":  # pads eff - 1 in all, so any length fits the kernel
        padding, p, stride = "same", (eff - 1) / 2, 1
    else:
        padding = draw(st.integers(0, 3)) if mode == "int" else "valid"
        p = padding if mode == "int" else 0
        stride = draw(st.integers(1, 3))
    length = draw(st.integers(max(1, int(eff - 2 * p)), 16))
    # torch also accepts one-element tuples for the int arguments
    stride = draw(st.sampled_from([stride, (stride,)]))
    dilation = draw(st.sampled_from([d, (d,)]))
    bias = draw(st.booleans())
    return dict(x_shape=(n, cin, length), w_shape=(cout, cin // groups, k), bias=bias,
                seed=draw(st.integers(0, 2**32 - 1)),
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


def make_arrays(case):
    """x, weight and (when the case has one) bias, standard normal from the case's seed."""
    rng = np.random.default_rng(case["seed"])
    arrays = [rng.standard_normal(case["x_shape"]), rng.standard_normal(case["w_shape"])]
    if case["bias"]:
        arrays.append(rng.standard_normal(case["w_shape"][0]))
    return arrays


# ---------------------------------------------------------------- against torch, drawn cases
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv2d_cases())
def test_conv2d_matches_torch(device, dtype, case):
    """conv2d forward and the gradients of input, weight and bias equal torch's for drawn
    shapes, groups, stride, padding, dilation and bias."""
    kw = case["kwargs"]
    compare_with_torch(lambda *a: F.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw),
                       make_arrays(case), device=device, dtype=dtype, seed=case["seed"],
                       atol_scale=atol_scale(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv2d_cases())
def test_conv2d_in_single_image_parts_matches_torch(dtype, case):
    """On the CPU conv2d builds its im2col matrices a few images at a time (parts sized to the
    cache); with parts of one image each, forward and all gradients still equal torch's."""
    kw = case["kwargs"]
    with mock.patch.object(conv_module, "_CACHE_BYTES", 1):
        compare_with_torch(lambda *a: F.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw),
                           make_arrays(case), device="cpu", dtype=dtype, seed=case["seed"],
                           atol_scale=atol_scale(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("requires_grad", [(True, False, False), (False, True, False), (False, False, True),
                                           (True, True, False), (False, True, True)])
def test_conv2d_gradients_of_a_subset_of_inputs(device, requires_grad):
    """When only some of input / weight / bias require grad (frozen weights, a fixed input),
    those gradients still equal torch's and the others stay None."""
    rng = np.random.default_rng(sum(2**i * r for i, r in enumerate(requires_grad)))
    arrays = [rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)]
    kw = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    found = []

    def ours(*tensors):
        found.extend(tensors)
        return F.conv2d(*tensors, **kw)

    compare_with_torch(ours, lambda *a: TF.conv2d(*a, **kw), arrays, requires_grad=list(requires_grad))
    for t, rg in zip(found, requires_grad):
        assert (t.grad is not None) == rg


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv1d_cases())
def test_conv1d_matches_torch(device, dtype, case):
    """conv1d forward and all gradients equal torch's (stride, padding int/"same"/"valid",
    dilation, groups, bias)."""
    kw = case["kwargs"]
    compare_with_torch(lambda *a: F.conv1d(*a, **kw), lambda *a: TF.conv1d(*a, **kw),
                       make_arrays(case), device=device, dtype=dtype, seed=case["seed"],
                       atol_scale=atol_scale(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel,dilation", [((2, 4), 1), ((4, 1), 1), ((2, 2), (2, 3)), ((3, 4), 2)])
def test_conv2d_same_padding_even_kernels(device, dtype, kernel, dilation):
    """padding="same" with even (dilated) kernels pads the odd extra row/column after the
    input, as torch does: output size equals input size and everything equals torch."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3) + kernel)
    b = rng.standard_normal(4)
    out, _ = compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, padding="same", dilation=dilation),
                                lambda x, w, b: TF.conv2d(x, w, b, padding="same", dilation=dilation),
                                [x, w, b], device=device, dtype=dtype, atol_scale=atol_scale(dtype))
    assert out.shape == (2, 4, 7, 6)


# ---------------------------------------------------------------- layouts and dtypes
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_on_transposed_and_permuted_views(device, dtype):
    """conv2d reads non-contiguous inputs correctly: an input transposed in H/W, an NHWC array
    permuted to NCHW, and a weight permuted from (O, C, kw, kh); gradients flow back through
    the views."""
    rng = np.random.default_rng(3)
    x_t = rng.standard_normal((2, 3, 5, 7))       # used as x.transpose(2, 3): (2, 3, 7, 5)
    x_nhwc = rng.standard_normal((2, 7, 5, 3))    # used as x.permute(0, 3, 1, 2): (2, 3, 7, 5)
    w_t = rng.standard_normal((4, 3, 2, 3))       # used as w.transpose(2, 3): (4, 3, 3, 2)
    b = rng.standard_normal(4)

    def ours(x_t, x_nhwc, w_t, b):
        a, c, w = x_t.transpose(2, 3), x_nhwc.permute(0, 3, 1, 2), w_t.transpose(2, 3)
        assert not a.data.flags.c_contiguous and not c.data.flags.c_contiguous
        return F.conv2d(a, w, b, padding=1) + F.conv2d(c, w, b, padding=1)

    def theirs(x_t, x_nhwc, w_t, b):
        a, c, w = x_t.transpose(2, 3), x_nhwc.permute(0, 3, 1, 2), w_t.transpose(2, 3)
        return TF.conv2d(a, w, b, padding=1) + TF.conv2d(c, w, b, padding=1)

    compare_with_torch(ours, theirs, [x_t, x_nhwc, w_t, b], device=device, dtype=dtype,
                       atol_scale=atol_scale(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_on_sliced_and_flipped_views(device, dtype):
    """conv2d of strided slices (step 2) and of a flipped view (negative strides), with and
    without padding (the unpadded path reads the view directly, without a copy)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 2, 9, 10))
    w = rng.standard_normal((3, 2, 2, 3))

    def ours(x, w):
        return (F.conv2d(x[:, :, ::2, 1:], w).sum() + F.conv2d(x[:, :, ::-1, ::2], w, padding=(1, 0)).sum()
                + F.conv2d(x[:, :, ::-1, ::-1], w, stride=2).sum())

    def theirs(x, w):
        flipped = x.flip(2)
        return (TF.conv2d(x[:, :, ::2, 1:], w).sum() + TF.conv2d(flipped[:, :, :, ::2], w, padding=(1, 0)).sum()
                + TF.conv2d(x.flip(2, 3), w, stride=2).sum())

    compare_with_torch(ours, theirs, [x, w], device=device, dtype=dtype, atol_scale=atol_scale(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", [0, 1])
def test_conv2d_of_conv2d_output(device, dtype, padding):
    """A conv reading another conv's output (returned as a channels-last view), also through
    a max pool and with groups and stride, equals torch in forward and all gradients."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 9, 8))
    w1, b1 = rng.standard_normal((4, 2, 3, 3)) * 0.5, rng.standard_normal(4)
    w2, b2 = rng.standard_normal((6, 2, 2, 3)) * 0.5, rng.standard_normal(6)
    w3 = rng.standard_normal((2, 6, 2, 1)) * 0.5

    def ours(x, w1, b1, w2, b2, w3):
        h = F.conv2d(x, w1, b1, padding=padding)
        h = F.conv2d(h, w2, b2, stride=(1, 2), groups=2, padding=padding)
        return F.conv2d(F.max_pool2d(h, 2, stride=1), w3)

    def theirs(x, w1, b1, w2, b2, w3):
        h = TF.conv2d(x, w1, b1, padding=padding)
        h = TF.conv2d(h, w2, b2, stride=(1, 2), groups=2, padding=padding)
        return TF.conv2d(TF.max_pool2d(h, 2, stride=1), w3)

    compare_with_torch(ours, theirs, [x, w1, b1, w2, b2, w3], device=device, dtype=dtype,
                       atol_scale=atol_scale(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("conv", ["conv2d", "conv1d"])
def test_conv_float32_stays_float32(device, conv):
    """float32 inputs give a float32 output and float32 gradients (no silent float64 upcast),
    with padding, stride, groups and bias."""
    tc.manual_seed(0)
    spatial = (6, 5) if conv == "conv2d" else (7,)
    kernel = (3, 2) if conv == "conv2d" else (3,)
    x = tc.randn(2, 4, *spatial, device=device, requires_grad=True)
    w = tc.randn(6, 2, *kernel, device=device, requires_grad=True)
    b = tc.randn(6, device=device, requires_grad=True)
    assert x.dtype == w.dtype == b.dtype == np.float32
    out = getattr(F, conv)(x, w, b, stride=2, padding=1, groups=2)
    assert out.dtype == np.float32 and out.data.dtype == np.float32
    (out * out).sum().backward()
    for t in (x, w, b):
        assert t.grad.dtype == np.float32 and t.grad.data.dtype == np.float32


# ---------------------------------------------------------------- structure: no Python loop over the batch
def count_library_lines(fn):
    """Number of Python lines of tinygrad_cnn executed while running fn() (sys.settrace).
    Independent of timing: NumPy's loops in C are not counted, Python loops are."""
    package_dir = os.path.dirname(tc.__file__)
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def global_trace(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(package_dir) else None

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        fn()
    finally:
        sys.settrace(previous)
    return count


def conv_forward_backward(n, hw):
    x = tc.tensor(np.ones((n, 2) + hw), requires_grad=True)
    w = tc.tensor(np.ones((3, 2, 3, 3)), requires_grad=True)
    b = tc.tensor(np.ones(3), requires_grad=True)

    def run():
        F.conv2d(x, w, b, padding=1, stride=1).sum().backward()
    return run


def test_conv2d_does_not_loop_over_batch_or_positions_in_python():
    """conv2d forward + backward runs (almost) the same number of Python lines of the library
    for a batch of 64 as for a batch of 1, and for a 12x12 image as for a 6x6 one: neither the
    batch nor the output positions are looped over in Python (kernel positions may be).
    A loop over the batch would add at least 63 lines, one over output positions at least 108;
    the slack of 16 only lets a few shape-dependent branches differ."""
    base = count_library_lines(conv_forward_backward(1, (6, 6)))
    assert base > 0
    big_batch = count_library_lines(conv_forward_backward(64, (6, 6)))
    big_image = count_library_lines(conv_forward_backward(1, (12, 12)))
    assert abs(big_batch - base) <= 16, (base, big_batch)
    assert abs(big_image - base) <= 16, (base, big_image)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_batch_64_matches_torch(device, dtype):
    """A batch of 64 in one call (with padding, stride and bias) equals torch, all gradients."""
    rng = np.random.default_rng(64)
    x = rng.standard_normal((64, 3, 8, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
                       lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1),
                       [x, w, b], device=device, dtype=dtype, atol_scale=atol_scale(dtype))


# ---------------------------------------------------------------- bad inputs
def test_conv2d_mismatched_channels_names_op_and_both_shapes():
    """Input with 1 channel and a weight expecting 3: a ShapeError (also a RuntimeError, as
    torch raises) naming conv2d, the input shape and the weight shape."""
    x, w = leaf((8, 1, 28, 28)), leaf((32, 3, 3, 3))
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.zeros(8, 1, 28, 28), torch.zeros(32, 3, 3, 3))
    assert_fails_cleanly(lambda: F.conv2d(x, w), [x, w], tc.ShapeError,
                         "conv2d", "(8, 1, 28, 28)", "(32, 3, 3, 3)")
    assert_fails_cleanly(lambda: F.conv2d(x, w), [x, w], RuntimeError)
    assert_fails_cleanly(lambda: F.conv2d(x, w), [x, w], ValueError)


def test_conv1d_mismatched_channels_names_op_and_both_shapes():
    x, w = leaf((4, 2, 10)), leaf((5, 3, 3))
    assert_fails_cleanly(lambda: F.conv1d(x, w), [x, w], tc.ShapeError, "conv1d", "(4, 2, 10)", "(5, 3, 3)")


@pytest.mark.parametrize("x_shape,w_shape,kwargs", [
    ((1, 1, 3, 3), (1, 1, 5, 5), {}),
    ((1, 1, 3, 8), (1, 1, 4, 2), dict(padding=0)),
    ((2, 2, 4, 4), (3, 2, 3, 3), dict(dilation=3, padding=1)),
])
def test_conv2d_kernel_larger_than_padded_input(x_shape, w_shape, kwargs):
    """A (dilated) kernel that does not fit in the padded input is an error (torch: RuntimeError)."""
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.zeros(x_shape), torch.zeros(w_shape), **kwargs)
    x, w = leaf(x_shape), leaf(w_shape)
    assert_fails_cleanly(lambda: F.conv2d(x, w, **kwargs), [x, w], tc.ShapeError, "conv2d", str(x_shape))


def test_conv2d_kernel_exactly_fits_padded_input():
    """The boundary case of the previous test works: kernel 5 on a 3x3 input with padding 1."""
    rng = np.random.default_rng(0)
    compare_with_torch(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
                       [rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 5, 5))])


def test_conv2d_rejects_3d_input():
    """A 3-D input (no batch axis) is a ShapeError naming conv2d and the shape."""
    x, w = leaf((3, 8, 8)), leaf((4, 3, 3, 3))
    assert_fails_cleanly(lambda: F.conv2d(x, w), [x, w], tc.ShapeError, "conv2d", "(3, 8, 8)")


@pytest.mark.parametrize("b_shape", [(3,), (4, 1), (1,), ()])
def test_conv2d_bias_of_wrong_shape(b_shape):
    """A bias that is not (out_channels,) is a ShapeError naming conv2d and the bias shape."""
    x, w, b = leaf((2, 3, 6, 6)), leaf((4, 3, 3, 3)), leaf(b_shape)
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.zeros(2, 3, 6, 6), torch.zeros(4, 3, 3, 3), torch.zeros(b_shape))
    assert_fails_cleanly(lambda: F.conv2d(x, w, b), [x, w, b], tc.ShapeError, "conv2d", str(b_shape))


@pytest.mark.parametrize("x_shape,w_shape,groups", [
    ((2, 4, 5, 5), (6, 4, 3, 3), 3),   # 4 input channels, groups 3
    ((2, 4, 5, 5), (3, 2, 3, 3), 2),   # 3 output channels, groups 2
    ((2, 6, 5, 5), (6, 2, 3, 3), 2),   # weight expects 6 / 2 = 3 channels per group, has 2
])
def test_conv2d_groups_not_dividing_channels(x_shape, w_shape, groups):
    """groups that do not divide the channel counts (or a weight whose per-group channel count
    does not fit) raise a ShapeError naming conv2d, as torch raises a RuntimeError."""
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.zeros(x_shape), torch.zeros(w_shape), groups=groups)
    x, w = leaf(x_shape), leaf(w_shape)
    assert_fails_cleanly(lambda: F.conv2d(x, w, groups=groups), [x, w], tc.ShapeError, "conv2d")


@pytest.mark.parametrize("conv,x_shape,w_shape,stride", [
    ("conv2d", (1, 2, 8, 8), (3, 2, 3, 3), 2),
    ("conv2d", (1, 2, 8, 8), (3, 2, 3, 3), (1, 2)),
    ("conv1d", (1, 2, 8), (3, 2, 3), 2),
])
def test_same_padding_with_stride_is_value_error(conv, x_shape, w_shape, stride):
    """padding="same" with a stride other than 1 is a ValueError naming the op (torch refuses it too)."""
    with pytest.raises((RuntimeError, ValueError)):
        getattr(TF, conv)(torch.zeros(x_shape), torch.zeros(w_shape), stride=stride, padding="same")
    x, w = leaf(x_shape), leaf(w_shape)
    assert_fails_cleanly(lambda: getattr(F, conv)(x, w, stride=stride, padding="same"), [x, w], ValueError, "same")


def test_conv2d_mixed_dtypes_is_type_error():
    """float64 input with a float32 weight (or bias) is a TypeError naming conv2d and both dtypes."""
    x, w32 = leaf((1, 2, 5, 5)), leaf((3, 2, 3, 3), dtype=np.float32)
    w64, b32 = leaf((3, 2, 3, 3)), leaf((3,), dtype=np.float32)
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.zeros(1, 2, 5, 5, dtype=torch.float64), torch.zeros(3, 2, 3, 3))
    assert_fails_cleanly(lambda: F.conv2d(x, w32), [x, w32], TypeError, "conv2d", "float32", "float64")
    assert_fails_cleanly(lambda: F.conv2d(x, w64, b32), [x, w64, b32], TypeError, "conv2d")


def test_conv2d_works_after_a_failed_call():
    """A failed call leaves no state behind: the same tensors then give torch's gradients."""
    rng = np.random.default_rng(11)
    x_np, w_np = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    x, w = tc.tensor(x_np, requires_grad=True), tc.tensor(w_np, requires_grad=True)
    with pytest.raises(ValueError):
        F.conv2d(x, w, stride=2, padding="same")
    F.conv2d(x, w, padding=1).sum().backward()
    xt, wt = torch.tensor(x_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    TF.conv2d(xt, wt, padding=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-6, atol=1e-8)
