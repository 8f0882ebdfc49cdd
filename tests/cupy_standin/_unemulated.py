"""Placeholders for CuPy names the stand-in cannot emulate (compiled kernels, fusion, DLPack,
texture memory, ...).

The name exists, as in CuPy, so attribute access and `hasattr` behave the same; *calling* it
(or reading a property that would need real device memory) raises NotImplementedError naming
it. Attribute access on a placeholder walks the real CuPy object, so `cupy.fft.fft` is a
placeholder too while `cupy.fft.no_such_name` raises AttributeError as in CuPy.
"""


def not_emulated(qualname):
    """The error raised when emulating `qualname` is impossible."""
    return NotImplementedError(
        f"{qualname} is not emulated by the CuPy stand-in (it needs a real GPU); "
        "run this code on a CUDA device, or avoid it in code the stand-in tests")


class Unemulated:
    """Stands for the CuPy object `real` named `qualname`; raises NotImplementedError when called."""

    __slots__ = ("_qualname", "_real")

    def __init__(self, qualname, real=None):
        object.__setattr__(self, "_qualname", qualname)
        object.__setattr__(self, "_real", real)

    def __call__(self, *args, **kwargs):
        raise not_emulated(self._qualname)

    def __getattr__(self, name):
        real = object.__getattribute__(self, "_real")
        if real is not None and not hasattr(real, name):
            raise AttributeError(f"{self._qualname!r} has no attribute {name!r}")
        return Unemulated(f"{self._qualname}.{name}", getattr(real, name, None) if real is not None else None)

    def __repr__(self):
        return f"<{self._qualname} (not emulated by the CuPy stand-in)>"


def unemulated_method(qualname):
    """A method that raises NotImplementedError naming `qualname` when called."""
    def method(self, *args, **kwargs):
        raise not_emulated(qualname)
    method.__name__ = qualname.rsplit(".", 1)[-1]
    return method


def unemulated_property(qualname):
    """A read-only property that raises NotImplementedError naming `qualname` when read."""
    def getter(self):
        raise not_emulated(qualname)
    return property(getter)
