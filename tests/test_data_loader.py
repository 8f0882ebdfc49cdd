"""DataLoader: coverage, reshuffling, seeding, drop_last, the dataset kinds it accepts, and the
background thread (used, deterministic, gone after a loop ends or breaks early); random_split."""
import gc
import math
import threading

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.data import DataLoader, Shapes, Subset, random_split
from tinygrad_cnn import backend
from tinygrad_cnn.data import transforms as T
from helpers import DEVICES

THREAD = "tinygrad_cnn-DataLoader"


def loader_threads():
    return [t for t in threading.enumerate() if t.name == THREAD and t.is_alive()]


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    yield
    gc.collect()
    assert loader_threads() == [], "a DataLoader thread outlived its loop"


def indexed_arrays(n=23):
    """Inputs whose pixels encode their index, targets equal to the index."""
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 1, 2, 2)).copy()
    return x, np.arange(n)


def epoch_indices(loader):
    ys = []
    for x, y in loader:
        assert isinstance(x, tc.Tensor) and isinstance(y, tc.Tensor)
        np.testing.assert_array_equal(x.numpy()[:, 0, 0, 0], y.numpy())  # inputs travel with their targets
        ys.append(y.numpy())
    return np.concatenate(ys) if ys else np.array([], dtype=np.int64)


@pytest.mark.parametrize("prefetch", [True, False])
@pytest.mark.parametrize("batch_size", [1, 5, 23, 40])
def test_every_index_once_per_epoch(prefetch, batch_size):
    loader = DataLoader(indexed_arrays(), batch_size=batch_size, shuffle=True, seed=0, prefetch=prefetch)
    assert len(loader) == math.ceil(23 / batch_size)
    for _ in range(2):
        order = epoch_indices(loader)
        assert sorted(order) == list(range(23))
    unshuffled = DataLoader(indexed_arrays(), batch_size=batch_size, prefetch=prefetch)
    np.testing.assert_array_equal(epoch_indices(unshuffled), np.arange(23))


def test_reshuffled_each_epoch_and_seeded():
    a = DataLoader(indexed_arrays(50), batch_size=8, shuffle=True, seed=1)
    b = DataLoader(indexed_arrays(50), batch_size=8, shuffle=True, seed=1)
    c = DataLoader(indexed_arrays(50), batch_size=8, shuffle=True, seed=2)
    a_epochs = [epoch_indices(a) for _ in range(3)]
    b_epochs = [epoch_indices(b) for _ in range(3)]
    for ea, eb in zip(a_epochs, b_epochs):
        np.testing.assert_array_equal(ea, eb)  # same seed, same order, epoch after epoch
    assert not np.array_equal(a_epochs[0], a_epochs[1]) and not np.array_equal(a_epochs[1], a_epochs[2])
    assert not np.array_equal(epoch_indices(c), a_epochs[0])
    assert not np.array_equal(a_epochs[0], np.arange(50))


def test_manual_seed_makes_unseeded_loader_repeat():
    loader = DataLoader(indexed_arrays(40), batch_size=7, shuffle=True)
    tc.manual_seed(5)
    first = [epoch_indices(loader) for _ in range(2)]
    tc.manual_seed(5)
    second = [epoch_indices(loader) for _ in range(2)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_state_dict_resumes_the_private_order_in_a_rebuilt_loader(tmp_path):
    straight = DataLoader(indexed_arrays(30), batch_size=4, shuffle=True, seed=3)
    expected = [epoch_indices(straight) for _ in range(4)]

    first = DataLoader(indexed_arrays(30), batch_size=4, shuffle=True, seed=3)
    got = [epoch_indices(first) for _ in range(2)]
    path = str(tmp_path / "loader.npz")
    tc.save(first.state_dict(), path)                  # the state goes through a checkpoint file
    rebuilt = DataLoader(indexed_arrays(30), batch_size=4, shuffle=True, seed=3)
    rebuilt.load_state_dict(tc.load(path))
    got += [epoch_indices(rebuilt) for _ in range(2)]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    fresh = DataLoader(indexed_arrays(30), batch_size=4, shuffle=True, seed=3)
    np.testing.assert_array_equal(epoch_indices(fresh), expected[0])  # without the state it starts over
    assert not np.array_equal(expected[0], expected[2])


def test_load_state_dict_refuses_a_mismatched_state():
    seeded = DataLoader(indexed_arrays(10), batch_size=4, shuffle=True, seed=3)
    unseeded = DataLoader(indexed_arrays(10), batch_size=4, shuffle=True)
    assert unseeded.state_dict() == {"generator": None}
    with pytest.raises(ValueError, match="private generator"):
        seeded.load_state_dict(unseeded.state_dict())
    with pytest.raises(ValueError, match="no private generator"):
        unseeded.load_state_dict(seeded.state_dict())
    with pytest.raises(ValueError, match="expected a dict"):
        seeded.load_state_dict({"rng": 1})


@pytest.mark.parametrize("n,batch_size", [(23, 5), (20, 5), (3, 5)])
def test_drop_last(n, batch_size):
    loader = DataLoader(indexed_arrays(n), batch_size=batch_size, shuffle=True, seed=0, drop_last=True)
    sizes = [len(y) for _, y in loader]
    assert len(loader) == n // batch_size == len(sizes)
    assert all(s == batch_size for s in sizes)
    keep = DataLoader(indexed_arrays(n), batch_size=batch_size, drop_last=False)
    assert [len(y) for _, y in keep] == [min(batch_size, n - i) for i in range(0, n, batch_size)]


def test_batches_from_image_dataset_match_items():
    """The fast path (gathering from ds.data) gives exactly the rows ds[i] gives."""
    ds = Shapes(30, seed=2, size=16)
    fast = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    generic = DataLoader(_ItemsOnly(ds), batch_size=8, shuffle=True, seed=3)
    labels = []
    for (xa, ya), (xb, yb) in zip(fast, generic):
        assert xa.dtype == np.float32 and xa.shape[1:] == (3, 16, 16) and xa.device == "cpu"
        assert ya.dtype == np.int64
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
        labels.append(ya.numpy())
    assert sorted(np.concatenate(labels)) == sorted(ds.targets)


class _ItemsOnly:
    """A dataset with only __len__/__getitem__ (the generic, item-by-item path)."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i]


def test_uint8_arrays_are_scaled_and_float64_cast():
    x8 = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2) * 10
    x, _ = next(iter(DataLoader((x8, np.array([1, 2])), batch_size=2)))
    np.testing.assert_array_equal(x.numpy(), x8.astype(np.float32) / np.float32(255))
    x64 = np.random.default_rng(0).random((4, 1, 3, 3))
    x, y = next(iter(DataLoader((x64, np.arange(4, dtype=np.int32)), batch_size=4)))
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x.numpy(), x64, rtol=1e-7)
    # Tensors are accepted in the pair as well
    x, y = next(iter(DataLoader((tc.tensor(x64), tc.tensor(np.arange(4))), batch_size=2)))
    assert x.shape == (2, 1, 3, 3)


def test_subset_uses_parent_arrays():
    ds = Shapes(40, seed=0, size=12)
    train, val = random_split(ds, [30, 10], seed=4)
    fast = DataLoader(val, batch_size=4)
    slow = DataLoader(_ItemsOnly(val), batch_size=4)
    for (xa, ya), (xb, yb) in zip(fast, slow):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    np.testing.assert_array_equal(epoch_targets(fast), ds.targets[val.indices])
    nested = Subset(val, [9, 0])
    np.testing.assert_array_equal(epoch_targets(DataLoader(nested, 2)), ds.targets[val.indices[[9, 0]]])


def epoch_targets(loader):
    return np.concatenate([y.numpy() for _, y in loader])


def test_transform_is_applied_per_batch_and_prefetch_is_deterministic():
    ds = Shapes(64, seed=1)
    pipeline = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.RandomRotation(10),
                          T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)])

    def run(prefetch):
        loader = DataLoader(ds, batch_size=16, shuffle=True, seed=7, transform=pipeline, prefetch=prefetch)
        return [x.numpy() for _ in range(2) for x, _ in loader]

    with_thread, without = run(True), run(False)
    assert len(with_thread) == 8
    for a, b in zip(with_thread, without):
        np.testing.assert_array_equal(a, b)  # augmentation does not depend on the thread
    assert not np.array_equal(with_thread[0], with_thread[4])  # a new epoch draws new augmentations
    # a plain function works as a transform too
    loader = DataLoader(ds, batch_size=16, transform=lambda x: x * 0 + 1)
    assert all(np.all(x.numpy() == 1) for x, _ in loader)


def test_batches_are_prepared_in_a_background_thread():
    made_in = []

    def record(x):
        made_in.append(threading.current_thread().name)
        return x

    loader = DataLoader(indexed_arrays(20), batch_size=4, transform=record, prefetch=True)
    alive_during = []
    for _ in loader:
        alive_during.append(len(loader_threads()))
    assert set(made_in) == {THREAD} and len(made_in) == 5
    assert alive_during[0] == 1
    made_in.clear()
    list(DataLoader(indexed_arrays(20), batch_size=4, transform=record, prefetch=False))
    assert set(made_in) == {threading.current_thread().name}


def test_breaking_early_stops_the_thread():
    loader = DataLoader(indexed_arrays(200), batch_size=2, prefetch=True, prefetch_batches=2)
    for i, _ in enumerate(loader):
        if i == 3:
            break
    assert loader_threads() == []  # stopped as soon as the loop let go of the epoch
    it = iter(loader)
    next(it)
    assert len(loader_threads()) == 1
    it.close()
    assert loader_threads() == []
    it = iter(loader)
    next(it)
    del it  # dropped without close(): finalized and stopped
    gc.collect()
    assert loader_threads() == []
    iter(loader)  # created but never advanced: no thread at all
    assert loader_threads() == []


def test_errors_in_the_thread_reach_the_consumer():
    def failing(x):
        raise RuntimeError("transform exploded")

    loader = DataLoader(indexed_arrays(10), batch_size=2, transform=failing)
    with pytest.raises(RuntimeError, match="transform exploded"):
        for _ in loader:
            pass
    assert loader_threads() == []


@pytest.mark.parametrize("device", DEVICES)
def test_batches_land_on_the_device(device):
    ds = Shapes(20, seed=0, size=16)
    pipeline = T.Compose([T.RandomCrop(16, padding=2), T.RandomHorizontalFlip(), T.Normalize(0.5, 0.25)])
    on_device = DataLoader(ds, batch_size=8, shuffle=True, seed=1, device=device)
    on_cpu = DataLoader(ds, batch_size=8, shuffle=True, seed=1)
    for (x, y), (xc, yc) in zip(on_device, on_cpu):
        assert x.device == backend.parse_device(device) and y.device == x.device
        assert backend.device_of(x.array) == x.device
        np.testing.assert_array_equal(backend.to_device(x.array, "cpu"), xc.numpy())
        np.testing.assert_array_equal(backend.to_device(y.array, "cpu"), yc.numpy())
    augmented = [x for x, _ in DataLoader(ds, batch_size=8, seed=1, transform=pipeline, device=device)]
    assert all(x.shape[1:] == (3, 16, 16) and x.dtype == np.float32 for x in augmented)


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(indexed_arrays(), batch_size=0)
    with pytest.raises(ValueError, match="targets"):
        DataLoader((np.zeros((3, 1, 2, 2)), np.zeros(4)), batch_size=1)
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(42, batch_size=1)


# ------------------------------------------------------------------ random_split
def test_random_split_partitions_and_repeats():
    ds = Shapes(50, seed=0, size=8)
    a, b, c = random_split(ds, [30, 15, 5], seed=3)
    assert (len(a), len(b), len(c)) == (30, 15, 5)
    together = np.concatenate([a.indices, b.indices, c.indices])
    assert sorted(together) == list(range(50))
    np.testing.assert_array_equal(random_split(ds, [30, 15, 5], seed=3)[1].indices, b.indices)
    assert not np.array_equal(random_split(ds, [30, 15, 5], seed=4)[1].indices, b.indices)
    image, label = b[2]
    np.testing.assert_array_equal(image, ds[int(b.indices[2])][0])
    assert label == ds.targets[b.indices[2]] and b.classes == ds.classes
    np.testing.assert_array_equal(b.targets, ds.targets[b.indices])
    np.testing.assert_array_equal(b.data, ds.data[b.indices])


def test_random_split_fractions_and_errors():
    ds = Shapes(11, seed=0, size=8)
    parts = random_split(ds, [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in parts] == [6, 3, 2]  # floors 5, 3, 2; the remainder goes to the first
    tc.manual_seed(1)
    x = random_split(ds, [0.5, 0.5])[0].indices
    tc.manual_seed(1)
    np.testing.assert_array_equal(random_split(ds, [0.5, 0.5])[0].indices, x)
    with pytest.raises(ValueError, match="sum"):
        random_split(ds, [5, 5])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])
