"""Containers: Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict."""
import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


class Sequential(Module):
    """Modules applied in order. Built from modules or an OrderedDict of name -> module;
    supports indexing, slicing (a new Sequential sharing the modules), seq[i] = module, len,
    iteration, append."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential: index {index} out of range for {len(items)} modules")
        return items[index][1]

    def __setitem__(self, index, module):
        """Replace the module at `index` (its name stays), as PyTorch's seq[i] = module."""
        names = list(self._modules)
        index = operator.index(index)
        if not -len(names) <= index < len(names):
            raise IndexError(f"Sequential: index {index} out of range for {len(names)} modules")
        self.add_module(names[index], module)

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(Module):
    """A list of modules whose parameters are registered (it has no forward of its own)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[index]

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self


class ModuleDict(Module):
    """An ordered dict of modules whose parameters are registered (no forward of its own):
    `d[key]`, `d[key] = module`, `del d[key]`, `len`, iteration over the keys, `in`, keys(),
    values(), items(), update(), pop(), clear(), as torch.nn.ModuleDict."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def update(self, modules):
        """Add (key, module) pairs from a mapping (in its order) or an iterable of pairs."""
        for key, module in _pairs("ModuleDict", modules, sort_plain_dicts=False):
            self[key] = module


def _pairs(container, values, sort_plain_dicts):
    """(key, value) pairs of a mapping or an iterable of pairs; PyTorch's ParameterDict takes a
    plain dict's items in sorted order (an OrderedDict's in its own)."""
    if not isinstance(values, Iterable):
        raise TypeError(f"{container}.update should be called with an iterable of key/value pairs, "
                        f"but got {type(values).__name__}")
    if isinstance(values, (OrderedDict, ModuleDict, ParameterDict)) or (isinstance(values, Mapping)
                                                                        and not sort_plain_dicts):
        return list(values.items())
    if isinstance(values, Mapping):
        return sorted(values.items())
    pairs = []
    for j, pair in enumerate(values):
        if not isinstance(pair, Iterable):
            raise TypeError(f"{container} update sequence element #{j} should be Iterable; is {type(pair).__name__}")
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{container} update sequence element #{j} has length {len(pair)}; 2 is required")
        pairs.append(pair)
    return pairs


class _ParameterContainer(Module):
    """What ParameterList and ParameterDict share: Tensors stored become Parameters (sharing the
    tensor's memory), other values plain attributes; PyTorch's repr; not callable."""

    def _store(self, name, value):
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        setattr(self, name, value)

    def _entries(self):
        raise NotImplementedError

    def extra_repr(self):
        lines = []
        for key, value in self._entries():
            if isinstance(value, Tensor):
                device = f" ({value.device})" if value.device != "cpu" else ""
                kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
                size = "x".join(str(s) for s in value.shape)
                lines.append(f"  ({key}): {kind} containing: [{value.dtype} of size {size}{device}]")
            else:
                lines.append(f"  ({key}): Object of type: {type(value).__name__}")
        return "\n".join(lines)

    def __repr__(self):
        lines = self.extra_repr().split("\n") if len(self._entries()) else []
        if len(lines) == 1:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(" + "".join("\n  " + line for line in lines) + ("\n)" if lines else ")")

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} should not be called.")


class ParameterList(_ParameterContainer):
    """A list of parameters registered under the names "0", "1", ... (state_dict keys too):
    indexing (slices give a new ParameterList), assignment, len, iteration, append, extend, +=,
    as torch.nn.ParameterList. Tensors become Parameters."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def _index(self, index):
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"ParameterList: index {index} is out of range for {len(self)} entries")
        return str(index % len(self))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(*index.indices(len(self)))])
        return getattr(self, self._index(index))

    def __setitem__(self, index, value):
        self._store(self._index(index), value)

    def __len__(self):
        return self._size

    def __iter__(self):
        return iter([self[i] for i in range(len(self))])

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def _entries(self):
        return list(enumerate(self))


class ParameterDict(_ParameterContainer):
    """An ordered dict of parameters registered under their keys (state_dict keys too), as
    torch.nn.ParameterDict: `d[key]`, assignment, `del`, len, iteration over the keys, `in`,
    keys(), values(), items(), get(), pop(), popitem(), setdefault(), update(), copy(), clear(),
    `|`. Tensors become Parameters; a plain dict given to the constructor or update() is taken in
    sorted key order, as PyTorch does."""

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _check_key(key):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be strings, got {key!r} of type {type(key).__name__}")
        return key

    def __getitem__(self, key):
        return getattr(self, self._check_key(key))

    def __setitem__(self, key, value):
        self._check_key(key)
        self._keys[key] = None
        self._store(key, value)

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def values(self):
        return [self[k] for k in self._keys]

    def items(self):
        return [(k, self[k]) for k in self._keys]

    def get(self, key, default=None):
        return self[key] if key in self else default

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def clear(self):
        for key in list(self._keys):
            del self[key]

    def copy(self):
        return ParameterDict(OrderedDict(self.items()))

    def fromkeys(self, keys, default=None):
        return ParameterDict([(k, default) for k in keys])

    def update(self, parameters):
        for key, value in _pairs("ParameterDict", parameters, sort_plain_dicts=True):
            self[key] = value

    def __or__(self, other):
        merged = self.copy()
        merged.update(other)
        return merged

    def __ior__(self, other):
        self.update(other)
        return self

    def _entries(self):
        return self.items()
