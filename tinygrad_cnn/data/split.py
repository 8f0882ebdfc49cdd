"""Subset and random_split: train/validation splits of any dataset (torch.utils.data names)."""
import math
import numbers
import operator

import numpy as np

from .. import backend
from .dataset import Dataset

__all__ = ["Subset", "random_split"]


class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order. `data`, `targets` and `classes`
    follow the parent dataset's when it has them. `subset[[i, j]]` (a list, as in PyTorch) asks
    the parent dataset for the list of its indices at i and j."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices outside 0..{n - 1}")
        self.indices = self.indices % max(n, 1)

    def __len__(self):
        return int(self.indices.size)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[int(self.indices[operator.index(i)]) for i in index]]
        i = operator.index(index)
        if not -len(self) <= i < len(self):
            raise IndexError(f"Subset index {i} out of range for {len(self)} items")
        return self.dataset[int(self.indices[i])]

    @property
    def data(self):
        return self.dataset.data[self.indices]

    @property
    def targets(self):
        return np.asarray(self.dataset.targets)[self.indices]

    @property
    def classes(self):
        return self.dataset.classes

    def __repr__(self):
        return f"Subset({len(self)} of {self.dataset!r})"


def random_split(dataset, lengths, seed=None):
    """Split `dataset` into non-overlapping random Subsets of the given lengths.

    `lengths`: item counts summing to len(dataset), or fractions summing to 1 (the counts are
    floored and the remainder handed out one by one from the first split, as in PyTorch).
    `seed`: an int for a private generator; None draws from the library's CPU generator
    (so `tc.manual_seed` makes the split repeat).
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: no lengths given")
    if all(isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) for v in lengths):
        if any(v < 0 for v in lengths) or not math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
            raise ValueError(f"random_split: fractions must be >= 0 and sum to 1, got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    lengths = [operator.index(v) for v in lengths]
    if any(v < 0 for v in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} must be >= 0 and sum to the dataset's length {n}")
    generator = backend.new_generator(seed) if seed is not None else backend.generator("cpu")
    order = backend.permutation(generator, n)
    cuts = np.cumsum([0] + lengths)
    return [Subset(dataset, order[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
