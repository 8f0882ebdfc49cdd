"""Flat buffers: the parameters of one dtype and device stored as views of one 1-D array, and
their gradients as views of a second one.

An optimizer then updates every parameter in a few whole-buffer operations instead of a loop
over parameters (as PyTorch's fused optimizers do), and a distributed all-reduce sends all the
gradients at once:

    buffer = FlatBuffer([w, b])     # w.array, b.array become views of buffer.data (values kept)
    loss.backward()                 # w.grad.array, b.grad.array are views of buffer.grad
    buffer.data -= 0.1 * buffer.grad

Each parameter keeps its own Tensor object; only its array moves into the buffer. The engine
writes a parameter's gradient into its view of `buffer.grad` (`Tensor._grad_slot`) instead of
allocating a new array. Moving a module to another device or dtype afterwards gives its
parameters new arrays: the buffer then reports `intact() == False` and its owner builds a new one.
"""
from .. import backend
from ..tensor import Tensor


class FlatBuffer:
    """The parameters `params` (same dtype and device) as views of one flat array.

    Attributes: `params` (the Tensors, in order), `data` and `grad` (1-D arrays of their total
    size), `views[i]` / `grad_views[i]` (parameter i's view of each), `dtype`, `device`.
    A gradient a parameter already has is copied into its view of `grad`.
    """

    def __init__(self, params):
        params = list(params)
        if not params:
            raise ValueError("FlatBuffer: no parameters given")
        self.params = params
        self.dtype, self.device = params[0].dtype, params[0].device
        for p in params:
            if p.dtype != self.dtype or p.device != self.device:
                raise ValueError(f"FlatBuffer: parameters of one dtype and device expected, got {self.dtype} on "
                                 f"{self.device} and {p.dtype} on {p.device}")
        self.bounds = []
        total = 0
        for p in params:
            self.bounds.append((total, total + p.numel()))
            total += p.numel()
        xp = backend.module_for_device(self.device)
        with backend.device_context(self.device):
            self.data = xp.empty(total, dtype=self.dtype)
            self.grad = xp.zeros(total, dtype=self.dtype)
        self.views = self.split(self.data)
        self.grad_views = self.split(self.grad)
        for p, view, grad_view in zip(params, self.views, self.grad_views):
            view[...] = p.array
            p.array = view
            if p.grad is not None:
                grad_view[...] = p.grad.array
                p.grad = Tensor._wrap(grad_view, self.device)
            p._grad_slot = grad_view
            p._flat = self

    @property
    def size(self):
        return self.data.size

    def split(self, flat):
        """Views of a 1-D array laid out like this buffer, one per parameter, in parameter shapes."""
        return [flat[start:stop].reshape(p.shape) for p, (start, stop) in zip(self.params, self.bounds)]

    def intact(self):
        """True while every parameter still holds its view (nothing gave it a new array)."""
        return all(p.array is view and p._flat is self for p, view in zip(self.params, self.views))

    def gather_grads(self):
        """Make `grad` hold every parameter's current gradient (one assigned by hand is copied
        in); False, with nothing changed, when some parameter has no gradient."""
        if any(p.grad is None for p in self.params):
            return False
        for p, slot in zip(self.params, self.grad_views):
            if p.grad.array is not slot:
                slot[...] = p.grad.array
        return True


def release(param):
    """Detach `param` from its flat buffer (it keeps its current array; the buffer is no longer intact)."""
    param._grad_slot = None
    param._flat = None


def flat_buffers(params):
    """FlatBuffers holding `params`, one per (dtype, device) in order of first appearance.

    Parameters that already form exactly one intact buffer, in the same order, keep it (an
    optimizer built after DistributedDataParallel shares its buffer); otherwise they are
    copied into a new one.
    """
    groups = {}
    for p in params:
        groups.setdefault((p.dtype, p.device), []).append(p)
    buffers = []
    for members in groups.values():
        existing = members[0]._flat
        if existing is not None and existing.intact() and len(existing.params) == len(members) \
                and all(a is b for a, b in zip(existing.params, members)):
            buffers.append(existing)
        else:
            buffers.append(FlatBuffer(members))
    return buffers
