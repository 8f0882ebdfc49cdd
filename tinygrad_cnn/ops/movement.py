"""Movement ops: reshape, permute/transpose, getitem, pad, concatenate, stack, broadcast_to,
squeeze/unsqueeze/flatten (reshapes), and split/chunk (getitems). Forward results may be views
of the input."""
import numbers

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
    """Constant padding; `widths` is one (before, after) pair per axis. A negative width crops
    that many elements instead (as PyTorch's constant padding)."""

    @staticmethod
    def forward(ctx, x, widths, value):
        kept = tuple(slice(max(0, -before), size - max(0, -after)) for (before, after), size in zip(widths, x.shape))
        added = tuple((max(0, before), max(0, after)) for before, after in widths)
        ctx.in_shape, ctx.kept = x.shape, kept
        ctx.slices = tuple(slice(before, before + s.stop - s.start) for (before, _), s in zip(added, kept))
        return array_module(x).pad(x[kept], added, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        inner = g[ctx.slices]
        if inner.shape == ctx.in_shape:
            return inner
        grad = array_module(g).zeros(ctx.in_shape, dtype=g.dtype)  # cropped elements get no gradient
        grad[ctx.kept] = inner
        return grad


class PadMode(Function):
    """Reflect, replicate or circular padding of the trailing axes; `widths` is one (before,
    after) pair per axis, a negative width cropping (see `pad`).

    Forward pads with xp.pad ('reflect', 'edge', 'wrap'). Backward folds the gradient of each
    padded border back onto the input elements it copies, axis by axis: plain slice additions
    (reflect, replicate) or a sum over periods (circular), deterministic and without scatter-adds.
    """

    name = "pad"

    @staticmethod
    def forward(ctx, x, widths, mode):
        xp = array_module(x)
        crop = tuple((max(0, -b), max(0, -a)) for b, a in widths)
        grow = tuple((max(0, b), max(0, a)) for b, a in widths)
        ctx.in_shape, ctx.mode, ctx.crop, ctx.grow = x.shape, mode, crop, grow
        if mode == "circular":  # PyTorch crops first, then wraps the cropped values
            return xp.pad(x[_inner(crop, x.shape)], grow, mode="wrap")
        # reflect / replicate: pad from the whole input, then crop
        padded = xp.pad(x, grow, mode="reflect" if mode == "reflect" else "edge")
        return padded[_inner(crop, padded.shape)]

    @staticmethod
    def backward(ctx, g):
        if ctx.mode == "circular":
            return _uncrop(_fold(g, ctx.grow, ctx.mode), ctx.crop, ctx.in_shape)
        padded_shape = tuple(s + b + a for s, (b, a) in zip(ctx.in_shape, ctx.grow))
        if any(b or a for b, a in ctx.crop):
            g = _uncrop(g, ctx.crop, padded_shape)
        return _fold(g, ctx.grow, ctx.mode)


def _inner(widths, shape):
    """The index of what is left of `shape` without `widths` (before, after) at its ends."""
    return tuple(slice(before, size - after) for (before, after), size in zip(widths, shape))


def _uncrop(grad, crop, shape):
    """grad placed inside zeros of `shape`, `crop` (before, after) from each end."""
    if not any(b or a for b, a in crop):
        return grad
    full = array_module(grad).zeros(shape, dtype=grad.dtype)
    full[_inner(crop, shape)] = grad
    return full


def _along(array, axis, start, stop):
    """array[..., start:stop, ...] with the slice on `axis` (a view)."""
    return array[(slice(None),) * axis + (slice(start, stop),)]


def _fold(g, grow, mode):
    """The input gradient of padding by `grow` (before, after) per axis: each padded border's
    gradient added onto the input elements it is a copy of."""
    xp = array_module(g)
    for axis, (before, after) in enumerate(grow):
        if not before and not after:
            continue
        n = g.shape[axis] - before - after
        if mode == "circular":
            # padded position j copies input (j - before) mod n: shifted by s = -before mod n,
            # position j + s copies (j + s) mod n, so rows of n positions each sum onto the input
            shift, length = -before % n, g.shape[axis]
            periods = -(-(shift + length) // n)
            laid = xp.zeros(g.shape[:axis] + (periods * n,) + g.shape[axis + 1:], dtype=g.dtype)
            _along(laid, axis, shift, shift + length)[...] = g
            # (.., periods * n, ..) -> (.., periods, n, ..), summed over the periods
            g = laid.reshape(g.shape[:axis] + (periods, n) + g.shape[axis + 1:]).sum(axis=axis)
            continue
        grad = _along(g, axis, before, before + n).copy()
        if mode == "reflect":  # border element k before the input copies input before - k, after it n - 2 - k
            _along(grad, axis, 1, before + 1)[...] += xp.flip(_along(g, axis, 0, before), axis=axis)
            _along(grad, axis, n - 1 - after, n - 1)[...] += xp.flip(_along(g, axis, before + n, before + n + after),
                                                                     axis=axis)
        else:  # replicate: every border element copies the edge element
            _along(grad, axis, 0, 1)[...] += _along(g, axis, 0, before).sum(axis=axis, keepdims=True)
            _along(grad, axis, n - 1, n)[...] += _along(g, axis, before + n, before + n + after).sum(axis=axis,
                                                                                                    keepdims=True)
        g = grad
    return g


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


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(x, pad, mode="constant", value=None):
    """Padding in PyTorch's order: pad = (left, right) of the last axis, then (top, bottom) of the
    one before, and so on, as torch.nn.functional.pad. A negative width crops.

    mode 'constant' fills with `value` (default 0) and pads any number of axes; 'reflect'
    (mirrored about the edge element, each width < the axis size), 'replicate' (the edge element
    repeated) and 'circular' (wrapped around, each width <= the axis size) pad the last 1, 2 or 3
    axes of a 2-3, 3-4 or 4-5 dimensional input (an optional batch axis, then channels)."""
    op = "pad"
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"{op}: unrecognised padding mode {mode!r} (expected one of {', '.join(_PAD_MODES)})")
    pad = tuple(pad)
    if not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in pad):  # NumPy ints too
        raise TypeError(f"{op}: padding must be a tuple of ints, got {pad}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ShapeError(f"{op}: padding {pad} must hold a (before, after) pair per axis (an even length)")
    if len(pad) // 2 > x.ndim:
        raise ShapeError(f"{op}: padding {pad} holds pairs for {len(pad) // 2} axes, but the input of shape "
                         f"{x.shape} has {x.ndim}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        for axis, (before, after) in enumerate(widths):
            if x.shape[axis] + min(before, 0) + min(after, 0) < 0:
                raise ShapeError(f"{op}: padding {pad} crops more than the {x.shape[axis]} elements of axis {axis} "
                                 f"of the input of shape {x.shape}")
        return Pad.apply(x, widths=tuple(widths), value=0.0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"{op}: padding mode {mode!r} does not take a value argument (got value={value})")
    _check_pad_mode(op, x, pad, widths, mode)
    return PadMode.apply(x, widths=tuple(widths), mode=mode)


def _check_pad_mode(op, x, pad, widths, mode):
    """PyTorch's limits on reflect / replicate / circular padding, with its exception types."""
    axes = len(pad) // 2
    if axes not in (1, 2, 3) or x.ndim not in (axes + 1, axes + 2):
        raise NotImplementedError(
            f"{op}: padding of size {len(pad)} is not supported for {x.ndim}-D input (shape {x.shape}) in mode "
            f"{mode!r}: pad the last 1, 2 or 3 axes of 2-3, 3-4 or 4-5 dimensional input")
    for axis in range(1, x.ndim):
        if x.shape[axis] == 0:
            raise ShapeError(f"{op}: expected non-zero sizes except the batch axis in mode {mode!r}, got input of "
                             f"shape {x.shape}")
    for axis in range(x.ndim - axes, x.ndim):
        (before, after), size = widths[axis], x.shape[axis]
        if mode == "reflect" and (before >= size or after >= size):
            raise ShapeError(f"{op}: padding ({before}, {after}) at dimension {axis} should be less than the "
                             f"input's size {size} in mode 'reflect' (input of shape {x.shape})")
        if mode == "circular" and (before > size or after > size):
            raise ShapeError(f"{op}: padding ({before}, {after}) at dimension {axis} would wrap around the "
                             f"input's size {size} more than once in mode 'circular' (input of shape {x.shape})")
        kept = size - max(0, -before) - max(0, -after)
        if size + before + after < 1 or (mode == "circular" and kept < 1):
            raise ShapeError(f"{op}: input of shape {x.shape} is too small for padding ({before}, {after}) at "
                             f"dimension {axis} in mode {mode!r}")
        if mode == "circular" and max(before, after) > kept:  # PyTorch returns unset memory there
            raise ShapeError(f"{op}: padding ({before}, {after}) at dimension {axis} would wrap around the "
                             f"{kept} values left after cropping more than once (input of shape {x.shape})")


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
