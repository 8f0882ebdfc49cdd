"""DataLoader: batches of (x, y) Tensors on a device, prepared in a background thread.

Every index appears once per epoch; with shuffle=True the order is redrawn each epoch from
a private generator (`seed=`) or the library's CPU generator (so `tc.manual_seed` repeats
it). `state_dict()` / `load_state_dict()` save and restore the private generator, so a loader
rebuilt after a restart continues with the next epoch's order (the library's generator is
saved with `tinygrad_cnn.backend.get_rng_state`). Random transforms get a private generator per epoch, seeded from the same source in
the consuming thread, so prefetching never makes augmentation depend on thread timing.

The background thread feeds a bounded queue and stops as soon as the loop that consumes the
batches ends, also when it breaks early (the epoch's generator is closed and its `finally`
sets a stop event, drains the queue and joins the thread).
"""
import math
import numbers
import queue
import threading

import numpy as np

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor
from . import _util
from .split import Subset
from .transforms import Transform

__all__ = ["DataLoader"]

_THREAD_NAME = "tinygrad_cnn-DataLoader"
_END = object()


class _Failure:
    def __init__(self, exc):
        self.exc = exc


def _as_array(value):
    if isinstance(value, Tensor):
        return value.array
    if backend.is_gpu_array(value) or isinstance(value, np.ndarray):
        return value
    return np.asarray(value)


class _ArraySource:
    """Batches gathered by fancy indexing from in-memory arrays (optionally through an index map)."""

    def __init__(self, x, y, index=None):
        self.x, self.y, self.index = x, y, index

    def __len__(self):
        return len(self.index) if self.index is not None else int(self.x.shape[0])

    def get(self, idx):
        if self.index is not None:
            idx = self.index[idx]
        xi = backend.to_device(idx, backend.device_of(self.x))
        yi = backend.to_device(idx, backend.device_of(self.y))
        return self.x[xi], self.y[yi]


class _ItemSource:
    """Batches stacked from `dataset[i]` items (any indexable dataset of (image, label) pairs)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def get(self, idx):
        items = [self.dataset[int(i)] for i in idx]
        xs = [_as_array(item[0]) for item in items]
        _check_same_shapes("images", xs, idx)
        xp = backend.array_module(*xs)
        x = xp.stack([backend.to_device(a, backend.device_of(xs[0])) for a in xs])
        labels = [backend.to_device(_as_array(item[1]), "cpu") for item in items]
        _check_same_shapes("labels", labels, idx)
        y = np.asarray([label.item() if label.ndim == 0 else label for label in labels])
        return x, y


def _check_same_shapes(what, arrays, idx):
    """ShapeError (a RuntimeError, as PyTorch's collate) naming the first two dataset indices
    whose `what` (images or labels) differ in shape: they cannot be stacked into one batch."""
    first = arrays[0].shape
    for i, array in zip(idx, arrays):
        if array.shape != first:
            raise ShapeError(f"DataLoader: cannot stack a batch: the dataset's {what} differ in shape, item "
                             f"{int(idx[0])} has {first} and item {int(i)} has {array.shape}")


def _source(dataset):
    """How to gather batches of `dataset`: straight from arrays when possible, else item by item."""
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2 and all(
            isinstance(a, Tensor) or hasattr(a, "shape") for a in dataset):
        x, y = _as_array(dataset[0]), _as_array(dataset[1])
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"DataLoader: {x.shape[0]} inputs but {y.shape[0]} targets")
        return _ArraySource(x, y)
    if isinstance(dataset, Subset):
        inner = _source(dataset.dataset)
        if isinstance(inner, _ArraySource):
            index = dataset.indices if inner.index is None else inner.index[dataset.indices]
            return _ArraySource(inner.x, inner.y, index)
        return _ItemSource(dataset)
    if (isinstance(dataset, _util.ImageDataset) and type(dataset).__getitem__ is _util.ImageDataset.__getitem__
            and not dataset.per_sample):  # a per-sample transform runs in ds[i]: item by item then
        return _ArraySource(dataset.data, dataset.targets)
    if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        raise TypeError(f"DataLoader: expected a dataset (with __len__ and __getitem__) or an (x, y) pair "
                        f"of arrays, got {type(dataset).__name__}")
    return _ItemSource(dataset)


class DataLoader:
    """Iterate over `dataset` in batches of (x, y) Tensors on `device`; x float32 N×C×H×W.

    dataset: a dataset of this package (fast path: batches gathered straight from its uint8
    `data`, unless it was built with a per-sample `transform=` / `target_transform=`, which then
    run item by item), a Subset, any indexable dataset of (image, label) pairs, or an `(x, y)`
    pair of arrays (uint8 images are scaled to [0, 1]; other inputs are cast to float32). Which
    path serves the dataset is decided again at the start of each epoch, so a per-sample
    transform set on the dataset after the loader was built is honoured.
    transform: applied to each whole batch on the device (see `data.transforms`).
    sampler: an iterable of dataset indices with a length that gives each epoch's order instead
        of `shuffle` (e.g. a `distributed.DistributedSampler`: this rank's share; `fit` calls its
        `set_epoch`).
    prefetch: prepare up to `prefetch_batches` batches ahead in a background thread (for
        batches gathered from arrays; items that a dataset computes one by one are made in the
        calling thread, so that random per-sample transforms repeat under `tc.manual_seed`).
    x is float32 N×C×H×W when the items are (their per-sample transforms end with ToTensor).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, transform=None,
                 device="cpu", prefetch=True, prefetch_batches=2, sampler=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        batch_size = int(batch_size)
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.transform = transform
        self.device = backend.parse_device(device)
        self.prefetch = bool(prefetch)
        self.prefetch_batches = max(1, int(prefetch_batches))
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.sampler = sampler
        self._source = _source(dataset)
        self._rng = backend.new_generator(seed) if seed is not None else None

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self._source)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _generator(self):
        return self._rng if self._rng is not None else backend.generator("cpu")

    def state_dict(self):
        """The loader's random state: {"generator": the private generator's state, or None when
        the loader draws from the library's CPU generator (saved by backend.get_rng_state)}."""
        return {"generator": self._rng.bit_generator.state if self._rng is not None else None}

    def load_state_dict(self, state_dict):
        """Restore a state from `state_dict()`: the next epoch then draws exactly what it would
        have drawn in the loader that was saved."""
        if not isinstance(state_dict, dict) or "generator" not in state_dict:
            raise ValueError("DataLoader.load_state_dict: expected a dict with key 'generator'")
        state = state_dict["generator"]
        if (state is None) != (self._rng is None):
            has, saved = ("a private generator (seed=)", "none") if state is None else \
                ("no private generator (seed=None)", "one")
            raise ValueError(f"DataLoader.load_state_dict: this loader has {has}, the saved state has {saved}")
        if state is not None:
            self._rng.bit_generator.state = state

    def _epoch_plan(self):
        """This epoch's index batches and the transforms' generator (drawn in the calling thread)."""
        self._source = _source(self.dataset)
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        elif self.shuffle:
            order = backend.permutation(self._generator(), len(self._source))
        else:
            order = np.arange(len(self._source), dtype=np.int64)
        n = len(order)
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        batches = [order[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]
        aug = None
        if self.transform is not None:
            aug = backend.new_generator(backend.derive_seed(self._generator()), self.device)
        return batches, aug

    def _make_batch(self, idx, generator):
        x, y = self._source.get(idx)
        with backend.device_context(self.device):
            x = backend.to_device(x, self.device)
            y = backend.to_device(y, self.device)
            xp = backend.array_module(x)
            if x.dtype == np.uint8:
                x = xp.divide(x, xp.float32(255), dtype=xp.float32)  # one pass, same values as astype then divide
            elif x.dtype != np.float32:
                x = x.astype(xp.float32)
            if self.transform is not None:
                x = self.transform(x, generator) if isinstance(self.transform, Transform) else self.transform(x)
                if isinstance(x, Tensor):
                    x = x.array
            if y.dtype.kind in "iub" and y.dtype != np.int64:
                y = y.astype(xp.int64)
        return Tensor._wrap(x, self.device), Tensor._wrap(y, self.device)

    def __iter__(self):
        batches, generator = self._epoch_plan()
        # Items a dataset computes itself (per-sample transforms) may draw from the library's
        # generator, as the training step does (dropout): made in another thread, the order of
        # those draws would depend on timing, and tc.manual_seed would not repeat a run.
        if not self.prefetch or isinstance(self._source, _ItemSource):
            return (self._make_batch(b, generator) for b in batches)
        return self._prefetched(batches, generator)

    def _prefetched(self, batches, generator):
        q = queue.Queue(maxsize=self.prefetch_batches)
        stop = threading.Event()
        thread = threading.Thread(target=_produce, name=_THREAD_NAME, daemon=True,
                                  args=(self._make_batch, batches, generator, q, stop, self.device))
        thread.start()
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:  # unblock a producer waiting on a full queue
                    while True:
                        q.get_nowait()
                except queue.Empty:
                    pass
                thread.join(timeout=0.05)

    def __repr__(self):
        return (f"DataLoader({len(self._source)} items, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, device={self.device!r}, prefetch={self.prefetch})")


def _put(q, item, stop):
    """Put `item` unless the consumer has stopped; True when it was put."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _produce(make_batch, batches, generator, q, stop, device):
    """The background thread: make each batch and queue it; then the end marker (or the error)."""
    try:
        with backend.device_context(device):
            for idx in batches:
                if stop.is_set():
                    return
                if not _put(q, make_batch(idx, generator), stop):
                    return
    except BaseException as exc:  # handed to the consumer, re-raised there
        _put(q, _Failure(exc), stop)
        return
    _put(q, _END, stop)
