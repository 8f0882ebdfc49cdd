"""Tensor: an array (numpy or cupy) plus the graph node that produced it.

Operators and methods only call ops from `tinygrad_cnn.ops`; all differentiation lives there
and in the engine (`autograd.py`).
"""
import copy
import numbers

import numpy as np

from . import backend
from .autograd import add_hook, is_grad_enabled, run_backward
from .errors import ShapeError

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")
_DEFAULT_FLOAT = float32


def resolve_dtype(dtype):
    """A numpy dtype from None (returns None), a numpy dtype/type or a name like "float32"."""
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None


def _to_array(data, dtype, device):
    """Copy `data` (Tensor, array, scalar or nested list) into a new array on `device`."""
    if isinstance(data, Tensor):
        data = data.array
    if backend.is_gpu_array(data) or isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data) if isinstance(data, np.generic) else data  # numpy values keep their dtype
    else:
        try:
            array = np.asarray(data)
        except ValueError:  # nested lists of different lengths
            raise ValueError(f"tensor: {_ragged_text(data)}") from None
        if dtype is None and array.dtype == np.float64:
            array = array.astype(_DEFAULT_FLOAT)  # Python floats become float32, as in PyTorch
        elif array.dtype.kind not in "biuf":
            raise TypeError(f"tensor: cannot make a tensor from data of type {type(data).__name__} "
                            f"(numpy dtype {array.dtype})")
    array = backend.to_device(array, device)
    xp = backend.array_module(array)
    return xp.array(array, dtype=dtype, copy=True)


def _ragged_text(data):
    """Where nested lists stop being rectangular, in PyTorch's words: 'expected a sequence of
    length 2 at dim 1 (got 1)' (the sequences at depth `dim` differ in length)."""
    level, dim = [data], 0
    while level:
        sequences = [item for item in level if isinstance(item, (list, tuple))]
        if not sequences:
            break
        if len(sequences) != len(level):
            return f"expected a sequence at dim {dim} for every element (got a mix of sequences and scalars)"
        length = len(sequences[0])
        for sequence in sequences:
            if len(sequence) != length:
                return f"expected a sequence of length {length} at dim {dim} (got {len(sequence)})"
        level, dim = [item for sequence in sequences for item in sequence], dim + 1
    return "the nested sequences do not form a rectangular array"


class Tensor:
    """An n-dimensional array that records the ops applied to it for backpropagation.

    Attributes: `array` (the numpy or cupy array holding the values), `data` (as in PyTorch: a
    Tensor sharing that array, outside the graph), `grad` (Tensor or None), `requires_grad`,
    `shape`, `dtype`, `device` ("cpu" or "cuda:N").
    """

    # _grad_slot / _flat: the gradient's view of a flat buffer and that buffer (optim/flat.py), or None
    # _hooks: a leaf's gradient hooks (a non-leaf keeps them on its graph node)
    __slots__ = ("array", "grad", "requires_grad", "_node", "_retains_grad", "_device", "_grad_slot", "_flat",
                 "_hooks", "__weakref__")
    __array_ufunc__ = None  # numpy_array + tensor defers to Tensor.__radd__

    def __init__(self, data, requires_grad=False, device=None, dtype=None):
        device = backend.parse_device(device) if device is not None else (
            backend.device_of(data.array if isinstance(data, Tensor) else data))
        self.array = _to_array(data, resolve_dtype(dtype), device)
        self._device = device
        self.grad = None
        self._node = None
        self._retains_grad = False
        self._grad_slot = self._flat = self._hooks = None
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    @classmethod
    def _wrap(cls, array, device):
        """A new graph-free Tensor around `array` (no copy, no checks): for the engine and ops."""
        t = object.__new__(cls)
        t.array = array
        t._device = device
        t.grad = None
        t._node = None
        t._retains_grad = False
        t._grad_slot = t._flat = t._hooks = None
        t.requires_grad = False
        return t

    def __deepcopy__(self, memo):
        """copy.deepcopy of a graph leaf (as PyTorch allows): its own copy of the values, its
        requires_grad and a copy of its grad; neither its hooks nor an optimizer's flat buffer
        (the copy is a tensor no optimizer holds yet). Module deep copies go through here."""
        if self._node is not None:
            raise RuntimeError("deepcopy: only tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol; call .detach() first")
        with backend.device_context(self._device):  # CuPy copies onto the current device
            new = type(self)._wrap(self.array.copy(), self._device)
        memo[id(self)] = new
        new.requires_grad = self.requires_grad
        new._retains_grad = self._retains_grad
        new.grad = None if self.grad is None else copy.deepcopy(self.grad, memo)
        return new

    # -------------------------------------------------------------- properties
    @property
    def data(self):
        """This tensor's values as a new Tensor outside the graph, sharing memory with it (as
        PyTorch's `.data`): changing it in place (`p.data.mul_(0.5)`, `p.data[...] = 0`) changes
        this tensor, without autograd seeing it. Assigning `t.data = other` makes `t` hold
        `other`'s values (a Tensor, or a NumPy/CuPy array). The raw array is `t.array`."""
        return Tensor._wrap(self.array, self._device)

    @data.setter
    def data(self, value):
        array = value.array if isinstance(value, Tensor) else value
        if not hasattr(array, "shape") or not hasattr(array, "dtype"):
            raise TypeError(f"data: expected a Tensor or an array, got {type(value).__name__}")
        self.array = array
        self._device = backend.device_of(array)
        self._grad_slot = self._flat = None  # no longer a view of an optimizer's flat buffer

    def __array__(self, dtype=None, copy=None):
        """NumPy's view of a CPU tensor (np.asarray(t)), as PyTorch's; a GPU tensor must be
        read with .numpy() or .cpu() first (TypeError, as in PyTorch)."""
        if backend.is_gpu_array(self.array):
            raise TypeError(f"can't convert a tensor on {self.device} to a NumPy array: use .cpu() or .numpy() "
                            "to copy it to the host first")
        if copy:
            return np.array(self.array, dtype=dtype, copy=True)
        return self.array if dtype is None else self.array.astype(dtype, copy=False)

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        """Where the values live: a `tc.device` ("cpu" or "cuda:N"; also that string)."""
        return backend.as_device(self._device)

    @property
    def is_cuda(self):
        """True for a tensor on a GPU."""
        return self._device != "cpu"

    @property
    def ndim(self):
        return self.array.ndim

    def dim(self):
        return self.array.ndim

    def numel(self):
        return int(self.array.size)

    def size(self, dim=None):
        """The shape (PyTorch's `size()`), or one dimension's length (negative dims count from the end)."""
        if dim is None:
            return self.array.shape
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size: dimension {dim} out of range for a tensor of shape {self.shape} "
                             f"(expected to be in range of [{-self.ndim}, {self.ndim - 1}])")
        return self.array.shape[dim]

    nelement = numel
    ndimension = dim

    def element_size(self):
        """Bytes per element."""
        return self.array.itemsize

    def is_contiguous(self):
        """True when the values are stored row-major without gaps (C-contiguous)."""
        return bool(self.array.flags.c_contiguous)

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        """Name of the op that produced this tensor (None for leaves)."""
        return None if self._node is None else self._node.name

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype != _DEFAULT_FLOAT and self.dtype.kind == "f":
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # -------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, grad=None, retain_graph=False):
        """Compute gradients of this tensor w.r.t. every leaf that requires grad (into `.grad`).

        grad: d(objective)/d(self), needed unless the tensor holds a single element.
        retain_graph: keep saved buffers so backward can run through the graph again.
        """
        run_backward(self, grad, retain_graph)

    def register_hook(self, hook):
        """Call hook(grad) with this tensor's gradient during every backward pass (a leaf's whole
        gradient of the pass); a Tensor it returns replaces the gradient. As PyTorch's; returns a
        handle whose .remove() unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._node is not None:
            if self._node.hooks is None:
                self._node.hooks = {}
            return add_hook(self._node.hooks, hook)
        if self._hooks is None:
            self._hooks = {}
        return add_hook(self._hooks, hook)

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor during backward."""
        self._retains_grad = True
        return self

    def detach(self):
        """A tensor sharing this one's data with no graph and requires_grad=False."""
        return Tensor._wrap(self.array, self._device)

    def zero_grad(self, set_to_none=True):
        """Clear `.grad` (set it to None, or fill it with zeros when set_to_none=False)."""
        if set_to_none or self.grad is None:
            self.grad = None
        else:
            self.grad.array[...] = 0

    # -------------------------------------------------------------- conversion
    def numpy(self):
        """The data as a numpy array (a copy from the GPU, which also raises a failed check an
        op queued there; the array itself on the CPU)."""
        return backend.to_host(self.array)[0] if backend.is_gpu_array(self.array) else self.array

    def tolist(self):
        return self.numpy().tolist()

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ShapeError(f"item(): only one-element tensors can be converted to Python scalars, "
                             f"got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def to(self, device=None, dtype=None):
        """This tensor on `device` and/or as `dtype` (differentiable; self when nothing changes)."""
        out = self
        if dtype is not None:
            out = ops.convert.cast(out, dtype)
        if device is not None:
            out = ops.convert.to_device(out, device)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=0):
        return self.to(f"cuda:{index}")

    def float(self):
        return ops.convert.cast(self, float32)

    def double(self):
        return ops.convert.cast(self, float64)

    def long(self):
        return ops.convert.cast(self, int64)

    def type(self, dtype):
        return ops.convert.cast(self, dtype)

    astype = type

    # -------------------------------------------------------------- operators
    def __add__(self, other):
        return ops.elementwise.add(self, other)

    def __radd__(self, other):
        return ops.elementwise.add(other, self)

    def __sub__(self, other):
        return ops.elementwise.sub(self, other)

    def __rsub__(self, other):
        return ops.elementwise.sub(other, self)

    def __mul__(self, other):
        return ops.elementwise.mul(self, other)

    def __rmul__(self, other):
        return ops.elementwise.mul(other, self)

    def __truediv__(self, other):
        return ops.elementwise.div(self, other)

    def __rtruediv__(self, other):
        return ops.elementwise.div(other, self)

    def __pow__(self, exponent):
        return ops.elementwise.pow(self, exponent)

    def __rpow__(self, base):
        return ops.elementwise.pow(base, self)

    def __neg__(self):
        return ops.elementwise.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.elementwise.abs(self)

    def __matmul__(self, other):
        return ops.matmul.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul.matmul(other, self)

    def __getitem__(self, index):
        return ops.movement.getitem(self, index)

    def __setitem__(self, index, value):
        self._check_in_place("setitem")
        index, _ = ops.movement.normalize_index(self, index, "setitem")
        self.array[index] = self._operand(value)

    # -------------------------------------------------------------- in place (PyTorch's trailing _)
    # These change the tensor's values outside autograd: allowed on tensors that take no part in
    # the graph (parameters inside no_grad(), `.data`, buffers, plain tensors), refused otherwise.
    def _check_in_place(self, op):
        if self.requires_grad and is_grad_enabled():
            if self._node is None:
                raise RuntimeError(f"{op}: a leaf tensor that requires grad is being used in an in-place "
                                   "operation; do it inside tc.no_grad() or on its .data")
            raise RuntimeError(f"{op}: in-place changes to a tensor that is part of the autograd graph are not "
                               "supported (its op may have saved it for backward); use the out-of-place op")

    def _in_place(self, op, ufunc, other):
        self._check_in_place(op)
        ufunc(self.array, self._operand(other), out=self.array, casting="same_kind")
        return self

    def add_(self, other, alpha=1):
        """self += alpha * other, in place."""
        return self._in_place("add_", backend.array_module(self.array).add, other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        """self -= alpha * other, in place."""
        return self._in_place("sub_", backend.array_module(self.array).subtract,
                              other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return self._in_place("mul_", backend.array_module(self.array).multiply, other)

    def div_(self, other):
        return self._in_place("div_", backend.array_module(self.array).divide, other)

    def clamp_(self, min=None, max=None):  # noqa: A002 (PyTorch's argument names)
        self._check_in_place("clamp_")
        backend.array_module(self.array).clip(self.array, min, max, out=self.array)
        return self

    clip_ = clamp_

    def fill_(self, value):
        self._check_in_place("fill_")
        self.array[...] = self._operand(value)
        return self

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        """Copy src's values (Tensor, array or list; broadcast, cast, moved here) into self."""
        return self.fill_(src)

    def _fill_random(self, op, draw):
        self._check_in_place(op)
        if self.dtype.kind != "f":
            raise TypeError(f"{op}: expected a floating-point tensor, got dtype {self.dtype}")
        with backend.device_context(self._device):
            self.array[...] = draw(backend.generator(self._device), self.shape)
        return self

    def normal_(self, mean=0.0, std=1.0):
        """Fill with samples of N(mean, std^2) from the library's generator (tc.manual_seed)."""
        return self._fill_random("normal_", lambda gen, shape: gen.normal(mean, std, shape))

    def uniform_(self, a=0.0, b=1.0):
        """Fill with samples of U(a, b) from the library's generator."""
        return self._fill_random("uniform_", lambda gen, shape: backend.uniform(gen, a, b, shape))

    def bernoulli_(self, p=0.5):
        """Fill with 1 where a uniform sample is < p, else 0."""
        return self._fill_random("bernoulli_", lambda gen, shape: backend.random(gen, shape) < p)

    # `a += b` and friends work in place on tensors outside autograd (`p.data -= lr * g`); on
    # tensors in the graph (`out += identity` in a residual block) they compute a new tensor,
    # which Python binds to the name, as autograd needs.
    def _augmented(self, op, method, out_of_place, other):
        if is_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            if self.requires_grad and self._node is None:
                self._check_in_place(op)
            return out_of_place(self, other)
        return method(other)

    def __iadd__(self, other):
        return self._augmented("+=", self.add_, ops.elementwise.add, other)

    def __isub__(self, other):
        return self._augmented("-=", self.sub_, ops.elementwise.sub, other)

    def __imul__(self, other):
        return self._augmented("*=", self.mul_, ops.elementwise.mul, other)

    def __itruediv__(self, other):
        return self._augmented("/=", self.div_, ops.elementwise.div, other)

    def _operand(self, value):
        """`value` (Tensor, array, list or number) as something this tensor's array module takes:
        numbers stay numbers, arrays and lists are moved to this tensor's device."""
        if isinstance(value, Tensor):
            return value.array
        if isinstance(value, (list, tuple)) or hasattr(value, "shape"):
            return backend.to_device(np.asarray(value) if isinstance(value, (list, tuple)) else value, self._device)
        return value

    # Comparisons give boolean tensors, outside the graph. An operand that is no number, array or
    # tensor (t == None) gives NotImplemented, so Python answers == and != by identity, as with torch.
    def _compare(self, other, op):
        if other is None or isinstance(other, str):
            return NotImplemented
        return op(self, other)

    def __eq__(self, other):
        return self._compare(other, ops.elementwise.eq)

    def __ne__(self, other):
        return self._compare(other, ops.elementwise.ne)

    def __lt__(self, other):
        return self._compare(other, ops.elementwise.lt)

    def __le__(self, other):
        return self._compare(other, ops.elementwise.le)

    def __gt__(self, other):
        return self._compare(other, ops.elementwise.gt)

    def __ge__(self, other):
        return self._compare(other, ops.elementwise.ge)

    # PyTorch's method spellings of the comparisons: bool tensors of the broadcast shape
    def eq(self, other):
        return ops.elementwise.eq(self, other)

    def ne(self, other):
        return ops.elementwise.ne(self, other)

    def lt(self, other):
        return ops.elementwise.lt(self, other)

    def le(self, other):
        return ops.elementwise.le(self, other)

    def gt(self, other):
        return ops.elementwise.gt(self, other)

    def ge(self, other):
        return ops.elementwise.ge(self, other)

    # -------------------------------------------------------------- elementwise methods
    def add(self, other):
        return ops.elementwise.add(self, other)

    def sub(self, other):
        return ops.elementwise.sub(self, other)

    def mul(self, other):
        return ops.elementwise.mul(self, other)

    def div(self, other):
        return ops.elementwise.div(self, other)

    def pow(self, exponent):
        return ops.elementwise.pow(self, exponent)

    def neg(self):
        return ops.elementwise.neg(self)

    def exp(self):
        return ops.elementwise.exp(self)

    def log(self):
        return ops.elementwise.log(self)

    def sqrt(self):
        return ops.elementwise.sqrt(self)

    def abs(self):
        return ops.elementwise.abs(self)

    def relu(self):
        return ops.elementwise.relu(self)

    def leaky_relu(self, negative_slope=0.01):
        return ops.elementwise.leaky_relu(self, negative_slope)

    def sigmoid(self):
        return ops.elementwise.sigmoid(self)

    def tanh(self):
        return ops.elementwise.tanh(self)

    def maximum(self, other):
        return ops.elementwise.maximum(self, other)

    def minimum(self, other):
        return ops.elementwise.minimum(self, other)

    def clip(self, min=None, max=None):  # noqa: A002 (PyTorch's argument names)
        return ops.elementwise.clip(self, min, max)

    clamp = clip

    def clamp_min(self, min):  # noqa: A002
        return ops.elementwise.clamp_min(self, min)

    def clamp_max(self, max):  # noqa: A002
        return ops.elementwise.clamp_max(self, max)

    def erf(self):
        return ops.elementwise.erf(self)

    def clone(self):
        """A copy in its own memory (same layout), differentiable."""
        return ops.elementwise.clone(self)

    def contiguous(self):
        """self when row-major already, else a row-major copy (differentiable)."""
        return ops.elementwise.contiguous(self)

    # -------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.reduce.sum(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.reduce.mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.reduce.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.reduce.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.reduce.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.reduce.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None, ddof=None):
        return ops.reduce.var(self, dim, keepdim, correction=correction, unbiased=unbiased,
                              axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None, ddof=None):
        return ops.reduce.std(self, dim, keepdim, correction=correction, unbiased=unbiased,
                              axis=axis, keepdims=keepdims, ddof=ddof)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.reduce.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.reduce.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
        """(values, indices) of the k largest (or smallest) entries along `dim`: both of this
        tensor's shape with `dim` of size k; indices int64, not differentiable."""
        return ops.reduce.topk(self, k, dim, largest, sorted)

    # -------------------------------------------------------------- movement
    def reshape(self, *shape):
        return ops.movement.reshape(self, *shape)

    view = reshape

    def permute(self, *dims):
        return ops.movement.permute(self, *dims)

    def transpose(self, dim0=0, dim1=1):
        return ops.movement.transpose(self, dim0, dim1)

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.movement.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return ops.movement.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ops.movement.unsqueeze(self, dim)

    def broadcast_to(self, *shape):
        return ops.movement.broadcast_to(self, *shape)

    expand = broadcast_to

    def view_as(self, other):
        """self reshaped to other's shape."""
        return ops.movement.reshape(self, other.shape)

    reshape_as = view_as

    def expand_as(self, other):
        """self broadcast to other's shape."""
        return ops.movement.broadcast_to(self, other.shape)

    def type_as(self, other):
        """self cast to other's dtype (differentiable; self when it has that dtype already)."""
        return self.to(dtype=other.dtype)

    def split(self, split_size, dim=0):
        """Pieces along `dim`: of size split_size (an int), or of the sizes in a list."""
        return ops.movement.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        """Pieces of ceil(size / chunks) along `dim` (the last may be smaller), so possibly
        fewer than `chunks` pieces, as in PyTorch: views of this tensor."""
        return ops.movement.chunk(self, chunks, dim)

    # -------------------------------------------------------------- others
    def matmul(self, other):
        return ops.matmul.matmul(self, other)

    def softmax(self, dim=-1):
        return ops.loss.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return ops.loss.log_softmax(self, dim)


# ---------------------------------------------------------------- creation functions
def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of `data` (array, nested list, scalar or Tensor).

    Python floats become float32; numpy arrays keep their dtype (float64 stays float64), as
    in PyTorch. `device` defaults to where `data` lives.
    """
    return Tensor(data, requires_grad=requires_grad, device=device, dtype=dtype)


def _shape_arg(shape, op):
    """The shape given to creation function `op` as separate ints or one tuple/list, checked:
    TypeError for a size that is not an int, ShapeError (a RuntimeError, as PyTorch) for a
    negative one, each naming the op and the shape."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"{op}: the shape must be ints, got {type(size).__name__} {size!r} in {tuple(shape)}")
        if size < 0:
            raise ShapeError(f"{op}: negative dimension {size} in shape {tuple(int(n) for n in shape)}")
    return tuple(int(s) for s in shape)


def _creation(device, dtype, requires_grad, make):
    device = backend.parse_device(device)
    dtype = resolve_dtype(dtype) or _DEFAULT_FLOAT
    with backend.device_context(device):
        array = make(backend.module_for_device(device), dtype)
    return Tensor._wrap(array, device).requires_grad_(requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of `shape` whose values are whatever its memory held (fill it before reading)."""
    shape = _shape_arg(shape, "empty")
    return _creation(device, dtype, requires_grad, lambda xp, dt: xp.empty(shape, dtype=dt))


def from_numpy(ndarray):
    """A CPU tensor sharing memory with the NumPy array `ndarray` (changes to one show in the other),
    keeping its dtype, as torch.from_numpy."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: can't convert np.ndarray of type {ndarray.dtype}; the supported types are "
                        "floating-point, signed and unsigned integer and bool")
    return Tensor._wrap(ndarray, "cpu")


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros; shape as separate ints or one tuple."""
    shape = _shape_arg(shape, "zeros")
    return _creation(device, dtype, requires_grad, lambda xp, dt: xp.zeros(shape, dtype=dt))


def ones(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of ones; shape as separate ints or one tuple."""
    shape = _shape_arg(shape, "ones")
    return _creation(device, dtype, requires_grad, lambda xp, dt: xp.ones(shape, dtype=dt))


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of `shape` filled with `fill_value`."""
    shape = _shape_arg((shape,), "full")
    return _creation(device, dtype, requires_grad, lambda xp, dt: xp.full(shape, fill_value, dtype=dt))


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the library's seeded generator (see manual_seed)."""
    shape = _shape_arg(shape, "randn")
    device = backend.parse_device(device)
    gen = backend.generator(device)
    return _creation(device, dtype, requires_grad,
                     lambda xp, dt: backend.standard_normal(gen, shape).astype(dt, copy=False))


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) from the library's seeded generator."""
    shape = _shape_arg(shape, "rand")
    device = backend.parse_device(device)
    gen = backend.generator(device)
    return _creation(device, dtype, requires_grad,
                     lambda xp, dt: backend.random(gen, shape).astype(dt, copy=False))


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from start (default 0) to end (exclusive) by step; int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if integral else _DEFAULT_FLOAT
    return _creation(device, dtype, requires_grad, lambda xp, dt: xp.arange(start, end, step, dtype=dt))


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """Zeros with the shape (and, unless given, dtype and device) of tensor `t`."""
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """Ones with the shape (and, unless given, dtype and device) of tensor `t`."""
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


from . import ops  # noqa: E402  (ops import Tensor from this module)
