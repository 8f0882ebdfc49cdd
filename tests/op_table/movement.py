"""Op-table rows of the movement ops: reshape/view, permute, .T, transpose, flatten, squeeze,
unsqueeze, broadcast_to/expand, getitem (basic, integer arrays, boolean masks), cat/concatenate/
concat, stack and pad.

Dims are drawn positive or negative; index arrays, masks and their repeats are inputs of the
row (integer or boolean arrays, no gradient). Edge cases (0-d tensors, empty selections, index
errors) have tests of their own in tests/test_ops_movement.py.
"""
import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from .row import Case, OpRow, array_shapes, arrays_from, seeds

shapes = array_shapes()
nonscalar_shapes = array_shapes(min_dims=1)


def maybe_negative(draw, axis, ndim):
    """`axis` spelled as is or counted from the end, at random."""
    return axis - ndim if draw(st.booleans()) else axis


def _one_input(draw, x_shape, **params):
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, x_shape)), params, seed)


# ---------------------------------------------------------------- reshape family
@st.composite
def reshape_cases(draw):
    """Any shape and a new shape of the same size (a random factorisation of the size with 1s
    inserted), one entry possibly -1."""
    shape = draw(shapes)
    remaining, new = int(np.prod(shape)), []
    while remaining > 1:
        factor = draw(st.sampled_from([d for d in range(2, remaining + 1) if remaining % d == 0]))
        new.append(factor)
        remaining //= factor
    for _ in range(draw(st.integers(0, 2))):
        new.insert(draw(st.integers(0, len(new))), 1)
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return _one_input(draw, shape, shape=tuple(new))


@st.composite
def any_input_cases(draw):
    """One input of any shape, 0-d to 4-d."""
    return _one_input(draw, draw(shapes))


@st.composite
def permute_cases(draw):
    """Any shape and a permutation of its axes, each possibly negative."""
    shape = draw(shapes)
    dims = tuple(maybe_negative(draw, p, len(shape)) for p in draw(st.permutations(range(len(shape)))))
    return _one_input(draw, shape, dims=dims)


@st.composite
def transpose_cases(draw):
    """A shape and two axes in [-ndim, ndim), possibly equal."""
    shape = draw(nonscalar_shapes)
    nd = len(shape)
    return _one_input(draw, shape, dim0=draw(st.integers(-nd, nd - 1)), dim1=draw(st.integers(-nd, nd - 1)))


@st.composite
def flatten_cases(draw):
    """A shape and start_dim <= end_dim (after normalisation), each possibly negative or left at
    its default."""
    shape = draw(nonscalar_shapes)
    nd = len(shape)
    start = draw(st.integers(0, nd - 1))
    end = draw(st.integers(start, nd - 1))
    params = dict(start_dim=maybe_negative(draw, start, nd), end_dim=maybe_negative(draw, end, nd))
    if draw(st.booleans()):
        params.pop("end_dim")
        if start == 0 and draw(st.booleans()):
            params.pop("start_dim")
    return _one_input(draw, shape, **params)


@st.composite
def squeeze_cases(draw):
    """A shape rich in 1s and dim: absent, an int or a tuple (axes of other sizes included,
    which are left alone)."""
    shape = draw(array_shapes(min_dims=1, max_dims=5, max_side=3))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return _one_input(draw, shape)
    if kind == "int":
        return _one_input(draw, shape, dim=draw(st.integers(-nd, nd - 1)))
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return _one_input(draw, shape, dim=tuple(maybe_negative(draw, a, nd) for a in axes))


@st.composite
def unsqueeze_cases(draw):
    """Any shape and dim in [-(ndim+1), ndim]."""
    shape = draw(shapes)
    return _one_input(draw, shape, dim=draw(st.integers(-len(shape) - 1, len(shape))))


@st.composite
def expand_cases(draw):
    """An input and the shape to broadcast it to: the target with some leading dims dropped and
    some dims set to 1, spelled with -1 where a size is kept."""
    target = draw(shapes)
    lead = draw(st.integers(0, len(target)))
    source = tuple(1 if draw(st.booleans()) else s for s in target[lead:])
    spelled = list(target)
    for i, s in enumerate(source):
        if s == target[lead + i] and draw(st.booleans()):
            spelled[lead + i] = -1
    return _one_input(draw, source, shape=tuple(spelled))


# ---------------------------------------------------------------- getitem
@st.composite
def basic_index_cases(draw):
    """Any shape and a basic index: ints (negative too), slices with any step (negative too),
    None and Ellipsis."""
    shape = draw(shapes)
    index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    return _one_input(draw, shape, index=index)


def torch_basic_index(t, index):
    """t[index] in torch for a basic index, one axis at a time; slices with negative steps
    (which torch has no syntax for) select the positions Python's range(n)[slice] gives."""
    parts = list(index) if isinstance(index, tuple) else [index]
    if Ellipsis in parts:
        at = parts.index(Ellipsis)
        consumed = sum(p is not None for p in parts) - 1
        parts[at:at + 1] = [slice(None)] * (t.ndim - consumed)
    axis = 0
    for part in parts:
        if part is None:
            t = t.unsqueeze(axis)
            axis += 1
        elif isinstance(part, slice) and (part.step or 1) < 0:
            positions = list(range(t.shape[axis]))[part]
            t = torch.index_select(t, axis, torch.tensor(positions, dtype=torch.long, device=t.device))
            axis += 1
        elif isinstance(part, slice):
            t = t[(slice(None),) * axis + (part,)]
            axis += 1
        else:
            t = t.select(axis, part)
    return t


@st.composite
def integer_index_cases(draw):
    """x, an integer index array (int64 or int32, 1-d or 2-d, negative entries and repeats) and
    the axis it indexes."""
    shape = draw(nonscalar_shapes)
    axis = draw(st.integers(0, len(shape) - 1))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    n = shape[axis]
    index_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    index = rng.integers(-n, n, size=index_shape).astype(draw(st.sampled_from(["int64", "int32"])))
    return Case((arrays_from(seed, shape)[0], index), dict(axis=axis), seed)


def _index_along(x, index, axis):
    return x[(slice(None),) * axis + (index,)]


@st.composite
def two_index_cases(draw):
    """x of 2-4 dims and two integer index arrays that broadcast together, indexing the first
    axis and the last one (the gather of PyTorch's and NumPy's advanced indexing)."""
    shape = draw(array_shapes(min_dims=2))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    index_shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, max_side=3)).input_shapes
    first = rng.integers(-shape[0], shape[0], size=index_shapes[0])
    last = rng.integers(-shape[-1], shape[-1], size=index_shapes[1])
    return Case((arrays_from(seed, shape)[0], first, last), {}, seed)


@st.composite
def mask_cases(draw):
    """x and a boolean mask over its leading axes (about half true)."""
    shape = draw(nonscalar_shapes)
    seed = draw(seeds)
    mask = np.random.default_rng(seed).random(shape[:draw(st.integers(1, len(shape)))]) > 0.5
    return Case((arrays_from(seed, shape)[0], mask), {}, seed)


# ---------------------------------------------------------------- joining and padding
@st.composite
def cat_cases(draw):
    """1-3 inputs differing in size along a drawn (possibly negative) axis."""
    shape = draw(nonscalar_shapes)
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    seed = draw(seeds)
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = [shape[:dim % nd] + (size,) + shape[dim % nd + 1:] for size in sizes]
    return Case(tuple(arrays_from(seed, *parts)), dict(dim=dim), seed)


@st.composite
def stack_cases(draw):
    """1-3 inputs of one shape (0-d too) and a new axis in [-(ndim+1), ndim]."""
    shape = draw(shapes)
    nd = len(shape)
    seed = draw(seeds)
    count, dim = draw(st.integers(1, 3)), draw(st.integers(-nd - 1, nd))
    return Case(tuple(arrays_from(seed, *[shape] * count)), dict(dim=dim), seed)


@st.composite
def pad_cases(draw):
    """Constant padding in PyTorch's order over 1..ndim trailing axes, asymmetric widths (some
    0), and a fill value (absent: the default 0)."""
    shape = draw(nonscalar_shapes)
    pairs = draw(st.integers(1, len(shape)))
    params = dict(pad=tuple(draw(st.lists(st.integers(0, 3), min_size=2 * pairs, max_size=2 * pairs))))
    value = draw(st.sampled_from([None, 0.0, -1.5, 2.0]))
    if value is not None:
        params["value"] = value
    return _one_input(draw, shape, **params)


ROWS = [
    OpRow("tc.reshape", lambda x, shape: tc.reshape(x, shape), reshape_cases(), torch_fn=torch.reshape,
          aliases={"Tensor.reshape(tuple)": lambda x, shape: x.reshape(shape),
                   "Tensor.reshape(*ints)": lambda x, shape: x.reshape(*shape),
                   "Tensor.view(*ints)": lambda x, shape: x.view(*shape)},
          covers=("Tensor.reshape", "Tensor.view")),
    OpRow("tc.permute", lambda x, dims: tc.permute(x, dims), permute_cases(), torch_fn=torch.permute,
          aliases={"Tensor.permute(*dims)": lambda x, dims: x.permute(*dims),
                   "Tensor.permute(tuple)": lambda x, dims: x.permute(dims)},
          covers=("Tensor.permute",)),
    OpRow("Tensor.T", lambda x: x.T, any_input_cases(), torch_fn=lambda x: x.permute(tuple(reversed(range(x.ndim))))),
    OpRow("tc.transpose", tc.transpose, transpose_cases(), torch_fn=torch.transpose,
          aliases={"Tensor.transpose": lambda x, dim0, dim1: x.transpose(dim0, dim1)}, covers=("Tensor.transpose",)),
    OpRow("tc.flatten", tc.flatten, flatten_cases(), torch_fn=torch.flatten,
          aliases={"Tensor.flatten(start_dim=, end_dim=)": lambda x, **dims: x.flatten(**dims),
                   "Tensor.flatten(start, end)": lambda x, **dims: x.flatten(*dims.values())},
          covers=("Tensor.flatten",)),
    OpRow("tc.squeeze", tc.squeeze, squeeze_cases(), torch_fn=torch.squeeze,
          aliases={"Tensor.squeeze(dim=)": lambda x, **dim: x.squeeze(**dim),
                   "Tensor.squeeze(dim)": lambda x, **dim: x.squeeze(*dim.values())},
          covers=("Tensor.squeeze",)),
    OpRow("tc.unsqueeze", tc.unsqueeze, unsqueeze_cases(), torch_fn=torch.unsqueeze,
          aliases={"Tensor.unsqueeze": lambda x, dim: x.unsqueeze(dim)}, covers=("Tensor.unsqueeze",)),
    OpRow("tc.broadcast_to", lambda x, shape: tc.broadcast_to(x, shape), expand_cases(),
          torch_fn=lambda x, shape: x.expand(shape),
          aliases={"Tensor.broadcast_to": lambda x, shape: x.broadcast_to(shape),
                   "Tensor.expand(*ints)": lambda x, shape: x.expand(*shape),
                   "Tensor.expand(tuple)": lambda x, shape: x.expand(shape)},
          covers=("Tensor.broadcast_to", "Tensor.expand")),
    OpRow("Tensor.__getitem__ (basic index)", lambda x, index: x[index], basic_index_cases(),
          torch_fn=torch_basic_index),
    OpRow("Tensor.__getitem__ (integer array)", _index_along, integer_index_cases(), torch_fn=_index_along,
          aliases={"list index": lambda x, index, axis: _index_along(x, index.numpy().tolist(), axis),
                   "NumPy index": lambda x, index, axis: _index_along(x, index.numpy(), axis)},
          differentiable=(True, False)),
    OpRow("Tensor.__getitem__ (two integer arrays)", lambda x, i, j: x[i, ..., j], two_index_cases(),
          torch_fn=lambda x, i, j: x[i, ..., j], differentiable=(True, False, False)),
    OpRow("Tensor.__getitem__ (boolean mask)", lambda x, mask: x[mask], mask_cases(), torch_fn=lambda x, mask: x[mask],
          aliases={"NumPy mask": lambda x, mask: x[mask.numpy()]}, differentiable=(True, False)),
    OpRow("tc.cat", lambda *xs, dim: tc.cat(xs, dim=dim), cat_cases(), torch_fn=lambda *xs, dim: torch.cat(xs, dim=dim),
          aliases={"tc.cat(list, dim)": lambda *xs, dim: tc.cat(list(xs), dim),
                   "tc.concatenate(axis=)": lambda *xs, dim: tc.concatenate(xs, axis=dim),
                   "tc.concat(axis=)": lambda *xs, dim: tc.concat(list(xs), axis=dim)},
          covers=("tc.concatenate", "tc.concat")),
    OpRow("tc.stack", lambda *xs, dim: tc.stack(xs, dim=dim), stack_cases(),
          torch_fn=lambda *xs, dim: torch.stack(xs, dim=dim),
          aliases={"tc.stack(list, dim)": lambda *xs, dim: tc.stack(list(xs), dim),
                   "tc.stack(axis=)": lambda *xs, dim: tc.stack(xs, axis=dim)}),
    OpRow("tc.pad", tc.pad, pad_cases(), torch_fn=TF.pad,
          aliases={"F.pad": F.pad, "F.pad(x, pad, 'constant', value)": lambda x, pad, **value: F.pad(x, pad, "constant", **value)},
          covers=("F.pad",)),
]


# ---------------------------------------------------------------- split and chunk
@st.composite
def split_cases(draw):
    """A shape, a (possibly negative) dim, and split_size_or_sections: an int from 1 to beyond
    the dimension's size, or a list of sizes (zeros too) summing to it."""
    shape = draw(nonscalar_shapes)
    nd = len(shape)
    axis = draw(st.integers(0, nd - 1))
    if draw(st.booleans()):
        sections = draw(st.integers(1, shape[axis] + 1))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, shape[axis]), max_size=3)))
        sections = [hi - lo for lo, hi in zip([0] + cuts, cuts + [shape[axis]])]
    return _one_input(draw, shape, split_size_or_sections=sections, dim=maybe_negative(draw, axis, nd))


@st.composite
def chunk_cases(draw):
    """A shape, a (possibly negative) dim and a number of chunks from 1 to beyond the dimension's size."""
    shape = draw(nonscalar_shapes)
    nd = len(shape)
    axis = draw(st.integers(0, nd - 1))
    return _one_input(draw, shape, chunks=draw(st.integers(1, shape[axis] + 2)), dim=maybe_negative(draw, axis, nd))


def _rejoined(lib, pieces, dim):
    """The pieces joined again, piece i scaled by i + 1: the result (and the gradient) show that
    each piece holds the right slice, in order."""
    return lib.cat([piece * (i + 1) for i, piece in enumerate(pieces)], dim)


def _split_rejoined(lib):
    return lambda x, split_size_or_sections, dim: _rejoined(lib, lib.split(x, split_size_or_sections, dim), dim)


def _chunk_rejoined(lib):
    return lambda x, chunks, dim: _rejoined(lib, lib.chunk(x, chunks, dim), dim)


ROWS += [
    OpRow("tc.split", _split_rejoined(tc), split_cases(), torch_fn=_split_rejoined(torch),
          aliases={"Tensor.split": lambda x, split_size_or_sections, dim:
                   _rejoined(tc, x.split(split_size_or_sections, dim=dim), dim)},
          covers=("Tensor.split",)),
    OpRow("tc.chunk", _chunk_rejoined(tc), chunk_cases(), torch_fn=_chunk_rejoined(torch),
          aliases={"Tensor.chunk": lambda x, chunks, dim: _rejoined(tc, x.chunk(chunks, dim=dim), dim)},
          covers=("Tensor.chunk",)),
]
