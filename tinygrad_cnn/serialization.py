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

Saving is atomic: the archive is written to a temporary file in the target's folder, flushed
and fsync'ed, then moved over the target with `os.replace` (and the folder fsync'ed where the
OS allows), so a crash or an error mid-save leaves the previous file intact and no temporary
file behind. The path is written exactly as given (no `.npz` is appended); a symbolic link is
followed, so the file it points to is replaced.

Loading reads every array into memory and closes the file. A missing file raises
FileNotFoundError; a file that is truncated, corrupted or not a tinygrad_cnn checkpoint raises
CheckpointError (a ValueError) whose message names the file and what is wrong.
"""
import collections
import json
import os
import stat
import tempfile
import zipfile

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "tinygrad_cnn.checkpoint"
FORMAT_VERSION = 1
STRUCTURE_ENTRY = "__tinygrad_cnn__"   # npz key of the JSON structure
_ARRAY_KINDS = "biufc"                 # numpy dtype kinds we store: bool, int, uint, float, complex
_MAX_INLINE_INT_BITS = 2000            # larger ints are written in hex (str(int) has a digit limit)
_MAX_ENTRY_NAME = 200


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
            return self._encode_array(obj.data, path, source=obj.data)
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


def atomic_write(path, write, binary=True, op="save"):
    """Create or replace the file `path` atomically: `write(file)` fills a temporary file in
    the same folder, which is flushed, fsynced and renamed over `path` with os.replace. On any
    error the temporary file is removed and the old file (if any) is untouched. `op` names the
    caller in the error for a missing folder.
    """
    target = os.path.realpath(os.fspath(path))
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{op}: cannot write {os.fspath(path)!r}: folder {folder!r} does not exist")
    mode = _new_file_mode(target)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
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
        if not isinstance(array, np.ndarray):
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


def _read_archive(file, describe):
    """(parsed structure JSON, dict of entry name -> array) from the open file, all in memory.

    Any failure of numpy, zipfile or json on a damaged or foreign file becomes one
    CheckpointError that names the file (`describe` words its message).
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
        archive = np.load(file, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise TypeError(f"np.load returned {type(archive).__name__}")
    except Exception as exc:
        raise CheckpointError(describe(f"a damaged or truncated .npz archive ({_explain(exc)})")) from None
    with archive:
        names = archive.files
        if STRUCTURE_ENTRY not in names:
            listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise CheckpointError(describe(f"an .npz archive without the {STRUCTURE_ENTRY!r} entry "
                                           f"(entries: {listed})"))
        try:
            entry = archive[STRUCTURE_ENTRY]
            if not (isinstance(entry, np.ndarray) and entry.dtype == np.uint8 and entry.ndim == 1):
                raise ValueError("it is not a 1-d uint8 array")
            header = json.loads(entry.tobytes().decode("utf-8"))
        except Exception as exc:
            raise CheckpointError(describe(f"damaged structure entry ({_explain(exc)})")) from None
        arrays = {}
        for name in names:
            if name != STRUCTURE_ENTRY:
                try:
                    arrays[name] = archive[name]
                except Exception as exc:
                    what = f"array entry {name!r} is damaged ({_explain(exc)})"
                    raise CheckpointError(describe(what)) from None
    return header, arrays


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
