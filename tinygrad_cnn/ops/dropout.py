"""Dropout: multiply by a random mask scaled by 1/(1-p) in training; identity in eval."""
from .. import backend
from ..autograd import Function
from ..errors import ShapeError


class Dropout(Function):
    """y = x * mask, mask holding 0 or 1/(1-p), drawn per element (or per channel)."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


def _mask(x, p, shape):
    gen = backend.generator(x.device)
    with backend.device_context(x.device):
        keep = backend.random(gen, shape) >= p
        scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
        return keep.astype(x.dtype) * x.dtype.type(scale)


def _check_p(op, p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability p must be between 0 and 1, got {p}")


def dropout(input, p=0.5, training=True):  # noqa: A002
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    _check_p("dropout", p)
    if not training or p == 0:
        return input
    return Dropout.apply(input, mask=_mask(input, p, input.shape))


def dropout2d(input, p=0.5, training=True):  # noqa: A002
    """Zero whole channels of (N, C, H, W) input with probability p (training only)."""
    _check_p("dropout2d", p)
    if input.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected input of shape (N, C, H, W) or (C, H, W), got {input.shape}")
    if not training or p == 0:
        return input
    lead = input.ndim - 2
    return Dropout.apply(input, mask=_mask(input, p, input.shape[:lead] + (1, 1)))
