"""tc.save / tc.load: checkpoints of nested dicts of arrays, numbers and strings, without pickle.

    tc.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "epoch": 7}, "ckpt.npz")
    state = tc.load("ckpt.npz")

What can be stored (nested to any depth the Python recursion limit allows, a few hundred levels):

- dict (keys str or int; key types and insertion order are kept; an OrderedDict comes back as
  an OrderedDict, any other dict subclass as a dict), list, tuple (which of the two is kept;
  tuple subclasses such as named tuples come back as plain tuples);
- numpy arrays of a bool, integer, unsigned, float or complex dtype, any shape including 0-d;
  cupy arrays (copied to the CPU, loaded as numpy arrays); tinygrad_cnn Tensors and Parameters
  (their data is saved; **they load back as numpy arrays**, which `Module.load_state_dict`
  accepts; wrap with `tc.tensor(...)` to get a Tensor again);
- numpy scalars of those dtypes (np.float32(1.5), np.int64(3), ... come back as numpy scalars
  of the same dtype);
- Python int (any size: numpy's bit-generator states hold 128-bit ints), float (nan, inf and
  -0.0 included, bit-exact), bool, None, str.

Anything else raises TypeError naming the key path (e.g. "cannot store value of type set at
'optimizer/state/0/foo'") before any file is touched, and a structure that contains itself
raises ValueError. An array object that appears several
times is stored once, and the loaded structure then holds one array object in those places.

File format (version 1): an ordinary uncompressed `.npz` archive, as `np.savez` writes it, so
`np.load(path, allow_pickle=False)` opens it:

- one `.npy` entry per array, written with `allow_pickle=False`; an entry is named after the
  key path of its first occurrence (`model/conv1.weight`, `optimizer/state/0/momentum_buffer`),
  made unique and printable, so the arrays can be read with plain numpy;
- the entry `__tinygrad_cnn__`, a 1-d uint8 array holding UTF-8 JSON text:
  `{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": NODE}` where a NODE is
      null | true | false | "a string" | 123 (an int of at most 2000 bits)
      | {"int": "0x..."}                 (a larger int, in hexadecimal)
      | {"float": "0.1"}                 (repr of the float: "nan", "inf", "-0.0" included)
      | {"list": [NODE, ...]} | {"tuple": [NODE, ...]}
      | {"dict": [[KEY, NODE], ...]}     (KEY: a string or an int; "ordered": true for OrderedDict)
      | {"array": ENTRY, "dtype": "<f4", "shape": [3, 3]}   (ENTRY: the entry name, no .npy)
      | {"scalar": ENTRY, "dtype": "<i8"}                   (a numpy scalar, kept as a 0-d array)

Saving is atomic: the archive is written to a temporary file `.NAME.xxxxxxxx.tmp` in the
target's folder, flushed and fsync'ed, then moved over the target with `os.replace` (and the
folder fsync'ed where the OS allows), so a crash or an error mid-save leaves the previous file
intact. An error (a full disk, an interrupt) also removes the temporary file, and an OSError
names the target and keeps its type and errno ("[Errno 28] save: cannot write 'runs/last.npz':
No space left on device"). A process killed mid-save (SIGKILL, power loss) cannot clean up: its
temporary file stays behind, and the next save of the same target removes it. A writer holds
an `fcntl.flock` on its temporary file until the file is in place, and a save removes only the
temporaries of its own target that no live writer holds and that are older than
`STALE_TEMPORARY_SECONDS` (where fcntl is missing, e.g. on Windows, none are removed). The path
is written exactly as given (no `.npz` is appended); a symbolic link is followed, so the file
it points to is replaced; a folder is refused (IsADirectoryError).

Loading reads every array into memory and closes the file. A missing file raises
FileNotFoundError; a file that is truncated, corrupted or not a tinygrad_cnn checkpoint raises
CheckpointError (a ValueError) whose message names the file and what is wrong. Loading never
allocates more than the file holds: compressed (DEFLATE) entries are refused, the entries'
declared sizes must fit in the file, and a `.npy` header's shape times its itemsize must match
the bytes of its entry before anything is read.
"""
import collections
import errno
import json
import math
import os
import re
import stat
import tempfile
import time
import zipfile

import numpy as np

from . import backend
from .tensor import Tensor

try:
    import fcntl
except ImportError:  # Windows: no flock, so stale temporaries are never removed
    fcntl = None

__all__ = ["save", "load", "CheckpointError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "tinygrad_cnn.checkpoint"
FORMAT_VERSION = 1
STRUCTURE_ENTRY = "__tinygrad_cnn__"   # npz key of the JSON structure
_ARRAY_KINDS = "biufc"                 # numpy dtype kinds we store: bool, int, uint, float, complex
_MAX_INLINE_INT_BITS = 2000            # larger ints are written in hex (str(int) has a digit limit)
_MAX_ENTRY_NAME = 200
STALE_TEMPORARY_SECONDS = 5.0          # a temporary file no writer holds is removed after this long


class CheckpointError(ValueError):
    """A file given to `load` is truncated, corrupted or not a tinygrad_cnn checkpoint."""


# ------------------------------------------------------------------------------------ encoding
def _path_text(path):
    """Human-readable key path: 'optimizer/state/0/foo' ("" for the root)."""
    return "/".join(str(p) for p in path) if path else ""


def _where(path):
    return f"at '{_path_text(path)}'" if path else "at the top level"


class _Encoder:
    """Turns a Python structure into JSON-ready nodes plus a dict of entry name -> numpy array.

    Everything is checked and converted here, before any file is opened, so an unsupported
    value never leaves a half-written file.
    """

    def __init__(self):
        self.arrays = {}         # entry name -> numpy array, in first-seen order
        self._names_by_id = {}   # id(source array) -> entry name (one entry per array object)
        self._keep_alive = []    # the source objects, so their ids stay unique while we run
        self._active = set()     # ids of the containers on the current path (cycle check)

    def encode(self, obj, path=()):
        # Order matters: bool before int (bool is an int), numpy scalars before float
        # (np.float64 is a float), Tensors and arrays before the containers.
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, np.generic):
            return self._encode_scalar(obj, path)
        if isinstance(obj, int):
            obj = int(obj)  # plain int (an IntEnum is stored as its value)
            if obj.bit_length() <= _MAX_INLINE_INT_BITS:
                return obj
            return {"int": hex(obj)}
        if isinstance(obj, float):
            return {"float": repr(float(obj))}
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, Tensor):
            return self._encode_array(obj.array, path, source=obj.array)
        if isinstance(obj, np.ndarray) or backend.is_gpu_array(obj):
            return self._encode_array(obj, path, source=obj)
        if isinstance(obj, (dict, list, tuple)):
            return self._encode_container(obj, path)
        raise TypeError(f"save: cannot store value of type {type(obj).__name__} {_where(path)}")

    def _encode_container(self, obj, path):
        if id(obj) in self._active:
            raise ValueError(f"save: the structure contains itself (a reference cycle) {_where(path)}")
        self._active.add(id(obj))
        try:
            if isinstance(obj, dict):
                pairs = []
                for key, value in obj.items():
                    if isinstance(key, bool) or not isinstance(key, (str, int)):
                        raise TypeError(f"save: dict keys must be str or int, got a key of type "
                                        f"{type(key).__name__} ({key!r}) {_where(path)}")
                    key = str(key) if isinstance(key, str) else int(key)
                    pairs.append([self.encode(key, path + (key,)), self.encode(value, path + (key,))])
                node = {"dict": pairs}
                if type(obj) is collections.OrderedDict:
                    node["ordered"] = True
                return node
            tag = "list" if isinstance(obj, list) else "tuple"
            return {tag: [self.encode(item, path + (i,)) for i, item in enumerate(obj)]}
        finally:
            self._active.discard(id(obj))

    def _encode_array(self, array, path, source):
        if isinstance(array, np.ma.MaskedArray):
            raise TypeError(f"save: cannot store a masked array (its mask would be lost) {_where(path)}")
        name = self._names_by_id.get(id(source))
        if name is None:
            data = np.asarray(backend.to_device(array, "cpu"))
            self._check_dtype(data.dtype, path)
            name = self._add_entry(data, path)
            self._names_by_id[id(source)] = name
            self._keep_alive.append(source)
        data = self.arrays[name]
        return {"array": name, "dtype": data.dtype.str, "shape": list(data.shape)}

    def _encode_scalar(self, scalar, path):
        self._check_dtype(scalar.dtype, path)
        name = self._add_entry(np.asarray(scalar), path)
        return {"scalar": name, "dtype": scalar.dtype.str}

    @staticmethod
    def _check_dtype(dtype, path):
        if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
            raise TypeError(f"save: cannot store numpy data of dtype {dtype} {_where(path)} "
                            f"(only bool, integer, float and complex dtypes)")

    def _add_entry(self, data, path):
        """Store `data` under a unique, printable entry name derived from its key path."""
        base = "".join(c if c.isprintable() and c != "\\" else "_" for c in _path_text(path))
        if base.endswith("/"):
            base += "_"  # a zip name ending in "/" would be a folder
        if not base or len(base) > _MAX_ENTRY_NAME or base == STRUCTURE_ENTRY:
            base = f"arr_{len(self.arrays)}"
        name, n = base, 1
        while name in self.arrays or name == STRUCTURE_ENTRY:
            n += 1
            name = f"{base}~{n}"
        self.arrays[name] = data
        return name


def _encode(obj):
    """(structure JSON as bytes, dict of entry name -> numpy array) for `obj`."""
    encoder = _Encoder()
    try:
        root = encoder.encode(obj)
    except RecursionError:
        raise ValueError("save: the structure is nested too deeply to store") from None
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "root": root}
    text = json.dumps(header, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8"), encoder.arrays


# ------------------------------------------------------------------------------------ writing
def _write_npz(file, entries):
    """Write `entries` (name -> numpy array) to the open binary `file` as an .npz archive.

    The same layout as np.savez (uncompressed zip, zip64, one `<name>.npy` per array), with
    allow_pickle=False; written to a file object so no `.npz` suffix is ever added.
    """
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in entries.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _new_file_mode(target):
    """Permission bits for the saved file: the old file's, else 0o666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        pass
    umask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder):
    """fsync a folder so a rename in it is durable (POSIX only; a no-op where unsupported)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temporary_pattern(target):
    """The names tempfile.mkstemp gives the temporaries of `target`: .NAME.<8 random chars>.tmp"""
    return re.compile(re.escape("." + os.path.basename(target) + ".") + r"[a-z0-9_]{8}\.tmp")


def remove_stale_temporaries(path):
    """Remove the temporary files that saves of `path` left behind when their process was killed.

    Only files named like this target's temporaries (`.NAME.xxxxxxxx.tmp` in its folder) are
    candidates, and one is removed only when no live writer holds its flock and it is older
    than STALE_TEMPORARY_SECONDS (a writer takes the lock right after creating the file).
    Returns the paths removed; removes nothing where fcntl is unavailable.
    """
    if fcntl is None:
        return []
    target = os.path.realpath(os.fspath(path))
    folder = os.path.dirname(target)
    pattern = _temporary_pattern(target)
    try:
        names = [name for name in os.listdir(folder) if pattern.fullmatch(name)]
    except OSError:
        return []
    removed = []
    for name in names:
        candidate = os.path.join(folder, name)
        if _remove_if_abandoned(candidate):
            removed.append(candidate)
    return removed


def _remove_if_abandoned(path):
    """Unlink the regular file `path` if no process holds its flock and it is old enough."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < STALE_TEMPORARY_SECONDS:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live writer holds it
        try:  # the name may have been renamed over its target meanwhile: unlink only that same file
            if os.stat(path, follow_symlinks=False).st_ino != info.st_ino:
                return False
            os.unlink(path)
        except OSError:
            return False
        return True
    finally:
        os.close(fd)


def _lock(file):
    """Hold an flock on the temporary `file` until it is closed, so that cleaners leave it alone.
    Best effort: where locks are not supported (some network file systems) a cleaner cannot
    take the lock either, so it removes nothing."""
    if fcntl is None:
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass


def _named_error(exc, op, shown):
    """`exc` (an OSError) again, same type and errno, its strerror naming the file:
    "[Errno 28] save: cannot write 'runs/last.npz': No space left on device"."""
    message = f"{op}: cannot write {shown!r}: {exc.strerror or exc}"
    try:
        return type(exc)(exc.errno, message) if exc.errno is not None else type(exc)(message)
    except Exception:  # an OSError subclass with a constructor of its own
        return OSError(exc.errno, message)


def atomic_write(path, write, binary=True, op="save"):
    """Create or replace the file `path` atomically: `write(file)` fills a temporary file in
    the same folder, which is flushed, fsynced and renamed over `path` with os.replace. On any
    error the temporary file is removed and the old file (if any) is untouched; an OSError is
    raised again with a message naming `path` (same type and errno). `op` names the caller in
    the messages. Temporaries of `path` left by killed writers are removed first (see
    remove_stale_temporaries); this writer holds an flock on its own until it is in place.
    """
    shown = os.fspath(path)
    target = os.path.realpath(shown)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"{op}: cannot write {shown!r}: folder {folder!r} does not exist")
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, f"{op}: cannot write {shown!r}: it is a folder")
    remove_stale_temporaries(target)
    mode = _new_file_mode(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _named_error(exc, op, shown) from None
    try:
        file = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        with file:
            _lock(file)
            write(file)
            file.flush()
            os.fsync(file.fileno())
            os.chmod(tmp, mode)
            if fcntl is None:
                file.close()  # Windows cannot rename an open file
            os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _named_error(exc, op, shown) from exc
        raise
    _fsync_folder(folder)


def save(obj, path):
    """Save `obj` (nested dicts/lists/tuples of arrays, Tensors, numbers, strings) to `path`.

    path: str or os.PathLike, written exactly as given (no suffix added); by convention
    `.npz`. The write is atomic: either the whole new file is in place, or the old file (if
    any) is untouched. Raises TypeError naming the key path of an unsupported value, before
    anything is written. See the module docstring for the format.
    """
    header, arrays = _encode(obj)
    entries = {STRUCTURE_ENTRY: np.frombuffer(header, dtype=np.uint8)}
    entries.update(arrays)
    atomic_write(path, lambda file: _write_npz(file, entries))


# ------------------------------------------------------------------------------------ reading
class _Decoder:
    """Rebuilds the Python structure from JSON nodes and the loaded arrays."""

    def __init__(self, arrays, describe):
        self.arrays = arrays        # entry name -> numpy array
        self.describe = describe    # makes a CheckpointError message naming the file

    def fail(self, what, path):
        return CheckpointError(self.describe(f"{what} {_where(path)}"))

    def decode(self, node, path=()):
        if node is None or isinstance(node, (bool, str)):
            return node
        if isinstance(node, int):
            return node
        if not (isinstance(node, dict) and node):
            raise self.fail(f"unexpected structure node {node!r:.80}", path)
        if "int" in node:
            return int(self._text(node, "int", path), 16)
        if "float" in node:
            return float(self._text(node, "float", path))
        if "list" in node or "tuple" in node:
            tag = "list" if "list" in node else "tuple"
            items = [self.decode(item, path + (i,)) for i, item in enumerate(self._items(node, tag, path))]
            return items if tag == "list" else tuple(items)
        if "dict" in node:
            result = collections.OrderedDict() if node.get("ordered") else {}
            for pair in self._items(node, "dict", path):
                key = self.decode(pair[0], path) if isinstance(pair, list) and len(pair) == 2 else None
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise self.fail(f"bad dict entry {pair!r:.80}", path)
                result[key] = self.decode(pair[1], path + (key,))
            return result
        if "array" in node:
            array = self._entry(node, "array", path)
            if list(array.shape) != node.get("shape"):
                raise self.fail(f"array {node['array']!r} has shape {array.shape}, "
                                f"the structure says {node.get('shape')}", path)
            return array
        if "scalar" in node:
            array = self._entry(node, "scalar", path)
            if array.shape != ():
                raise self.fail(f"scalar {node['scalar']!r} has shape {array.shape}", path)
            return array[()]
        raise self.fail(f"unknown structure node {node!r:.80}", path)

    def _text(self, node, tag, path):
        value = node[tag]
        if not isinstance(value, str):
            raise self.fail(f"bad {tag} node {node!r:.80}", path)
        return value

    def _items(self, node, tag, path):
        value = node[tag]
        if not isinstance(value, list):
            raise self.fail(f"bad {tag} node {node!r:.80}", path)
        return value

    def _entry(self, node, tag, path):
        name = node[tag]
        if not isinstance(name, str) or name not in self.arrays:
            raise self.fail(f"array entry {name!r} is missing from the archive", path)
        array = self.arrays[name]
        if not isinstance(array, np.ndarray):  # a _NotNpy
            raise self.fail(f"archive entry {name!r} is not a .npy array", path)
        if array.dtype.str != node.get("dtype"):
            raise self.fail(f"array {name!r} has dtype {array.dtype.str}, "
                            f"the structure says {node.get('dtype')}", path)
        return array


def load(path):
    """Load what `save` wrote to `path`: the same structure, with arrays as numpy arrays.

    Tensors and cupy arrays that were saved come back as numpy arrays (on the CPU). Raises
    FileNotFoundError when `path` does not exist and CheckpointError (a ValueError) naming
    the file when it is truncated, corrupted or not a tinygrad_cnn checkpoint.
    """
    shown = os.fspath(path)

    def describe(what):
        return f"load: {shown!r} is not a readable tinygrad_cnn checkpoint: {what}"

    try:
        file = open(shown, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(2, "load: no such checkpoint file", shown) from None
    with file:
        header, arrays = _read_archive(file, describe)
    _check_header(header, describe)
    try:
        return _Decoder(arrays, describe).decode(header["root"])
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(describe("the structure is nested too deeply")) from None
    except Exception as exc:  # e.g. {"float": "abc"} in a damaged structure
        raise CheckpointError(describe(f"damaged structure ({_explain(exc)})")) from None


def _explain(exc):
    return f"{type(exc).__name__}: {exc}"


class _NotNpy:
    """Stands for an archive entry that is not a `.npy` array (the decoder refuses it if used)."""


def _read_archive(file, describe):
    """(parsed structure JSON, dict of entry name -> array) from the open file, all in memory.

    Any failure of numpy, zipfile or json on a damaged or foreign file becomes one
    CheckpointError that names the file (`describe` words its message). Sizes are checked
    before anything is allocated (see _check_sizes and _read_npy).
    """
    signature = file.read(6)
    file.seek(0)
    if not signature:
        raise CheckpointError(describe("the file is empty"))
    if signature.startswith(b"\x93NUMPY"):
        raise CheckpointError(describe("it is a single .npy array, not an .npz archive"))
    if not signature.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise CheckpointError(describe("not an .npz archive (the file does not start with a zip signature)"))
    try:
        archive = zipfile.ZipFile(file)
    except Exception as exc:
        raise CheckpointError(describe(f"a damaged or truncated .npz archive ({_explain(exc)})")) from None
    with archive:
        infos = {}  # entry name (np.load's: without ".npy") -> ZipInfo
        for info in archive.infolist():
            name = info.filename[:-len(".npy")] if info.filename.endswith(".npy") else info.filename
            infos.setdefault(name, info)
        _check_sizes(infos, os.fstat(file.fileno()).st_size, describe)
        if STRUCTURE_ENTRY not in infos:
            names = list(infos)
            listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise CheckpointError(describe(f"an .npz archive without the {STRUCTURE_ENTRY!r} entry "
                                           f"(entries: {listed})"))
        try:
            entry = _read_npy(archive, infos[STRUCTURE_ENTRY])
            if not (isinstance(entry, np.ndarray) and entry.dtype == np.uint8 and entry.ndim == 1):
                raise ValueError("it is not a 1-d uint8 array")
            header = json.loads(entry.tobytes().decode("utf-8"))
        except Exception as exc:
            raise CheckpointError(describe(f"damaged structure entry ({_explain(exc)})")) from None
        arrays = {}
        for name, info in infos.items():
            if name != STRUCTURE_ENTRY:
                try:
                    arrays[name] = _read_npy(archive, info)
                except Exception as exc:
                    what = f"array entry {name!r} is damaged ({_explain(exc)})"
                    raise CheckpointError(describe(what)) from None
    return header, arrays


def _check_sizes(infos, file_size, describe):
    """Refuse compressed entries and entries whose declared sizes do not fit in the file, so
    that reading them can never allocate more than the file holds (no zip bombs)."""
    total = 0
    for name, info in infos.items():
        if info.compress_type != zipfile.ZIP_STORED:
            method = {zipfile.ZIP_DEFLATED: "DEFLATE", zipfile.ZIP_BZIP2: "BZIP2",
                      zipfile.ZIP_LZMA: "LZMA"}.get(info.compress_type, f"method {info.compress_type}")
            raise CheckpointError(describe(f"entry {name!r} is compressed ({method}); checkpoints are stored "
                                           "uncompressed (np.savez, not np.savez_compressed)"))
        if info.file_size != info.compress_size:
            raise CheckpointError(describe(f"entry {name!r} declares {info.file_size} bytes but stores "
                                           f"{info.compress_size}"))
        total += info.compress_size
    if total > file_size:
        raise CheckpointError(describe(f"its entries declare {total} bytes in all, more than the file's "
                                       f"{file_size} bytes"))


def _read_npy(archive, info):
    """The `.npy` entry `info` of `archive` as an array, after checking that its header's shape
    times itemsize is exactly the entry's data size (so a crafted header cannot make us
    allocate more than the file holds). Other entries give a _NotNpy."""
    if not info.filename.endswith(".npy"):
        return _NotNpy()
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
        if dtype.hasobject:
            raise ValueError(f"it holds Python objects (dtype {dtype}), which are never loaded")
        if any(not isinstance(n, int) or n < 0 for n in shape):
            raise ValueError(f"bad shape {shape} in its header")
        needed = math.prod(shape) * dtype.itemsize
        stored = info.file_size - member.tell()
        if needed != stored:
            raise ValueError(f"its header declares shape {shape} of dtype {dtype} ({needed} bytes), "
                             f"but the entry holds {stored} bytes of data")
        member.seek(0)
        return np.lib.format.read_array(member, allow_pickle=False)


def _check_header(header, describe):
    """Raise CheckpointError unless `header` names this format in a version we read."""
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME or "root" not in header:
        found = header.get("format") if isinstance(header, dict) else header
        raise CheckpointError(describe(f"unknown format {found!r:.80}"))
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(describe(f"bad format version {version!r}"))
    if version > FORMAT_VERSION:
        raise CheckpointError(describe(f"format version {version} is newer than this library reads "
                                       f"({FORMAT_VERSION}); upgrade tinygrad_cnn"))
