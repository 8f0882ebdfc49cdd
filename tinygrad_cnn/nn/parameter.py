"""Parameter: a Tensor that a Module registers as learnable."""
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor with requires_grad=True that Modules collect in `parameters()`.

    Built from a Tensor, it shares that tensor's array (as torch.nn.Parameter does); from an
    array or list, it copies it.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            Tensor.__init__(self, [0.0])  # initialise the slots, then adopt the array as is
            self.array = data.array
            self._device = data.device
            self.requires_grad = False
            self.requires_grad_(requires_grad)
        else:
            Tensor.__init__(self, data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)
