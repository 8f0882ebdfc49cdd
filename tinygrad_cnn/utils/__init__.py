"""PyTorch's utilities under the names PyTorch code imports them by:

    from tinygrad_cnn.utils import transforms     # torchvision.transforms' per-sample transforms
"""
from . import transforms

__all__ = ["transforms"]
