"""MNIST and Fashion-MNIST from the four official IDX files (gzipped or not).

Searched, in order: `root/`, torchvision's `root/MNIST/raw/` (`root/FashionMNIST/raw/`) and,
for Fashion-MNIST, `/usr/share/datasets/fashion-mnist/` (Debian's `dataset-fashion-mnist`).
`download=True` fetches the missing official files into `root/<Name>/raw/`, MD5-checked.
"""
import gzip
import os
import zlib

import numpy as np

from ._util import ImageDataset, resolve_root, split_name
from .download import DownloadError, download_url

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

# IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for.
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path):
    """The file's bytes, gunzipped when it starts with the gzip magic; ValueError when damaged."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"IDX file {path} is truncated or corrupt (gzip: {exc}); "
                             "delete it and download it again") from None
    return raw


def read_idx(path):
    """Parse one IDX file (the MNIST format) into a numpy array, checking the header and size."""
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"IDX file {path} is truncated: {len(raw)} bytes, not even a header")
    code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or code not in _IDX_DTYPES or not 1 <= ndim <= 8:
        raise ValueError(f"IDX file {path} is corrupt or not an IDX file: bad magic number 0x{raw[:4].hex()}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX file {path} is truncated: the header needs {header} bytes, the file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "corrupt (trailing bytes)"
        raise ValueError(f"IDX file {path} is {state}: the header announces shape {shape}, i.e. {expected} bytes, "
                         f"but the data has {len(raw)} bytes. Delete it and download it again.")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(ImageDataset):
    """MNIST handwritten digits: 28×28 grayscale, 60,000 train / 10,000 test in the full set.

    `data` is uint8 N×1×28×28. `root` defaults to $TINYGRAD_CNN_DATA or ~/.cache/tinygrad_cnn.
    `transform` / `target_transform`: per-sample callables, as torchvision's (see ImageDataset;
    the transform receives a 28×28 uint8 array, as torchvision's a mode "L" PIL image).
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    extra_folders = []
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        self.root = resolve_root(root)
        self._default_root = root is None
        self.train = bool(train)
        prefix = "train" if self.train else "t10k"
        names = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
        found = self._find(names)
        if found is None and download:
            self._download()
            found = self._find(names)
        if found is None:
            raise FileNotFoundError(self._not_found_message(names))
        images_path, labels_path = found
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(f"IDX file {images_path} is not an image file: {images.dtype} array of shape {images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(f"IDX file {labels_path} is not a label file: {labels.dtype} array of shape {labels.shape}")
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                             f"{labels.shape[0]} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"IDX file {labels_path} is corrupt: label {labels.max()} outside 0..{len(self.classes) - 1}")
        self.folder = os.path.dirname(images_path)
        super().__init__(images[:, None], labels.astype(np.int64), type(self).classes, transform, target_transform)

    def extra_repr(self):
        return f"{split_name(self.train)}, folder={self.folder!r}"

    @property
    def raw_folder(self):
        """Where download=True puts the files (torchvision's layout): root/<Name>/raw."""
        return os.path.join(self.root, type(self).__name__, "raw")

    def _folders(self):
        # The shared default root holds MNIST and Fashion-MNIST (same file names) side by side,
        # so there only root/<Name>/raw is searched; an explicit root is searched itself too.
        own = [self.raw_folder] if self._default_root else [self.root, self.raw_folder]
        return own + list(self.extra_folders)

    def _find(self, names):
        """Paths of `names` (each .gz or not) in the first folder holding all of them, else None.

        A folder holding some but not all raises FileNotFoundError naming the missing file.
        """
        for folder in self._folders():
            paths = []
            for name in names:
                path = next((p for p in (os.path.join(folder, name + ".gz"), os.path.join(folder, name))
                             if os.path.isfile(p)), None)
                paths.append(path)
            if all(paths):
                return paths
            if any(paths):
                missing = names[paths.index(None)]
                raise FileNotFoundError(f"{type(self).__name__}: {os.path.join(folder, missing)}(.gz) is missing "
                                        f"(its companion {os.path.basename(next(p for p in paths if p))} is there). "
                                        f"{self._hint()}")
        return None

    def _hint(self):
        base = self.mirrors[0] if self.mirrors else ""
        return (f"Put the official files ({', '.join(self.resources)}, from {base}) into {self.root} "
                f"or {self.raw_folder}, or pass download=True "
                "(the root defaults to $TINYGRAD_CNN_DATA or ~/.cache/tinygrad_cnn).")

    def _not_found_message(self, names):
        if not os.path.isdir(self.root):
            where = f"the root folder {self.root} does not exist"
        else:
            where = f"{names[0]}(.gz) not found in {', '.join(self._folders())}"
        return f"{type(self).__name__}: {where}. {self._hint()}"

    def _download(self):
        for name, md5 in self.resources.items():
            path = os.path.join(self.raw_folder, name)
            try:
                download_url([m + name for m in self.mirrors], path, md5=md5)
            except DownloadError as exc:
                others = [n for n in self.resources if n != name]
                raise DownloadError(f"{type(self).__name__}: {exc}\nThe other official files ({', '.join(others)}) "
                                    f"go into the same folder (or straight into {self.root}).") from None


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28×28 grayscale clothing images, same file format as MNIST.

    Also looks in /usr/share/datasets/fashion-mnist/ (Debian's dataset-fashion-mnist package).
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"]
    resources = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    extra_folders = ["/usr/share/datasets/fashion-mnist"]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
