"""Movement ops: the edge cases. The op table (tests/op_table/movement.py, run by
tests/test_op_table.py) proves forward and gradients of reshape/view, permute, .T, transpose,
flatten, squeeze/unsqueeze, broadcast_to/expand, getitem (basic indices, integer arrays,
masks), cat/stack and pad, in every spelling, against PyTorch; this file keeps what the table
does not check: 0-d tensors, index mixes and out-of-range slices, repeated indices counted
independently, empty selections, gradients that do not alias the cotangent, and bad input.
"""
import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from helpers import DEVICES, DTYPES, compare_with_torch
from op_table.movement import torch_basic_index


# ---------------------------------------------------------------- 0-d tensors
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim", [0, -1])
def test_squeeze_of_a_0d_tensor_like_torch(dim, device):
    """torch accepts squeeze(0) / squeeze(-1) on a 0-d tensor and returns it unchanged."""
    compare_with_torch(lambda t: t.squeeze(dim), lambda t: t.squeeze(dim), [np.array(1.5)], device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_zero_dim_reshapes_like_torch(device):
    """0-d tensors: flatten() gives shape (1,), reshape(-1) shape (1,), unsqueeze(-1) shape (1,),
    reshape(1, 1) and back, as torch."""
    for fn in (lambda t: t.flatten(), lambda t: t.reshape(-1), lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(0),
               lambda t: t.reshape(1, 1).reshape(())):
        compare_with_torch(fn, fn, [np.array(-0.75)], device=device)


# ---------------------------------------------------------------- getitem
# Index mixes the op table's rows do not draw (an integer array beside an int or a bounded
# slice, a mask after a slice, a list of bools) and slice bounds beyond the axis.
GETITEM_CASES = {
    "slice out of range": lambda: slice(2, 10),
    "array after Ellipsis": lambda: (Ellipsis, np.array([0, 0, 2])),
    "array and int": lambda: (np.array([3, 3]), 1),
    "array and slice": lambda: (np.array([1, 1, 0]), slice(1, 4)),
    "bool mask on axis 1": lambda: (slice(None), np.array([False, True, True, False, True])),
    "bool list": lambda: [True, False, False, True],
}


def _torch_index(index):
    """The same index for torch: numpy arrays become torch tensors."""
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    return index


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(GETITEM_CASES))
def test_getitem_index_mixes_match_torch(case, dtype, device):
    """x[index] on a (4, 5, 3) tensor for the index mixes above: torch's values and gradient."""
    x = np.random.default_rng(1).standard_normal((4, 5, 3))
    index = GETITEM_CASES[case]()
    compare_with_torch(lambda t: t[index], lambda t: t[_torch_index(index)], [x], device=device, dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("slices", [(slice(10, -10, -1),), (slice(None), slice(-7, 9, -2))],
                         ids=["[10:-10:-1]", "[:, -7:9:-2]"])
def test_negative_step_slices_with_bounds_beyond_the_axis(slices, device):
    """Slices with negative steps and bounds beyond the axis select what Python's
    range(n)[slice] gives (torch has no negative steps: the reference gathers those positions)."""
    x = np.random.default_rng(2).standard_normal((4, 5, 3))
    compare_with_torch(lambda t: t[slices], lambda t: torch_basic_index(t, slices), [x], device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_repeated_indices_accumulate_the_gradient(device):
    """x[[0, 0, 0, 2]].sum() gives x.grad = [3, 0, 1] (counted independently), for a list, an
    int array and a Tensor index."""
    for index in ([0, 0, 0, 2], np.array([0, 0, 0, 2]), tc.tensor(np.array([0, 0, 0, 2]), device=device)):
        x = tc.tensor(np.array([1.0, 2.0, 3.0]), device=device, requires_grad=True)
        x[index].sum().backward()
        expected = np.bincount([0, 0, 0, 2], minlength=3).astype(float)
        np.testing.assert_array_equal(x.grad.to("cpu").numpy(), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_getitem_with_an_empty_list_like_torch(device):
    """x[[]] selects nothing: an empty tensor of shape (0, ...) and a zero gradient, as torch."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    compare_with_torch(lambda t: t[[]], lambda t: t[[]], [x], device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_indexing_with_a_float_array_is_an_index_error(device):
    """Floating-point index arrays are rejected with IndexError (as torch and numpy)."""
    x = tc.tensor(np.ones((3, 4)), device=device)
    with pytest.raises(IndexError):
        x[np.array([0.0, 1.0])]


# ---------------------------------------------------------------- pad, cat
@pytest.mark.parametrize("device", DEVICES)
def test_pad_is_asymmetric_in_pytorch_order(device):
    """pad=(1, 2, 3, 0) on a (2, 2) tensor: 1 column left, 2 right, 3 rows on top, none below,
    checked against an explicit numpy array."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = tc.pad(tc.tensor(x, device=device), (1, 2, 3, 0)).to("cpu").numpy()
    expected = np.zeros((5, 5))
    expected[3:, 1:3] = x
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("device", DEVICES)
def test_cat_of_one_tensor_used_twice_sums_both_gradients(device):
    """tc.cat([x, x]) sends both halves of the gradient to x, as torch."""
    x = np.random.default_rng(3).standard_normal((2, 3))
    compare_with_torch(lambda t: tc.cat([t, t], dim=1), lambda t: torch.cat([t, t], dim=1), [x], device=device)
    compare_with_torch(lambda t: tc.stack([t, t * 2.0]), lambda t: torch.stack([t, t * 2.0]), [x], device=device)


# ---------------------------------------------------------------- properties
MOVEMENTS = {
    "reshape": lambda t: t.reshape(6, -1), "permute": lambda t: t.permute(2, 0, 1), "T": lambda t: t.T,
    "flatten": lambda t: t.flatten(1), "squeeze": lambda t: t.unsqueeze(1).squeeze(),
    "basic index": lambda t: t[1:, ::-2],
    "int list": lambda t: t[[0, 0, 2]], "mask": lambda t: t[t > 0], "pad": lambda t: tc.pad(t, (1, 0, 2, 2)),
    "cat": lambda t: tc.cat([t, t * 1.0], dim=-1), "stack": lambda t: tc.stack([t, t], 1),
    "expand": lambda t: t.unsqueeze(0).expand(2, 3, 4, 5),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(MOVEMENTS))
def test_movements_do_not_modify_inputs_and_gradients_do_not_alias(name, device):
    """Forward and backward leave the input and the cotangent untouched (many results are views
    of the input); the gradient is independent memory: writing into the cotangent or the output
    afterwards does not change x.grad; a second backward adds the same gradient again."""
    rng = np.random.default_rng(8)
    x_np = rng.standard_normal((3, 4, 5))
    x = tc.tensor(x_np, device=device, requires_grad=True)
    out = MOVEMENTS[name](x)
    cot_np = rng.standard_normal(out.shape)
    cotangent = tc.tensor(cot_np, device=device)
    out.backward(cotangent, retain_graph=True)
    np.testing.assert_array_equal(x.to("cpu").numpy(), x_np)
    np.testing.assert_array_equal(cotangent.to("cpu").numpy(), cot_np)
    first = x.grad.to("cpu").numpy().copy()
    with tc.no_grad():
        cotangent.data[...] = 0
    np.testing.assert_array_equal(x.grad.to("cpu").numpy(), first)
    out.backward(tc.tensor(cot_np, device=device))
    np.testing.assert_allclose(x.grad.to("cpu").numpy(), 2 * first, rtol=1e-12)
    np.testing.assert_array_equal(x.to("cpu").numpy(), x_np)


# ---------------------------------------------------------------- bad input
def test_cat_shape_mismatch_raises_shape_error_naming_shapes():
    """cat of tensors differing outside the cat axis raises tc.ShapeError naming cat and the shapes."""
    a, b = tc.tensor(np.ones((2, 3))), tc.tensor(np.ones((2, 4)))
    with pytest.raises(tc.ShapeError) as info:
        tc.cat([a, b], dim=0)
    message = str(info.value)
    assert "cat" in message and "(2, 3)" in message and "(2, 4)" in message, message
    tc.cat([a, b], dim=1)  # fine along the axis where they differ


def test_stack_shape_mismatch_raises_shape_error():
    with pytest.raises(tc.ShapeError, match="stack"):
        tc.stack([tc.tensor(np.ones((2, 3))), tc.tensor(np.ones((3, 2)))])


@pytest.mark.parametrize("target", [(3, 3), (4,), (2,)])
def test_broadcast_to_incompatible_shape_raises_shape_error(target):
    """broadcast_to a shape the input cannot stretch to (or fewer dims) raises tc.ShapeError
    naming broadcast_to and the input shape."""
    x = tc.tensor(np.ones((2, 3)))
    with pytest.raises(tc.ShapeError) as info:
        x.broadcast_to(target)
    assert "broadcast_to" in str(info.value) and "(2, 3)" in str(info.value)


@pytest.mark.parametrize("bad", [(5, -1, -1), (4, 5), (-1, -1, 2)])
def test_reshape_invalid_shape_raises_shape_error(bad):
    """reshape to a shape of another size, or with two -1s, raises tc.ShapeError naming reshape."""
    with pytest.raises(tc.ShapeError, match="reshape"):
        tc.tensor(np.ones((2, 3))).reshape(bad)
