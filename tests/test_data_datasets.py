"""Datasets: the shared real files load exactly (checked against a parse written here), damaged
or missing files raise errors naming them, the archive route, Shapes' determinism."""
import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from tinygrad_cnn.data import CIFAR10, MNIST, FashionMNIST, Shapes, default_root

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))
CIFAR_ROOT = os.path.join(SHARED, "cifar10-subset")
CIFAR_DIR = os.path.join(CIFAR_ROOT, "cifar-10-batches-py")
MNIST_ROOT = os.path.join(SHARED, "mnist-subset")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
CIFAR_FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
               "batches.meta"]
MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz"]

needs_cifar = pytest.mark.skipif(not os.path.isdir(CIFAR_DIR), reason=f"shared CIFAR-10 subset not found at {CIFAR_DIR}")
needs_mnist = pytest.mark.skipif(not os.path.isdir(MNIST_ROOT), reason=f"shared MNIST subset not found at {MNIST_ROOT}")
needs_fashion = pytest.mark.skipif(not os.path.isdir(FASHION_DIR),
                                   reason=f"{FASHION_DIR} not found (apt-get install dataset-fashion-mnist)")


# ------------------------------------------------------------------ independent parsers
def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def parse_cifar(path):
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    return d[b"data"].reshape(-1, 3, 32, 32), np.array(d[b"labels"])


def parse_idx(path):
    raw = read_bytes(path)
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def link_folder(src, dst, names, skip=()):
    os.makedirs(dst, exist_ok=True)
    for name in names:
        if name not in skip:
            os.symlink(os.path.join(src, name), os.path.join(dst, name))


# ------------------------------------------------------------------ CIFAR-10
@needs_cifar
def test_cifar_subset_loads_exactly():
    train, test = CIFAR10(CIFAR_ROOT, train=True), CIFAR10(CIFAR_ROOT, train=False)
    parts = [parse_cifar(os.path.join(CIFAR_DIR, f"data_batch_{i}")) for i in range(1, 6)]
    expected_x = np.concatenate([p[0] for p in parts])
    expected_y = np.concatenate([p[1] for p in parts])
    assert len(train) == 5000 and len(test) == 1000
    assert train.data.dtype == np.uint8 and train.data.shape == (5000, 3, 32, 32)
    assert train.targets.dtype == np.int64
    np.testing.assert_array_equal(train.data, expected_x)
    np.testing.assert_array_equal(train.targets, expected_y)
    tx, ty = parse_cifar(os.path.join(CIFAR_DIR, "test_batch"))
    np.testing.assert_array_equal(test.data, tx)
    np.testing.assert_array_equal(test.targets, ty)
    with open(os.path.join(CIFAR_DIR, "batches.meta"), "rb") as f:
        names = [n.decode() for n in pickle.load(f, encoding="bytes")[b"label_names"]]
    assert train.classes == names and names[0] == "airplane"
    # items: float32 C×H×W in [0, 1], int label
    image, label = train[4321]
    assert image.dtype == np.float32 and image.shape == (3, 32, 32)
    np.testing.assert_array_equal(image, expected_x[4321].astype(np.float32) / 255)
    assert type(label) is int and label == expected_y[4321]
    assert train[-1][1] == expected_y[-1]
    with pytest.raises(IndexError):
        train[5000]
    # root may also be the batches folder itself
    np.testing.assert_array_equal(CIFAR10(CIFAR_DIR, train=False).data, tx)


@needs_cifar
@pytest.mark.parametrize("damage", ["truncate", "garbage_header", "bad_opcode", "label_out_of_range", "trailing"])
def test_cifar_damaged_file_names_the_file(tmp_path, damage):
    folder = tmp_path / "cifar-10-batches-py"
    link_folder(CIFAR_DIR, str(folder), CIFAR_FILES, skip=["data_batch_3"])
    raw = bytearray(read_bytes(os.path.join(CIFAR_DIR, "data_batch_3")))
    labels_at = raw.index(b"labels")
    if damage == "truncate":
        raw = raw[:len(raw) // 2]
    elif damage == "garbage_header":
        raw[:8] = b"\x00garbage"
    elif damage == "bad_opcode":
        raw[labels_at + 12:labels_at + 20] = b"\xff" * 8
    elif damage == "label_out_of_range":
        first = raw.index(b"K", labels_at + 8)  # BININT1 opcode of the first label
        raw[first + 1] = 200
    else:
        raw += b"extra bytes"
    (folder / "data_batch_3").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="data_batch_3") as info:
        CIFAR10(str(tmp_path), train=True)
    assert "corrupt" in str(info.value) or "truncated" in str(info.value)
    # the test split does not need the damaged file
    assert len(CIFAR10(str(tmp_path), train=False)) == 1000


@needs_cifar
def test_cifar_missing_file_is_named(tmp_path):
    link_folder(CIFAR_DIR, str(tmp_path / "cifar-10-batches-py"), CIFAR_FILES, skip=["data_batch_4"])
    with pytest.raises(FileNotFoundError, match="data_batch_4"):
        CIFAR10(str(tmp_path))


def test_cifar_missing_root_names_folder_and_hint(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(str(missing))
    message = str(info.value)
    assert str(missing) in message and "download=True" in message and "cifar-10-python.tar.gz" in message
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        CIFAR10(str(tmp_path))  # exists but empty


def make_cifar_batch(n, seed, label):
    rng = np.random.default_rng(seed)
    return {b"batch_label": label.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}


def build_cifar_archive(path, n=7, extra_members=()):
    """A small archive in the official layout, pickled as the official files are (protocol 2)."""
    batches = {name: make_cifar_batch(n, i, name) for i, name in enumerate(CIFAR_FILES[:-1])}
    meta = {b"label_names": [f"class{i}".encode() for i in range(10)], b"num_vis": 3072}
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in list(batches.items()) + [("batches.meta", meta)]:
            blob = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        for info, blob in extra_members:
            tar.addfile(info, io.BytesIO(blob) if blob is not None else None)
    return batches


def test_cifar_from_official_archive_md5_checked(tmp_path, monkeypatch):
    archive = tmp_path / "cifar-10-python.tar.gz"
    batches = build_cifar_archive(str(archive))
    # the real archive's MD5 does not match this small one: refused, naming the archive
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz"):
        CIFAR10(str(tmp_path))
    assert not (tmp_path / "cifar-10-batches-py").exists()
    monkeypatch.setattr(CIFAR10, "archive_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    train = CIFAR10(str(tmp_path))
    expected = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)]).reshape(-1, 3, 32, 32)
    np.testing.assert_array_equal(train.data, expected)
    np.testing.assert_array_equal(train.targets[:7], batches["data_batch_1"][b"labels"])
    assert train.classes[3] == "class3"
    assert sorted(os.listdir(tmp_path)) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    assert len(CIFAR10(str(tmp_path), train=False)) == 7


def test_cifar_archive_with_escaping_member_is_refused(tmp_path, monkeypatch):
    evil = tarfile.TarInfo("cifar-10-batches-py/../../escaped.txt")
    evil.size = 4
    archive = tmp_path / "root" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    build_cifar_archive(str(archive), extra_members=[(evil, b"evil")])
    monkeypatch.setattr(CIFAR10, "archive_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    with pytest.raises(ValueError, match="escapes"):
        CIFAR10(str(archive.parent))
    assert not (tmp_path / "escaped.txt").exists()
    assert sorted(os.listdir(archive.parent)) == ["cifar-10-python.tar.gz"]  # nothing extracted


def test_cifar_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in CIFAR_FILES:
        obj = {b"label_names": [b"a"] * 10} if name == "batches.meta" else {b"data": Evil(), b"labels": []}
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(ValueError, match="data_batch_1"):
        CIFAR10(str(tmp_path))
    assert not (tmp_path / "pwned").exists()


# ------------------------------------------------------------------ MNIST
@needs_mnist
def test_mnist_subset_loads_exactly():
    train, test = MNIST(MNIST_ROOT, train=True), MNIST(MNIST_ROOT, train=False)
    x = parse_idx(os.path.join(MNIST_ROOT, "train-images-idx3-ubyte.gz"))
    y = parse_idx(os.path.join(MNIST_ROOT, "train-labels-idx1-ubyte.gz"))
    tx = parse_idx(os.path.join(MNIST_ROOT, "t10k-images-idx3-ubyte.gz"))
    ty = parse_idx(os.path.join(MNIST_ROOT, "t10k-labels-idx1-ubyte.gz"))
    assert len(train) == 3678 and len(test) == 10000
    assert train.data.shape == (3678, 1, 28, 28) and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.data[:, 0], x)
    np.testing.assert_array_equal(train.targets, y)
    np.testing.assert_array_equal(test.data[:, 0], tx)
    np.testing.assert_array_equal(test.targets, ty)
    assert test.targets.dtype == np.int64 and len(test.classes) == 10
    image, label = test[17]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
    np.testing.assert_array_equal(image[0], tx[17] / np.float32(255))
    assert label == ty[17]


@needs_mnist
def test_mnist_torchvision_layout_and_uncompressed(tmp_path):
    link_folder(MNIST_ROOT, str(tmp_path / "tv" / "MNIST" / "raw"), MNIST_FILES)
    expected = parse_idx(os.path.join(MNIST_ROOT, "t10k-images-idx3-ubyte.gz"))
    np.testing.assert_array_equal(MNIST(str(tmp_path / "tv"), train=False).data[:, 0], expected)
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in MNIST_FILES[2:]:
        (plain / name[:-3]).write_bytes(gzip.decompress(read_bytes(os.path.join(MNIST_ROOT, name))))
    np.testing.assert_array_equal(MNIST(str(plain), train=False).data[:, 0], expected)


@needs_mnist
@pytest.mark.parametrize("damage", ["truncated_gz", "corrupt_gz", "truncated_idx", "bad_magic", "count_mismatch"])
def test_mnist_damaged_file_names_the_file(tmp_path, damage):
    link_folder(MNIST_ROOT, str(tmp_path), MNIST_FILES[2:], skip=["t10k-images-idx3-ubyte.gz"])
    gz = read_bytes(os.path.join(MNIST_ROOT, "t10k-images-idx3-ubyte.gz"))
    raw = gzip.decompress(gz)
    name = "t10k-images-idx3-ubyte.gz"
    if damage == "truncated_gz":
        data = gz[:len(gz) // 3]
    elif damage == "corrupt_gz":
        data = bytearray(gz)
        data[len(gz) // 2:len(gz) // 2 + 64] = bytes(64)
        data = bytes(data)
    elif damage == "truncated_idx":
        name, data = "t10k-images-idx3-ubyte", raw[:len(raw) - 1000]
    elif damage == "bad_magic":
        name, data = "t10k-images-idx3-ubyte", b"\x12\x34" + raw[2:]
    else:  # a valid file announcing fewer images than there are labels
        name, data = "t10k-images-idx3-ubyte", raw[:4] + struct.pack(">I", 9999) + raw[8:16] + raw[16:16 + 9999 * 784]
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte") as info:
        MNIST(str(tmp_path), train=False)
    assert damage == "count_mismatch" or "corrupt" in str(info.value) or "truncated" in str(info.value)


@needs_mnist
def test_mnist_missing_companion_file_is_named(tmp_path):
    link_folder(MNIST_ROOT, str(tmp_path), MNIST_FILES, skip=["train-labels-idx1-ubyte.gz"])
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        MNIST(str(tmp_path))


def test_mnist_missing_root_names_folder_and_hint(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(str(tmp_path / "absent"))
    assert str(tmp_path / "absent") in str(info.value) and "download=True" in str(info.value)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        MNIST(str(tmp_path), train=False)


@needs_fashion
def test_fashion_mnist_from_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(tmp_path))  # an empty default root: falls back to the system folder
    test = FashionMNIST(train=False)
    np.testing.assert_array_equal(test.data[:, 0], parse_idx(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz")))
    np.testing.assert_array_equal(test.targets, parse_idx(os.path.join(FASHION_DIR, "t10k-labels-idx1-ubyte.gz")))
    assert test.classes[0] == "T-shirt/top" and test.classes[9] == "Ankle boot"
    assert len(FashionMNIST(train=True)) == 60000


# ------------------------------------------------------------------ Shapes
def test_shapes_is_deterministic_and_well_formed():
    a, b = Shapes(200, seed=7), Shapes(200, seed=7)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert a.data.shape == (200, 3, 32, 32) and a.data.dtype == np.uint8 and a.targets.dtype == np.int64
    assert len(a.classes) == 10
    np.testing.assert_array_equal(np.bincount(a.targets, minlength=10), np.full(10, 20))  # balanced
    assert not np.array_equal(Shapes(200, seed=8).data, a.data)
    assert not np.array_equal(Shapes(200, seed=7, train=False).data, a.data)
    assert Shapes(10, size=20).data.shape == (10, 3, 20, 20)
    image, label = a[3]
    assert image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1 and label == a.targets[3]


def test_shapes_images_show_a_shape_on_a_background():
    ds = Shapes(100, seed=1)
    x = ds.data.astype(np.float32) / 255
    background = np.median(x.reshape(100, 3, -1), axis=2)[:, :, None, None]
    far = np.abs(x - background).max(axis=1) > 0.25  # foreground pixels: a distinct colour
    fraction = far.mean(axis=(1, 2))
    assert np.all(fraction > 0.02) and np.all(fraction < 0.6)
    # a square (side 1.6 r) covers more of the image than a bar (2 r by 0.7 r), on average
    by_class = np.array([fraction[ds.targets == k].mean() for k in range(10)])
    assert by_class[1] > by_class[6]


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(tmp_path))
    assert default_root() == str(tmp_path)
    monkeypatch.delenv("TINYGRAD_CNN_DATA")
    assert default_root() == os.path.join(os.path.expanduser("~"), ".cache", "tinygrad_cnn")
