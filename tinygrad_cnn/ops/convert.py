"""Dtype casts and device moves, both differentiable."""
from .. import backend
from ..autograd import Function
from ..tensor import resolve_dtype


class Cast(Function):
    """y = x as another dtype; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.in_dtype)


class ToDevice(Function):
    """y = x copied to another device; the gradient travels back to the input's device."""

    name = "to"

    @staticmethod
    def forward(ctx, x, device):
        ctx.in_device = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx, g):
        return backend.to_device(g, ctx.in_device)


def cast(x, dtype):
    """x as `dtype` (the tensor itself when it already has that dtype)."""
    dtype = resolve_dtype(dtype)
    if dtype == x.dtype:
        return x
    if x.requires_grad and dtype.kind != "f":
        return x.detach().type(dtype)  # integer results carry no gradient
    return Cast.apply(x, dtype=dtype)


def to_device(x, device):
    """x on `device` (the tensor itself when it is there already)."""
    device = backend.parse_device(device)
    if device == x.device:
        return x
    out = ToDevice.apply(x, device=device)
    out._device = device
    return out
