"""Movement ops against PyTorch (or, where torch has no equivalent, against numpy): reshape/view,
permute/transpose/.T, flatten, squeeze/unsqueeze, getitem, pad, cat/stack, broadcast_to/expand.

Every case compares the forward values and the gradient w.r.t. every input. Indexing with
repeated integer indices must accumulate the gradient of each repeat.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, compare_with_torch

# ---------------------------------------------------------------- strategies
seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


def values(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


def maybe_negative(draw, axis, ndim):
    """`axis` spelled as is or counted from the end, at random."""
    return axis - ndim if draw(st.booleans()) else axis


@st.composite
def reshape_cases(draw):
    """A shape and a new shape with the same number of elements (a random factorisation of
    the size, with 1s inserted), one entry possibly replaced by -1."""
    shape = draw(shapes)
    remaining = int(np.prod(shape))
    new = []
    while remaining > 1:
        factor = draw(st.sampled_from([d for d in range(2, remaining + 1) if remaining % d == 0]))
        new.append(factor)
        remaining //= factor
    for _ in range(draw(st.integers(0, 2))):
        new.insert(draw(st.integers(0, len(new))), 1)
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return shape, tuple(new)


@st.composite
def permute_cases(draw):
    shape = draw(shapes)
    perm = draw(st.permutations(range(len(shape))))
    return shape, tuple(maybe_negative(draw, p, len(shape)) for p in perm)


@st.composite
def axis_pair_cases(draw):
    """A shape and two axes in [-ndim, ndim) (possibly equal)."""
    shape = draw(nonscalar_shapes)
    nd = len(shape)
    return shape, draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1))


@st.composite
def flatten_cases(draw):
    """A shape and start_dim <= end_dim (after normalisation), each possibly negative."""
    shape = draw(nonscalar_shapes)
    nd = len(shape)
    start = draw(st.integers(0, nd - 1))
    end = draw(st.integers(start, nd - 1))
    return shape, maybe_negative(draw, start, nd), maybe_negative(draw, end, nd)


@st.composite
def squeeze_cases(draw):
    """A shape rich in 1s and dim: None, an int or a tuple (sizes other than 1 included, which
    torch leaves alone)."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=3))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-nd, nd - 1))
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return shape, tuple(maybe_negative(draw, a, nd) for a in axes)


@st.composite
def expand_cases(draw):
    """(input shape, target shape, target spelled with -1 where allowed): the input is the target
    with some leading dims dropped and some dims set to 1."""
    target = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    lead = draw(st.integers(0, len(target)))
    source = [1 if draw(st.booleans()) else s for s in target[lead:]]
    spelled = list(target)
    for i, s in enumerate(source):
        if s == target[lead + i] and draw(st.booleans()):
            spelled[lead + i] = -1  # -1 keeps the input's size
    return tuple(source), target, tuple(spelled)


def index_of(slc, n):
    """The positions a slice selects on an axis of length n, from Python's own range semantics."""
    return list(range(n))[slc]


# ---------------------------------------------------------------- reshape family
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["reshape(tuple)", "reshape(*ints)", "view(*ints)", "tc.reshape"])
@given(case=reshape_cases(), seed=seeds)
def test_reshape_view_match_torch(spelling, dtype, device, case, seed):
    """reshape/view to any shape of the same size, with at most one -1: torch's values and a
    gradient of the input's shape."""
    shape, new = case
    ours = {"reshape(tuple)": lambda t: t.reshape(new), "reshape(*ints)": lambda t: t.reshape(*new),
            "view(*ints)": lambda t: t.view(*new), "tc.reshape": lambda t: tc.reshape(t, new)}[spelling]
    compare_with_torch(ours, lambda t: t.reshape(new), [values(seed, shape)], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["method(*dims)", "method(tuple)", "tc.permute"])
@given(case=permute_cases(), seed=seeds)
def test_permute_matches_torch(spelling, dtype, device, case, seed):
    """permute by any permutation (dims possibly negative): torch's values and gradient."""
    shape, perm = case
    ours = {"method(*dims)": lambda t: t.permute(*perm), "method(tuple)": lambda t: t.permute(perm),
            "tc.permute": lambda t: tc.permute(t, perm)}[spelling]
    compare_with_torch(ours, lambda t: t.permute(perm), [values(seed, shape)], device=device, dtype=dtype,
                       seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=axis_pair_cases(), seed=seeds)
def test_transpose_matches_torch(dtype, device, case, seed):
    """transpose(d0, d1) with negative or equal dims, method and function: torch's values and gradient."""
    shape, d0, d1 = case
    x = values(seed, shape)
    compare_with_torch(lambda t: t.transpose(d0, d1), lambda t: t.transpose(d0, d1), [x], device=device,
                       dtype=dtype, seed=seed)
    compare_with_torch(lambda t: tc.transpose(t, d0, d1), lambda t: torch.transpose(t, d0, d1), [x], device=device,
                       dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, seed=seeds)
def test_T_reverses_all_axes(dtype, device, shape, seed):
    """x.T reverses the order of all axes (torch's .T for 2-D, its permute for any rank)."""
    x = values(seed, shape)
    compare_with_torch(lambda t: t.T, lambda t: t.permute(tuple(reversed(range(t.ndim)))), [x], device=device,
                       dtype=dtype, seed=seed)
    if len(shape) == 2:
        compare_with_torch(lambda t: t.T, lambda t: t.T, [x], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=flatten_cases(), seed=seeds)
def test_flatten_matches_torch(dtype, device, case, seed):
    """flatten(start_dim, end_dim), negative dims allowed, method and function; also the
    defaults flatten() and flatten(1)."""
    shape, start, end = case
    x = values(seed, shape)
    compare_with_torch(lambda t: t.flatten(start, end), lambda t: t.flatten(start, end), [x], device=device,
                       dtype=dtype, seed=seed)
    compare_with_torch(lambda t: tc.flatten(t, start_dim=start, end_dim=end),
                       lambda t: torch.flatten(t, start_dim=start, end_dim=end), [x], device=device, dtype=dtype,
                       seed=seed)
    compare_with_torch(lambda t: t.flatten(), lambda t: t.flatten(), [x], device=device, dtype=dtype, seed=seed)
    if len(shape) >= 2:
        compare_with_torch(lambda t: t.flatten(1), lambda t: t.flatten(1), [x], device=device, dtype=dtype,
                           seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=squeeze_cases(), seed=seeds)
def test_squeeze_matches_torch(dtype, device, case, seed):
    """squeeze() drops every size-1 axis; squeeze(dim) / squeeze(tuple) only the named ones
    that have size 1 (others are left alone, as torch)."""
    shape, dim = case
    x = values(seed, shape)
    if dim is None:
        compare_with_torch(lambda t: t.squeeze(), lambda t: t.squeeze(), [x], device=device, dtype=dtype, seed=seed)
        compare_with_torch(tc.squeeze, torch.squeeze, [x], device=device, dtype=dtype, seed=seed)
    else:
        compare_with_torch(lambda t: t.squeeze(dim), lambda t: t.squeeze(dim), [x], device=device, dtype=dtype,
                           seed=seed)
        compare_with_torch(lambda t: tc.squeeze(t, dim), lambda t: torch.squeeze(t, dim), [x], device=device,
                           dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, seed=seeds, data=st.data())
def test_unsqueeze_matches_torch(dtype, device, shape, seed, data):
    """unsqueeze(dim) for dim in [-(ndim+1), ndim], negative dims counting from the end of the
    result, method and function."""
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    x = values(seed, shape)
    compare_with_torch(lambda t: t.unsqueeze(dim), lambda t: t.unsqueeze(dim), [x], device=device, dtype=dtype,
                       seed=seed)
    compare_with_torch(lambda t: tc.unsqueeze(t, dim), lambda t: torch.unsqueeze(t, dim), [x], device=device,
                       dtype=dtype, seed=seed)


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
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), seed=seeds)
def test_basic_indexing_matches_numpy(dtype, device, data, seed):
    """Basic indices drawn by hypothesis (ints, negative ints, slices with any step including
    negative steps, None, Ellipsis): the forward equals numpy's x[index], and the gradient is
    the cotangent written into zeros at the selected positions (computed with numpy)."""
    shape = data.draw(shapes, label="shape")
    index = data.draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True), label="index")
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(shape).astype(dtype)
    expected = np.asarray(x_np[index])
    x = tc.tensor(x_np, device=device, requires_grad=True)
    out = x[index]
    assert out.shape == expected.shape and out.dtype == x_np.dtype
    np.testing.assert_array_equal(out.to("cpu").numpy(), expected)
    g = rng.standard_normal(expected.shape).astype(dtype)
    out.backward(tc.tensor(g, device=device))
    grad = np.zeros(shape, dtype=dtype)
    grad[index] = grad[index] + g  # basic indices never repeat a position
    assert x.grad.shape == shape
    np.testing.assert_array_equal(x.grad.to("cpu").numpy(), grad)


# index builders for cases torch supports directly (numpy arrays become torch tensors for torch)
GETITEM_CASES = {
    "int": lambda: 1,
    "negative int": lambda: -1,
    "int, int": lambda: (2, -3),
    "slice": lambda: slice(1, 3),
    "slice with step": lambda: (slice(None), slice(0, 5, 2)),
    "slice out of range": lambda: slice(2, 10),
    "None": lambda: (None, slice(None), None),
    "Ellipsis": lambda: (Ellipsis, 1),
    "int, Ellipsis, None": lambda: (1, Ellipsis, None),
    "list with repeats": lambda: [0, 2, 2, 0, 3],
    "negative list": lambda: [-1, -4, -1],
    "list on axis 1": lambda: (slice(None), [1, 1, 4, -1]),
    "two lists": lambda: ([0, 0, 3], slice(None), [2, 2, 1]),
    "2-D int array": lambda: np.array([[0, 1], [1, 1], [3, 0]]),
    "array after Ellipsis": lambda: (Ellipsis, np.array([0, 0, 2])),
    "array and int": lambda: (np.array([3, 3]), 1),
    "array and slice": lambda: (np.array([1, 1, 0]), slice(1, 4)),
    "bool mask 1-D": lambda: np.array([True, False, True, True]),
    "bool mask 2-D": lambda: np.array([[True, False, True, False, True]] * 2 + [[False] * 5] + [[True] * 5]),
    "bool mask full": lambda: np.random.default_rng(0).random((4, 5, 3)) > 0.4,
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
def test_getitem_matches_torch(case, dtype, device):
    """x[index] on a (4, 5, 3) tensor for ints, slices, None, Ellipsis, integer lists/arrays
    with repeated entries (their gradients accumulate) and boolean masks: torch's values and
    gradient."""
    x = np.random.default_rng(1).standard_normal((4, 5, 3))
    index = GETITEM_CASES[case]()
    compare_with_torch(lambda t: t[index], lambda t: t[_torch_index(index)], [x], device=device, dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["int64", "int32", "bool"])
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_getitem_with_tensor_indices_matches_torch(kind, dtype, device, shape, seed, data):
    """Indexing with a tc.Tensor of integers (repeats and negative entries, gradients summed per
    repeat) or of booleans (a mask over the leading axes), on an axis drawn by hypothesis."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == "bool":
        k = data.draw(st.integers(1, len(shape)), label="mask dims")
        index = rng.random(shape[:k]) > 0.5
        compare_with_torch(lambda t, i: t[i], lambda t, i: t[i], [x, index], device=device, dtype=dtype, seed=seed)
        return
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    n = shape[axis]
    index = rng.integers(-n, n, size=data.draw(st.integers(1, 6), label="count")).astype(kind)
    lead = (slice(None),) * axis
    compare_with_torch(lambda t, i: t[lead + (i,)], lambda t, i: t[lead + (i,)], [x, index], device=device,
                       dtype=dtype, seed=seed)
    # the same positions as a Python list
    as_list = index.tolist()
    compare_with_torch(lambda t: t[lead + (as_list,)], lambda t: t[lead + (as_list,)], [x], device=device,
                       dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slices", [
    (slice(None, None, -1),), (slice(None), slice(3, 0, -2)), (slice(-1, None, -3), slice(None), slice(None, None, -1)),
    (slice(10, -10, -1),), (Ellipsis, slice(1, None, -1)),
], ids=["[::-1]", "[:, 3:0:-2]", "[-1::-3, :, ::-1]", "[10:-10:-1]", "[..., 1::-1]"])
def test_negative_step_slices_match_torch_gather(slices, dtype, device):
    """Slices with negative steps (which torch has no syntax for) equal torch.index_select with
    the positions Python's range(n)[slice] gives, gradient included."""
    shape = (4, 5, 3)
    x = np.random.default_rng(2).standard_normal(shape)
    if slices[0] is Ellipsis:
        axes_slices = [(len(shape) - 1, slices[1])]
    else:
        axes_slices = list(enumerate(slices))

    def reference(t):
        for axis, slc in axes_slices:
            t = torch.index_select(t, axis, torch.tensor(index_of(slc, shape[axis]), dtype=torch.long))
        return t

    compare_with_torch(lambda t: t[slices], reference, [x], device=device, dtype=dtype)


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


# ---------------------------------------------------------------- pad
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["tc.pad", "F.pad"])
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_pad_matches_torch(spelling, dtype, device, shape, seed, data):
    """Constant padding in PyTorch's order ((left, right) of the last axis first), asymmetric
    widths, some zero, over 1..ndim trailing axes, with a fill value: torch's values and
    gradient."""
    pairs = data.draw(st.integers(1, len(shape)), label="padded axes")
    pad = tuple(data.draw(st.lists(st.integers(0, 3), min_size=2 * pairs, max_size=2 * pairs), label="pad"))
    value = data.draw(st.sampled_from([0.0, -1.5, 2.0]), label="value")
    ours = (lambda t: tc.pad(t, pad, value=value)) if spelling == "tc.pad" else (
        lambda t: F.pad(t, pad, "constant", value))
    compare_with_torch(ours, lambda t: TF.pad(t, pad, mode="constant", value=value), [values(seed, shape)],
                       device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
def test_pad_is_asymmetric_in_pytorch_order(device):
    """pad=(1, 2, 3, 0) on a (2, 2) tensor: 1 column left, 2 right, 3 rows on top, none below,
    checked against an explicit numpy array."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = tc.pad(tc.tensor(x, device=device), (1, 2, 3, 0)).to("cpu").numpy()
    expected = np.zeros((5, 5))
    expected[3:, 1:3] = x
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------- cat / stack
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["cat(dim=)", "cat(positional)", "concatenate(axis=)", "concat(axis=)"])
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_cat_matches_torch(spelling, dtype, device, shape, seed, data):
    """cat/concatenate/concat of 1-3 tensors along a (possibly negative) axis, sizes differing
    along it, some inputs without grad: torch.cat's values and each input's gradient slice."""
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="sizes")
    requires = data.draw(st.lists(st.booleans(), min_size=len(sizes), max_size=len(sizes)), label="requires_grad")
    rng = np.random.default_rng(seed)
    arrays = []
    for s in sizes:
        part = list(shape)
        part[axis] = s
        arrays.append(rng.standard_normal(part))
    ours = {"cat(dim=)": lambda *ts: tc.cat(ts, dim=axis), "cat(positional)": lambda *ts: tc.cat(list(ts), axis),
            "concatenate(axis=)": lambda *ts: tc.concatenate(ts, axis=axis),
            "concat(axis=)": lambda *ts: tc.concat(list(ts), axis=axis)}[spelling]
    compare_with_torch(ours, lambda *ts: torch.cat(ts, dim=axis), arrays, device=device, dtype=dtype,
                       requires_grad=requires, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["dim=", "axis=", "positional"])
@given(shape=shapes, seed=seeds, data=st.data())
def test_stack_matches_torch(spelling, dtype, device, shape, seed, data):
    """stack of 1-3 equal-shape tensors along a new axis in [-(ndim+1), ndim]: torch.stack's
    values and gradients."""
    nd = len(shape)
    axis = data.draw(st.integers(-nd - 1, nd), label="axis")
    count = data.draw(st.integers(1, 3), label="count")
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for _ in range(count)]
    ours = {"dim=": lambda *ts: tc.stack(ts, dim=axis), "axis=": lambda *ts: tc.stack(list(ts), axis=axis),
            "positional": lambda *ts: tc.stack(list(ts), axis)}[spelling]
    compare_with_torch(ours, lambda *ts: torch.stack(ts, dim=axis), arrays, device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("device", DEVICES)
def test_cat_of_one_tensor_used_twice_sums_both_gradients(device):
    """tc.cat([x, x]) sends both halves of the gradient to x, as torch."""
    x = np.random.default_rng(3).standard_normal((2, 3))
    compare_with_torch(lambda t: tc.cat([t, t], dim=1), lambda t: torch.cat([t, t], dim=1), [x], device=device)
    compare_with_torch(lambda t: tc.stack([t, t * 2.0]), lambda t: torch.stack([t, t * 2.0]), [x], device=device)


# ---------------------------------------------------------------- broadcast_to / expand
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["broadcast_to(tuple)", "expand(*ints)", "expand(tuple)", "tc.broadcast_to"])
@given(case=expand_cases(), seed=seeds)
def test_broadcast_to_expand_match_torch(spelling, dtype, device, case, seed):
    """broadcast_to/expand to a larger shape (new leading axes, size-1 axes stretched, -1 to keep
    a size): torch.expand's values, and the gradient summed back to the input's shape."""
    source, target, spelled = case
    ours = {"broadcast_to(tuple)": lambda t: t.broadcast_to(target), "expand(*ints)": lambda t: t.expand(*spelled),
            "expand(tuple)": lambda t: t.expand(spelled), "tc.broadcast_to": lambda t: tc.broadcast_to(t, target)}
    compare_with_torch(ours[spelling], lambda t: t.expand(spelled), [values(seed, source)], device=device,
                       dtype=dtype, seed=seed)


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
