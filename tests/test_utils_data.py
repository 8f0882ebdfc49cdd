"""tinygrad_cnn.utils.data against torch.utils.data: the same dataset code through both loaders
gives the same batches in the same order (shuffle=False, fixed samplers and batch samplers),
default_collate builds the same structure with the same dtypes, random_split the same sizes,
and bad arguments raise the same exception types. Then what torch cannot check for us: shuffling
with our generators, worker processes (the batches of num_workers=0, seeds, worker_init_fn,
errors, timeouts, no process left behind) and the built-in datasets' `transform=`.

Every test runs under a time limit (SIGALRM), and every worker loader has `timeout=`, so a hang
fails instead of blocking the suite."""
import collections
import gc
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import tinygrad_cnn as tc
from tinygrad_cnn.data import DataLoader as BatchLoader
from tinygrad_cnn.data import ImageDataset, Shapes
from tinygrad_cnn.utils import transforms as P
from tinygrad_cnn.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler,
                                     SequentialSampler, Subset, SubsetRandomSampler, TensorDataset, default_collate,
                                     default_convert, get_worker_info, random_split)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_SECONDS = 60     # any test: fails after this long
LOADER_TIMEOUT = 20   # any worker loader: RuntimeError when a batch takes longer
WORKER = "tinygrad_cnn-DataLoader-worker"


def workers_alive():
    """The loaders' worker processes and result-reader threads still running."""
    threads = [t for t in threading.enumerate() if t.name == "tinygrad_cnn-DataLoader-results"]
    return [p for p in multiprocessing.active_children() if p.name.startswith(WORKER)] + threads


@pytest.fixture(autouse=True)
def time_limit_and_no_worker_left():
    def expire(signum, frame):
        raise TimeoutError(f"test ran longer than {TEST_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    gc.collect()
    assert workers_alive() == [], "a DataLoader worker outlived its test"


# ------------------------------------------------------------------ helpers
def plain(obj):
    """A batch of ours or torch's as comparable plain Python: tensors -> ("tensor", dtype, shape, values)."""
    if isinstance(obj, tc.Tensor):
        return ("tensor", str(obj.dtype), tuple(obj.shape), obj.numpy().tolist())
    if isinstance(obj, torch.Tensor):
        return ("tensor", str(obj.dtype).replace("torch.", ""), tuple(obj.shape), obj.numpy().tolist())
    if isinstance(obj, dict):
        return ("dict", {k: plain(v) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__,) + tuple(plain(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [plain(v) for v in obj])
    return obj


def assert_same_batches(ours, theirs):
    ours, theirs = list(ours), list(theirs)
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert plain(a) == plain(b), f"batch {k} differs"


Point = collections.namedtuple("Point", ["x", "y"])


class Samples:
    """Plain map-style dataset (no base class) returning every kind of value default_collate knows."""

    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"image": np.full((2, 3), i, dtype=np.float32), "label": i, "weight": i / 4, "name": f"s{i}",
                "pair": (np.int64(i), np.float32(i) / 2), "flag": i % 2 == 0, "point": Point(i, -i),
                "nested": [np.arange(2) + i, {"k": np.uint8(i)}]}


class Indexed:
    """Item i: (C×H×W float32 image filled with i, i) - what the workers' batches are checked with."""

    def __init__(self, n=23, fail_at=None, sleep_at=None, exit_at=None):
        self.n, self.fail_at, self.sleep_at, self.exit_at = n, fail_at, sleep_at, exit_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"bad index {i}")
        if i == self.sleep_at:
            time.sleep(30)
        if i == self.exit_at:
            os._exit(3)
        return np.full((1, 2, 2), i, dtype=np.float32), i


class WhoServes:
    """Item i: (i, pid, worker id, worker seed, value set by worker_init_fn, three random draws)."""

    def __len__(self):
        return 16

    def __getitem__(self, i):
        info = get_worker_info()
        return (i, os.getpid(), -1 if info is None else info.id, -1 if info is None else info.seed % 2**31,
                _INIT_MARK.get("id", -1), random.random(), float(np.random.rand()), float(tc.rand(1).item()))


_INIT_MARK = {}


def mark_init(worker_id):
    _INIT_MARK["id"] = 100 + worker_id


def failing_init(worker_id):
    raise KeyError(f"init of worker {worker_id} failed")


# ------------------------------------------------------------------ same batches as torch
@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (4, False), (4, True), (10, False), (32, False)])
def test_same_batches_as_torch_unshuffled(batch_size, drop_last):
    ds = Samples(10)
    ours = DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert_same_batches(ours, theirs)


def test_tensor_dataset_matches_torch():
    x = np.random.default_rng(0).random((9, 3, 4, 4)).astype(np.float32)
    y = np.arange(9) % 4
    ours = DataLoader(TensorDataset(tc.tensor(x), tc.tensor(y)), batch_size=4)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)
    assert_same_batches(ours, theirs)
    ds = TensorDataset(tc.tensor(x), y)  # NumPy arrays are accepted too
    assert len(ds) == 9 and isinstance(ds[2], tuple)
    np.testing.assert_array_equal(ds[2][0].numpy(), x[2])
    assert ds[2][1] == y[2]


def test_fixed_sampler_and_batch_sampler_match_torch():
    ds = Samples(10)
    order = [7, 2, 9, 0, 0, 5, 3]
    assert_same_batches(DataLoader(ds, batch_size=3, sampler=order), tud.DataLoader(ds, batch_size=3, sampler=order))
    batches = [[1, 2], [9], [4, 4, 0, 8]]
    assert_same_batches(DataLoader(ds, batch_sampler=batches), tud.DataLoader(ds, batch_sampler=batches))
    ours = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 3, drop_last=True))
    theirs = tud.DataLoader(ds, batch_sampler=tud.BatchSampler(tud.SequentialSampler(ds), 3, drop_last=True))
    assert len(ours) == len(theirs) == 3
    assert_same_batches(ours, theirs)


def test_no_batching_and_custom_collate_match_torch():
    ds = Samples(5)
    assert_same_batches(DataLoader(ds, batch_size=None), tud.DataLoader(ds, batch_size=None))
    assert len(DataLoader(ds, batch_size=None)) == 5

    def names(samples):
        return [s["name"] for s in samples]

    assert list(DataLoader(ds, batch_size=2, collate_fn=names)) == list(tud.DataLoader(ds, batch_size=2, collate_fn=names))


def test_default_collate_structure_matches_torch():
    samples = [Samples()[i] for i in range(3)]
    assert plain(default_collate(samples)) == plain(tud.default_collate(samples))
    mixed = [(1, 2.5, True, "a", b"b"), (2, 0.5, False, "c", b"d")]
    assert plain(default_collate(mixed)) == plain(tud.default_collate(mixed))
    assert plain(default_collate([1, 2.5])) == plain(tud.default_collate([1, 2.5]))  # ints and floats: float32
    tensors = [tc.tensor([1.0, 2.0]), tc.tensor([3.0, 4.0])]
    assert plain(default_collate(tensors)) == plain(tud.default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])]))
    ordered = [collections.OrderedDict(a=1), collections.OrderedDict(a=2)]
    assert type(default_collate(ordered)) is collections.OrderedDict
    assert plain(default_convert(samples[0])) == plain(tud.default_convert(samples[0]))


@pytest.mark.parametrize("batch,error,match", [
    ([np.zeros(3), np.zeros(3), np.zeros(4)], RuntimeError, "at entry 0 and .* at entry 2"),
    ([(np.zeros(2), 1), (np.zeros(5), 2)], RuntimeError, r"at entry 1 \(in element \[0\]"),
    ([[1, 2], [1]], RuntimeError, "equal size"),
    ([object()], TypeError, "found"),
    ([np.array(["a", "b"])], TypeError, "found <U1"),
])
def test_default_collate_errors_match_torch(batch, error, match):
    with pytest.raises(error, match=match):
        default_collate(batch)
    with pytest.raises(error):
        tud.default_collate(batch)


def test_collate_error_names_the_entry_through_the_loader():
    class Ragged:
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return np.zeros(3 if i != 4 else 2), i

    with pytest.raises(RuntimeError, match=r"\(3,\) at entry 0 and \(2,\) at entry 1"):
        list(DataLoader(Ragged(), batch_size=3))


@pytest.mark.parametrize("kwargs", [
    dict(batch_size=2.7), dict(batch_size=0), dict(batch_size=True), dict(batch_size=-1),
    dict(drop_last="yes"), dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
    dict(persistent_workers=True), dict(shuffle=True, sampler=[0, 1]), dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], shuffle=True), dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_size=None, drop_last=True), dict(multiprocessing_context="spawn"),
])
def test_bad_arguments_raise_torchs_errors(kwargs):
    ds = Samples(4)
    with pytest.raises(ValueError) as theirs:
        tud.DataLoader(ds, **kwargs)
    with pytest.raises(ValueError) as ours:
        DataLoader(ds, **kwargs)
    for name in kwargs:  # our message names the argument
        assert name.split("_")[0] in str(ours.value), (str(ours.value), str(theirs.value))


def test_more_errors_of_torchs_types():
    with pytest.raises(AssertionError):
        tud.TensorDataset(torch.zeros(3), torch.zeros(4))
    with pytest.raises(AssertionError, match=r"\[3, 4\]"):
        TensorDataset(tc.zeros(3), tc.zeros(4))
    with pytest.raises(ValueError, match="multiprocessing_context"):
        DataLoader(Samples(4), num_workers=1, multiprocessing_context="no-such-method")
    with pytest.raises(TypeError, match="generator"):
        DataLoader(Samples(4), shuffle=True, generator="seed")
    loader, theirs = DataLoader(Samples(4)), tud.DataLoader(Samples(4))
    for attribute in ("batch_size", "sampler", "drop_last"):
        with pytest.raises(ValueError, match=attribute):
            setattr(loader, attribute, 2)
        with pytest.raises(ValueError):
            setattr(theirs, attribute, 2)
    with pytest.raises(TypeError, match="map-style"):
        DataLoader(42)
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with pytest.raises(ValueError, match="replacement|boolean"):
        BatchSampler([0, 1], 1, drop_last=1)


# ------------------------------------------------------------------ random_split
@pytest.mark.parametrize("n,lengths", [
    (11, [0.5, 0.3, 0.2]), (10, [0.5, 0.3, 0.2]), (7, [0.1] * 10), (5, [1.0]), (3, [0.0, 1.0]),
    (10, [3, 7]), (1, [1]), (0, [0, 0]), (9, [0.34, 0.33, 0.33]),
])
@pytest.mark.filterwarnings("ignore:.*Length of split")
def test_random_split_sizes_match_torch(n, lengths):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = random_split(range(n), lengths, generator=0)
    theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    empty = [i for i, s in enumerate(theirs) if len(s) == 0 and isinstance(lengths[0], float)]
    assert [str(w.message) for w in caught] == [f"random_split: length of split at index {i} is 0; this might "
                                                "result in an empty dataset" for i in empty]  # PyTorch's warnings
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(n))  # a partition
    assert all(isinstance(s, Subset) for s in ours)


@pytest.mark.parametrize("n,lengths", [(4, [2, 3]), (4, [0.5, 0.6]), (4, [-0.5, 1.5]), (4, [-1, 5])])
def test_random_split_errors_match_torch(n, lengths):
    if min(lengths) >= -0.5:  # PyTorch lets a negative count through (and returns odd subsets); we refuse it
        with pytest.raises(ValueError):
            tud.random_split(range(n), lengths)
    with pytest.raises(ValueError, match="length|fraction"):
        random_split(range(n), lengths)


def test_random_split_generators():
    ds = Shapes(30, size=8)
    a = [s.indices for s in random_split(ds, [10, 20], generator=3)]
    b = [s.indices for s in random_split(ds, [10, 20], generator=np.random.default_rng(3))]
    np.testing.assert_array_equal(a[0], b[0])  # an int seeds a NumPy Generator
    assert not np.array_equal(a[0], random_split(ds, [10, 20], generator=4)[0].indices)
    tc.manual_seed(7)
    c = random_split(ds, [10, 20])[0].indices
    tc.manual_seed(7)
    np.testing.assert_array_equal(random_split(ds, [10, 20])[0].indices, c)  # None: the library's generator
    first = random_split(ds, [10, 20], generator=3)[1]
    image, label = first[0]
    np.testing.assert_array_equal(image, ds[int(first.indices[0])][0])
    assert first.classes == ds.classes


# ------------------------------------------------------------------ samplers, shuffling
def test_samplers():
    ds = Samples(7)
    assert list(SequentialSampler(ds)) == list(range(7))
    sampler = RandomSampler(ds, generator=0)
    epochs = [list(sampler) for _ in range(3)]
    assert all(sorted(e) == list(range(7)) for e in epochs) and epochs[0] != epochs[1]
    assert [list(s) for s in [RandomSampler(ds, generator=0)] * 3] == epochs  # an int seed repeats the epochs
    more = list(RandomSampler(ds, num_samples=17, generator=1))
    assert len(more) == 17 and all(more.count(i) >= 2 for i in range(7))  # two permutations and a part
    drawn = list(RandomSampler(ds, replacement=True, num_samples=50, generator=2))
    assert len(drawn) == 50 and set(drawn) <= set(range(7)) and len(set(drawn)) < 50 / 2
    assert sorted(SubsetRandomSampler([3, 5, 6], generator=0)) == [3, 5, 6]
    for drop_last in (False, True):
        for size in (1, 3, 7, 8):
            assert list(BatchSampler(range(7), size, drop_last)) == list(tud.BatchSampler(range(7), size, drop_last))
            assert len(BatchSampler(range(7), size, drop_last)) == len(tud.BatchSampler(range(7), size, drop_last))
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(ds, replacement=1)


def labels(loader):
    return [int(v) for batch in loader for v in batch[1].numpy()]


def test_shuffle_covers_everything_reshuffles_and_repeats():
    ds = Indexed(23)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=1)
    epochs = [labels(loader) for _ in range(3)]
    assert all(sorted(e) == list(range(23)) for e in epochs)
    assert epochs[0] != epochs[1] != epochs[2] and epochs[0] != list(range(23))
    again = DataLoader(ds, batch_size=5, shuffle=True, generator=1)
    assert [labels(again) for _ in range(3)] == epochs
    tc.manual_seed(0)
    unseeded = labels(DataLoader(ds, batch_size=5, shuffle=True))
    tc.manual_seed(0)
    assert labels(DataLoader(ds, batch_size=5, shuffle=True)) == unseeded


# ------------------------------------------------------------------ workers
@pytest.mark.parametrize("shuffle", [False, True])
def test_two_workers_give_the_batches_of_none(shuffle):
    ds = Indexed(23)
    kwargs = dict(batch_size=3, shuffle=shuffle, generator=5 if shuffle else None)
    serial = [plain(b) for b in DataLoader(ds, **kwargs)]
    for prefetch_factor in (0, 1, 2, 4):
        loader = DataLoader(ds, num_workers=2, prefetch_factor=prefetch_factor, timeout=LOADER_TIMEOUT, **kwargs)
        assert len(loader) == len(serial) == 8
        assert [plain(b) for b in loader] == serial
    unordered = DataLoader(ds, num_workers=2, in_order=False, timeout=LOADER_TIMEOUT, pin_memory=True, **kwargs)
    assert sorted(map(repr, (plain(b) for b in unordered))) == sorted(map(repr, serial))


def test_workers_are_processes_seeded_and_initialized():
    def run(generator):
        loader = DataLoader(WhoServes(), batch_size=2, num_workers=2, worker_init_fn=mark_init, generator=generator,
                            timeout=LOADER_TIMEOUT)
        return [tuple(np.asarray(column).tolist() for column in batch) for batch in loader]

    batches = run(generator=11)
    for k, (index, pid, worker, seed, mark, *draws) in enumerate(batches):
        assert index == [2 * k, 2 * k + 1]
        assert worker == [k % 2] * 2                       # batch k is fetched by worker k mod 2
        assert mark == [100 + k % 2] * 2                   # worker_init_fn(worker_id) ran in that worker
        assert pid[0] == pid[1] != os.getpid()
    pids = {b[1][0] for b in batches}
    seeds = {b[2][0]: b[3][0] for b in batches}
    assert len(pids) == 2 and seeds[1] == (seeds[0] + 1) % 2**31  # base_seed + worker_id
    draws_0, draws_1 = batches[0][5:], batches[1][5:]
    assert all(a != b for a, b in zip(draws_0, draws_1))  # random, np.random and the library's differ per worker
    assert [b[3:] for b in run(generator=11)] == [b[3:] for b in batches]  # same generator: same seeds and draws
    assert [b[3] for b in run(generator=12)] != [b[3] for b in batches]


def test_a_workers_exception_names_worker_batch_and_message():
    loader = DataLoader(Indexed(20, fail_at=7), batch_size=2, num_workers=2, timeout=LOADER_TIMEOUT)
    seen = []
    with pytest.raises(ValueError, match=r"(?s)worker process 1 while loading batch 3 \(dataset indices \[6, 7\]\).*"
                                         r"Traceback.*bad index 7"):
        for _, y in loader:
            seen.append(y.numpy().tolist())
    assert seen == [[0, 1], [2, 3], [4, 5]]  # the batches before the failing one arrive first
    for workers in (0, 2):  # a caller that catches the error gets the rest of the epoch, as with torch's
        caught, ours = [], DataLoader(Indexed(10, fail_at=4), batch_size=2, num_workers=workers,
                                      timeout=LOADER_TIMEOUT if workers else 0)
        it = iter(ours)
        while True:
            try:
                caught.append(next(it)[1].numpy().tolist())
            except ValueError:
                caught.append("error")
            except StopIteration:
                break
        assert caught == [[0, 1], [2, 3], "error", [6, 7], [8, 9]], workers
    with pytest.raises(KeyError, match="init of worker"):
        list(DataLoader(Indexed(4), batch_size=2, num_workers=2, worker_init_fn=failing_init, timeout=LOADER_TIMEOUT))


def test_timeout_and_dead_workers_raise():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Indexed(8, sleep_at=2), batch_size=2, num_workers=2, timeout=0.5))
    assert time.monotonic() - start < 10  # the sleeping worker was terminated, not waited for
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Indexed(8, exit_at=3), batch_size=2, num_workers=2, timeout=LOADER_TIMEOUT))


def test_no_worker_left_after_an_epoch_a_break_or_a_dropped_iterator():
    loader = DataLoader(Indexed(40), batch_size=2, num_workers=2, timeout=LOADER_TIMEOUT)
    assert len(labels(loader)) == 40 and workers_alive() == []
    for i, _ in enumerate(loader):
        if i == 2:
            assert len(workers_alive()) == 3  # two processes and the thread reading their batches
            break
    assert workers_alive() == []  # the loop let go of its iterator: workers stopped at once
    it = iter(loader)
    next(it)
    del it
    gc.collect()
    assert workers_alive() == []


BREAK_ON_LARGE_BATCHES = """
import numpy as np
from tinygrad_cnn.utils.data import DataLoader

class Large:
    def __len__(self):
        return 4096

    def __getitem__(self, i):
        return np.full((3, 32, 32), i, dtype=np.float32), i

for x, y in DataLoader(Large(), batch_size=128, num_workers=2, timeout=20):  # 1.5 MB a batch, more than a pipe holds
    break
print("done")
"""


def test_break_with_large_batches_in_flight_exits_promptly():
    """Workers stopped while their batches fill the pipe: once a hang (a batch left half-sent)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", BREAK_ON_LARGE_BATCHES], env=env, capture_output=True,
                              text=True, timeout=45)
        assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-2000:]


def test_persistent_workers_live_across_epochs_and_end_with_the_loader():
    loader = DataLoader(Indexed(12), batch_size=3, shuffle=True, generator=2, num_workers=2, persistent_workers=True,
                        timeout=LOADER_TIMEOUT)
    reference = DataLoader(Indexed(12), batch_size=3, shuffle=True, generator=2)
    assert labels(loader) == labels(reference)
    pids = {p.pid for p in multiprocessing.active_children() if p.name.startswith(WORKER)}
    assert len(pids) == 2
    for (_, y), (_, y_ref) in zip(loader, reference):  # an epoch left early: its batches in flight are dropped
        assert y.numpy().tolist() == y_ref.numpy().tolist()
        break
    for _ in range(2):  # the shuffle orders of num_workers=0, epoch after epoch
        assert labels(loader) == labels(reference)
    assert {p.pid for p in multiprocessing.active_children() if p.name.startswith(WORKER)} == pids  # the same ones
    del loader
    gc.collect()
    assert workers_alive() == []


def test_spawn_start_method():
    ds = TensorDataset(tc.arange(10), tc.arange(10) * 2)
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn", timeout=LOADER_TIMEOUT)
    assert_same_batches(loader, DataLoader(ds, batch_size=4))


# ------------------------------------------------------------------ datasets
def test_builtin_dataset_with_per_sample_transform():
    plain_ds = Shapes(20, seed=1, size=16)
    seen = []

    def target_transform(label):
        seen.append(label)
        return label + 100

    ds = Shapes(20, seed=1, size=16, transform=P.ToTensor(), target_transform=target_transform)
    image, label = ds[3]
    assert isinstance(image, tc.Tensor) and image.shape == (3, 16, 16) and image.dtype == np.float32
    np.testing.assert_array_equal(image.numpy(), plain_ds[3][0])  # ToTensor of H×W×C uint8 == the batch path's image
    assert label == plain_ds.targets[3] + 100 and seen == [plain_ds.targets[3]]
    received = []
    Shapes(4, size=8, transform=lambda img: received.append(img) or 0)[1]
    assert received[0].dtype == np.uint8 and received[0].shape == (8, 8, 3)  # the PIL image's stand-in
    assert not received[0].flags.writeable  # a view of ds.data that no transform can change
    gray = ImageDataset(np.arange(2 * 1 * 3 * 3, dtype=np.uint8).reshape(2, 1, 3, 3), [0, 1], ["a", "b"],
                        transform=lambda img: img)
    np.testing.assert_array_equal(gray[1][0], np.arange(9, 18).reshape(3, 3))  # one channel: H×W, as mode "L"
    assert "transform=" in repr(ds)
    with pytest.raises(TypeError, match="transform"):
        Shapes(4, size=8, transform="ToTensor")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_per_sample_loader_over_builtin_datasets(num_workers):
    ds = Shapes(30, seed=0, size=16)
    batch_path = list(BatchLoader(ds, batch_size=8))
    kwargs = dict(num_workers=num_workers, timeout=LOADER_TIMEOUT) if num_workers else {}
    for (x, y), (xb, yb) in zip(DataLoader(ds, batch_size=8, **kwargs), batch_path):
        assert x.dtype == np.float32 and y.dtype == np.int64 and x.device == "cpu"
        np.testing.assert_array_equal(x.numpy(), xb.numpy())
        np.testing.assert_array_equal(y.numpy(), yb.numpy())
    with_transform = Shapes(30, seed=0, size=16, transform=P.Compose([P.ToTensor(), P.Normalize(0.5, 0.25)]))
    for (x, _), (xb, _) in zip(DataLoader(with_transform, batch_size=8, **kwargs), batch_path):
        np.testing.assert_allclose(x.numpy(), (xb.numpy() - 0.5) / 0.25, rtol=1e-6, atol=1e-6)


def test_batch_loader_keeps_its_fast_path_and_honours_transforms():
    ds = Shapes(24, seed=2, size=8)
    calls = []

    def transform(img):
        calls.append(1)
        return P.ToTensor()(img)

    loader = BatchLoader(ds, batch_size=8)
    fast = [x.numpy() for x, _ in loader]
    assert type(loader._source).__name__ == "_ArraySource"  # no per-sample transform: gathered from ds.data
    ds.transform = transform  # set after the loader was built, as torchvision users do
    item_by_item = [x.numpy() for x, _ in loader]
    assert len(calls) == 24 and type(loader._source).__name__ == "_ItemSource"
    for a, b in zip(fast, item_by_item):
        np.testing.assert_array_equal(a, b)
    ds.transform = None
    calls.clear()
    assert len([x for x, _ in loader]) == 3 and calls == []


def test_dataset_base_concat_and_subset():
    class Squares(Dataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return i * i

    both = Squares(3) + Squares(2)
    assert isinstance(both, ConcatDataset) and len(both) == 5
    assert [both[i] for i in range(5)] == [0, 1, 4, 0, 1] and both[-1] == 1
    with pytest.raises(IndexError):
        both[5]
    shapes = Shapes(4, size=8) + Shapes(3, size=8, seed=1)  # the built-in datasets are Datasets too
    assert len(shapes) == 7
    assert Dataset[int] is Dataset  # PyTorch's generic annotation
    sub = Subset(TensorDataset(tc.arange(10)), [9, 2, 4])
    assert [int(sub[i][0].item()) for i in range(3)] == [9, 2, 4]
    batch = sub[[0, 2]]  # a list index asks the parent for its list of indices, as in PyTorch
    np.testing.assert_array_equal(batch[0].numpy(), [9, 4])
    assert plain(list(DataLoader(sub, batch_size=2))) == plain(list(tud.DataLoader(
        tud.Subset(tud.TensorDataset(torch.arange(10)), [9, 2, 4]), batch_size=2)))
