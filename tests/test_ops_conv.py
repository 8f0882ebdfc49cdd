"""F.conv2d, F.conv1d and F.conv_transpose2d: the edge cases. The op table (tests/op_table/nn_ops.py, run by
tests/test_op_table.py) proves forward and every gradient against PyTorch on drawn shapes,
groups, strides, paddings (int / pair / "same" / "valid"), dilations and biases, with any
subset of inputs requiring grad and transposed, strided and channels-last inputs; this file
keeps what the table does not check: im2col parts of one image each, even kernels with
"same" padding, views with negative strides, the absence of Python loops over the batch or
output positions, a batch of 64, and bad inputs failing cleanly; for conv_transpose2d its
definition as conv2d's adjoint, the output rows only the bias reaches, a batch of 64 and bad
inputs.
"""
import os
import sys
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops import conv as conv_module
from helpers import DEVICES, DTYPES, assert_fails_cleanly, compare_with_torch, leaf
from op_table.nn_ops import conv2d_cases

# torch warns that padding="same" with even kernels copies the input; that is its business.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

# float32 convolutions sum up to a few hundred products (the weight gradient sums over
# batch * output positions), so their absolute error is some 10x the default float32 atol.
F32_ATOL_SCALE = 10.0


def atol_scale(dtype):
    return F32_ATOL_SCALE if np.dtype(dtype) == np.float32 else 1.0


# ---------------------------------------------------------------- parts, padding, views
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv2d_cases())
def test_conv2d_in_single_image_parts_matches_torch(dtype, case):
    """On the CPU conv2d builds its im2col matrices a few images at a time (parts sized to the
    cache); with parts of one image each, forward and all gradients still equal torch's."""
    arrays = [a for a in case.arrays if a is not None]  # x, weight and the bias when there is one
    with mock.patch.object(conv_module, "_CACHE_BYTES", 1):
        compare_with_torch(lambda *a: F.conv2d(*a, **case.params), lambda *a: TF.conv2d(*a, **case.params),
                           arrays, device="cpu", dtype=dtype, seed=case.seed, atol_scale=atol_scale(dtype))


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


# ---------------------------------------------------------------- conv_transpose2d
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (1, 1, 2), (2, 1, 1), (3, 2, 2)])
def test_conv_transpose2d_is_the_adjoint_of_conv2d(device, stride, padding, dilation):
    """The definition, independent of torch: <conv_transpose2d(y, w), x> = <y, conv2d(x, w)>
    for every x and y (groups=2), with the output size of conv_transpose2d equal to x's."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 3))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=2)
    conv = F.conv2d(tc.tensor(x, device=device), tc.tensor(w, device=device), **kwargs)
    y = rng.standard_normal(conv.shape)
    out_padding = tuple(size - ((c - 1) * stride - 2 * padding + dilation * 2 + 1) for size, c in zip((9, 8), conv.shape[2:]))
    transposed = F.conv_transpose2d(tc.tensor(y, device=device), tc.tensor(w, device=device), output_padding=out_padding,
                                    **kwargs)
    assert transposed.shape == x.shape
    np.testing.assert_allclose(np.sum(transposed.numpy() * x), np.sum(y * conv.numpy()), rtol=1e-10)


@pytest.mark.parametrize("device", DEVICES)
def test_conv_transpose2d_rows_beyond_every_kernel_position_hold_the_bias(device):
    """output_padding beyond the padding adds rows and columns no kernel position reaches: they
    hold the bias alone (exactly), and everything equals torch's, gradients too."""
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 3, 4)), rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(2)
    kwargs = dict(stride=3, padding=0, output_padding=2)
    out, _ = compare_with_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
                                lambda x, w, b: TF.conv_transpose2d(x, w, b, **kwargs), [x, w, b], device=device)
    np.testing.assert_array_equal(out.numpy()[:, :, -2:, :], np.broadcast_to(b.reshape(1, 2, 1, 1), (2, 2, 2, 13)))
    np.testing.assert_array_equal(out.numpy()[:, :, :, -2:], np.broadcast_to(b.reshape(1, 2, 1, 1), (2, 2, 10, 2)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose2d_batch_64_matches_torch(dtype):
    """A batch of 64 (several cache-sized parts), stride 2, output_padding 1: all gradients."""
    rng = np.random.default_rng(64)
    x, w, b = rng.standard_normal((64, 8, 8, 8)), rng.standard_normal((8, 4, 3, 3)), rng.standard_normal(4)
    kwargs = dict(stride=2, padding=1, output_padding=1)
    compare_with_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
                       lambda x, w, b: TF.conv_transpose2d(x, w, b, **kwargs), [x, w, b], dtype=dtype,
                       atol_scale=atol_scale(dtype))


@pytest.mark.parametrize("kwargs,rows,error,fragments", [
    (dict(stride=2, output_padding=2), 3, RuntimeError, ("output_padding", "(2, 2)")),
    (dict(), 2, tc.ShapeError, ("conv_transpose2d", "(1, 3, 5, 5)", "(2, 4, 3, 3)")),
    (dict(padding="same"), 3, TypeError, ("conv_transpose2d", "'same'")),
    (dict(padding=5), 3, tc.ShapeError, ("conv_transpose2d", "output size")),
    (dict(groups=2), 3, tc.ShapeError, ("conv_transpose2d", "groups=2")),
    (dict(stride=0), 3, RuntimeError, ("conv_transpose2d", "stride")),
])
def test_conv_transpose2d_bad_inputs_fail_cleanly(kwargs, rows, error, fragments):
    """Bad arguments raise torch's exception type (a ShapeError is a RuntimeError), naming the
    op and the offending values, and leave the inputs as they were."""
    x, w = leaf((1, 3, 5, 5)), leaf((3, 4, 3, 3), seed=1)
    with pytest.raises(RuntimeError if error is tc.ShapeError else error):
        TF.conv_transpose2d(torch.tensor(x.numpy()), torch.tensor(w.numpy()[:rows]), **kwargs)
    assert_fails_cleanly(lambda: F.conv_transpose2d(x, w[:rows], **kwargs), [x, w], error, *fragments)
