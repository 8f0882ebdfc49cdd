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
