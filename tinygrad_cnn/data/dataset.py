"""Dataset base classes with torch.utils.data's names: Dataset, TensorDataset, ConcatDataset.

Every dataset of this package (CIFAR10, MNIST, Shapes, Subset, ...) derives from `Dataset`, so
`a + b` concatenates any two of them, as in PyTorch. `tinygrad_cnn.utils.data` re-exports
these classes beside its PyTorch-style DataLoader.
"""
import bisect
import operator

from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "ConcatDataset", "SizeMismatchError"]


class SizeMismatchError(ValueError, AssertionError):
    """Tensors of different lengths given to one TensorDataset. PyTorch asserts there, so this is
    an AssertionError (code catching PyTorch's error keeps working) and also a ValueError."""


class Dataset:
    """A map-style dataset: subclasses implement `__getitem__(index)` and `__len__()`.

    `dataset_a + dataset_b` is a ConcatDataset of both. `Dataset[...]` (PyTorch's generic
    annotation, as in `class Pairs(Dataset[tuple])`) is accepted and means `Dataset`.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset should implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])

    def __class_getitem__(cls, item):
        return cls


def _row(array, index):
    """array[index] for a Tensor (a view outside the graph unless it requires grad) or an array."""
    if isinstance(array, Tensor):
        if array.requires_grad:
            return array[index]
        return Tensor._wrap(array.array[index], array.device)
    return array[index]


class TensorDataset(Dataset):
    """Item i is `tuple(t[i] for t in tensors)`: Tensors (or NumPy arrays) indexed along their
    first axis, which must have the same length in all of them (SizeMismatchError, an
    AssertionError as in PyTorch, naming the lengths)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        for i, t in enumerate(tensors):
            if not hasattr(t, "shape") or len(t.shape) == 0:
                raise TypeError(f"TensorDataset: argument {i} must be a Tensor or array with a first axis, "
                                f"got {type(t).__name__}")
        lengths = [int(t.shape[0]) for t in tensors]
        if any(n != lengths[0] for n in lengths):
            raise SizeMismatchError(f"TensorDataset: size mismatch between tensors: first axes of lengths {lengths}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(_row(t, index) for t in self.tensors)

    def __len__(self):
        return int(self.tensors[0].shape[0])

    def __repr__(self):
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorDataset({shapes})"


class ConcatDataset(Dataset):
    """The items of several datasets one after another (`cumulative_sizes[k]` = items in the
    first k + 1 datasets)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        i = operator.index(index)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ConcatDataset index {i} out of range for {n} items")
        if i < 0:
            i += n
        k = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][i - start]

    def __repr__(self):
        return f"ConcatDataset({len(self)} items from {len(self.datasets)} datasets)"
