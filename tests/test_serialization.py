"""tc.save / tc.load: round trips, the on-disk format, atomic writes and errors on bad files.

Every round trip is compared with the original objects (types, dtypes, shapes, values, key
types and order), never with values taken from the implementation.
"""
import collections
import importlib.util
import errno
import io
import json
import math
import os
import pathlib
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import backend, serialization
from tinygrad_cnn.serialization import CheckpointError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------ helpers
def assert_same(loaded, original, where="root"):
    """Assert `loaded` is what tc.load must give back for `original` (recursively)."""
    if isinstance(original, tc.Tensor):
        original = original.numpy()
    elif backend.is_gpu_array(original):
        original = original.get()
    if isinstance(original, np.ndarray):
        assert type(loaded) is np.ndarray, where
        assert loaded.dtype == original.dtype, where
        assert loaded.shape == original.shape, where
        assert np.array_equal(loaded, original, equal_nan=original.dtype.kind in "fc"), where
        return
    if isinstance(original, np.generic):
        assert type(loaded) is type(original), where
        assert loaded.dtype == original.dtype, where
        assert np.array_equal(loaded, original, equal_nan=original.dtype.kind in "fc"), where
        return
    if isinstance(original, dict):
        expected_type = collections.OrderedDict if type(original) is collections.OrderedDict else dict
        assert type(loaded) is expected_type, where
        assert [(type(k), k) for k in loaded] == [(type(k), k) for k in original], where
        for key in original:
            assert_same(loaded[key], original[key], f"{where}/{key!r}")
        return
    if isinstance(original, (list, tuple)):
        assert type(loaded) is (list if isinstance(original, list) else tuple), where
        assert len(loaded) == len(original), where
        for i, (a, b) in enumerate(zip(loaded, original)):
            assert_same(a, b, f"{where}/{i}")
        return
    if isinstance(original, float):
        assert type(loaded) is float, where
        if math.isnan(original):
            assert math.isnan(loaded), where
        else:
            assert loaded == original and math.copysign(1, loaded) == math.copysign(1, original), where
        return
    assert type(loaded) is type(original), where   # None, bool, int, str
    assert loaded == original, where


def round_trip(obj, folder):
    path = os.path.join(folder, "ckpt.npz")
    tc.save(obj, path)
    return tc.load(path)


def listing(folder):
    return sorted(os.listdir(folder))


def every_kind():
    """One structure holding every supported kind of value."""
    rng = np.random.default_rng(0)
    return {
        "model": collections.OrderedDict([
            ("conv1.weight", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
            ("conv1.bias", np.zeros(4, np.float32)),
            ("bn1.num_batches_tracked", np.array(7, dtype=np.int64)),           # 0-d
            ("fc.weight", rng.standard_normal((5, 2))),                         # float64
        ]),
        "optimizer": {
            "state": {0: {"momentum_buffer": rng.standard_normal((4, 3, 3, 3)).astype(np.float32)},
                      1: {"step": 12, "exp_avg": np.full((4,), np.nan)}},
            "param_groups": [{"lr": 0.1, "momentum": 0.9, "nesterov": False, "params": [0, 1],
                              "betas": (0.9, 0.999), "name": None}],
        },
        "scheduler": {"last_epoch": 4, "base_lrs": [0.1], "_last_lr": [0.1 * 0.5 ** 2],
                      "milestones": {30: 1, 80: 1}},
        "epoch": 5,
        "rng": np.random.default_rng(123).bit_generator.state,                 # 128-bit ints
        "ints": [0, -1, 2 ** 63, -(2 ** 127) - 5, 2 ** 64 - 1, 3 ** 4000, -(7 ** 2000)],
        "floats": [0.0, -0.0, 1e-310, 1.7976931348623157e308, float("inf"), float("-inf"),
                   float("nan"), 0.1, 2.5],
        "flags": (True, False, None),
        "strings": ["", "héllo wörld ✓", "quote \" backslash \\ newline \n", "\ud800"],
        "arrays": [np.array([True, False]), np.arange(6, dtype=np.uint8).reshape(2, 3),
                   np.array([-(2 ** 63), 2 ** 63 - 1], dtype=np.int64),
                   np.array([2 ** 64 - 1], dtype=np.uint64), np.array(1.5, dtype=np.float16),
                   np.array([1 + 2j, np.nan * 1j], dtype=np.complex64), np.zeros((0, 3)),
                   np.arange(12.0).reshape(3, 4).T,                              # not contiguous
                   np.arange(4, dtype=">i4")],                                   # big-endian
        "scalars": (np.float32(0.25), np.int64(-3), np.bool_(True), np.float64("nan"), np.uint8(255)),
        "nested": {"a": [{"b": ({"c": [np.ones(2)]},)}], "": {"": 1}},
        "tensor": tc.tensor([[1.0, 2.0], [3.0, 4.0]]),
        "empty": {"dict": {}, "list": [], "tuple": ()},
        "odd keys": {"\x00/\\\ud800\n": np.ones(1), "a/": np.ones(2), "a": {"": np.zeros(1)},
                     "__tinygrad_cnn__": np.ones(3), "arr_0": np.ones(4), "k" * 300: np.ones(5)},
    }


# ------------------------------------------------------------------------------ round trips
def test_round_trip_every_kind(tmp_path):
    original = every_kind()
    assert_same(round_trip(original, tmp_path), original)


def test_round_trip_top_level_values(tmp_path):
    for original in [None, 3, 2 ** 200, float("nan"), "text", [1, (2,)], (), np.arange(3), np.float32(1)]:
        assert_same(round_trip(original, tmp_path), original)


def test_assert_same_can_fail():
    """The comparison used above notices the differences a round trip could introduce."""
    for loaded, original in [((1,), [1]), ({1: 0}, {"1": 0}), ({"b": 0, "a": 1}, {"a": 1, "b": 0}),
                             (np.zeros(2, np.float64), np.zeros(2, np.float32)), (1, True),
                             (0.0, -0.0), (np.zeros((1, 2)), np.zeros(2)), (np.float64(1), 1.0),
                             ({"a": 1}, collections.OrderedDict(a=1)), (2 ** 127, 2 ** 127 + 1)]:
        with pytest.raises(AssertionError):
            assert_same(loaded, original)


def _structures():
    arrays = st.sampled_from(["float32", "float64", "int64", "uint8", "bool", "float16"]).flatmap(
        lambda dtype: st.lists(st.integers(0, 3), max_size=3).map(
            lambda shape: (np.arange(int(np.prod(shape))) % 5 - 2).astype(dtype).reshape(shape)))
    leaves = (st.none() | st.booleans() | st.integers() | st.integers(-(2 ** 300), 2 ** 300)
              | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8) | arrays)
    keys = st.text(max_size=5) | st.integers(-5, 2 ** 70)
    return st.recursive(leaves, lambda children: (
        st.lists(children, max_size=4) | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(keys, children, max_size=4)), max_leaves=25)


@given(_structures())
def test_round_trip_random_structures(original):
    with tempfile.TemporaryDirectory() as folder:
        assert_same(round_trip(original, folder), original)


def test_tensor_and_parameter_load_back_as_arrays(tmp_path):
    t = tc.randn(3, 4)
    p = tc.nn.Parameter(tc.randn(2, 2, dtype="float64"))
    loaded = round_trip({"t": t, "p": p}, tmp_path)
    assert type(loaded["t"]) is np.ndarray and type(loaded["p"]) is np.ndarray
    np.testing.assert_array_equal(loaded["t"], t.numpy())
    assert loaded["t"].dtype == np.float32
    np.testing.assert_array_equal(loaded["p"], p.numpy())
    assert loaded["p"].dtype == np.float64
    assert np.array_equal(tc.tensor(loaded["t"]).numpy(), t.numpy())


def test_model_state_dict_into_a_fresh_model(tmp_path):
    tc.manual_seed(0)
    model = tc.nn.Linear(3, 2)
    tc.manual_seed(1)
    other = tc.nn.Linear(3, 2)
    assert not np.array_equal(model.weight.numpy(), other.weight.numpy())
    tc.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "m.npz")
    state = tc.load(tmp_path / "m.npz")
    other.load_state_dict(state["model"])
    for (name, a), (_, b) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_rng_state_restores_the_same_draws(tmp_path):
    rng = np.random.default_rng(2024)
    rng.standard_normal(10)
    tc.save({"rng": rng.bit_generator.state}, tmp_path / "rng.npz")
    expected = rng.standard_normal(5)
    fresh = np.random.default_rng()
    fresh.bit_generator.state = tc.load(tmp_path / "rng.npz")["rng"]
    np.testing.assert_array_equal(fresh.standard_normal(5), expected)


def test_shared_array_is_stored_once(tmp_path):
    shared = np.arange(5.0)
    tc.save({"a": shared, "b": [shared]}, tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as npz:
        assert len(npz.files) == 2   # the structure entry and one array
    loaded = tc.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(loaded["a"], shared)
    np.testing.assert_array_equal(loaded["b"][0], shared)


@pytest.mark.gpu
@pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a CUDA device")
def test_gpu_arrays_and_tensors_load_as_numpy(tmp_path):
    cp = backend.cupy_module()
    original = {"cupy": cp.arange(6, dtype=cp.float32).reshape(2, 3), "tensor": tc.randn(4, device="gpu")}
    assert_same(round_trip(original, tmp_path), original)


# ------------------------------------------------------------------------------ the file itself
def test_file_is_a_plain_npz(tmp_path):
    original = every_kind()
    path = tmp_path / "ckpt.npz"
    tc.save(original, path)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert all(name.endswith(".npy") for name in archive.namelist())
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["model/conv1.weight"], original["model"]["conv1.weight"])
        np.testing.assert_array_equal(npz["optimizer/state/0/momentum_buffer"],
                                      original["optimizer"]["state"][0]["momentum_buffer"])
        header = json.loads(npz[serialization.STRUCTURE_ENTRY].tobytes().decode("utf-8"))
    assert header["format"] == "tinygrad_cnn.checkpoint" and header["version"] == 1


def test_path_is_written_exactly_as_given(tmp_path):
    for name in ["checkpoint", "model.pt", "weights.npz"]:
        target = tmp_path / name
        tc.save({"x": np.ones(2)}, target)            # os.PathLike
        assert target.exists()
        assert_same(tc.load(str(target)), {"x": np.ones(2)})
    assert listing(tmp_path) == ["checkpoint", "model.pt", "weights.npz"]


def test_save_overwrites_and_keeps_file_mode(tmp_path):
    path = tmp_path / "c.npz"
    tc.save({"v": 1}, path)
    if os.name == "posix":
        os.chmod(path, 0o640)
    tc.save({"v": 2}, path)
    assert tc.load(path) == {"v": 2}
    if os.name == "posix":
        assert (os.stat(path).st_mode & 0o777) == 0o640
    assert listing(tmp_path) == ["c.npz"]


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_save_through_a_symlink_replaces_its_target(tmp_path):
    real = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    tc.save({"v": 1}, real)
    link.symlink_to(real)
    tc.save({"v": 2}, link)
    assert link.is_symlink()
    assert tc.load(real) == {"v": 2}


# ------------------------------------------------------------------------------ atomic writes
def _old_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    tc.save({"old": np.arange(100.0)}, path)
    return path, path.read_bytes(), listing(tmp_path)


def _assert_untouched(tmp_path, path, old_bytes, old_listing):
    assert path.read_bytes() == old_bytes
    assert listing(tmp_path) == old_listing          # no temporary file left behind
    assert_same(tc.load(path), {"old": np.arange(100.0)})


def test_writer_failing_midway_leaves_old_file(tmp_path, monkeypatch):
    path, old_bytes, old_listing = _old_file(tmp_path)
    real_writer = serialization._write_npz

    def failing_writer(file, entries):
        file.write(b"PK\x03\x04 partial bytes" * 100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "_write_npz", failing_writer)
    with pytest.raises(OSError, match="No space left"):
        tc.save({"new": np.ones(1000)}, path)
    _assert_untouched(tmp_path, path, old_bytes, old_listing)
    monkeypatch.setattr(serialization, "_write_npz", real_writer)
    tc.save({"new": np.ones(3)}, path)               # and the next save works
    assert_same(tc.load(path), {"new": np.ones(3)})


def test_array_failing_to_write_midway_leaves_old_file(tmp_path, monkeypatch):
    path, old_bytes, old_listing = _old_file(tmp_path)
    real_write_array = np.lib.format.write_array
    calls = []

    def write_array(fp, array, *args, **kwargs):
        calls.append(array.shape)
        if len(calls) == 3:                           # the structure entry and one array went out
            fp.write(b"\x00" * 64)
            raise RuntimeError("simulated crash while writing an array")
        return real_write_array(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)
    with pytest.raises(RuntimeError, match="simulated crash"):
        tc.save({"a": np.ones(500), "b": np.zeros(500), "c": np.ones(500)}, path)
    assert len(calls) == 3
    _assert_untouched(tmp_path, path, old_bytes, old_listing)


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failure_at_fsync_or_replace_leaves_old_file(tmp_path, monkeypatch, step):
    path, old_bytes, old_listing = _old_file(tmp_path)

    def fail(*args, **kwargs):
        raise OSError(5, f"simulated {step} failure")

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(OSError, match=f"simulated {step}"):
        tc.save({"new": 1}, path)
    monkeypatch.undo()
    _assert_untouched(tmp_path, path, old_bytes, old_listing)


def test_interrupt_midway_leaves_old_file(tmp_path, monkeypatch):
    path, old_bytes, old_listing = _old_file(tmp_path)

    def interrupted(file, entries):
        file.write(b"x" * 10)
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization, "_write_npz", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tc.save({"new": 1}, path)
    _assert_untouched(tmp_path, path, old_bytes, old_listing)


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tc.save({"v": 1}, tmp_path / "nope" / "c.npz")


# ------------------------------------------------------------------------------ unsupported values
@pytest.mark.parametrize("obj, where, what", [
    ({"optimizer": {"state": {0: {"foo": {1, 2}}}}}, "'optimizer/state/0/foo'", "set"),
    ({"a": [1, 2, object()]}, "'a/2'", "object"),
    ({"f": len}, "'f'", "builtin_function_or_method"),
    ({"b": b"bytes"}, "'b'", "bytes"),
    ({"a": np.array(["x", "y"])}, "'a'", "<U1"),
    ({"a": {"o": np.array([None], dtype=object)}}, "'a/o'", "object"),
    ({"s": np.str_("x")}, "'s'", "<U1"),
    ({"a": {1.5: 0}}, "'a'", "float"),
    ({"a": {(1, 2): 0}}, "'a'", "tuple"),
    ({"a": {True: 0}}, "'a'", "bool"),
    ({"m": np.ma.masked_array([1, 2], mask=[0, 1])}, "'m'", "masked"),
    ({1, 2}, "top level", "set"),
])
def test_unsupported_values_raise_type_error_naming_the_path(tmp_path, obj, where, what):
    path = tmp_path / "c.npz"
    with pytest.raises(TypeError) as info:
        tc.save(obj, path)
    assert where in str(info.value) and what in str(info.value)
    assert listing(tmp_path) == []                    # nothing written, not even a temporary file


def test_unsupported_value_leaves_old_file(tmp_path):
    path, old_bytes, old_listing = _old_file(tmp_path)
    with pytest.raises(TypeError):
        tc.save({"model": {"w": np.ones(10)}, "bad": {"x": {3}}}, path)
    _assert_untouched(tmp_path, path, old_bytes, old_listing)


def test_reference_cycle_is_an_error(tmp_path):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(ValueError, match="cycle.*'a/0'"):
        tc.save(loop, tmp_path / "c.npz")
    assert listing(tmp_path) == []


def test_deep_nesting(tmp_path):
    deep = np.arange(3)
    for i in range(100):
        deep = {"k": [deep]} if i % 2 else (deep,)
    assert_same(round_trip(deep, tmp_path), deep)
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        tc.save(deep, tmp_path / "too_deep.npz")
    assert not (tmp_path / "too_deep.npz").exists()


# ------------------------------------------------------------------------------ bad files
def _good_bytes(tmp_path):
    tc.save(every_kind(), tmp_path / "good.npz")
    return (tmp_path / "good.npz").read_bytes()


def _assert_load_error(path, *fragments):
    with pytest.raises(CheckpointError) as info:
        tc.load(path)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    # a clean error of our own: no zipfile/json/numpy exception chained under it
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_missing_file(tmp_path):
    path = tmp_path / "absent.npz"
    with pytest.raises(FileNotFoundError) as info:
        tc.load(path)
    assert str(path) in str(info.value)


def test_truncated_file(tmp_path):
    data = _good_bytes(tmp_path)
    for length, fragment in [(len(data) // 2, "truncated"), (len(data) - 10, "truncated"),
                             (30, "truncated"), (0, "empty")]:
        path = tmp_path / f"truncated_{length}.npz"
        path.write_bytes(data[:length])
        _assert_load_error(path, fragment)


def test_random_bytes(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _assert_load_error(path, "not an .npz archive")


def test_corrupted_bytes_inside_the_archive(tmp_path):
    data = bytearray(_good_bytes(tmp_path))
    with zipfile.ZipFile(tmp_path / "good.npz") as archive:
        infos = archive.infolist()
    for info in infos:   # flip one byte in the middle of each member's data
        header = info.header_offset
        name_length, extra_length = struct.unpack("<HH", data[header + 26:header + 30])
        data_start = header + 30 + name_length + extra_length
        corrupt = bytearray(data)
        corrupt[data_start + info.file_size // 2] ^= 0xFF
        path = tmp_path / "corrupt.npz"
        path.write_bytes(bytes(corrupt))
        _assert_load_error(path, "damaged", info.filename[:-len(".npy")])


def test_foreign_npz_and_npy(tmp_path):
    foreign = tmp_path / "foreign.npz"
    with open(foreign, "wb") as f:
        np.savez(f, weights=np.ones(3), bias=np.zeros(2))
    _assert_load_error(foreign, "__tinygrad_cnn__")
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(3))
    _assert_load_error(npy, ".npy array")


def _archive_with_structure(path, structure, **arrays):
    """An npz holding `structure` (a JSON-able object or raw bytes) as the structure entry."""
    text = structure if isinstance(structure, bytes) else json.dumps(structure).encode()
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=False, __tinygrad_cnn__=np.frombuffer(text, np.uint8), **arrays)


@pytest.mark.parametrize("structure, fragment", [
    ({"format": "someone.else", "version": 1, "root": None}, "unknown format"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 99, "root": None}, "newer"),
    ({"format": "tinygrad_cnn.checkpoint", "root": None}, "version"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1}, "unknown format"),
    (b"{not json", "damaged structure"),
    (b"\xff\xfe", "damaged structure"),
    ([1, 2], "unknown format"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1,
      "root": {"dict": [["w", {"array": "missing", "dtype": "<f8", "shape": [3]}]]}}, "'missing' is missing"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1,
      "root": {"dict": [["w", {"array": "w", "dtype": "<f4", "shape": [3]}]]}}, "dtype"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1,
      "root": {"dict": [["w", {"array": "w", "dtype": "<f8", "shape": [4]}]]}}, "shape"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"float": "abc"}}, "damaged structure"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"set": [1]}}, "unknown structure node"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1, "root": 1.5}, "unexpected structure node"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"dict": [[1.5, 1]]}},
     "unexpected structure node"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"dict": [[True, 1]]}}, "bad dict entry"),
    ({"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"dict": [["a"]]}}, "bad dict entry"),
])
def test_damaged_or_foreign_structure(tmp_path, structure, fragment):
    path = tmp_path / "bad.npz"
    _archive_with_structure(path, structure, w=np.ones(3))
    _assert_load_error(path, fragment)


def test_hand_made_archive_in_the_documented_format_loads(tmp_path):
    """The format in the module docstring is enough to write a checkpoint by hand."""
    path = tmp_path / "hand.npz"
    structure = {"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"dict": [
        ["w", {"array": "w", "dtype": np.dtype(np.float64).str, "shape": [3]}],
        [7, {"tuple": [None, True, "s", 5, {"int": hex(-(2 ** 3000))}, {"float": "-inf"}]}]]}}
    _archive_with_structure(path, structure, w=np.arange(3.0))
    assert_same(tc.load(path), {"w": np.arange(3.0), 7: (None, True, "s", 5, -(2 ** 3000), float("-inf"))})


def test_load_accepts_pathlike_and_closes_the_file(tmp_path):
    path = tmp_path / "c.npz"
    tc.save({"w": np.ones(4)}, path)
    loaded = tc.load(pathlib.PurePath(path))
    os.remove(path)                                   # works only when nothing holds it open (Windows)
    assert_same(loaded, {"w": np.ones(4)})


# ------------------------------------------------------------------------------ killed saves, full disks
def _temporaries(folder, name="ckpt.npz"):
    return sorted(p for p in os.listdir(folder) if p.startswith(f".{name}.") and p.endswith(".tmp"))


def _age(folder, names, seconds=60.0):
    """Make files look `seconds` old, as the orphans of a save killed a while ago."""
    then = time.time() - seconds
    for name in names:
        os.utime(os.path.join(folder, name), (then, then))


_KILLED_SAVE = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    import numpy as np
    import tinygrad_cnn as tc
    real_write, written = np.lib.format.write_array, []
    def dying_write(member, array, *args, **kwargs):
        written.append(1)
        if len(written) == 2:                     # the first array, after the structure entry
            member.write(b"partial")
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(member, array, *args, **kwargs)
    np.lib.format.write_array = dying_write
    tc.save({{"big": np.ones(100_000)}}, sys.argv[1])
""")


def _killed_save(path):
    """Run tc.save(path) in a subprocess that SIGKILLs itself in the middle of writing."""
    script = _KILLED_SAVE.format(repo=REPO)
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("fcntl") is None, reason="no flock here: stale temporaries are kept")
def test_temporaries_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    path, _, _ = _old_file(tmp_path)
    for _ in range(2):
        _killed_save(path)
    orphans = _temporaries(tmp_path)
    assert len(orphans) == 2                         # each kill left its temporary file
    assert_same(tc.load(path), {"old": np.arange(100.0)})
    _age(tmp_path, orphans)
    tc.save({"new": 1}, path)
    assert _temporaries(tmp_path) == []              # gone with the next save of the same target
    assert tc.load(path) == {"new": 1}


@pytest.mark.skipif(importlib.util.find_spec("fcntl") is None, reason="no flock here: stale temporaries are kept")
def test_only_abandoned_old_temporaries_of_the_same_target_are_removed(tmp_path):
    path, _, _ = _old_file(tmp_path)
    young, old = tmp_path / ".ckpt.npz.young123.tmp", tmp_path / ".ckpt.npz.old45678.tmp"
    foreign = [".other.npz.abcdefgh.tmp", ".ckpt.npz.backup.tmp", "ckpt.npz.abcdefgh.tmp"]
    started, release, errors = threading.Event(), threading.Event(), []

    def slow_writer(file):                            # a live writer, paused mid-write
        file.write(b"new contents")
        started.set()
        release.wait(30)

    def write_in_background():
        try:
            serialization.atomic_write(path, slow_writer)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    writer = threading.Thread(target=write_in_background)
    writer.start()
    try:
        assert started.wait(30)
        live = _temporaries(tmp_path)
        assert len(live) == 1
        for p in [young, old] + [tmp_path / name for name in foreign]:
            p.write_bytes(b"x")
        _age(tmp_path, [old.name] + foreign)
        _age(tmp_path, live)                          # old, but its writer holds the lock
        removed = serialization.remove_stale_temporaries(path)
        assert removed == [str(old)]
        assert sorted(_temporaries(tmp_path)) == sorted(live + [young.name, foreign[1]])
        for name in foreign:
            assert (tmp_path / name).exists()
    finally:
        release.set()
        writer.join(30)
    assert not errors and path.read_bytes() == b"new contents"


def test_a_failed_write_names_the_file_and_keeps_the_errno(tmp_path, monkeypatch):
    path, old_bytes, old_listing = _old_file(tmp_path)

    def full_disk(file, entries):
        file.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(serialization, "_write_npz", full_disk)
    with pytest.raises(OSError) as info:
        tc.save({"new": np.ones(10)}, path)
    assert type(info.value) is OSError and info.value.errno == errno.ENOSPC
    assert str(info.value) == f"[Errno {errno.ENOSPC}] save: cannot write {str(path)!r}: No space left on device"
    _assert_untouched(tmp_path, path, old_bytes, old_listing)


def test_save_to_a_folder_names_the_folder(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        tc.save({"v": 1}, tmp_path / "run")
    assert str(info.value) == f"[Errno {errno.EISDIR}] save: cannot write {str(tmp_path / 'run')!r}: it is a folder"
    assert listing(tmp_path) == ["run"] and listing(tmp_path / "run") == []


# ------------------------------------------------------------------------------ crafted files
def _npy_bytes(array, shape=None):
    """An .npy file for `array`, its header declaring `shape` (default: the array's)."""
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
              "shape": tuple(array.shape if shape is None else shape)}
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + array.tobytes()


def _crafted_checkpoint(path, entry_bytes, compression=zipfile.ZIP_STORED, shape=(3,)):
    """A checkpoint whose structure names array 'w' of `shape`, stored as `entry_bytes`
    (bytes, or an iterable of chunks written one by one)."""
    structure = {"format": "tinygrad_cnn.checkpoint", "version": 1,
                 "root": {"dict": [["w", {"array": "w", "dtype": "<f8", "shape": list(shape)}]]}}
    text = np.frombuffer(json.dumps(structure).encode(), np.uint8)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        with archive.open("__tinygrad_cnn__.npy", "w") as member:
            np.lib.format.write_array(member, text, allow_pickle=False)
        info = zipfile.ZipInfo("w.npy")
        info.compress_type = compression
        with archive.open(info, "w", force_zip64=True) as member:
            for chunk in ([entry_bytes] if isinstance(entry_bytes, bytes) else entry_bytes):
                member.write(chunk)


def _peak_bytes_while(fn):
    """(what fn raised, peak bytes traced while it ran; numpy reports its arrays to tracemalloc)."""
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as info:
            fn()
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_compressed_entry_is_refused_before_it_expands(tmp_path):
    """A small file whose DEFLATE entry expands to 64 MB: refused, nothing near 64 MB allocated."""
    n = 8 * 2 ** 20                                   # float64: 64 MiB
    path = tmp_path / "bomb.npz"
    chunk = np.zeros(2 ** 20)
    _crafted_checkpoint(path, [_npy_bytes(np.zeros(0), shape=(n,))] + [chunk.tobytes()] * 8,
                        compression=zipfile.ZIP_DEFLATED, shape=(n,))
    assert os.path.getsize(path) < 2 ** 20
    error, peak = _peak_bytes_while(lambda: tc.load(path))
    assert "'w' is compressed (DEFLATE)" in str(error) and str(path) in str(error)
    assert peak < 8 * 2 ** 20, peak


def test_an_npy_header_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    _crafted_checkpoint(path, _npy_bytes(np.arange(10.0), shape=(2 ** 27,)), shape=(2 ** 27,))  # 1 GiB declared
    error, peak = _peak_bytes_while(lambda: tc.load(path))
    assert "declares shape (134217728,) of dtype float64 (1073741824 bytes)" in str(error)
    assert "holds 80 bytes" in str(error) and "'w'" in str(error)
    assert peak < 8 * 2 ** 20, peak


def test_entry_sizes_must_fit_in_the_file(tmp_path):
    path = tmp_path / "sizes.npz"
    _crafted_checkpoint(path, _npy_bytes(np.arange(3.0)))
    assert_same(tc.load(path), {"w": np.arange(3.0)})            # the crafted file itself is fine
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        name = archive.getinfo("w.npy").filename.encode()
    central = data.find(b"PK\x01\x02")               # central directory headers: find w.npy's
    while data[central + 46:central + 46 + len(name)] != name:
        central = data.find(b"PK\x01\x02", central + 1)
        assert central >= 0
    struct.pack_into("<II", data, central + 20, 2 ** 31, 2 ** 31)  # compressed and uncompressed sizes: 2 GiB
    path.write_bytes(bytes(data))
    _assert_load_error(path, "declare", "more than the file's")
