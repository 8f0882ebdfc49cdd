"""Private helpers of the data package: the default data folder and the in-memory image
dataset all datasets derive from. (Random draws go through `tinygrad_cnn.backend`, which hides
the NumPy/CuPy generator differences.)"""
import operator
import os

import numpy as np


# ---------------------------------------------------------------- folders
def default_root():
    """Where datasets live when no root is given: $TINYGRAD_CNN_DATA, else ~/.cache/tinygrad_cnn."""
    root = os.environ.get("TINYGRAD_CNN_DATA")
    if root:
        return os.path.abspath(os.path.expanduser(root))
    return os.path.join(os.path.expanduser("~"), ".cache", "tinygrad_cnn")


def resolve_root(root):
    """`root` as an absolute path (the default root when None)."""
    if root is None:
        return default_root()
    return os.path.abspath(os.path.expanduser(os.fspath(root)))


# ---------------------------------------------------------------- datasets
class ImageDataset:
    """An in-memory image classification dataset.

    `data`: uint8 array N×C×H×W; `targets`: int64 array N; `classes`: list of class names.
    `ds[i]` returns (float32 C×H×W image in [0, 1], int label).
    """

    def __init__(self, data, targets, classes):
        data = np.asarray(data)
        targets = np.asarray(targets, dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 4:
            raise ValueError(f"{type(self).__name__}: data must be uint8 N×C×H×W, got {data.dtype} {data.shape}")
        if targets.shape != (data.shape[0],):
            raise ValueError(f"{type(self).__name__}: {data.shape[0]} images but targets of shape {targets.shape}")
        self.data = data
        self.targets = targets
        self.classes = list(classes)

    def __len__(self):
        return int(self.data.shape[0])

    def __getitem__(self, index):
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"{type(self).__name__} indices must be integers, got {type(index).__name__}") from None
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"{type(self).__name__} index {i} out of range for {n} images")
        return self.data[i].astype(np.float32) / np.float32(255), int(self.targets[i])

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def extra_repr(self):
        return ""

    def __repr__(self):
        n, c, h, w = self.data.shape
        extra = self.extra_repr()
        return f"{type(self).__name__}({n} images {c}×{h}×{w}, {len(self.classes)} classes{', ' + extra if extra else ''})"


def split_name(train):
    return "train" if train else "test"
