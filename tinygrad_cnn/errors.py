"""Exception types shared by the whole library.

PyTorch raises RuntimeError for shape mismatches, while Python code conventionally
raises ValueError. ShapeError derives from both, so `except ValueError` and
`except RuntimeError` (as in code ported from PyTorch) both catch it.
"""


class ShapeError(ValueError, RuntimeError):
    """Raised when an op receives tensors whose shapes do not fit together."""


class ArgumentError(RuntimeError, ValueError):
    """Raised for an argument value PyTorch refuses with a RuntimeError (a zero stride, a
    divisor of 0, label_smoothing above 1), and a ValueError for code that catches bad
    arguments that way."""


class DeviceError(RuntimeError, ValueError):
    """Raised when a device name is unknown, a device is unavailable, or tensors on different
    devices meet in one op (a RuntimeError as in PyTorch, and a ValueError for code that
    catches bad arguments that way)."""
