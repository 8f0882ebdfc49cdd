"""Datasets, DataLoader and batch transforms, with torchvision-like names.

    from tinygrad_cnn.data import CIFAR10, MNIST, FashionMNIST, Shapes, DataLoader, random_split
    from tinygrad_cnn.data import transforms as T

Datasets read the official file formats; `ds[i]` is (float32 C×H×W image in [0, 1], int label),
`ds.data` is uint8 N×C×H×W, `ds.targets` int64, `ds.classes` the class names. The default root
is $TINYGRAD_CNN_DATA or ~/.cache/tinygrad_cnn. Built with torchvision's `transform=` /
`target_transform=`, `ds[i]` hands the transform the image as an H×W×C (H×W) uint8 array
(see `tinygrad_cnn.utils.transforms`). All datasets derive from `Dataset` (`a + b` concatenates).
"""
from . import transforms  # noqa: F401
from ._util import ImageDataset, default_root
from .cifar import CIFAR10
from .dataset import ConcatDataset, Dataset, TensorDataset
from .download import DownloadError, check_md5, download_url, extract_tar, md5sum
from .loader import DataLoader
from .mnist import MNIST, FashionMNIST
from .shapes import Shapes
from .split import Subset, random_split

__all__ = ["Dataset", "TensorDataset", "ConcatDataset",
           "CIFAR10", "MNIST", "FashionMNIST", "Shapes", "ImageDataset", "DataLoader", "Subset",
           "random_split", "transforms", "download_url", "extract_tar", "check_md5", "md5sum",
           "DownloadError", "default_root"]
