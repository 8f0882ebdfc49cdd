"""Activation layers: parameter-free Modules calling the functional ops, with PyTorch's names,
arguments, defaults and reprs.

Layers taking `inplace` (ReLU, ReLU6, LeakyReLU, Hardtanh, ELU, SiLU, Hardswish, Hardsigmoid)
accept it as PyTorch's do, and show it in their repr, but always compute a new tensor: ops never
change their inputs (see tinygrad_cnn/ops/elementwise.py). Any input shape works.
"""
import warnings

from ..ops import elementwise, loss
from .module import Module


def _inplace_text(inplace, first=False):
    """The repr's "inplace=True" field (nothing when False), as PyTorch writes it."""
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class _InplaceActivation(Module):
    """An activation whose only argument is PyTorch's `inplace` (accepted; see the module docstring)."""

    _repr_shows_inplace = True  # PyTorch's Hardswish and Hardsigmoid leave it out of their repr

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return _inplace_text(self.inplace and self._repr_shows_inplace, first=True)


class ReLU(_InplaceActivation):
    """max(x, 0)."""

    def forward(self, x):
        return elementwise.relu(x)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return elementwise.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace_text(self.inplace)}"


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return elementwise.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return elementwise.tanh(x)


class Hardtanh(Module):
    """x clamped to [min_val, max_val] (gradient 0 on the bounds). PyTorch's deprecated
    min_value / max_value spellings are accepted with its warning."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`", FutureWarning,
                          stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`", FutureWarning,
                          stacklevel=2)
            max_val = max_value
        if max_val <= min_val:  # PyTorch's check and exception type
            raise AssertionError(f"{type(self).__name__}: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x):
        return elementwise.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_text(self.inplace)}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_text(self.inplace, first=True)


class ELU(Module):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return elementwise.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_text(self.inplace)}"


class SiLU(_InplaceActivation):
    """x * sigmoid(x)."""

    def forward(self, x):
        return elementwise.silu(x)


class GELU(Module):
    """x * Phi(x) (approximate="none", erf-based) or its tanh approximation (approximate="tanh")."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return elementwise.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Hardswish(_InplaceActivation):
    """x * relu6(x + 3) / 6."""

    _repr_shows_inplace = False

    def forward(self, x):
        return elementwise.hardswish(x)


class Hardsigmoid(_InplaceActivation):
    """relu6(x + 3) / 6."""

    _repr_shows_inplace = False

    def forward(self, x):
        return elementwise.hardsigmoid(x)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, x itself where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return elementwise.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """softmax along `dim` (None: PyTorch's deprecated implicit choice, with its warning)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return loss.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log_softmax along `dim` (None: PyTorch's deprecated implicit choice, with its warning)."""

    def forward(self, x):
        return loss.log_softmax(x, self.dim)
