"""Properties of the autodiff engine (autograd.py) and of Tensor itself."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.autograd import Function


def leaf(array, dtype="float64"):
    return tc.tensor(np.asarray(array, dtype=dtype), requires_grad=True)


def test_reuse_sums_gradients():
    """A tensor used several times receives the sum of the gradients of every use."""
    a = np.array([0.5, -1.5, 2.0])
    x = leaf(a)
    y = (x * x + x * 3.0 + x.exp()).sum()   # d/dx = 2x + 3 + e^x
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a + 3 + np.exp(a), rtol=1e-12)


def test_diamond_graph_runs_each_node_once_after_all_consumers():
    """x -> a, b -> a*b: the shared node x gets both paths' contributions."""
    v = np.array([1.2, -0.7])
    x = leaf(v)
    h = x * 2.0                      # shared intermediate
    y = (h.exp() * h).sum()
    y.backward()                     # d/dx (e^{2x} * 2x) = 2 e^{2x} (2x) + 2 e^{2x}
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * v) * (2 * v) + 2 * np.exp(2 * v), rtol=1e-12)


def test_ten_thousand_op_chain_backward_is_iterative():
    """A chain of 10,000 ops backpropagates without hitting Python's recursion limit."""
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-9)


def test_two_backward_calls_accumulate():
    """Gradients accumulate into .grad across separate backward calls, as in PyTorch."""
    a = np.array([0.3, 0.9])
    x = leaf(a)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * a), rtol=1e-12)
    x.zero_grad()
    assert x.grad is None


def test_second_backward_through_freed_graph_raises_and_retain_graph_allows_it():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward(retain_graph=True)
    y.backward()                      # allowed: the first call retained the graph
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * np.exp([1.0, 2.0]), rtol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with tc.no_grad():
        y = (x * 2).exp().sum()
        assert not tc.is_grad_enabled()
    assert tc.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()

    @tc.no_grad()
    def decorated(t):
        return t * 3

    assert decorated(x).is_leaf


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with tc.no_grad():
        with tc.enable_grad():
            y = x * 2
    assert y.requires_grad and y.grad_fn == "mul"


class _SaveProbe(Function):
    """Identity op that saves a private buffer, so the test can watch that buffer's lifetime."""

    buffers = []

    @staticmethod
    def forward(ctx, x):
        buffer = x * 2  # a fresh array that only ctx holds
        _SaveProbe.buffers.append(weakref.ref(buffer))
        ctx.save_for_backward(buffer)
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        (buffer,) = ctx.saved_tensors
        return g * (buffer * 0 + 1)


def test_saved_buffers_released_after_backward():
    _SaveProbe.buffers.clear()
    x = leaf(np.ones(5))
    out = _SaveProbe.apply(_SaveProbe.apply(x) * 3.0)
    loss = out.sum()
    assert all(ref() is not None for ref in _SaveProbe.buffers)
    loss.backward()
    gc.collect()
    assert all(ref() is None for ref in _SaveProbe.buffers), "a saved buffer outlived backward"
    assert out is not None  # the output tensors themselves are still alive


def test_retain_graph_keeps_saved_buffers():
    _SaveProbe.buffers.clear()
    x = leaf(np.ones(3))
    loss = _SaveProbe.apply(x).sum()
    loss.backward(retain_graph=True)
    gc.collect()
    assert all(ref() is not None for ref in _SaveProbe.buffers)


def test_network_buffers_freed_after_backward():
    """Buffers that only the graph holds (batch norm's centered input, max pool's padded
    input) are freed by backward even while the output tensor lives."""
    x = tc.randn(2, 3, 8, 8, dtype="float64")
    w = tc.randn(4, 3, 3, 3, dtype="float64", requires_grad=True)
    h = F.batch_norm(F.conv2d(x, w, padding=1), None, None, training=True)
    out = F.max_pool2d(h, 3, stride=2, padding=1)
    refs = [weakref.ref(h._node.ctx.saved_tensors[0]), weakref.ref(out._node.ctx.saved_tensors[0])]
    out.sum().backward()
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_the_graph_does_not_keep_intermediate_results_alive():
    """Results that no op saved for backward are freed when the user's code drops them, before
    backward (the graph links ops, not tensors, as PyTorch's grad_fns): here the conv output
    (batch norm saves its centered input instead) and the batch norm output (relu saves its own
    output). The gradients are still PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    x, w = leaf(x_np), leaf(w_np)
    conv_out = F.conv2d(x, w, padding=1)
    bn_out = F.batch_norm(conv_out, None, None, training=True)
    out = F.relu(bn_out)
    refs = [weakref.ref(conv_out), weakref.ref(conv_out.array), weakref.ref(bn_out), weakref.ref(bn_out.array)]
    del conv_out, bn_out
    gc.collect()
    assert [ref() is None for ref in refs] == [True] * 4
    (out * out).sum().backward()

    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x_np, w_np))
    t_out = torch.relu(torch.nn.functional.batch_norm(torch.nn.functional.conv2d(tx, tw, padding=1), None, None,
                                                      training=True))
    (t_out * t_out).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradients_are_not_views_of_each_other():
    """add hands the same gradient array to both inputs; each .grad must own its memory."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = leaf([5.0, 6.0])
    (a + b + c.reshape(2)).sum().backward()
    grads = [a.grad.array, b.grad.array, c.grad.array]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.shares_memory(grads[i], grads[j])
    a.grad.array += 100  # in-place change to one gradient leaves the others alone
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_seed_gradient_is_copied_not_aliased():
    x = leaf([1.0, 2.0])
    seed = np.array([3.0, 4.0])
    x.backward(seed)
    seed[0] = -1
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_broadcast_gradients_are_summed_to_input_shape_by_engine():
    x = leaf(np.ones((3, 1)))
    b = leaf(np.arange(4.0))
    ((x + b) * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 1), 8.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full(4, 6.0))


def test_no_op_modifies_its_inputs():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4),
              rng.random(4) + 0.5, rng.standard_normal(4)]
    snapshot = [a.copy() for a in arrays]
    x, w, b, gamma, beta = (tc.tensor(a, requires_grad=True) for a in arrays)
    rm, rv = tc.zeros(4, dtype="float64"), tc.ones(4, dtype="float64")
    h = F.conv2d(x, w, b, padding=1)
    h = F.batch_norm(h, rm, rv, gamma, beta, training=True)
    h = F.max_pool2d(F.relu(h), 2)
    loss = F.cross_entropy(h.flatten(1)[:, :5], tc.tensor([1, 3]))
    loss.backward()
    for tensor, original in zip((x, w, b, gamma, beta), snapshot):
        np.testing.assert_array_equal(tensor.numpy(), original)


def test_retain_grad_on_intermediate():
    x = leaf([1.0, -2.0])
    h = (x * 3.0).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * 3.0 * np.array([1.0, -2.0]))


def test_detach_shares_data_without_graph():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    with pytest.raises(RuntimeError):
        d.sum().backward()


def test_backward_of_non_scalar_needs_grad():
    x = leaf(np.ones((2, 3)))
    y = x * 2
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_float32_stays_float32_through_a_network():
    x = tc.randn(2, 3, 8, 8)
    w = tc.randn(4, 3, 3, 3, requires_grad=True)
    fc = tc.randn(10, 64, requires_grad=True)
    h = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2).flatten(1)
    loss = F.cross_entropy(F.linear(h, fc), tc.tensor([1, 2]))
    assert loss.dtype == np.float32
    loss.backward()
    assert w.grad.dtype == np.float32 and fc.grad.dtype == np.float32


def test_tensors_on_two_devices_in_one_op_raise():
    a = tc.ones(3)
    fake_gpu = tc.Tensor._wrap(np.ones(3, dtype=np.float32), "cuda:1")  # a label is enough for the check
    with pytest.raises(RuntimeError, match=r"add.*cpu.*cuda:1"):
        a + fake_gpu
    with pytest.raises(RuntimeError, match="matmul"):
        tc.matmul(tc.ones(2, 3), tc.Tensor._wrap(np.ones((3, 2), dtype=np.float32), "cuda:1"))


def test_non_float_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="int64"):
        tc.tensor([1, 2, 3], requires_grad=True)
