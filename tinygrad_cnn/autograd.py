"""The autodiff engine: Function (a primitive op), its context, the recorded graph and backward.

A primitive op subclasses Function and defines two static methods on raw arrays
(numpy or cupy):

    forward(ctx, *arrays, **params) -> array
    backward(ctx, grad_output) -> one gradient per array input (None where not needed)

`Function.apply(*tensors, **params)` runs forward and, when gradients are on and some
input requires them, records a Node linking the output to its inputs. `backward()` walks
those nodes in decreasing generation order (a heap, as in Chainer): iterative, so graphs of
any depth work, and each node runs only after every consumer of its output has added its
gradient. Broadcasting is undone here, once, for every op: an op may return a gradient
of the broadcast shape and the engine sums it down to the input's shape.
"""
import heapq
import inspect
import itertools
import threading
import weakref

from . import backend
from .backend import array_module, as_array
from .errors import DeviceError, ShapeError

# ---------------------------------------------------------------- grad mode
_grad_mode = threading.local()


def is_grad_enabled():
    """True unless inside `no_grad()` (grad mode is per thread, as in PyTorch)."""
    return getattr(_grad_mode, "enabled", True)


class _GradMode:
    """Context manager / decorator setting grad mode for its block."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        self.previous = is_grad_enabled()
        _grad_mode.enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self.previous
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return fn(*args, **kwargs)
        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


def no_grad():
    """Context manager (or decorator) under which ops record nothing: `with tc.no_grad(): ...`."""
    return _GradMode(False)


def enable_grad():
    """Context manager (or decorator) turning recording back on inside a no_grad block."""
    return _GradMode(True)


# ---------------------------------------------------------------- context and graph node
class Context:
    """Per-call scratch space of an op: what forward keeps for backward.

    `save_for_backward(*arrays)` is the way to keep arrays; backward reads them from
    `saved_tensors`. `needs_input_grad[i]` says whether input i wants a gradient, so
    backward can skip work nobody needs. Ops may also set small non-array attributes
    (shapes, flags) directly on ctx.
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


class Node:
    """One recorded application of a Function: the edge from an output to its inputs.

    An input computed by another op is recorded as that op's Node, not as its Tensor, so the
    graph does not keep intermediate results alive: an activation's memory is freed as soon as
    the user's code and the ops that saved it for backward let go of it (as in PyTorch, whose
    graph links grad_fns). Graph leaves (parameters, inputs, constants) are recorded as the
    Tensors themselves, where their gradients accumulate.
    """

    __slots__ = ("function", "ctx", "inputs", "shape", "generation", "output_ref", "hooks", "__weakref__")

    def __init__(self, function, ctx, inputs, output):
        self.function = function
        self.ctx = ctx
        self.hooks = None  # functions of the output's gradient (Tensor.register_hook), kept with the graph
        # per input: the Node that computed it, the Tensor itself for a graph leaf, None when absent
        self.inputs = tuple(t if t is None or t._node is None else t._node for t in inputs)
        self.shape = output.shape  # the output's shape, which its gradient must have
        self.generation = 1 + max((source.generation for source in self.inputs if isinstance(source, Node)),
                                  default=0)
        self.output_ref = weakref.ref(output)

    @property
    def name(self):
        return self.function.op_name()

    def release(self):
        """Drop saved buffers and input references (after backward without retain_graph)."""
        self.ctx = None
        self.inputs = None


class RemovableHandle:
    """What `register_hook` and the Module hook registrations return: `.remove()` unregisters."""

    _next_id = itertools.count()

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def add_hook(hooks, hook):
    """Register `hook` in the dict `hooks`; returns its RemovableHandle."""
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


class Function:
    """Base class of primitive ops. Subclasses define static `forward` and `backward`."""

    name = None  # the op's name in error messages; defaults to the class name in lower case

    @classmethod
    def op_name(cls):
        return cls.name or cls.__name__.lower()

    @staticmethod
    def forward(ctx, *arrays, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors (None allowed for optional inputs) and record it for backward."""
        from .tensor import Tensor  # noqa: PLC0415 (tensor.py imports this module)

        for position, t in enumerate(inputs):
            if t is not None and not isinstance(t, Tensor):
                raise _not_a_tensor(cls, position, t)
        arrays = [t.array if t is not None else None for t in inputs]
        device = _common_device(cls, inputs)
        record = is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs)
        if record:
            needs = tuple(t is not None and t.requires_grad for t in inputs)
        else:
            needs = (False,) * len(inputs)
        ctx = Context(needs)
        out = as_array(cls.forward(ctx, *arrays, **params))
        result = Tensor._wrap(out, device)
        if record:
            result.requires_grad = True
            result._node = Node(cls, ctx, inputs, result)
        return result


def _not_a_tensor(function, position, value):
    """TypeError for an op input that is not a Tensor, naming the op, the argument and its type."""
    try:  # the argument's name from forward(ctx, *arrays, ...), on this error path only
        names = list(inspect.signature(function.forward).parameters)[1:]
    except (TypeError, ValueError):
        names = []
    name = f"'{names[position]}' " if position < len(names) else ""
    kind = type(value).__module__ + "." + type(value).__qualname__ if type(value).__module__ != "builtins" \
        else type(value).__qualname__
    return TypeError(f"{function.op_name()}: argument {name}(position {position + 1}) must be a Tensor, not {kind} "
                     f"(wrap it with tc.tensor(...))")


def _common_device(function, inputs):
    """The one device of all inputs; DeviceError naming the op when they differ."""
    devices = {t.device for t in inputs if t is not None}
    if len(devices) > 1:
        raise DeviceError(f"{function.op_name()}: expected all tensors on the same device, "
                          f"got {', '.join(sorted(devices))}")
    return devices.pop() if devices else "cpu"


# ---------------------------------------------------------------- backward pass
def sum_to_shape(grad, shape):
    """Sum `grad` over the axes that broadcasting expanded, giving an array of `shape`."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ShapeError(f"cannot sum gradient of shape {grad.shape} down to shape {tuple(shape)}")
    axes = tuple(range(extra)) + tuple(
        i + extra for i, size in enumerate(shape) if size == 1 and grad.shape[i + extra] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if extra:
        grad = grad.reshape(grad.shape[extra:])
    if grad.shape != tuple(shape):
        raise ShapeError(f"cannot sum gradient of shape {grad.shape} down to shape {tuple(shape)}")
    return grad


class _GradStore:
    """Writes gradients into `.grad`, copying any array that might be shared.

    An op's backward may hand the same array to several inputs (add returns its incoming
    gradient twice) or return a view. `.grad` arrays are accumulated in place later, so each
    must own its memory: the first array stored is copied when it is a view, was handed out
    already, or was returned for more than one input. A parameter in an optimizer's flat
    buffer (optim/flat.py) has its place already: the gradient is written into it.
    """

    def __init__(self):
        self.handed_out = set()

    def mark_repeated(self, grads):
        """An array an op returns for several inputs (add returns its gradient twice) may be
        waiting in the engine for one input while stored as another's .grad: mark it so that
        any .grad made from it is a copy."""
        ids = [id(g) for g in grads if g is not None]
        if len(ids) != len(set(ids)):
            self.handed_out.update(i for i in ids if ids.count(i) > 1)

    def accumulate(self, tensor, grad):
        from .tensor import Tensor  # noqa: PLC0415

        if tensor.grad is not None:
            tensor.grad.array += grad
        elif tensor._grad_slot is not None:  # a parameter of a flat buffer: its gradient has a place
            tensor._grad_slot[...] = grad
            tensor.grad = Tensor._wrap(tensor._grad_slot, tensor.device)
        else:
            if grad.dtype != tensor.dtype:
                grad = grad.astype(tensor.dtype)
            elif grad.base is not None or id(grad) in self.handed_out:
                grad = grad.copy()
            self.handed_out.add(id(grad))
            tensor.grad = Tensor._wrap(grad, tensor.device)


# Functions to call once the backward pass running on this thread has finished (a stack of
# lists: one per pass, as hooks may start passes of their own).
_backward_callbacks = threading.local()


def queue_callback(callback):
    """Call `callback()` when the backward pass now running ends (from a gradient hook: how
    DistributedDataParallel averages the gradients once all are computed). RuntimeError outside
    a backward pass."""
    stack = getattr(_backward_callbacks, "stack", None)
    if not stack:
        raise RuntimeError("queue_callback: no backward pass is running")
    stack[-1].append(callback)


def run_backward(root, grad=None, retain_graph=False):
    """Backpropagate from tensor `root`, accumulating into `.grad` of leaves (and retained tensors).

    `grad` is d(objective)/d(root); it may be omitted only when root holds one element.
    Callbacks queued during the pass (`queue_callback`) run at its end, in order.
    """
    stack = _backward_callbacks.__dict__.setdefault("stack", [])
    stack.append([])
    try:
        _backpropagate(root, grad, retain_graph)
        callbacks = stack[-1]
    finally:
        stack.pop()
    for callback in callbacks:
        callback()


def _backpropagate(root, grad, retain_graph):
    if not root.requires_grad:
        raise RuntimeError(f"backward: tensor of shape {root.shape} does not require grad "
                           "and has no graph (was it computed under no_grad, or from tensors "
                           "without requires_grad=True?)")
    xp = array_module(root.array)
    if grad is None:
        if root.array.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs; "
                               f"got a tensor of shape {root.shape}: pass grad= of that shape")
        grad = xp.ones_like(root.array)
    else:
        from .tensor import Tensor  # noqa: PLC0415 (tensor.py imports this module)
        grad = grad.array if isinstance(grad, Tensor) else grad
        grad = xp.asarray(grad, dtype=root.dtype)
        if grad.shape != root.shape:
            raise ShapeError(f"backward: grad of shape {grad.shape} does not match the tensor's shape {root.shape}")

    store = _GradStore()
    store.handed_out.add(id(grad))  # the caller's array: never store it as-is

    def through_hooks(hooks, g):
        """g after the gradient hooks; the hooks' code saw (and may keep) the result, so it
        is never stored as a .grad that later passes would add into."""
        g = _call_hooks(hooks, g)
        store.handed_out.add(id(g))
        return g

    if root._node is None:  # a leaf: its gradient is the seed itself
        store.accumulate(root, through_hooks(root._hooks, grad) if root._hooks else grad)
        return

    grads = {root._node: grad}
    hooked_leaves = {}  # id -> (leaf with hooks, the sum of its gradient contributions)
    order = itertools.count()
    heap = [(-root._node.generation, next(order), root._node)]
    while heap:
        _, _, node = heapq.heappop(heap)
        grad_out = grads.pop(node)
        if node.ctx is None:
            raise RuntimeError(f"backward: trying to backward through op '{node.name}' a second time "
                               "(its saved buffers were freed); pass retain_graph=True to the first backward")
        if node.hooks:
            grad_out = through_hooks(node.hooks, grad_out)
        output = node.output_ref()
        if output is not None and output._retains_grad:
            store.accumulate(output, grad_out)

        input_grads = node.function.backward(node.ctx, grad_out)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(f"backward of op '{node.name}' returned {len(input_grads)} gradients "
                               f"for {len(node.inputs)} inputs")
        store.mark_repeated(input_grads)
        for source, g in zip(node.inputs, input_grads):
            if g is None or source is None:
                continue
            if isinstance(source, Node):  # the input was computed by the op `source`
                g = sum_to_shape(as_array(g), source.shape)
                if source in grads:  # a result used twice (a residual connection): add the gradients
                    grads[source] = backend.into_workspace(array_module(g).add, grads[source], g, like=g)
                else:
                    grads[source] = g
                    heapq.heappush(heap, (-source.generation, next(order), source))
                continue
            leaf = source
            if not leaf.requires_grad:
                continue
            g = sum_to_shape(as_array(g), leaf.shape)
            if leaf._hooks:  # its hooks see the whole gradient, summed below
                leaf_total = hooked_leaves.get(id(leaf))
                hooked_leaves[id(leaf)] = (leaf, g if leaf_total is None else leaf_total[1] + g)
            else:
                store.accumulate(leaf, g)
        del grad_out, input_grads
        if not retain_graph:
            node.release()
    for tensor, total in hooked_leaves.values():
        store.accumulate(tensor, through_hooks(tensor._hooks, total))


def _call_hooks(hooks, grad):
    """Run gradient hooks (a dict of functions) in order, each on the previous one's result:
    hook(grad Tensor) returns None or a replacement Tensor of the same shape. Returns the final
    raw gradient array."""
    from .tensor import Tensor  # noqa: PLC0415 (tensor.py imports this module)
    device = backend.device_of(grad)
    current = Tensor._wrap(grad, device)
    for hook in list(hooks.values()):
        result = hook(current)
        if result is not None:
            if not isinstance(result, Tensor) or result.shape != current.shape:
                raise RuntimeError(f"a gradient hook must return None or a Tensor of shape {current.shape}, "
                                   f"got {type(result).__name__} {getattr(result, 'shape', '')}")
            current = result
    return current.array


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 (PyTorch's name)
    """PyTorch's old `torch.autograd.Variable`: a Tensor (as it is in PyTorch since 0.4). Given a
    Tensor, a new one sharing its data without its graph (as PyTorch). `volatile` is accepted
    and ignored, as PyTorch does; use `no_grad()` instead."""
    from .tensor import Tensor  # noqa: PLC0415 (tensor.py imports this module)
    tensor = data.detach() if isinstance(data, Tensor) else Tensor(data)
    return tensor.requires_grad_(True) if requires_grad else tensor
