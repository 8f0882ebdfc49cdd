"""PyTorch's data idiom, torch.utils.data's names and semantics: the per-sample path.

Porting PyTorch code is a change of imports:

    from torch.utils.data import Dataset, DataLoader, TensorDataset, random_split, Subset
    ->  from tinygrad_cnn.utils.data import Dataset, DataLoader, TensorDataset, random_split, Subset

A `Dataset` returns one sample per index; `DataLoader` draws indices from a sampler, groups them
into batches (BatchSampler), fetches `dataset[i]` for each, and `collate_fn` (default_collate)
stacks the samples into Tensors on the CPU (call `.to(device)` on them, as in PyTorch). With
`num_workers > 0` worker processes fetch and collate whole batches in parallel; the batches
come back in the order of num_workers=0.

Differences from PyTorch, all deliberate:
- `generator=` (DataLoader, RandomSampler, SubsetRandomSampler, random_split) takes None (the
  library's CPU generator, so `tc.manual_seed` repeats the run), an int seed (a private
  generator made from it once, so successive epochs still differ), or a numpy.random.Generator
  (used as is, its state advancing, as a torch.Generator's would). torch.Generator has no
  counterpart here.
- `pin_memory=True` is accepted and does nothing: batches are NumPy arrays in ordinary host
  memory. (On a GPU, PyTorch copies each batch into page-locked host memory so that
  `.to("cuda", non_blocking=True)` can overlap the copy with computation.)
- IterableDataset is not supported (map-style datasets only).

For whole-batch speed with vectorized batch transforms (gathered straight from the uint8
arrays of the built-in datasets, optionally on the GPU), use `tinygrad_cnn.data.DataLoader`.
"""
import collections.abc
import copy
import itertools
import math
import multiprocessing
import numbers
import os
import pickle
import queue
import threading
import time
import traceback
import warnings
import weakref

import numpy as np

from .. import backend
from ..data.dataset import ConcatDataset, Dataset, SizeMismatchError, TensorDataset
from ..data.split import Subset
from ..errors import ShapeError
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "ConcatDataset", "Subset", "random_split", "default_collate",
           "default_convert", "DataLoader", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "BatchSampler", "get_worker_info", "WorkerInfo", "SizeMismatchError"]


# ---------------------------------------------------------------- generators
def _as_generator(generator, owner):
    """None (draw from the library's CPU generator at each use), or a numpy Generator from an
    int seed or the Generator given."""
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator) % 2**128)
    raise TypeError(f"{owner}: generator must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(generator).__name__}")


def _draw_from(generator):
    return generator if generator is not None else backend.generator("cpu")


# ---------------------------------------------------------------- random_split
def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping random Subsets of the given lengths (PyTorch's rules).

    `lengths`: counts summing to len(dataset), or fractions summing to 1 (counts floored, the
    remainder handed out one by one from the first subset). `generator`: None (the library's
    CPU generator: `tc.manual_seed` makes the split repeat), an int seed, or a numpy Generator.
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1: {frac}")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this might result in an empty "
                              "dataset", stacklevel=2)
        lengths = counts
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
            raise ValueError(f"random_split: length at index {i} must be a non-negative int (or all lengths "
                             f"fractions summing to 1), got {length!r}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of the "
                         f"input dataset ({n})")
    order = backend.permutation(_draw_from(_as_generator(generator, "random_split")), n)
    cuts = np.cumsum([0] + [int(v) for v in lengths])
    return [Subset(dataset, order[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]


# ---------------------------------------------------------------- collate
_COLLATE_TYPES = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _stack(arrays, where):
    """Stack same-shaped arrays along a new first axis; ShapeError (a RuntimeError, as PyTorch's
    stack) naming the first entry whose shape differs from entry 0's."""
    first = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != first:
            raise ShapeError(f"default_collate: stack expects each tensor to be equal size, but got "
                             f"{tuple(first)} at entry 0 and {tuple(a.shape)} at entry {i}"
                             f"{f' (in element {where} of the samples)' if where else ''}")
    xp = backend.array_module(*arrays)
    return xp.stack(arrays)


def _wrap(array):
    return Tensor._wrap(array, backend.device_of(array))


def _collate(batch, where):
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _wrap(_stack([t.array for t in batch], where))
    if isinstance(elem, np.ndarray) or backend.is_gpu_array(elem):
        if elem.dtype.kind in "SaUO":
            raise TypeError(_COLLATE_TYPES.format(elem.dtype))
        return _wrap(_stack(batch, where))
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return _wrap(np.asarray(batch))  # numpy scalars keep their dtype
    if isinstance(elem, float):
        return _wrap(np.asarray(batch, dtype=np.float64))  # torch.tensor(batch, dtype=torch.float64)
    if isinstance(elem, numbers.Integral):  # bool and int, as torch.tensor(batch): bool or int64
        values = np.asarray(batch)
        if values.dtype.kind in "iu":
            values = values.astype(np.int64, copy=False)
        elif values.dtype.kind == "f":
            values = values.astype(np.float32)  # ints mixed with floats: PyTorch's default float dtype
        return _wrap(values)
    if isinstance(elem, (str, bytes)):
        return batch  # as given: a list (a tuple inside tuples and lists, as PyTorch's)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: _collate([d[key] for d in batch], f"{where}[{key!r}]") for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:  # a mapping type that cannot be built from a dict
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(_collate(samples, f"{where}.{name}")
                            for name, samples in zip(elem._fields, zip(*batch))))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        for i, sample in enumerate(batch):
            if len(sample) != size:
                raise RuntimeError(f"default_collate: each element in list of batch should be of equal size: "
                                   f"entry 0 has {size} elements, entry {i} has {len(sample)}"
                                   f"{f' (in element {where} of the samples)' if where else ''}")
        columns = [_collate(samples, f"{where}[{k}]") for k, samples in enumerate(zip(*batch))]
        if isinstance(elem, tuple):
            return columns  # a list, as in PyTorch
        if isinstance(elem, collections.abc.MutableSequence):
            try:
                clone = copy.copy(elem)
                clone[:] = columns
                return clone
            except TypeError:
                return columns
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_COLLATE_TYPES.format(type(elem)))


def default_collate(batch):
    """Merge a list of samples into a batch, by PyTorch's rules:

    - Tensors and NumPy arrays are stacked along a new first axis into one Tensor (same dtype);
      a shape differing from the first sample's is a ShapeError (RuntimeError) naming its entry;
    - Python floats -> float64 Tensor, ints -> int64, bools -> bool, NumPy scalars keep their dtype;
    - str / bytes are kept as a list;
    - dicts (mappings) are collated key by key, namedtuples field by field, lists and tuples
      position by position (a tuple gives a list: `x, y = batch`); their lengths must agree;
    - anything else is a TypeError.
    Arrays of strings or objects are a TypeError, as in PyTorch.
    """
    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)) or len(batch) == 0:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {type(batch).__name__}")
    return _collate(batch, "")


def default_convert(data):
    """The conversion when DataLoader does no batching (batch_size=None): NumPy arrays (and
    NumPy scalars) become Tensors, recursively inside dicts, namedtuples, tuples (given back as
    lists, as in PyTorch) and lists; everything else is returned unchanged."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "SaUO" else _wrap(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    return data


# ---------------------------------------------------------------- samplers
class Sampler:
    """Base class of samplers: `__iter__` yields dataset indices (or, for a batch sampler,
    lists of them); `__len__` says how many."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: samplers implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


class RandomSampler(Sampler):
    """The indices in random order: a new permutation per epoch (per `iter`), drawn when the
    epoch starts. `replacement=True` draws `num_samples` indices independently; without
    replacement, `num_samples` larger than the data set chains several permutations, as PyTorch.
    `generator`: None (library's CPU generator), an int seed, or a numpy Generator."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = _as_generator(generator, "RandomSampler")
        _positive_int(self.num_samples, "num_samples", "RandomSampler")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, count = len(self.data_source), self.num_samples
        gen = _draw_from(self.generator)
        if self.replacement:
            yield from backend.integers(gen, 0, n, count).tolist()
            return
        for _ in range(count // n):
            yield from backend.permutation(gen, n).tolist()
        if count % n:
            yield from backend.permutation(gen, n)[:count % n].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given `indices`, in a new random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = _as_generator(generator, "SubsetRandomSampler")

    def __iter__(self):
        for k in backend.permutation(_draw_from(self.generator), len(self.indices)).tolist():
            yield self.indices[k]

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Group the indices of `sampler` (any iterable of indices) into lists of `batch_size`; the
    last, shorter list is dropped when `drop_last`."""

    def __init__(self, sampler, batch_size, drop_last):
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


# ---------------------------------------------------------------- fetching
def _fetch(dataset, index, auto_collation, collate_fn):
    """One batch: the samples at `index` (a list of indices, or one index without batching), collated."""
    if auto_collation:
        getitems = getattr(dataset, "__getitems__", None)
        samples = getitems(index) if getitems is not None else [dataset[i] for i in index]
    else:
        samples = dataset[index]
    return collate_fn(samples)


class WorkerInfo:
    """What `get_worker_info()` returns inside a worker process: id, num_workers, seed, dataset
    (the worker's own copy)."""

    def __init__(self, id, num_workers, seed, dataset):  # noqa: A002 (PyTorch's attribute name)
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """The WorkerInfo of the current DataLoader worker process; None in the main process."""
    return _worker_info


class _ExceptionWrapper:
    """An exception raised in a worker, carried to the main process (type, message, traceback)."""

    def __init__(self, exc, where):
        exc_type = type(exc)
        try:  # a type that cannot be pickled (defined in a function, say) travels as RuntimeError
            pickle.loads(pickle.dumps(exc_type))
        except Exception:
            exc_type = RuntimeError
        self.exc_type = exc_type
        self.type_name = type(exc).__name__
        self.where = where
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def reraise(self):
        message = f"Caught {self.type_name} {self.where}.\nOriginal {self.text}"
        try:
            exc = self.exc_type(message)
        except Exception:  # an exception type whose constructor takes other arguments
            exc = RuntimeError(message)
        raise exc


def _describe(index):
    if isinstance(index, list) and len(index) > 8:
        return f"[{', '.join(map(str, index[:8]))}, ... ({len(index)} indices)]"
    return repr(index)


# ---------------------------------------------------------------- worker processes
_STATUS_INTERVAL = 1.0   # seconds between a worker's checks that its parent is alive (and the main's of workers)
_SHUTDOWN_WAIT = 5.0     # seconds workers get to exit on their own before they are terminated


def _worker_loop(dataset, index_queue, result_writer, write_lock, done_event, epoch_value, auto_collation,
                 collate_fn, seed, init_fn, worker_id, num_workers, parent_pid):
    """A worker process: fetch and collate the batches asked for on `index_queue` and send each,
    pickled here (an unpicklable batch becomes an error message), through `result_writer`.

    The worker writes in its own (only) thread, one whole message at a time under `write_lock`,
    so a message is never left half-written by a worker that exits or fails in its dataset code.
    """
    global _worker_info
    try:
        backend.manual_seed(seed)  # Python's random, NumPy's global generator and the library's
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        if init_fn is not None:
            try:
                init_fn(worker_id)
            except Exception as exc:
                init_error = _ExceptionWrapper(exc, f"{where} (in worker_init_fn)")
        while True:
            try:
                task = index_queue.get(timeout=_STATUS_INTERVAL)
            except queue.Empty:
                if done_event.is_set() or os.getppid() != parent_pid:
                    break
                continue
            if task is None or done_event.is_set():
                break
            epoch, batch_number, index = task
            if epoch != epoch_value.value:
                continue  # a batch of an epoch the main process has left (persistent workers)
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = _fetch(dataset, index, auto_collation, collate_fn)
                except Exception as exc:
                    data = _ExceptionWrapper(exc, f"{where} while loading batch {batch_number} "
                                                  f"(dataset indices {_describe(index)})")
            try:
                payload = pickle.dumps((epoch, batch_number, data), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                error = _ExceptionWrapper(exc, f"{where}: batch {batch_number} cannot be sent to the main process")
                payload = pickle.dumps((epoch, batch_number, error), protocol=pickle.HIGHEST_PROTOCOL)
            with write_lock:
                result_writer.send_bytes(payload)
    except KeyboardInterrupt:
        pass  # the main process handles Ctrl-C
    except OSError:
        pass  # the main process closed its end of the pipe: it wants no more batches
    finally:
        result_writer.close()


def _read_results(reader, results):
    """The main process's reader thread: move each message from the workers' pipe to `results`
    as soon as it arrives, so that workers never wait for the consumer (up to prefetch_factor
    batches each); ends when every worker has closed its end of the pipe."""
    while True:
        try:
            results.put(reader.recv_bytes())
        except (EOFError, OSError):
            return


class _WorkerPool:
    """The worker processes of one iterator, the queues that hand them batches of indices and
    the pipe their batches come back through, read by a thread into `results`; `shutdown()`
    stops them (at the end of an epoch, on errors, and by a finalizer when the iterator is
    collected)."""

    def __init__(self, loader, base_seed):
        ctx = loader._context()
        self.n = loader.num_workers
        self.done_event = ctx.Event()
        self.epoch_value = ctx.Value("q", 0, lock=False)
        reader, writer = ctx.Pipe(duplex=False)
        write_lock = self._write_lock = ctx.Lock()  # kept: a spawned worker opens it after start() returns
        self.index_queues, self.workers = [], []
        self.closed = False
        self.results = queue.Queue()
        self._reader = reader
        self._reader_thread = None
        try:
            for worker_id in range(self.n):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()
                self.index_queues.append(index_queue)
                worker = ctx.Process(
                    target=_worker_loop, name=f"tinygrad_cnn-DataLoader-worker-{worker_id}", daemon=True,
                    args=(loader.dataset, index_queue, writer, write_lock, self.done_event, self.epoch_value,
                          loader._auto_collation, loader.collate_fn, base_seed + worker_id, loader.worker_init_fn,
                          worker_id, self.n, os.getpid()))
                worker.start()  # with 'spawn', pickling the dataset or a function can fail here
                self.workers.append(worker)
        except BaseException:
            self.shutdown()
            raise
        finally:
            writer.close()  # only the workers write: the reader sees the end when all of them have exited
        self._reader_thread = threading.Thread(target=_read_results, args=(reader, self.results), daemon=True,
                                               name="tinygrad_cnn-DataLoader-results")
        self._reader_thread.start()

    def shutdown(self, wait=_SHUTDOWN_WAIT):
        """Stop the workers: each gets `wait` seconds (in all) to finish its batch and exit on its
        own (the reader thread keeps taking what they send), then is terminated."""
        if self.closed:
            return
        self.closed = True
        self.done_event.set()
        for q in self.index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + wait
        for worker in self.workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=_SHUTDOWN_WAIT)
        for q in self.index_queues:
            q.close()
        if self._reader_thread is not None:
            self._reader_thread.join(timeout=_SHUTDOWN_WAIT)  # all write ends are closed: it sees the end
        self._reader.close()


class _SingleProcessIter:
    """Batches fetched in the calling process (num_workers=0)."""

    def __init__(self, loader):
        self._dataset, self._auto_collation = loader.dataset, loader._auto_collation
        self._collate_fn, self._index_sampler = loader.collate_fn, loader._index_sampler
        self._base_seed = backend.derive_seed(_draw_from(loader.generator))  # drawn as with workers: same orders
        self._sampler_iter = iter(self._index_sampler)

    def __iter__(self):
        return self

    def __next__(self):
        index = next(self._sampler_iter)
        return _fetch(self._dataset, index, self._auto_collation, self._collate_fn)

    def __len__(self):
        return len(self._index_sampler)


class _MultiProcessIter:
    """Batches fetched by worker processes: batch k goes to worker k mod num_workers, at most
    prefetch_factor × num_workers batches are asked for ahead, and batches are handed out in
    sampler order (or as they arrive, with in_order=False)."""

    def __init__(self, loader):
        self._base_seed = backend.derive_seed(_draw_from(loader.generator))
        self._pool = _WorkerPool(loader, self._base_seed)
        self._finalizer = weakref.finalize(self, self._pool.shutdown)
        self._persistent = loader.persistent_workers
        self._epoch = 0
        self._reset(loader, first=True)

    def _reset(self, loader, first=False):
        """Start an epoch: a fresh pass of the sampler (the same workers when persistent)."""
        if not first:
            self._epoch += 1
            self._pool.epoch_value.value = self._epoch  # workers skip what is left of the last epoch
            # The workers keep their seeds; a base seed is drawn all the same, so that `generator`
            # gives the shuffle orders of num_workers=0 and of workers that are not persistent.
            backend.derive_seed(_draw_from(loader.generator))
        self._index_sampler = loader._index_sampler
        self._sampler_iter = iter(self._index_sampler)
        self._timeout, self._in_order = loader.timeout, loader.in_order
        self._next_worker = itertools.cycle(range(self._pool.n))
        self._sent = 0            # batches asked for
        self._yielded = 0         # batches handed out
        self._expected = 0        # next batch number to hand out (in order)
        self._ready = {}          # batch number -> data that arrived early
        self._exhausted = False   # the sampler has no more batches
        for _ in range(loader.prefetch_factor * self._pool.n):
            self._ask_for_next()

    def _ask_for_next(self):
        if self._exhausted:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            self._exhausted = True
            return
        self._pool.index_queues[next(self._next_worker)].put((self._epoch, self._sent, index))
        self._sent += 1

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._index_sampler)

    def __next__(self):
        if self._pool.closed:
            raise StopIteration
        if self._yielded == self._sent:  # nothing asked for yet (prefetch_factor=0)
            self._ask_for_next()
        if self._exhausted and self._yielded == self._sent:
            if not self._persistent:
                self._shutdown()
            raise StopIteration
        if self._in_order:
            while self._expected not in self._ready:
                self._store(self._receive())
            data = self._ready.pop(self._expected)
            self._expected += 1
        else:
            while not self._ready:
                self._store(self._receive())
            data = self._ready.pop(next(iter(self._ready)))  # the batch that arrived first
        self._yielded += 1
        self._ask_for_next()
        if isinstance(data, _ExceptionWrapper):  # the workers go on: a caller that catches it
            data.reraise()                       # gets the epoch's next batches, as PyTorch's
        return data

    def _store(self, result):
        epoch, number, data = result
        if epoch == self._epoch:  # else a batch of an epoch left early (persistent workers): dropped
            self._ready[number] = data

    def _receive(self):
        """The next (epoch, batch number, data) from any worker; RuntimeError after `timeout`
        seconds without one (timeout > 0), or when a worker has died."""
        start = time.monotonic()
        while True:
            wait = _STATUS_INTERVAL
            if self._timeout > 0:
                wait = min(wait, max(0.0, self._timeout - (time.monotonic() - start)))
            try:
                return pickle.loads(self._pool.results.get(timeout=wait))
            except queue.Empty:
                pass
            dead = [w for w in self._pool.workers if not w.is_alive()]
            if dead:
                self._pool.shutdown(wait=0.2)
                codes = ", ".join(f"{w.pid} (exit code {w.exitcode})" for w in dead)
                raise RuntimeError(f"DataLoader worker(s) {codes} exited unexpectedly")
            if self._timeout > 0 and time.monotonic() - start >= self._timeout:
                self._pool.shutdown(wait=0.2)  # a worker is stuck: no point in waiting for it
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _shutdown(self):
        self._finalizer()


class DataLoader:
    """Iterate over a map-style `dataset` in batches, as torch.utils.data.DataLoader.

    batch_size: samples per batch (a positive int; None: no batching, each sample converted by
    default_convert). shuffle: a new random order each epoch (RandomSampler). sampler /
    batch_sampler: custom index orders (mutually exclusive with shuffle; batch_sampler also with
    batch_size, sampler and drop_last). collate_fn: merges a list of samples (default_collate:
    Tensors on the CPU). drop_last: drop the last, shorter batch.
    num_workers: worker processes ('fork' where the platform has it, else 'spawn'; or
    `multiprocessing_context`) that fetch and collate whole batches; the batches arrive in the
    order of num_workers=0. Each worker is seeded with base_seed + worker_id (Python's random,
    NumPy's global generator and the library's, via tc.manual_seed), base_seed drawn from
    `generator` for each epoch's iterator, then calls worker_init_fn(worker_id).
    prefetch_factor (default 2 with workers): batches asked for ahead per worker.
    persistent_workers: keep the workers from one epoch to the next (they end with the loader).
    timeout: seconds to wait for a batch from the workers before RuntimeError (0: no limit).
    pin_memory, pin_memory_device: accepted, no effect (see the module's docstring).
    generator: None, an int seed or a numpy Generator (the shuffle order and the base seed).
    in_order=False: hand out batches as the workers finish them.
    A worker's exception is raised again in the main process with its type, naming the worker,
    the batch and its dataset indices, and the worker's traceback. Workers stop at the end of
    each epoch (unless persistent), when a loop breaks early and its iterator is dropped, and
    when the loader is garbage-collected.
    """

    _frozen_after_init = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must be a map-style dataset (with __getitem__, and __len__ unless "
                            f"a sampler is given), got {type(dataset).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral):
            raise TypeError(f"DataLoader: num_workers must be an int, got {num_workers!r}")
        if num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be non-negative; use num_workers=0 to disable "
                             f"multiprocessing (got num_workers={num_workers})")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got timeout={timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing: let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError(f"DataLoader: prefetch_factor option should be non-negative, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got {type(worker_init_fn).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")
        self.generator = _as_generator(generator, "DataLoader")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=self.generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = bool(in_order)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.persistent_workers = bool(persistent_workers)
        self._iterator = None
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in self._frozen_after_init:
            raise ValueError(f"DataLoader: {name} attribute should not be set after DataLoader is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self):
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("DataLoader: multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"DataLoader: multiprocessing_context option should specify a valid start method "
                                     f"in {methods!r}, but got multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            elif not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"DataLoader: multiprocessing_context option must be a valid context object or a "
                                f"string specifying the start method, got {context!r}")
        self._multiprocessing_context = context

    def _context(self):
        if self._multiprocessing_context is not None:
            return self._multiprocessing_context
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else "spawn")

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        return len(self._index_sampler)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._pool.closed:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset(self)
        return self._iterator

    def __repr__(self):
        size = f"{len(self.dataset)} samples" if hasattr(self.dataset, "__len__") else type(self.dataset).__name__
        return (f"DataLoader({size}, batch_size={self.batch_size}, "
                f"sampler={type(self.sampler).__name__}, num_workers={self.num_workers})")
