"""Module hooks (forward pre-hooks, forward hooks, full backward hooks) and Tensor.register_hook,
against PyTorch's on the same weights and inputs."""
import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import nn


def twins(seed=0):
    tc.manual_seed(seed)
    ours = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(3 * 4 * 4, 5)).double()
    ours.double()
    theirs.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(seed).standard_normal((2, 2, 4, 4))
    return ours, theirs, x


def test_forward_hooks_record_and_replace_outputs_like_torch():
    ours, theirs, x = twins()
    seen, tseen = {}, {}
    handle = ours[0].register_forward_hook(lambda m, args, out: seen.update(conv=out.numpy().copy()))
    theirs[0].register_forward_hook(lambda m, args, out: tseen.update(conv=out.detach().numpy().copy()))
    ours[1].register_forward_hook(lambda m, args, out: out * 2)          # a returned value replaces the output
    theirs[1].register_forward_hook(lambda m, args, out: out * 2)
    ours[3].register_forward_pre_hook(lambda m, args: (args[0] + 1,))   # ... and replaces the arguments
    theirs[3].register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    out, tout = ours(tc.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(seen["conv"], tseen["conv"], rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
    handle.remove()
    seen.clear()
    ours(tc.tensor(x))
    assert "conv" not in seen                                           # removed hooks no longer run


def test_full_backward_hooks_see_torchs_grad_input_and_grad_output():
    ours, theirs, x = twins(1)
    got, tgot = [], []
    for module, store in ((ours[3], got), (ours[1], got)):
        module.register_full_backward_hook(
            lambda m, gi, go, store=store: store.append((type(m).__name__, [g.numpy().copy() for g in gi],
                                                         [g.numpy().copy() for g in go])))
    for module, store in ((theirs[3], tgot), (theirs[1], tgot)):
        module.register_full_backward_hook(
            lambda m, gi, go, store=store: store.append((type(m).__name__, [g.numpy().copy() for g in gi],
                                                         [g.numpy().copy() for g in go])))
    xs, txs = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours(xs) ** 2).sum().backward()
    (theirs(txs) ** 2).sum().backward()
    assert [g[0] for g in got] == [g[0] for g in tgot] == ["Linear", "ReLU"]
    for (_, gi, go), (_, tgi, tgo) in zip(got, tgot):
        for a, b in zip(gi + go, tgi + tgo):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), txs.grad.numpy(), rtol=1e-10)


def test_a_backward_hook_can_replace_grad_input_and_sees_none_for_inputs_without_grad():
    layer = nn.Linear(3, 2).double()
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    x = tc.tensor(np.ones((4, 3)), requires_grad=True)
    layer(x).sum().backward()
    assert not x.grad.numpy().any()
    first = nn.Linear(3, 2).double()
    calls = []
    first.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go[0].shape)))
    first(tc.tensor(np.ones((4, 3)))).sum().backward()   # the input needs no gradient: None, as in torch
    assert calls == [((None,), (4, 2))]


def test_tensor_hooks_like_torch():
    x, tx = tc.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 3)   # a leaf's whole gradient
    tx.register_hook(lambda g: g * 3)
    y, ty = x * x, tx * tx
    handle = y.register_hook(lambda g: g + 1)
    ty.register_hook(lambda g: g + 1)
    (y + x).sum().backward()
    (ty + tx).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(seen[0], [5.0, 9.0])
    handle.remove()
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tc.zeros(2).register_hook(lambda g: g)


def test_a_gradient_a_hook_saw_is_not_changed_by_later_backward_passes():
    """The gradient a hook received, or returned, is the user's: it must not become the
    .grad array that the next backward adds into (torch alongside)."""
    for lib in (tc, torch):
        seen = []
        w = lib.ones(3, requires_grad=True)
        w.register_hook(lambda g, seen=seen: seen.append(g))
        (w * 2).sum().backward()
        (w * 2).sum().backward()
        assert seen[0].tolist() == [2.0, 2.0, 2.0] and w.grad.tolist() == [4.0, 4.0, 4.0], lib.__name__
        keep = lib.full((3,), 5.0)
        v = lib.ones(3, requires_grad=True)
        v.register_hook(lambda g, keep=keep: keep)
        for _ in range(2):
            (v * 2).sum().backward()
        assert keep.tolist() == [5.0, 5.0, 5.0] and v.grad.tolist() == [10.0, 10.0, 10.0], lib.__name__
        out = lib.ones(3, requires_grad=True)
        hidden = out * 1
        hidden.retain_grad()
        hidden.register_hook(lambda g, seen=seen: seen.append(g))
        (hidden * 3).sum().backward()
        hidden.grad.zero_()
        assert seen[-1].tolist() == [3.0, 3.0, 3.0], lib.__name__


def test_full_backward_hooks_run_on_every_retain_graph_pass_with_that_pass_gradients():
    calls = {}
    for name, lib in (("ours", tc), ("torch", torch)):
        layer = lib.nn.Linear(3, 2).double()
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(np.arange(6.0).reshape(2, 3)))
        seen = calls.setdefault(name, [])
        layer.register_full_backward_hook(lambda m, gi, go, seen=seen: seen.append((gi[0].tolist(), go[0].tolist())))
        y = layer(lib.ones(1, 3, dtype=lib.float64, requires_grad=True))
        y.sum().backward(retain_graph=True)
        (y * 3).sum().backward()
    assert calls["ours"] == calls["torch"] and len(calls["ours"]) == 2
    assert calls["ours"][1][0] == [[3 * g for g in calls["ours"][0][0][0]]]
