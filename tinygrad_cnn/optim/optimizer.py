"""Optimizer: the base class of SGD, Adam and AdamW (PyTorch's `torch.optim.Optimizer` API).

An optimizer holds `param_groups`, a list of dicts; each has "params" (a list of Tensors) and
the group's options ("lr", "momentum", ...). Per-parameter state (momentum buffers, moment
estimates, step counts) lives in `state`, a dict keyed by the parameter Tensor.

The parameters of each group are moved into flat buffers (one per dtype and device, see
`flat.py`), and so is their array state. A step then updates a whole buffer in a few array
operations when every parameter in it has a gradient and the same state (the usual case), and
one parameter at a time otherwise (PyTorch skips parameters without a gradient, momentum and
weight decay included). Both paths run the same update rule:

    Subclasses implement `_update(data, grad, state, group)`: update the array `data` in place
    from `grad`, reading and creating entries of the dict `state` ("momentum_buffer", "step",
    ...), with the options of `group`. `data`, `grad` and the state arrays are either one
    parameter's arrays or whole flat buffers of the same layout.
"""
import copy
import numbers
import warnings
import weakref

from .. import backend
from ..autograd import enable_grad
from ..tensor import Tensor
from .flat import flat_buffers


class _Required:
    """Marker for an option without a default (every group must then give it)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def grad_array(p):
    """The raw gradient array of parameter `p` (numpy or cupy), or None when it has no grad."""
    g = p.grad
    if g is None:
        return None
    return g.array if isinstance(g, Tensor) else g


def with_weight_decay(xp, data, grad, weight_decay):
    """grad + weight_decay * data (a new array), or grad itself without weight decay."""
    if weight_decay == 0:
        return grad
    g = xp.multiply(data, weight_decay)
    g += grad
    return g


def check_non_negative(name, value):
    """Raise ValueError naming `name` unless `value` is a real number >= 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"Invalid {name} value: {value!r} (expected a number >= 0)")


class Optimizer:
    """Base class of optimizers, with PyTorch's `param_groups`, `state` and state-dict layout.

    Args:
        params: an iterable of Tensors (Parameters), or an iterable of dicts, each with
            "params" (a Tensor or an iterable of Tensors) and any per-group options that
            override `defaults` (e.g. ``[{"params": w}, {"params": b, "lr": 0.1}]``).
        defaults: dict of the optimizer's options and their default values.

    Methods: `zero_grad(set_to_none=True)`, `step(closure=None)`, `state_dict()`,
    `load_state_dict(state_dict)`, `add_param_group(group)`.
    """

    def __init__(self, params, defaults):
        self._check_options(defaults)
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        self._buffers = []     # per parameter group: its FlatBuffers
        # FlatBuffer -> {state name: (flat array, the parameters' views of it, which are their state)}
        self._flat_state = weakref.WeakKeyDictionary()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors "
                            "or dicts, but got a Tensor (wrap it in a list)")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # -------------------------------------------------------------- options
    def _check_options(self, options):
        """Raise ValueError for an invalid option value (subclasses check their own options).

        Called for `defaults` and for every parameter group added.
        """

    # -------------------------------------------------------------- groups
    def add_param_group(self, param_group):
        """Add a parameter group: a dict with "params" and optional per-group options.

        Options the group does not give take the optimizer's defaults. A parameter may belong to
        one group only (ValueError otherwise).
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets changes between runs; use a list instead")
        else:
            params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but params[{i}] is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (params[{i}])")
        group["params"] = params

        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            group.setdefault(name, default)
        self._check_options(group)

        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters", stacklevel=2)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if not existing.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)
        self._buffers.append(flat_buffers(params))

    # -------------------------------------------------------------- gradients and steps
    def zero_grad(self, set_to_none=True):
        """Clear the gradients of all parameters: set `.grad` to None (default) or fill it with 0."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    grad_array(p).fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place; return the closure's loss.

        closure: optional callable that re-evaluates the model (zero_grad, forward, backward)
            and returns the loss; it runs with gradients enabled, before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            for buffer in self._group_buffers(index):
                self._update_buffer(buffer, group)
        return loss

    def _update(self, data, grad, state, group):
        """Update `data` in place from `grad` and `state` (implemented by each optimizer)."""
        raise NotImplementedError

    def _group_buffers(self, index):
        """The FlatBuffers of parameter group `index`, rebuilt when a parameter got a new array
        (the module was moved) or the group's parameter list was changed."""
        buffers = self._buffers[index]
        params = self.param_groups[index]["params"]
        members = [p for buffer in buffers for p in buffer.params]
        if len(members) != len(params) or not all(b.intact() for b in buffers) or \
                {id(p) for p in members} != {id(p) for p in params}:
            buffers = self._buffers[index] = flat_buffers(params)
        return buffers

    def _update_buffer(self, buffer, group):
        """One step for the parameters of `buffer`: as a whole when they all have a gradient
        and the same state, else parameter by parameter."""
        params = buffer.params
        states = [self.state.get(p) for p in params]
        if _same_state(states) and buffer.gather_grads():
            state = self._flat_state_of(buffer, states[0])
            self._update(buffer.data, buffer.grad, state, group)
            self._share_flat_state(buffer, state)
            return
        for p in params:
            grad = grad_array(p)
            if grad is not None:
                self._update(p.array, grad, self.state.setdefault(p, {}), group)

    def _flat_state_of(self, buffer, example):
        """The state of all of `buffer`'s parameters as one dict of flat arrays (plus the shared
        numbers, e.g. "step"); each parameter's array state becomes a view of it."""
        if not example:
            return {}
        flat = self._flat_state.setdefault(buffer, {})  # name -> (flat array, its per-parameter views)
        state = {}
        for key, value in example.items():
            if not hasattr(value, "shape"):
                state[key] = value
                continue
            entry = flat.get(key)
            if entry is None or any(self.state[p][key] is not v for p, v in zip(buffer.params, entry[1])):
                # state from a per-parameter step or load_state_dict: copied into one flat array
                xp = backend.module_for_device(buffer.device)
                with backend.device_context(buffer.device):
                    array = xp.empty(buffer.size, dtype=buffer.dtype)
                entry = flat[key] = (array, buffer.split(array))
                for p, view in zip(buffer.params, entry[1]):
                    view[...] = backend.to_device(self.state[p][key], buffer.device)
                    self.state[p][key] = view
            state[key] = entry[0]
        return state

    def _share_flat_state(self, buffer, state):
        """After a whole-buffer update: every parameter's state refers to its part of `state`."""
        flat = self._flat_state.setdefault(buffer, {})
        for key, value in state.items():
            if hasattr(value, "shape"):
                if key not in flat or flat[key][0] is not value:  # created by this update
                    flat[key] = (value, buffer.split(value))
                    for p, view in zip(buffer.params, flat[key][1]):
                        self.state.setdefault(p, {})[key] = view
            else:
                for p in buffer.params:
                    self.state.setdefault(p, {})[key] = value

    # -------------------------------------------------------------- state dict
    def state_dict(self):
        """The optimizer's state in PyTorch's layout, as a snapshot (arrays are copies).

        {"state": {param_index: {name: array or number}},
         "param_groups": [{...options, "params": [param_index, ...]}]}

        Parameters are numbered in group order, 0, 1, 2, ...; only parameters that have state
        (that were updated at least once) appear in "state".
        """
        index_of = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
                packed["params"].append(index_of[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and index_of[id(p)] not in state:
                    state[index_of[id(p)]] = {k: _snapshot(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a state from `state_dict()` (of this optimizer class, same groups and shapes).

        Arrays are copied to each parameter's device and (for floating arrays) dtype. Raises
        ValueError naming what does not fit (number of groups, parameters per group, an array's
        shape, an unknown parameter index), leaving the optimizer unchanged.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict: expected a dict with keys 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        saved_state = state_dict["state"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the loaded state has {len(saved_groups)} parameter group(s), "
                             f"the optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(saved, dict) or "params" not in saved:
                raise ValueError(f"load_state_dict: loaded parameter group {i} is not a dict with 'params'")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"load_state_dict: parameter group {i} has {len(saved['params'])} "
                                 f"parameter(s) in the loaded state, {len(group['params'])} in the optimizer")

        param_of = {}
        for group, saved in zip(self.param_groups, saved_groups):
            for index, p in zip(saved["params"], group["params"]):
                param_of[index] = p

        new_state = {}
        for index, values in saved_state.items():
            if not isinstance(values, dict):
                raise ValueError(f"load_state_dict: the state of parameter {index!r} is not a dict")
            if index not in param_of:
                raise ValueError(f"load_state_dict: the loaded state has an entry for parameter index "
                                 f"{index!r}, which no parameter group lists")
            p = param_of[index]
            converted = {}
            for key, value in values.items():
                if isinstance(value, Tensor):
                    value = value.array
                if key == "step":
                    converted[key] = _as_step(value, index)
                elif isinstance(value, numbers.Number):
                    converted[key] = value
                elif not hasattr(value, "shape"):
                    raise ValueError(f"load_state_dict: state {key!r} of parameter {index} is neither an "
                                     f"array nor a number: {type(value).__name__}")
                else:
                    if tuple(value.shape) != tuple(p.shape):
                        raise ValueError(f"load_state_dict: state {key!r} of parameter {index} has shape "
                                         f"{tuple(value.shape)}, but the parameter has shape {tuple(p.shape)}")
                    converted[key] = _array_like(value, p)
            new_state[p] = converted

        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new_group = {k: v for k, v in group.items() if k != "params"}
            new_group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
            new_group["params"] = group["params"]
            self._check_options(new_group)
            new_groups.append(new_group)

        self.state = new_state
        self.param_groups = new_groups


def _same_state(states):
    """True when the parameters' states allow one whole-buffer update: none has state yet, or
    all have the same entries and the same numbers (e.g. the same step count)."""
    first = states[0]
    if not first:
        return all(not s for s in states)
    keys = first.keys()
    numbers = {k: v for k, v in first.items() if not hasattr(v, "shape")}
    return all(s and s.keys() == keys and all(s[k] == v for k, v in numbers.items()) for s in states)


def _snapshot(value):
    """A copy of a state value: arrays are copied, numbers returned as they are."""
    if hasattr(value, "copy") and hasattr(value, "shape"):
        return value.copy()
    return copy.deepcopy(value)


def _as_step(value, index):
    """A step count from the state dict (a number or a one-element array) as a Python int."""
    try:
        step = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        raise ValueError(f"load_state_dict: 'step' of parameter {index} is not a number: {value!r}") from None
    if step != int(step) or step < 0:
        raise ValueError(f"load_state_dict: 'step' of parameter {index} must be a whole number >= 0, got {step}")
    return int(step)


def _array_like(value, p):
    """A copy of array `value` on the device of parameter `p`, cast to its dtype if floating."""
    array = backend.to_device(value, p.device)
    xp = backend.array_module(array)
    dtype = p.dtype if array.dtype.kind == "f" and p.dtype.kind == "f" else array.dtype
    return xp.array(array, dtype=dtype, copy=True)
