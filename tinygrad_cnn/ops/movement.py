"""Movement ops: reshape, permute/transpose, getitem, pad, concatenate, stack, broadcast_to,
squeeze/unsqueeze/flatten (reshapes), and split/chunk (getitems). Forward results may be views
of the input."""
from .. import backend
from ..autograd import Function
from ..backend import array_module
from ..errors import ShapeError
from ..tensor import Tensor
from .common import check_broadcast, normalize_dim


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return g.transpose(inverse)


class GetItem(Function):
    """x[index]; backward writes (basic index) or scatter-adds (integer arrays) into zeros."""

    name = "getitem"

    @staticmethod
    def forward(ctx, x, index, advanced):
        ctx.in_shape, ctx.index, ctx.advanced = x.shape, index, advanced
        return x[index]

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        grad = xp.zeros(ctx.in_shape, dtype=g.dtype)
        if ctx.advanced:
            backend.scatter_add(grad, ctx.index, g)
        else:
            grad[ctx.index] = g
        return grad


class Pad(Function):
    """Constant padding; `widths` is one (before, after) pair per axis."""

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.slices = tuple(slice(before, before + size) for (before, _), size in zip(widths, x.shape))
        return array_module(x).pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.slices]


class Concatenate(Function):
    name = "cat"

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.bounds = []
        start = 0
        for a in arrays:
            ctx.bounds.append((start, start + a.shape[axis]))
            start += a.shape[axis]
        return array_module(*arrays).concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        return tuple(g[lead + (slice(lo, hi),)] if need else None
                     for (lo, hi), need in zip(ctx.bounds, ctx.needs_input_grad))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return array_module(*arrays).stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        return tuple(g[lead + (i,)] if need else None for i, need in enumerate(ctx.needs_input_grad))


class BroadcastTo(Function):
    """A broadcast view; its gradient is summed back to the input shape by the engine."""

    name = "broadcast_to"

    @staticmethod
    def forward(ctx, x, shape):
        return array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g


# ---------------------------------------------------------------- PyTorch-named functions
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x, *shape):
    """x with a new shape (one dimension may be -1); a view when possible."""
    shape = _shape_arg(shape)
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    size = x.array.size
    if shape.count(-1) > 1 or (shape.count(-1) == 0 and known != size) or (
            shape.count(-1) == 1 and (known == 0 or size % known)):
        raise ShapeError(f"reshape: shape {shape} is invalid for a tensor of shape {x.shape} ({size} elements)")
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


view = reshape


def permute(x, *dims):
    """x with its axes reordered: out.shape[i] = x.shape[dims[i]]."""
    dims = _shape_arg(dims)
    if sorted(normalize_dim(d, x.ndim, "permute") for d in dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    axes = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    return Permute.apply(x, axes=axes)


def transpose(x, dim0=0, dim1=1):
    """x with axes dim0 and dim1 swapped."""
    axes = list(range(x.ndim))
    d0, d1 = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return Permute.apply(x, axes=tuple(axes))


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = normalize_dim(start_dim, x.ndim, "flatten"), normalize_dim(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = 1
    for s in x.shape[start:end + 1]:
        merged *= s
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def squeeze(x, dim=None):
    """Drop axes of length 1 (all of them, or only `dim`, an int or tuple)."""
    if x.ndim == 0:
        if dim is not None:
            for d in (dim if isinstance(dim, (tuple, list)) else (dim,)):
                normalize_dim(d, 0, "squeeze")
        return x
    if dim is None:
        dims = {i for i, s in enumerate(x.shape) if s == 1}
    else:
        dims = {normalize_dim(d, x.ndim, "squeeze") for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
        dims = {d for d in dims if x.shape[d] == 1}  # PyTorch leaves other axes alone
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in dims))


def unsqueeze(x, dim):
    """Insert an axis of length 1 at position `dim` (negative counts from the end of the result)."""
    dim = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def broadcast_to(x, *shape):
    """x broadcast to `shape` (-1 keeps a dimension), as torch.expand."""
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to fewer dimensions {shape}")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    if check_broadcast("broadcast_to", x.shape, shape) != shape:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    if shape == x.shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


expand = broadcast_to


def _is_advanced(part):
    return not (part is None or part is Ellipsis or isinstance(part, (int, slice)))


def normalize_index(x, index, op="getitem"):
    """`index` for x[index] as a tuple the array module takes: Tensors, lists and host arrays
    become arrays on x's device, boolean masks their nonzero positions. Returns (index,
    whether it holds integer arrays).

    Integer arrays out of range raise IndexError naming `op` (CuPy would silently wrap them
    around; on a GPU the check is evaluated at the next read from the device)."""
    parts = index if isinstance(index, tuple) else (index,)
    xp = array_module(x.array)
    converted = []
    for part in parts:
        if isinstance(part, Tensor):
            part = part.array
        elif isinstance(part, list):
            part = xp.asarray(part) if part else xp.zeros(0, dtype="int64")
        if hasattr(part, "dtype") and hasattr(part, "shape"):
            part = backend.to_device(part, x.device)
            if part.dtype.kind not in "biu":
                raise IndexError(f"{op}: index arrays must be integer or boolean, got dtype {part.dtype}")
            if part.dtype.kind == "b":  # a mask selects the positions of its true elements
                converted.extend(part.nonzero())
                continue
        converted.append(part)
    _check_bounds(converted, x.shape, op)
    return tuple(converted), any(_is_advanced(p) for p in converted)


def _check_bounds(parts, shape, op):
    """Queue a range check for every integer array in `parts` (an index into `shape`)."""
    consuming = [p for p in parts if p is not None and p is not Ellipsis]
    if len(consuming) > len(shape):
        return  # too many indices: the array module raises its own IndexError
    axis = 0
    for position, part in enumerate(parts):
        if part is None:
            continue
        if part is Ellipsis:  # the parts after it index the last axes
            axis = len(shape) - sum(1 for p in parts[position + 1:] if p is not None and p is not Ellipsis)
            continue
        if hasattr(part, "dtype") and part.size:
            size = shape[axis]

            def out_of_range(part=part, axis=axis, size=size):
                values = backend.to_host(part)[0].reshape(-1)
                value = int(values[(values < -size) | (values >= size)][0])
                return IndexError(f"{op}: index {value} is out of bounds for axis {axis} with size {size} "
                                  f"(tensor of shape {tuple(shape)})")
            backend.check((part < -size) | (part >= size), out_of_range)
        axis += 1


def getitem(x, index):
    """x[index]: ints, slices (with steps), None, Ellipsis, integer or boolean arrays/tensors."""
    index, advanced = normalize_index(x, index)
    try:
        return GetItem.apply(x, index=index, advanced=advanced)
    except IndexError as exc:
        raise IndexError(f"getitem: index {index} is invalid for a tensor of shape {x.shape}: {exc}") from None


def pad(x, pad, mode="constant", value=0.0):
    """Constant padding, PyTorch's order: pad = (left, right) of the last axis, then
    (top, bottom) of the one before, and so on."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding {tuple(pad)} must hold a (before, after) pair for at most "
                         f"{x.ndim} axes of shape {x.shape}")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {tuple(pad)} is not supported")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return Pad.apply(x, widths=tuple(widths), value=value)


def _check_same_shapes(op, tensors, axis):
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    first = tensors[0].shape
    for t in tensors[1:]:
        if len(t.shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(t.shape, first)) if i != axis):
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise ShapeError(f"{op}: tensors must match in every dimension except {axis}, got shapes {shapes}")


def cat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    dim = normalize_dim(axis if axis is not None else dim, tensors[0].ndim, "cat")
    _check_same_shapes("cat", tensors, dim)
    return Concatenate.apply(*tensors, axis=dim)


concatenate = concat = cat


def stack(tensors, dim=0, *, axis=None):
    """Join tensors of one shape along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    dim = normalize_dim(axis if axis is not None else dim, tensors[0].ndim + 1, "stack")
    _check_same_shapes("stack", tensors, None)
    return Stack.apply(*tensors, axis=dim)


def _slice_along(x, axis, start, stop):
    """x[..., start:stop, ...] on `axis`: a getitem, so the gradient flows back into x."""
    return getitem(x, (slice(None),) * axis + (slice(start, stop),))


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of `tensor` along `dim`, as PyTorch's split: an int gives pieces of that size (the
    last one smaller when the size does not divide), a list or tuple gives the sizes of the pieces
    (summing to the dimension's size). Returns a tuple of views; gradients flow back through each."""
    if tensor.ndim == 0:
        raise RuntimeError("split: expects at least a 1-dimensional tensor")
    axis = normalize_dim(dim, tensor.ndim, "split")
    length = tensor.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split: split_sizes must be non-negative, got {sizes}")
        if sum(sizes) != length:
            raise RuntimeError(f"split: split_sizes {sizes} must sum exactly to {length} (the size of dimension "
                               f"{dim} of the tensor of shape {tensor.shape})")
    else:
        size = int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split: split_size must be non-negative, got {size}")
        if size == 0 and length:
            raise RuntimeError(f"split: split_size can only be 0 if dimension {dim} has size 0, but it has size "
                               f"{length} (tensor of shape {tensor.shape})")
        sizes = [min(size, length - start) for start in range(0, length, size)] if length else [0]
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    return tuple(_slice_along(tensor, axis, lo, hi) for lo, hi in zip(bounds, bounds[1:]))


def chunk(input, chunks, dim=0):  # noqa: A002 (PyTorch's names)
    """`chunks` pieces of equal size ceil(n / chunks) along `dim` (the last smaller; fewer pieces
    when n is small), as PyTorch's chunk; gradients flow back through each."""
    if input.ndim == 0:
        raise RuntimeError("chunk: expects at least a 1-dimensional tensor")
    if isinstance(chunks, bool) or int(chunks) != chunks or chunks <= 0:
        raise RuntimeError(f"chunk: expects `chunks` to be greater than 0, got {chunks!r}")
    length = input.shape[normalize_dim(dim, input.ndim, "chunk")]
    if length == 0:  # PyTorch gives `chunks` empty pieces
        return split(input, [0] * int(chunks), dim)
    return split(input, -(-length // int(chunks)), dim)
