"""PyTorch's utilities under the names PyTorch code imports them by:

    from tinygrad_cnn.utils.data import Dataset, DataLoader, TensorDataset, random_split, Subset
    from tinygrad_cnn.utils import transforms     # torchvision.transforms' per-sample transforms
"""
from . import data, transforms

__all__ = ["data", "transforms"]
