"""Gradient clipping in place, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.

Both work on the raw gradient arrays without reading anything back from the device (unless
asked to raise on a non-finite norm), so they cost no synchronization on a GPU.
"""
import math

from ... import backend
from ...autograd import no_grad
from ...tensor import Tensor


def _grads(parameters):
    """The raw gradient arrays of the parameters that have one (a single Tensor is accepted)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad.array for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients in place so that their total norm is at most `max_norm`.

    The total norm is the `norm_type`-norm of the vector of all gradients (inf: the largest
    absolute value); every gradient is multiplied by min(1, max_norm / (total + 1e-6)), as in
    PyTorch. Returns the total norm before clipping, as a 0-d Tensor on the gradients' device.
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    xp = backend.array_module(grads[0])
    device = backend.device_of(grads[0])
    with no_grad():
        if math.isinf(norm_type):
            total = xp.stack([xp.abs(g).max() for g in grads]).max()
        else:
            norms = xp.stack([(xp.abs(g) ** norm_type).sum() for g in grads])
            total = norms.sum() ** (1.0 / norm_type)
        if error_if_nonfinite:
            def non_finite():
                return RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                                    "non-finite, so it cannot be clipped; pass error_if_nonfinite=False to clip anyway")
            backend.check(~xp.isfinite(total), non_finite)
        scale = xp.minimum(max_norm / (total + 1e-6), 1.0).astype(grads[0].dtype)
        for g in grads:
            g *= scale
    return Tensor._wrap(backend.as_array(total), device)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        backend.array_module(g).clip(g, -clip_value, clip_value, out=g)
