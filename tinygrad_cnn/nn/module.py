"""Module: the base class of layers and models, with PyTorch's registration rules.

Assigning a Parameter, a Module or (after `register_buffer`) a buffer Tensor to an attribute
registers it; `parameters()`, `state_dict()`, `to()` and friends then walk the tree. A Module
never defines a backward: its forward is made of ops, and the engine differentiates those.
"""
import numbers
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .. import backend
from ..autograd import add_hook, is_grad_enabled
from ..errors import ShapeError
from ..ops.movement import Reshape
from ..tensor import Tensor, resolve_dtype
from .parameter import Parameter


class Module:
    """Base class for all layers and models: subclass it and define `forward`."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        for hooks in ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks"):
            object.__setattr__(self, hooks, OrderedDict())

    # -------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign '{name}' before Module.__init__() is called "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._register(params, name, value)
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' of "
                                f"{type(self).__name__} (a Parameter or None is expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._register(modules, name, value)
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module '{name}' of "
                                f"{type(self).__name__} (a Module or None is expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' of "
                                f"{type(self).__name__} (a Tensor or None is expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _register(self, table, name, value):
        """Put `value` in `table` (keeping its position when the name is there already)."""
        for other in (self._parameters, self._buffers, self._modules):
            if other is not table:
                other.pop(name, None)
        self.__dict__.pop(name, None)
        table[name] = value

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register a Parameter (or None, for an absent optional one such as a bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, tensor):
        """Register a state Tensor that is not learned (e.g. running_mean); it goes in state_dict."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def add_module(self, name, module):
        if not isinstance(name, str):
            raise TypeError(f"add_module: module name should be a string, got {type(name).__name__} {name!r}")
        if "." in name or not name:
            raise KeyError(f"add_module: module name can't be empty or contain '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module, got {type(module).__name__}")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    # -------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    # -------------------------------------------------------------- hooks
    def register_forward_pre_hook(self, hook):
        """Call hook(module, args) before every forward; a returned value (a tuple, or one
        value) replaces the positional arguments. Returns a handle with .remove()."""
        return add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """Call hook(module, args, output) after every forward; a returned value replaces the
        output (feature-map visualizations record outputs this way). Returns a handle."""
        return add_hook(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook):
        """Call hook(module, grad_input, grad_output) when the gradients of this module's tensor
        inputs have been computed (tuples; None for inputs that need no gradient). For a module
        with one tensor input, a returned tuple replaces grad_input. Returns a handle."""
        return add_hook(self._backward_hooks, hook)

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        backward = _BackwardHooks(self) if self._backward_hooks and is_grad_enabled() else None
        if backward is not None:
            args = backward.watch_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        if backward is not None:
            backward.watch_output(out)
        return out

    # -------------------------------------------------------------- walking the tree
    def named_modules(self, prefix="", memo=None):
        """(name, module) for this module and every descendant, each once, depth first."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """(name, child) for each direct submodule, a module registered twice listed once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, table, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs, each shared parameter once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call fn(module) on every submodule and then on self (as PyTorch); returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------------- modes, devices, grads
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def _move(self, device=None, dtype=None):
        """Move every parameter and buffer in place (the Parameter objects stay the same)."""
        if device is not None:
            device = backend.parse_device(device)
        dtype = resolve_dtype(dtype)
        for t in list(self.parameters()) + list(self.buffers()):
            data = t.array
            if dtype is not None and data.dtype.kind == "f":
                data = data.astype(dtype)
            if device is not None:
                data = backend.to_device(data, device)
                t._device = device
            t.array = data
            t.grad = None
            t._grad_slot = t._flat = None  # the new array is no longer in an optimizer's flat buffer
        return self

    def to(self, device=None, dtype=None):
        """Move parameters and buffers to `device` and/or cast floating ones to `dtype`; returns self.

        Gradients are dropped (as after zero_grad). Create optimizers after moving a model.
        """
        if isinstance(device, str) and device in ("float32", "float64", "float16"):
            device, dtype = None, device
        return self._move(device, dtype)

    def double(self):
        return self._move(dtype="float64")

    def float(self):
        return self._move(dtype="float32")

    def cpu(self):
        return self._move("cpu")

    def cuda(self, index=0):
        return self._move(f"cuda:{index}")

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # -------------------------------------------------------------- state dict
    def _state_tensors(self, prefix=""):
        """(dotted name, Tensor) of every parameter and buffer in PyTorch's state_dict order:
        own parameters, own buffers, then each child's (a module used twice appears under
        both names, as in PyTorch)."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None:
                yield prefix + name, b
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_tensors(f"{prefix}{name}.")

    def state_dict(self, prefix=""):
        """OrderedDict of dotted name -> array with PyTorch's keys and order. The arrays are
        the module's own (not copies), as PyTorch's state_dict shares storage."""
        return OrderedDict((key, t.array) for key, t in self._state_tensors(prefix))

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays (or Tensors) from `state_dict` into the parameters and buffers, in place.

        Values are cast to each tensor's dtype and moved to its device. Every wrongly shaped key,
        every value that is not a numeric array or Tensor and, with strict=True, every missing or
        unexpected key is listed in one RuntimeError; in that case nothing is changed. A
        `state_dict` that is not a mapping raises TypeError. Returns (missing_keys, unexpected_keys).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected state_dict to be dict-like, got {type(state_dict).__name__}")
        targets = OrderedDict(self._state_tensors())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        problems = []
        for key, t in targets.items():
            if key in state_dict:
                value = state_dict[key]
                kind = _value_kind(value)
                if kind is not None:
                    problems.append(f"while copying {key}: expected a Tensor or a numeric array, got {kind}")
                    continue
                shape = tuple(getattr(value, "shape", ()))
                if shape != t.shape:
                    problems.append(f"size mismatch for {key}: copying a value of shape {shape} from the "
                                    f"state dict, the shape in the current model is {t.shape}")
        if strict:
            if missing:
                problems.append("missing key(s): " + ", ".join(missing))
            if unexpected:
                problems.append("unexpected key(s): " + ", ".join(unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(problems))
        for key, t in targets.items():
            if key in state_dict:
                value = state_dict[key]
                value = value.array if isinstance(value, Tensor) else value
                value = backend.to_device(value, t.device) if hasattr(value, "shape") else value
                t.array[...] = value
        return missing, unexpected

    # -------------------------------------------------------------- repr
    def extra_repr(self):
        """The text inside the parentheses of this module's repr line (override in layers)."""
        return ""

    def __repr__(self):
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _value_kind(value):
    """None for a value load_state_dict can copy (a Tensor, a numeric numpy/cupy array or
    scalar, a Python number for a 0-d tensor), else a description of what it is."""
    if isinstance(value, numbers.Real):
        return None
    data = value.array if isinstance(value, Tensor) else value
    if not (isinstance(data, (np.ndarray, np.generic)) or backend.is_gpu_array(data)):
        return f"a value of type {type(value).__name__} ({value!r:.40})"
    if data.dtype.kind not in "biuf":
        return f"an array of dtype {data.dtype}"
    return None


class _BackwardHooks:
    """One call's full backward hooks: the module's tensor inputs pass through an identity op
    whose gradient is then the gradient reaching the inputs through this module alone; the
    output's gradient is grad_output. The module's hooks run once every input's gradient is in."""

    def __init__(self, module):
        self.module, self.grad_output, self.grad_input = module, None, []
        self.watched = 0   # inputs that take a gradient
        self.waiting = 0   # of those, the ones whose gradient this backward pass has not brought yet

    def watch_inputs(self, args):
        watched = []
        for i, arg in enumerate(args):
            self.grad_input.append(None)
            if isinstance(arg, Tensor) and arg.requires_grad:
                arg = Reshape.apply(arg, shape=arg.shape)  # an identity of its own for this module
                arg.register_hook(lambda g, i=i: self._input_gradient(i, g))
                self.watched += 1
            watched.append(arg)
        return tuple(watched)

    def watch_output(self, out):
        if isinstance(out, Tensor) and out.requires_grad:
            out.register_hook(self._output_gradient)

    def _output_gradient(self, g):
        # the output's gradient comes first in every backward pass (a retain_graph pass repeats)
        self.grad_output = (g,)
        self.grad_input = [None] * len(self.grad_input)
        self.waiting = self.watched
        if self.watched == 0:  # no input takes a gradient: the hooks run now, with None for each
            self._run_hooks()

    def _input_gradient(self, i, g):
        self.grad_input[i] = g
        self.waiting -= 1
        if self.waiting == 0:
            replaced = self._run_hooks()
            if replaced is not None:
                return replaced[i]
        return None

    def _run_hooks(self):
        grad_input, replaced = tuple(self.grad_input), None
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                if sum(g is not None for g in grad_input) > 1:
                    raise NotImplementedError(f"{type(self.module).__name__}: a full backward hook can replace "
                                              "grad_input only for a module with one tensor input")
                grad_input = replaced = tuple(result)
        return replaced


def shape_error(module, expectation, x):
    """A ShapeError like 'Conv2d(3, 32, kernel_size=(3, 3)) expects 3 input channels, got input of shape (8, 1, 28, 28)'."""
    return ShapeError(f"{type(module).__name__}({module.extra_repr()}) expects {expectation}, "
                      f"got input of shape {tuple(x.shape)}")
