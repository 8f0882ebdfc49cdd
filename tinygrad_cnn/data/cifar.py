"""CIFAR-10 from the official Python pickles (`cifar-10-batches-py/`) or the official archive.

The batch files are read with a restricted unpickler that only rebuilds numpy arrays (no
other globals), so a damaged or hostile file can never run code; every failure becomes a
ValueError or FileNotFoundError naming the file.
"""
import os
import pickle

import numpy as np

from ._util import ImageDataset, resolve_root, split_name
from .download import DownloadError, check_md5, download_url, extract_tar, md5sum

__all__ = ["CIFAR10", "load_cifar_batch"]

_NUMPY_CORE = "numpy._core" if hasattr(np, "_core") else "numpy.core"
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays, lists, dicts, strings and numbers, nothing else."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"the pickle refers to {module}.{name}, which a data file never needs")
        if module.startswith("numpy.core.") or module.startswith("numpy._core."):
            module = _NUMPY_CORE + module[module.index(".", 6):]
        return super().find_class(module, name)


def _read_pickle(path, what):
    """Load one pickle file safely; ValueError naming `path` when it is truncated or corrupt."""
    try:
        with open(path, "rb") as f:
            obj = _ArrayUnpickler(f, encoding="bytes").load()
            trailing = f.read(1)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ValueError(f"{what} {path} is a folder, expected a file") from None
    except Exception as exc:  # UnpicklingError, EOFError, ValueError from numpy, struct errors, ...
        raise ValueError(f"{what} {path} is truncated or corrupt ({type(exc).__name__}: {exc}); "
                         "delete it and extract or download it again") from None
    if trailing:
        raise ValueError(f"{what} {path} is corrupt: unexpected bytes after the end of the pickle")
    if not isinstance(obj, dict):
        raise ValueError(f"{what} {path} is corrupt: expected a dict, found {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def load_cifar_batch(path, num_classes=10, label_key="labels"):
    """One official CIFAR batch file: (uint8 data N×3×32×32, int64 labels N)."""
    batch = _read_pickle(path, "CIFAR batch file")
    if "data" not in batch or label_key not in batch:
        raise ValueError(f"CIFAR batch file {path} is corrupt: it lacks the 'data' or '{label_key}' entry "
                         f"(found {sorted(map(str, batch))})")
    data, labels = batch["data"], batch[label_key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"CIFAR batch file {path} is corrupt: 'data' should be a uint8 N×3072 array, found {desc}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"CIFAR batch file {path} is corrupt: '{label_key}' is not a list of integers") from None
    if labels.shape != (data.shape[0],):
        raise ValueError(f"CIFAR batch file {path} is corrupt: {data.shape[0]} images but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"CIFAR batch file {path} is corrupt: labels outside 0..{num_classes - 1}")
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32)), labels


class CIFAR10(ImageDataset):
    """CIFAR-10: 32×32 RGB images of 10 classes (50,000 train / 10,000 test in the full set).

    Looks for `root/cifar-10-batches-py/` (the official pickles `data_batch_1..5`,
    `test_batch`, `batches.meta`; `root` may also be that folder itself), else the official
    `root/cifar-10-python.tar.gz` (MD5-verified, extracted safely), else downloads the archive
    when `download=True`. `root` defaults to $TINYGRAD_CNN_DATA or ~/.cache/tinygrad_cnn.
    `transform` / `target_transform`: per-sample callables, as torchvision's (see ImageDataset).
    """

    base_folder = "cifar-10-batches-py"
    archive_name = "cifar-10-python.tar.gz"
    archive_md5 = "c58f30108f718f92721af3b95e74349a"
    urls = ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    train_list = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
    test_list = ["test_batch"]
    meta_file = "batches.meta"
    meta_key = "label_names"
    label_key = "labels"
    num_classes = 10

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        self.root = resolve_root(root)
        self.train = bool(train)
        files = self.train_list if self.train else self.test_list
        folder = self._locate(files, download)
        classes = self._read_classes(os.path.join(folder, self.meta_file))
        parts = [load_cifar_batch(os.path.join(folder, name), len(classes), self.label_key) for name in files]
        data = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
        targets = parts[0][1] if len(parts) == 1 else np.concatenate([p[1] for p in parts])
        self.folder = folder
        super().__init__(data, targets, classes, transform, target_transform)

    def extra_repr(self):
        return f"{split_name(self.train)}, folder={self.folder!r}"

    # ------------------------------------------------------------ finding the files
    def _hint(self):
        return (f"Put the official {self.archive_name} (from {self.urls[0]}) or its extracted folder "
                f"{self.base_folder}/ into {self.root}, or pass download=True "
                "(the root defaults to $TINYGRAD_CNN_DATA or ~/.cache/tinygrad_cnn).")

    def _locate(self, files, download):
        needed = list(files) + [self.meta_file]
        candidates = [os.path.join(self.root, self.base_folder), self.root]
        for folder in candidates:
            if os.path.isdir(folder) and all(os.path.isfile(os.path.join(folder, n)) for n in needed):
                return folder
        archive = os.path.join(self.root, self.archive_name)
        if os.path.isfile(archive) and not (download and not check_md5(archive, self.archive_md5)):
            self._extract(archive)
            return self._complete_or_raise(needed)
        if download:  # (a damaged archive is fetched again: download_url replaces it once verified)
            try:
                download_url(self.urls, archive, md5=self.archive_md5)
            except DownloadError as exc:
                raise DownloadError(f"{exc}\nOr extract it so that {os.path.join(self.root, self.base_folder)}"
                                    f"/ holds {', '.join(needed)}.") from None
            self._extract(archive)
            return self._complete_or_raise(needed)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"CIFAR-10: the root folder {self.root} does not exist. {self._hint()}")
        return self._complete_or_raise(needed)

    def _extract(self, archive):
        if self.archive_md5 is not None and not check_md5(archive, self.archive_md5):
            raise ValueError(f"CIFAR-10 archive {archive} is truncated or corrupt: its MD5 is {md5sum(archive)}, "
                             f"expected {self.archive_md5}. Delete it and download it again ({self.urls[0]}).")
        extract_tar(archive, self.root)

    def _complete_or_raise(self, needed):
        sub = os.path.join(self.root, self.base_folder)
        for folder in (sub, self.root):
            present = [n for n in needed if os.path.isfile(os.path.join(folder, n))]
            if folder == sub and not os.path.isdir(sub) or folder == self.root and not present:
                continue
            missing = [n for n in needed if n not in present]
            if not missing:
                return folder
            raise FileNotFoundError(f"CIFAR-10: file {os.path.join(folder, missing[0])} is missing "
                                    f"(needed in {folder}: {', '.join(needed)}). {self._hint()}")
        raise FileNotFoundError(f"CIFAR-10 not found in {self.root}: no folder {self.base_folder}/ and no "
                                f"{self.archive_name}. {self._hint()}")

    def _read_classes(self, path):
        meta = _read_pickle(path, "CIFAR meta file")
        names = meta.get(self.meta_key)
        if not isinstance(names, (list, tuple)) or not names:
            raise ValueError(f"CIFAR meta file {path} is corrupt: no '{self.meta_key}' list")
        return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]
