"""Tensor attributes, creation functions, conversions and Python operators."""
import numpy as np
import pytest
import torch

import tinygrad_cnn as tc


def test_creation_dtypes_follow_pytorch():
    assert tc.tensor([1.0, 2.0]).dtype == np.float32          # Python floats -> float32
    assert tc.tensor([1, 2]).dtype == np.int64
    assert tc.tensor(np.zeros(2)).dtype == np.float64          # numpy float64 is kept
    assert tc.tensor([1.0], dtype="float64").dtype == np.float64
    for make in (tc.zeros, tc.ones, tc.randn, tc.rand):
        assert make(2, 3).dtype == np.float32 and make((2, 3)).shape == (2, 3)
    assert tc.arange(5).dtype == np.int64 and tc.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_array_equal(tc.arange(2, 10, 3).numpy(), torch.arange(2, 10, 3).numpy())
    np.testing.assert_array_equal(tc.full((2, 2), 7.0).numpy(), np.full((2, 2), 7.0))
    x = tc.randn(3, 4, dtype="float64")
    assert tc.zeros_like(x).dtype == np.float64 and tc.ones_like(x).shape == (3, 4)
    assert not np.any(tc.zeros_like(x).numpy()) and np.all(tc.ones_like(x).numpy() == 1)


def test_tensor_copies_its_source():
    source = np.ones(3)
    t = tc.tensor(source)
    source[0] = 5
    assert t.numpy()[0] == 1


def test_attributes_and_conversions():
    t = tc.tensor([[1.5, 2.5]], requires_grad=True)
    assert t.shape == (1, 2) and t.ndim == 2 and t.device == "cpu" and t.numel() == 2
    assert t.size() == (1, 2) and t.size(1) == 2 and len(t) == 1
    assert t.sum().item() == 4.0 and isinstance(t.sum().item(), float)
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        t.item()
    d = t.double()
    assert d.dtype == np.float64 and d.requires_grad
    d.sum().backward()                               # the cast is differentiable
    assert t.grad.dtype == np.float32
    assert t.to("cpu") is t and t.to(dtype="float32") is t
    assert "requires_grad=True" in repr(t)


def test_operators_with_python_numbers_keep_float32():
    x = tc.tensor([1.0, 2.0, 4.0])
    for y in (x + 1, 1 + x, x - 1, 1 - x, x * 2, 2 * x, x / 2, 2 / x, x ** 2, 2 ** x, -x, abs(-x)):
        assert y.dtype == np.float32
    np.testing.assert_allclose((2 / x).numpy(), [2.0, 1.0, 0.5])
    np.testing.assert_allclose((2 ** x).numpy(), [2.0, 4.0, 16.0])


def test_numpy_array_on_the_left_defers_to_tensor():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, tc.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_comparisons_give_boolean_tensors_outside_the_graph():
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == np.bool_ and not mask.requires_grad
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])
    assert {x: 1}[x] == 1  # tensors stay hashable


def test_setitem_refused_on_tensors_that_require_grad():
    x = tc.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 1.0
    with tc.no_grad():
        x[0] = 1.0
    assert x.numpy()[0] == 1.0


def test_unsupported_data_raises_type_error():
    with pytest.raises(TypeError, match="tensor"):
        tc.tensor("hello")


# ---------------------------------------------------------------- more of PyTorch's Tensor API
from helpers import DEVICES, compare_with_torch, to_numpy  # noqa: E402


def test_empty_and_from_numpy_like_torch():
    """tc.empty has torch's shapes and default dtype; tc.from_numpy shares memory both ways and
    keeps the dtype; anything but a numeric ndarray is a TypeError, as in torch."""
    assert tc.empty(2, 3).shape == (2, 3) and tc.empty((4,), dtype="float64").dtype == np.float64
    assert tc.empty(2, requires_grad=True).requires_grad
    for dtype in ("float32", "float64", "int64", "uint8", "bool"):
        a = np.zeros((2, 3), dtype=dtype)
        t = tc.from_numpy(a)
        assert t.dtype == torch.from_numpy(a).numpy().dtype and t.device == "cpu"
        a[0, 0] = 1
        assert t.numpy()[0, 0] == 1
        t[1, 2] = 1
        assert a[1, 2] == 1
    for bad in ([1.0, 2.0], np.zeros(2, dtype=object), 3.0):
        with pytest.raises(TypeError):
            torch.from_numpy(bad)
        with pytest.raises(TypeError, match="from_numpy"):
            tc.from_numpy(bad)


@pytest.mark.parametrize("device", DEVICES)
def test_contiguous_and_clone(device):
    """contiguous(): self when row-major, else a row-major copy; clone(): always a copy with the
    input's layout; both differentiable."""
    x = tc.tensor(np.arange(12.0).reshape(3, 4), device=device, requires_grad=True)
    assert x.contiguous() is x and x.is_contiguous()
    t = x.T
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c is not t
    np.testing.assert_array_equal(to_numpy(c), to_numpy(t))
    k = t.clone()
    assert not k.is_contiguous() and k.array is not t.array
    (c * 2 + k).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.full((3, 4), 3.0))
    with tc.no_grad():
        k[0, 0] = 100.0
    assert to_numpy(x)[0, 0] == 0.0


@pytest.mark.parametrize("device", DEVICES)
def test_as_methods_like_torch(device):
    """view_as / reshape_as / expand_as / type_as take another tensor's shape or dtype, differentiably."""
    other32, other = tc.zeros(2, 6), torch.zeros(2, 6)
    x = np.random.default_rng(0).standard_normal((3, 4))
    compare_with_torch(lambda t: t.view_as(tc.zeros(6, 2)), lambda t: t.view_as(torch.zeros(6, 2)), [x], device)
    compare_with_torch(lambda t: t.reshape_as(other32), lambda t: t.reshape_as(other), [x], device)
    compare_with_torch(lambda t: t.expand_as(tc.zeros(2, 3, 4)), lambda t: t.expand_as(torch.zeros(2, 3, 4)), [x], device)
    y = tc.tensor(x, device=device, requires_grad=True)
    cast = y.type_as(tc.zeros(1, device=device))
    assert cast.dtype == np.float32 and y.type_as(y) is y
    cast.sum().backward()
    assert y.grad.dtype == np.float64
    assert tc.tensor([1, 2]).type_as(tc.zeros(1)).dtype == torch.tensor([1, 2]).type_as(torch.zeros(1)).numpy().dtype


def test_size_and_attributes_like_torch():
    t, r = tc.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert t.size() == tuple(r.size()) and t.size(-1) == r.size(-1) == 4 and t.size(0) == 2
    assert t.nelement() == r.nelement() and t.ndimension() == r.ndimension() and t.element_size() == r.element_size()
    assert t.is_cuda is False and r.is_cuda is False
    for bad in (3, -4):
        with pytest.raises(IndexError):
            r.size(bad)
        with pytest.raises(IndexError, match="size"):
            t.size(bad)
    with pytest.raises(IndexError):
        tc.tensor(1.0).size(0)


@pytest.mark.parametrize("device", DEVICES)
def test_is_cuda_on_a_gpu_device(device):
    assert tc.zeros(1, device=device).is_cuda == (device != "cpu")


SPLIT_ERRORS = [("split", (5,), (-1,)), ("split", (5,), (0,)), ("split", (5,), ([2, 2],)), ("split", (5,), ([2, -1, 4],)),
                ("split", (), (1,)), ("chunk", (5,), (0,)), ("chunk", (), (1,)), ("split", (2, 3), (1, 2))]


@pytest.mark.parametrize("name,shape,args", SPLIT_ERRORS, ids=[f"{n}{s}{a}" for n, s, a in SPLIT_ERRORS])
def test_split_and_chunk_errors_like_torch(name, shape, args):
    """Negative or zero sizes, sizes not summing to the dimension, 0-d tensors, dims out of range:
    the exception type torch raises, naming the op."""
    with pytest.raises((RuntimeError, IndexError)) as theirs:
        getattr(torch, name)(torch.zeros(shape), *args)
    with pytest.raises(theirs.type, match=name):
        getattr(tc, name)(tc.zeros(shape), *args)


def test_split_and_chunk_corner_cases_like_torch():
    """An empty dimension, sizes beyond the dimension, more chunks than elements: torch's pieces."""
    for make, ours, sizes in ((lambda t: torch.chunk(t, 3), lambda t: tc.chunk(t, 3), (0, 5, 6)),
                              (lambda t: torch.split(t, 7), lambda t: tc.split(t, 7), (0, 5, 6)),
                              (lambda t: torch.split(t, 0), lambda t: tc.split(t, 0), (0,)),
                              (lambda t: torch.split(t, [0, 5, 0]), lambda t: tc.split(t, [0, 5, 0]), (5,)),
                              (lambda t: torch.chunk(t, 4), lambda t: tc.chunk(t, 4), (0, 5, 6))):
        for n in sizes:
            theirs = make(torch.arange(n))
            pieces = ours(tc.arange(n))
            assert [p.shape for p in pieces] == [tuple(p.shape) for p in theirs]
            assert [p.tolist() for p in pieces] == [p.tolist() for p in theirs]


@pytest.mark.parametrize("device", DEVICES)
def test_topk_ties_nan_and_errors_like_torch(device):
    """NaN counts as the largest value; with ties the values are torch's and the indices point at
    them, one position each, by increasing index (torch leaves their order unspecified);
    sorted=False gives torch's set of values; k out of range is torch's RuntimeError."""
    x = np.array([[1.0, 3.0, 3.0, np.nan, 2.0, 3.0], [5.0, 4.0, 4.0, 2.0, 1.0, 4.0]])
    for kwargs in (dict(k=3), dict(k=4, largest=False), dict(k=2, dim=0), dict(k=6)):
        ours, theirs = tc.topk(tc.tensor(x, device=device), **kwargs), torch.topk(torch.tensor(x), **kwargs)
        np.testing.assert_array_equal(to_numpy(ours.values), theirs.values.numpy())
        dim = kwargs.get("dim", -1)
        indices = to_numpy(ours.indices)
        np.testing.assert_array_equal(np.take_along_axis(x, indices, dim), theirs.values.numpy())
        assert all(len(set(row)) == len(row) for row in np.moveaxis(indices, dim, -1).reshape(-1, indices.shape[dim]))
    np.testing.assert_array_equal(to_numpy(tc.topk(tc.tensor(x[1], device=device), 3).indices), [0, 1, 2])
    unsorted = tc.tensor(x[1], device=device).topk(3, sorted=False)
    assert sorted(to_numpy(unsorted.values)) == sorted(torch.tensor(x[1]).topk(3, sorted=False).values.tolist())
    values, indices = tc.topk(tc.tensor(3.0), 1)
    assert values.item() == 3.0 and indices.item() == 0 and indices.shape == ()
    for k in (-1, 7):
        with pytest.raises(RuntimeError):
            torch.topk(torch.tensor(x), k)
        with pytest.raises(RuntimeError, match="topk"):
            tc.topk(tc.tensor(x, device=device), k)
