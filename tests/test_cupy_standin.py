"""The CuPy stand-in is as strict as CuPy, and that strictness catches GPU bugs on the CPU.

1. Strictness, checked against the installed CuPy where possible (names, signatures) and
   against CuPy's documented behaviour otherwise (host arrays refused, 0-d results, wrapping
   indices, RandomState's API, counters).
2. Six seeded breakages, each injected into a copy of a small op for the duration of a test:
   each must make the stand-in run fail while the CPU run passes.
3. Probes of library behaviour on a device: their stand-in (and real-GPU) cases fail where the
   library is not CuPy-compatible; conftest.STANDIN_KNOWN_LIBRARY_BUGS marks them.
"""
import inspect

import cupy_standin
import numpy as np
import pytest
from cupy_standin._signatures import parse_parameter_list, read_spec
from helpers import DEVICES, STANDIN, STANDIN_SKIP_REASON

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import backend, nn, optim
from tinygrad_cnn.ops import dropout as dropout_ops

pytestmark = pytest.mark.skipif(STANDIN_SKIP_REASON is not None, reason=STANDIN_SKIP_REASON or "")

xp = cupy_standin.load()
cupy = pytest.importorskip("cupy") if STANDIN_SKIP_REASON is None else None


def device_array(values, dtype=np.float32):
    return xp.asarray(np.asarray(values, dtype=dtype))


def public(names):
    return {n for n in names if not n.startswith("_")}


# ============================================================== 1. strictness
def test_implicit_conversion_to_numpy_is_refused():
    a = device_array([1.0, 2.0])
    for convert in (np.asarray, np.array, lambda v: np.asarray(v, dtype=np.float64)):
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
            convert(a)
    np.testing.assert_array_equal(a.get(), [1.0, 2.0])  # the explicit way works


def test_namespace_has_exactly_cupys_public_names():
    assert public(dir(xp)) == public(dir(cupy))
    assert public(dir(xp.ndarray)) == public(dir(cupy.ndarray))
    assert public(dir(xp.random.RandomState)) == public(dir(cupy.random.RandomState))
    assert public(dir(xp.linalg)) == public(dir(cupy.linalg))


def test_ndarray_special_methods_are_cupys():
    ours = {n for n in dir(xp.ndarray) if n.startswith("__")}
    theirs = {n for n in dir(cupy.ndarray) if n.startswith("__")}
    assert ours - theirs == {"__weakref__"}  # CuPy's Cython class supports weak references without it
    assert theirs - ours == {"__pyx_vtable__"}  # Cython's internal table


@pytest.mark.parametrize("name", ["errstate", "seterr", "geterr", "block", "insert", "float128"])
def test_names_cupy_lacks_raise_attribute_error(name):
    assert hasattr(np, name) and not hasattr(cupy, name)
    with pytest.raises(AttributeError, match=name):
        getattr(xp, name)


@pytest.mark.parametrize("name", ["__index__", "__contains__", "resize", "setflags", "getfield", "to_device"])
def test_ndarray_has_no_attributes_cupy_lacks(name):
    assert hasattr(np.ndarray, name) and not hasattr(cupy.ndarray, name)
    assert not hasattr(device_array([1.0]), name)


def test_zero_d_array_is_not_an_index_as_in_cupy():
    with pytest.raises(TypeError):
        range(xp.asarray(3))


@pytest.mark.parametrize("name", ["ElementwiseKernel", "RawKernel", "ReductionKernel", "fuse", "from_dlpack"])
def test_unemulated_names_exist_and_raise_not_implemented_when_called(name):
    obj = getattr(xp, name)  # attribute access works, as in CuPy
    with pytest.raises(NotImplementedError, match=name):
        obj()


def test_unemulated_method_raises_not_implemented_naming_it():
    with pytest.raises(NotImplementedError, match="toDlpack"):
        device_array([1.0]).toDlpack()


def test_reductions_ufuncs_and_integer_indexing_give_0d_arrays():
    a = device_array([[1.0, 2.0], [3.0, 4.0]])
    results = [a.sum(), xp.sum(a), a.max(), xp.mean(a), a[0, 1], a[1][0], xp.add(1.0, 2.0), xp.exp(a[0, 0]),
               np.sum(a), next(iter(a[0])), xp.count_nonzero(a)]
    for r in results:
        assert isinstance(r, xp.ndarray) and r.shape == (), r
        assert not isinstance(r, np.generic)


def test_full_integer_index_is_a_view_as_in_cupy():
    a = device_array([1.0, 2.0, 3.0])
    element = a[1]
    element[...] = 7.0
    np.testing.assert_array_equal(a.get(), [1.0, 7.0, 3.0])


def test_host_array_in_an_op_is_refused():
    a = device_array(np.ones((2, 3)))
    mask = np.random.default_rng(0).random((2, 3)) > 0.5  # a dropout mask drawn on the host
    refused = [lambda: a * mask, lambda: mask * a, lambda: xp.multiply(a, mask), lambda: a + np.float32(1) * mask,
               lambda: xp.where(a > 0, mask, 0.0), lambda: xp.stack([a, mask]), lambda: xp.sum(mask),
               lambda: a.__iadd__(mask), lambda: a * np.array(2.0), lambda: xp.add(a, [1.0, 2.0, 3.0])]
    for op in refused:
        with pytest.raises(TypeError, match="Unsupported type <class '(numpy.ndarray|list)'>"):
            op()


def test_lists_where_cupy_takes_arrays_are_refused():
    a = device_array([1.0, 2.0])
    for call in (lambda: xp.sum([1.0, 2.0]), lambda: xp.stack([[1.0, 2.0], a]), lambda: xp.maximum(a, [0.0, 3.0]),
                 lambda: xp.clip(a, [0.0, 0.0], 1.0), lambda: a.clip([0.0, 0.0], 1.0), lambda: xp.dot(a, [1.0, 1.0])):
        with pytest.raises(TypeError, match="Unsupported type <class '(list|tuple)'>"):
            call()
    assert xp.zeros(np.array([2, 3])).shape == (2, 3)  # shapes and axes are host values in CuPy too
    assert xp.transpose(xp.zeros((2, 3)), np.array([1, 0])).shape == (3, 2)
    assert xp.asarray([1.0, 2.0]).shape == (2,)  # creation functions take host data


def test_scalars_are_accepted_as_in_cupy():
    a = device_array([1.0, 2.0])
    for scalar in (2, 2.0, True, np.float32(2.0), np.int64(2), np.float64(2.0)):
        assert isinstance(a * scalar, xp.ndarray) and isinstance(scalar - a, xp.ndarray)
    assert (a * np.float32(2.0)).dtype == np.float32
    assert (a * 2.0).dtype == np.float32  # Python scalars are weak (NEP 50), as in CuPy 14


def test_comparison_with_a_0d_numpy_array_is_allowed_as_in_cupy():
    a = device_array([1.0, 2.0])
    np.testing.assert_array_equal((a == np.array(2.0)).get(), [False, True])
    with pytest.raises(TypeError, match="Unsupported type"):
        a == np.array([1.0, 2.0])  # noqa: B015


def test_objects_that_opt_out_of_numpy_ufuncs_get_their_reflected_operator():
    class OptsOut:
        __array_ufunc__ = None

        def __radd__(self, other):
            return "reflected"
    assert device_array([1.0]) + OptsOut() == "reflected"


def test_setitem_with_a_host_array_raises_cupys_value_error():
    a = device_array(np.zeros((2, 3)))
    for index, value in [(Ellipsis, np.ones((2, 3))), (slice(0, 1), np.ones(3)), (0, [1.0, 2.0, 3.0]), (0, [1.0])]:
        with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
            a[index] = value
    a[0, 0] = np.array(5.0)  # a 0-d NumPy array is a scalar for fill
    a[1] = np.float32(6.0)
    with cupy_standin.counting() as window:
        a[xp.asarray(np.array([0, 1])), 2] = np.array([8.0, 9.0])  # with an array index CuPy copies the value
    np.testing.assert_array_equal(a.get(), [[5, 0, 8], [6, 6, 9]])
    assert window.host_to_device == 2  # the host index array and the host value


def test_advanced_indices_wrap_around_and_basic_indices_raise():
    a = xp.arange(5)
    np.testing.assert_array_equal(a[xp.asarray(np.array([5, -6, 7, 12]))].get(), [0, 4, 2, 2])
    np.testing.assert_array_equal(a[[6]].get(), [1])
    np.testing.assert_array_equal(xp.take(a, xp.asarray(np.array([9]))).get(), [4])
    np.testing.assert_array_equal(a.take([5]).get(), [0])
    b = xp.zeros((2, 3))
    b[xp.asarray(np.array([3])), xp.asarray(np.array([-4]))] = 1.0
    np.testing.assert_array_equal(b.get(), [[0, 0, 0], [0, 0, 1]])
    xp.add.at(b, (xp.asarray(np.array([2, 2])),), 1.0)
    np.testing.assert_array_equal(b.get(), [[2, 2, 2], [0, 0, 1]])
    rows = xp.take_along_axis(xp.arange(6).reshape(2, 3), xp.asarray(np.array([[4], [-1]])), 1)
    np.testing.assert_array_equal(rows.get(), [[1], [5]])
    for array, index in ((a, 5), (a, -6), (b, (0, 5))):
        with pytest.raises(IndexError):
            array[index]


def test_random_state_has_cupys_api_only():
    rs = xp.random.RandomState(0)
    for numpy_only in ("random", "integers", "get_state", "set_state", "bytes", "spawn"):
        assert not hasattr(cupy.random.RandomState, numpy_only)
        with pytest.raises(AttributeError):
            getattr(rs, numpy_only)
    assert rs.random_sample(3, dtype=np.float32).dtype == np.float32
    assert rs.standard_normal((2, 2), dtype=np.float32).dtype == np.float32
    assert rs.randint(0, 5, size=4, dtype=np.int32).dtype == np.int32
    with pytest.raises(TypeError, match="float32 and float64"):
        rs.random_sample(3, dtype=np.int32)
    with pytest.raises(TypeError, match="dtype"):
        rs.permutation(3, dtype=np.int32)  # CuPy's permutation takes no dtype


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**64, TypeError), (1.5, TypeError), ("7", TypeError)])
def test_random_state_seed_checks_are_cupys(seed, error):
    with pytest.raises(error, match="Seed must be an integer"):
        xp.random.RandomState(seed)


def test_random_state_is_deterministic_per_seed():
    a = xp.random.RandomState(2**64 - 1).rand(5).get()
    b = xp.random.RandomState(2**64 - 1).rand(5).get()
    c = xp.random.RandomState(3).rand(5).get()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    xp.random.seed(11)
    d = xp.random.randn(4).get()
    xp.random.seed(11)
    np.testing.assert_array_equal(xp.random.randn(4).get(), d)


NUMPY_ONLY_KEYWORDS = [  # (what, stand-in call, CuPy callable, keyword, the same call in NumPy)
    ("cupy.sum(where=)", lambda a: xp.sum(a, where=a > 0), lambda: cupy.sum, "where",
     lambda h: np.sum(h, where=h > 0)),
    ("ndarray.sum(where=)", lambda a: a.sum(where=a > 0), lambda: cupy.ndarray.sum, "where",
     lambda h: h.sum(where=h > 0)),
    ("ndarray.max(initial=)", lambda a: a.max(initial=0.0), lambda: cupy.ndarray.max, "initial",
     lambda h: h.max(initial=0.0)),
    ("cupy.max(initial=)", lambda a: xp.max(a, initial=0.0), lambda: cupy.max, "initial",
     lambda h: np.max(h, initial=0.0)),
    ("cupy.mean(where=)", lambda a: xp.mean(a, where=a > 0), lambda: cupy.mean, "where",
     lambda h: np.mean(h, where=h > 0)),
    ("cupy.zeros(like=)", lambda a: xp.zeros(3, like=a), lambda: cupy.zeros, "like",
     lambda h: np.zeros(3, like=h)),
    ("cupy.std(correction=)", lambda a: xp.std(a, correction=1), lambda: cupy.std, "correction",
     lambda h: np.std(h, correction=1)),
    ("cupy.clip(min=)", lambda a: xp.clip(a, min=0.0, max=1.0), lambda: cupy.clip, "min",
     lambda h: np.clip(h, min=0.0, max=1.0)),
]


@pytest.mark.parametrize("case", NUMPY_ONLY_KEYWORDS, ids=[c[0] for c in NUMPY_ONLY_KEYWORDS])
def test_keywords_are_checked_against_cupys_signatures(case):
    _what, call, cupy_callable, keyword, numpy_call = case
    spec = read_spec(cupy_callable(), "x")
    assert keyword not in spec.keywords  # CuPy refuses it ...
    numpy_call(np.ones(3, dtype=np.float32))  # ... NumPy accepts it ...
    with pytest.raises(TypeError, match=keyword):  # ... and so the stand-in refuses it
        call(device_array([1.0, -2.0, 3.0]))


def test_keywords_cupy_has_and_numpy_lacks_are_accepted():
    assert "dtype" in read_spec(cupy.ndarray.argmax, "argmax").keywords  # NumPy's argmax has no dtype=
    index = device_array([[1.0, 3.0, 2.0]]).argmax(axis=1, dtype=np.int32, keepdims=True)
    assert index.dtype == np.int32 and index.shape == (1, 1) and int(index[0, 0]) == 1


def test_ufuncs_take_cupys_keywords():
    a = device_array([1.0, -2.0])
    with pytest.raises(TypeError, match="Wrong arguments.*where"):
        xp.add(a, a, where=a > 0)  # CuPy's ufuncs spell it _where
    out = xp.empty(2, dtype=np.float32)
    assert xp.add(a, a, out=out) is out
    out.fill(0.0)
    assert xp.add(a, 1.0, _where=a > 0, out=out) is out
    np.testing.assert_array_equal(out.get(), [2.0, 0.0])


def test_ufunc_methods_are_cupys():
    a = device_array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(xp.add.reduce(a).get(), [4.0, 6.0])
    np.testing.assert_array_equal(xp.multiply.accumulate(a, axis=1).get(), [[1, 2], [3, 12]])
    assert xp.multiply.outer(device_array([1.0, 2.0]), device_array([3.0])).shape == (2, 1)
    with pytest.raises(NotImplementedError, match="reduce"):
        xp.maximum.reduce(a)
    with pytest.raises(NotImplementedError, match="at"):
        xp.multiply.at(a, (xp.asarray(np.array([0])),), 2.0)
    with pytest.raises(TypeError, match="int32"):
        xp.add.at(xp.zeros(3, dtype=np.int8), (xp.asarray(np.array([0])),), 1)


def test_array_function_and_array_ufunc_dispatch_like_cupy():
    a = device_array([1.0, 4.0])
    assert isinstance(np.sum(a), xp.ndarray) and isinstance(np.sqrt(a), xp.ndarray)
    assert isinstance(np.concatenate([a, a]), xp.ndarray)
    with pytest.raises(TypeError, match="Unsupported type"):
        np.add(np.ones(2), a)
    with pytest.raises(TypeError):
        np.insert(a, 0, 1.0)  # CuPy has no insert: NumPy finds no implementation
    with pytest.raises(TypeError):
        np.spacing(a)  # nor a spacing ufunc


def test_cython_signatures_are_parsed_from_docstrings():
    params, typed = parse_parameter_list("self, int axis=-1, kind=None, *, copy=None")
    assert [p.name for p in params] == ["axis", "kind", "copy"]
    assert params[2].kind == inspect.Parameter.KEYWORD_ONLY and params[0].default == -1
    assert typed == [(0, "axis", "int")]
    spec = read_spec(cupy.ndarray.max, "max")
    assert spec.source == "embedded docstring signature"
    assert spec.keywords == {"axis", "out", "keepdims"}
    with pytest.raises(TypeError, match="integer"):
        device_array([3.0, 1.0]).sort(axis=None)  # Cython's `int axis` refuses None


def test_transfers_only_through_cupys_creation_functions():
    host = np.arange(3.0)
    with cupy_standin.counting() as window:
        a = xp.asarray(host)
        b = xp.array([1.0, 2.0, 3.0])
        assert xp.asarray(a) is a and xp.ascontiguousarray(a) is a
    assert window.host_to_device == 2
    host[0] = 99.0  # the device copy is independent of the host array
    assert float(a[0]) == 0.0
    with pytest.raises(TypeError, match="incorrect type"):
        xp.ascontiguousarray(host)
    with pytest.raises(TypeError, match="Unsupported type"):
        xp.copy(host)
    assert isinstance(b, xp.ndarray)


def test_counters_count_calls_syncs_and_copies():
    a = xp.asarray(np.arange(6.0).reshape(2, 3))
    cupy_standin.reset_counters()
    assert cupy_standin.counters.snapshot() == {"calls": 0, "device_to_host": 0, "host_to_device": 0}
    with cupy_standin.counting() as window:
        b = a * 2 + 1          # 2 operator calls
        _ = a.shape, a.dtype   # attribute reads: not counted
        s = xp.sum(b)          # 1 function call
        assert window.device_to_host == 0
        host = b.get()         # 1 method call, 1 sync
        value = float(s)       # 1 conversion, 1 sync
        xp.asarray(host)       # 1 function call, 1 copy
        _ = b[b > 3]           # comparison, getitem; the mask is read back: 1 sync
    assert value == 36.0
    assert window.as_dict() == {"calls": 8, "device_to_host": 3, "host_to_device": 1}
    assert cupy_standin.counters.calls == 8  # reset_counters() zeroed the running totals
    with cupy_standin.counting() as outer_window:
        a[0, 0].item(), a.tolist(), bool(a[0, 0]), repr(a)
    assert outer_window.device_to_host == 4


def test_cuda_module_has_one_device():
    assert xp.cuda.runtime.getDeviceCount() == 1
    a = device_array([1.0])
    assert a.device.id == 0
    with xp.cuda.Device(0) as device:
        assert device.id == 0 and xp.cuda.runtime.getDevice() == 0
    with pytest.raises(xp.cuda.runtime.CUDARuntimeError, match="invalid device ordinal"), xp.cuda.Device(1):
        pass
    with cupy_standin.counting() as window:
        xp.cuda.Device(0).synchronize()
        xp.cuda.get_current_stream().synchronize()
    assert window.device_to_host == 2
    start, end = xp.cuda.Event(), xp.cuda.Event()
    start.record()
    end.record()
    assert xp.cuda.get_elapsed_time(start, end) >= 0.0


def test_memory_pool_counts_live_arrays():
    pool = xp.get_default_memory_pool()
    before = pool.used_bytes()
    big = xp.zeros(10_000, dtype=np.float64)
    assert pool.used_bytes() - before >= 80_000
    del big
    assert pool.used_bytes() == before
    assert pool.total_bytes() >= before + 80_000  # the freed block stays in the pool ...
    pool.free_all_blocks()
    assert pool.total_bytes() == pool.used_bytes()  # ... until released


def test_empty_memory_holds_garbage():
    assert np.isnan(xp.empty(4).get()).all()
    assert (xp.empty_like(xp.zeros(3, dtype=np.int32)).get() != 0).all()


# ============================================================== 2. seeded breakages
def _broken_forward_np_asarray(ctx, x, mask):
    ctx.save_for_backward(mask)
    return np.asarray(x) * mask  # host conversion inside an op


def _broken_forward_errstate(ctx, x, mask):
    ctx.save_for_backward(mask)
    with backend.array_module(x).errstate(over="ignore"):  # NumPy-only context manager
        return x * mask


def _broken_forward_max_initial(ctx, x, mask):
    ctx.save_for_backward(mask)
    ctx.scale = mask.max(initial=0.0)  # NumPy-only keyword
    return x * mask


def _broken_mask_on_host(x, p, shape):
    keep = np.random.default_rng(0).random(shape) >= p  # the mask is drawn on the host
    return (keep / (1.0 - p)).astype(x.dtype)


def _broken_mask_numpy_generator_api(x, p, shape):
    keep = backend.generator(x.device).random(shape) >= p  # numpy Generator's method, not CuPy's
    return keep.astype(x.dtype) / x.dtype.type(1.0 - p)


def _broken_load_state_dict(self, state_dict, strict=True):
    for key, t in self._state_tensors():
        t.array[...] = state_dict[key]  # the value is not moved to the tensor's device


def _dropout_step(device):
    tc.manual_seed(0)
    x = tc.tensor(np.random.default_rng(1).standard_normal((4, 3)), device=device, requires_grad=True)
    F.dropout(x, 0.5, training=True).sum().backward()
    return x.grad.numpy()


def _load_state_dict_step(device):
    tc.manual_seed(0)
    source = nn.Linear(3, 2)
    host_state = {k: np.asarray(v) for k, v in source.state_dict().items()}
    model = nn.Linear(3, 2).to(device)
    model.load_state_dict(host_state)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(tc.ones(4, 3, device=device)).sum().backward()
    opt.step()
    return model.weight.numpy()


BREAKAGES = {  # name: (object to patch, attribute, broken copy, scenario, error the stand-in raises)
    "np.asarray in an op": (dropout_ops.Dropout, "forward", staticmethod(_broken_forward_np_asarray), _dropout_step,
                            TypeError),
    "xp.errstate": (dropout_ops.Dropout, "forward", staticmethod(_broken_forward_errstate), _dropout_step,
                    AttributeError),
    ".max(initial=)": (dropout_ops.Dropout, "forward", staticmethod(_broken_forward_max_initial), _dropout_step,
                       TypeError),
    "host dropout mask": (dropout_ops, "_mask", _broken_mask_on_host, _dropout_step, TypeError),
    "RandomState.random": (dropout_ops, "_mask", _broken_mask_numpy_generator_api, _dropout_step, AttributeError),
    "load_state_dict keeps host values": (nn.Module, "load_state_dict", _broken_load_state_dict,
                                          _load_state_dict_step, ValueError),
}


def _run_on(device, scenario):
    """Run `scenario(device)`: "cpu" as it is, "standin" as "cuda:0" on the stand-in."""
    if device == "cpu":
        return scenario("cpu")
    with backend.cupy_module_replaced(xp):
        return scenario("cuda:0")


@pytest.mark.parametrize("scenario", [_dropout_step, _load_state_dict_step])
def test_unbroken_scenarios_pass_on_cpu_and_standin(scenario):
    cpu, standin = _run_on("cpu", scenario), _run_on("standin", scenario)
    assert cpu.shape == standin.shape and np.isfinite(standin).all()


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_seeded_breakage_fails_on_standin_and_passes_on_cpu(name, monkeypatch):
    owner, attribute, broken, scenario, error = BREAKAGES[name]
    monkeypatch.setattr(owner, attribute, broken)
    result = _run_on("cpu", scenario)  # the CPU case passes with the breakage ...
    assert np.isfinite(result).all()
    with pytest.raises(error):  # ... and the stand-in case fails, as it would on a GPU
        _run_on("standin", scenario)


# ============================================================== 3. library behaviour on a device
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("value", [np.array([7.0, 8.0]), [7.0, 8.0]], ids=["numpy", "list"])
def test_tensor_setitem_with_a_host_value(device, value):
    t = tc.tensor(np.zeros(4), device=device)
    t[1:3] = value
    np.testing.assert_array_equal(t.numpy(), [0.0, 7.0, 8.0, 0.0])


@pytest.mark.parametrize("device", DEVICES)
def test_tensor_compared_with_a_numpy_array(device):
    t = tc.tensor(np.arange(3.0), device=device)
    np.testing.assert_array_equal((t == np.array([0.0, 5.0, 2.0])).numpy(), [True, False, True])
    np.testing.assert_array_equal((t < np.array([1.0, 1.0, 1.0])).numpy(), [True, False, False])


@pytest.mark.parametrize("device", DEVICES)
def test_out_of_range_index_array_raises(device):
    t = tc.tensor(np.arange(3.0), device=device)
    with pytest.raises(IndexError):
        t[tc.tensor(np.array([5]), device=device)].numpy()


@pytest.mark.parametrize("device", [STANDIN])
def test_training_step_reads_nothing_back_from_the_device(device):
    """DESIGN: ops never read from the device (checks are queued), so a training step that
    does not print its loss needs no device-to-host sync."""
    tc.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = tc.randn(8, 6, device=device), tc.tensor(np.arange(8) % 3, device=device)
    with cupy_standin.counting() as window:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert window.calls > 0
    assert window.device_to_host == 0, f"{window.device_to_host} syncs in one training step"
