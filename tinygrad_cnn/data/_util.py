"""Private helpers of the data package: the default data folder and the in-memory image
dataset all datasets derive from. (Random draws go through `tinygrad_cnn.backend`, which hides
the NumPy/CuPy generator differences.)"""
import operator
import os

import numpy as np

from .dataset import Dataset


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
class ImageDataset(Dataset):
    """An in-memory image classification dataset.

    `data`: uint8 array N×C×H×W; `targets`: int64 array N; `classes`: list of class names.
    `ds[i]` returns (float32 C×H×W image in [0, 1], int label).

    `transform` / `target_transform` (torchvision's names; None by default): per-sample
    callables applied in `ds[i]`. With a `transform`, it receives the image as torchvision's
    receives a PIL image: a uint8 NumPy array, H×W×C for colour images and H×W for one
    channel (what `tinygrad_cnn.utils.transforms.ToTensor` turns into a float32 C×H×W Tensor
    in [0, 1]), a read-only view of `data` (copy it to change it in place);
    `target_transform` receives the int label. Without them, the batch path
    (`tinygrad_cnn.data.DataLoader`) gathers whole batches straight from `data`; with either,
    it asks `ds[i]` item by item.
    """

    def __init__(self, data, targets, classes, transform=None, target_transform=None):
        data = np.asarray(data)
        targets = np.asarray(targets, dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 4:
            raise ValueError(f"{type(self).__name__}: data must be uint8 N×C×H×W, got {data.dtype} {data.shape}")
        if targets.shape != (data.shape[0],):
            raise ValueError(f"{type(self).__name__}: {data.shape[0]} images but targets of shape {targets.shape}")
        for name, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{type(self).__name__}: {name} must be callable or None, got {type(fn).__name__}")
        self.data = data
        self.targets = targets
        self.classes = list(classes)
        self.transform = transform
        self.target_transform = target_transform

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
        target = int(self.targets[i])
        if self.target_transform is not None:
            target = self.target_transform(target)
        if self.transform is None:
            return self.data[i].astype(np.float32) / np.float32(255), target
        image = self.data[i]
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)  # C×H×W -> H×W×C, a view
        image = image.view()
        image.flags.writeable = False  # the dataset's own memory: no copy, and no transform can change it
        return self.transform(image), target

    @property
    def per_sample(self):
        """True when `ds[i]` applies a per-sample transform or target_transform."""
        return self.transform is not None or self.target_transform is not None

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def extra_repr(self):
        return ""

    def __repr__(self):
        n, c, h, w = self.data.shape
        extra = self.extra_repr()
        if self.transform is not None:
            extra += f"{', ' if extra else ''}transform={self.transform!r}"
        if self.target_transform is not None:
            extra += f"{', ' if extra else ''}target_transform={self.target_transform!r}"
        return f"{type(self).__name__}({n} images {c}×{h}×{w}, {len(self.classes)} classes{', ' + extra if extra else ''})"


def split_name(train):
    return "train" if train else "test"
