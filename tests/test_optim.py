"""tinygrad_cnn.optim (SGD, Adam, AdamW, the Optimizer base) against torch.optim.

Both libraries start from the same parameters and receive the same gradients at every step
(a fixed sequence of random arrays, or the gradients of a loss computed by each library's own
autograd); the parameters and optimizer states must then agree with PyTorch's.
"""
import copy
import itertools

import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import optim
from tinygrad_cnn.nn import Parameter
from helpers import DEVICES, to_numpy

SHAPES = [(3, 4), (5,), (2, 1, 3)]
TIGHT = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


# ---------------------------------------------------------------- helpers
def initial_arrays(shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def gradient_sequence(shapes=SHAPES, steps=12, seed=1):
    """Per step, one gradient per parameter, with a magnitude that changes from step to step
    (so that AMSGrad's running maximum and the moment estimates both matter)."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) * rng.uniform(0.05, 3.0) for s in shapes] for _ in range(steps)]


def make_ours(arrays, dtype, device="cpu"):
    return [Parameter(tc.tensor(a.astype(dtype), device=device)) for a in arrays]


def make_torch(arrays, dtype):
    return [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]


def set_grads(ours, theirs, grads, dtype, device="cpu"):
    """Give both libraries the same gradients; a None entry leaves that parameter without one."""
    for p, t, g in zip(ours, theirs, grads):
        p.grad = None if g is None else tc.tensor(g.astype(dtype), device=device)
        t.grad = None if g is None else torch.tensor(g.astype(dtype))


def run_steps(opt, topt, ours, theirs, grad_seq, dtype, device="cpu"):
    for grads in grad_seq:
        set_grads(ours, theirs, grads, dtype, device)
        opt.step()
        topt.step()


def assert_params_close(ours, theirs, dtype, what=""):
    for i, (p, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(to_numpy(p), to_numpy(t), **TIGHT[dtype], err_msg=f"{what} param {i}")


def torch_opt(name, params, **kwargs):
    cls = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[name]
    return cls(params, foreach=False, **kwargs)  # the single-tensor path, as documented


def our_opt(name, params, **kwargs):
    return getattr(optim, name)(params, **kwargs)


def snapshot(opt):
    """A deep, comparable copy of an optimizer's state and groups (numpy arrays)."""
    sd = opt.state_dict()
    return {"state": {i: {k: to_numpy(v).copy() if hasattr(v, "shape") else v for k, v in s.items()}
                      for i, s in sd["state"].items()},
            "param_groups": copy.deepcopy(sd["param_groups"])}


def assert_same_snapshot(a, b):
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        assert a["state"][i].keys() == b["state"][i].keys()
        for k in a["state"][i]:
            np.testing.assert_array_equal(a["state"][i][k], b["state"][i][k])


SGD_CASES = [dict(lr=0.1, momentum=m, dampening=d, nesterov=n, weight_decay=wd)
             for m, d, n, wd in itertools.product([0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.05])
             if not (n and (m == 0 or d != 0))]
ADAM_CASES = [(name, dict(lr=0.05, betas=b, weight_decay=wd, amsgrad=a))
              for name, b, wd, a in itertools.product(["Adam", "AdamW"], [(0.9, 0.999), (0.3, 0.99)],
                                                      [0.0, 0.1], [False, True])]


# ---------------------------------------------------------------- update rules
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", SGD_CASES, ids=lambda k: "m{momentum}-d{dampening}-n{nesterov}-wd{weight_decay}"
                         .format(**k))
def test_sgd_matches_torch(kwargs, dtype, device):
    arrays, grad_seq = initial_arrays(), gradient_sequence()
    ours, theirs = make_ours(arrays, dtype, device), make_torch(arrays, dtype)
    opt, topt = our_opt("SGD", ours, **kwargs), torch_opt("SGD", theirs, **kwargs)
    for step, grads in enumerate(grad_seq):
        set_grads(ours, theirs, grads, dtype, device)
        opt.step()
        topt.step()
        assert_params_close(ours, theirs, dtype, f"step {step}")
    for p in ours:
        assert p.dtype == dtype
    if kwargs["momentum"]:
        for i, t in enumerate(theirs):
            np.testing.assert_allclose(to_numpy(opt.state[ours[i]]["momentum_buffer"]),
                                       to_numpy(topt.state[t]["momentum_buffer"]), **TIGHT[dtype])
    else:
        assert not opt.state_dict()["state"] and not topt.state_dict()["state"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", ADAM_CASES,
                         ids=[f"{n}-b{k['betas'][0]}-wd{k['weight_decay']}-ams{k['amsgrad']}" for n, k in ADAM_CASES])
def test_adam_adamw_match_torch(name, kwargs, dtype, device):
    arrays, grad_seq = initial_arrays(), gradient_sequence()
    ours, theirs = make_ours(arrays, dtype, device), make_torch(arrays, dtype)
    opt, topt = our_opt(name, ours, **kwargs), torch_opt(name, theirs, **kwargs)
    for step, grads in enumerate(grad_seq):
        set_grads(ours, theirs, grads, dtype, device)
        opt.step()
        topt.step()
        assert_params_close(ours, theirs, dtype, f"step {step}")
    keys = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if kwargs["amsgrad"] else [])
    for p, t in zip(ours, theirs):
        assert opt.state[p].keys() == set(keys) | {"step"} == topt.state[t].keys()
        assert opt.state[p]["step"] == topt.state[t]["step"].item() == len(grad_seq)
        for k in keys:
            assert opt.state[p][k].dtype == dtype
            np.testing.assert_allclose(to_numpy(opt.state[p][k]), to_numpy(topt.state[t][k]), **TIGHT[dtype],
                                       err_msg=k)


def test_default_options_match_torch():
    """Defaults (lr 1e-3 everywhere, AdamW's weight_decay 1e-2) and the update they give."""
    arrays, grad_seq = initial_arrays(), gradient_sequence(steps=10)
    for name in ["SGD", "Adam", "AdamW"]:
        ours, theirs = make_ours(arrays, np.float64), make_torch(arrays, np.float64)
        opt, topt = our_opt(name, ours), torch_opt(name, theirs)
        for key, value in opt.defaults.items():
            assert topt.defaults[key] == value, (name, key)
        run_steps(opt, topt, ours, theirs, grad_seq, np.float64)
        assert_params_close(ours, theirs, np.float64, name)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
                                         ("Adam", dict(lr=0.02, weight_decay=0.01, amsgrad=True)),
                                         ("AdamW", dict(lr=0.02, betas=(0.8, 0.95)))])
def test_quadratic_loss_through_both_autograds(name, kwargs):
    """Gradients from each library's own backward of 0.5*|A w - b|^2 + sum(v^2), 15 steps."""
    rng = np.random.default_rng(3)
    A, b = rng.standard_normal((6, 4)), rng.standard_normal(6)
    w0, v0 = rng.standard_normal(4), rng.standard_normal(3)
    w, v = Parameter(tc.tensor(w0)), Parameter(tc.tensor(v0))
    tw, tv = torch.tensor(w0, requires_grad=True), torch.tensor(v0, requires_grad=True)
    opt, topt = our_opt(name, [w, v], **kwargs), torch_opt(name, [tw, tv], **kwargs)
    At, bt = torch.tensor(A), torch.tensor(b)
    Ac, bc = tc.tensor(A), tc.tensor(b)
    for _ in range(15):
        opt.zero_grad()
        r = Ac @ w - bc
        loss = (r * r).sum() * 0.5 + (v * v).sum()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tr = At @ tw - bt
        tloss = (tr * tr).sum() * 0.5 + (tv * tv).sum()
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
    assert_params_close([w, v], [tw, tv], np.float64)


# ---------------------------------------------------------------- groups, skipping, closure
@pytest.mark.parametrize("name,kwargs,group_options", [
    ("SGD", dict(lr=0.1, momentum=0.9), [dict(lr=0.01), dict(lr=0.3, momentum=0.5, weight_decay=0.1)]),
    ("Adam", dict(lr=0.01), [dict(lr=0.1, betas=(0.5, 0.9)), dict(amsgrad=True, weight_decay=0.2)]),
    ("AdamW", dict(lr=0.01), [dict(lr=0.1), dict(lr=0.001, weight_decay=0.5)]),
])
def test_param_groups_with_own_options(name, kwargs, group_options):
    arrays, grad_seq = initial_arrays(), gradient_sequence()
    ours, theirs = make_ours(arrays, np.float64), make_torch(arrays, np.float64)
    opt = our_opt(name, [dict(params=[ours[0]], **group_options[0]), dict(params=ours[1:], **group_options[1])],
                  **kwargs)
    topt = torch_opt(name, [dict(params=[theirs[0]], **group_options[0]),
                            dict(params=theirs[1:], **group_options[1])], **kwargs)
    assert len(opt.param_groups) == 2
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        for key in opt.defaults:
            assert group[key] == tgroup[key], key
    run_steps(opt, topt, ours, theirs, grad_seq, np.float64)
    assert_params_close(ours, theirs, np.float64)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
                                         ("Adam", dict(lr=0.1, weight_decay=0.1)), ("AdamW", dict(lr=0.1))])
def test_params_without_grad_are_skipped(name, kwargs):
    """Param 0 never gets a gradient; param 1 gets one every other step (PyTorch skips it then,
    weight decay and momentum included)."""
    arrays, grad_seq = initial_arrays(), gradient_sequence()
    for step, grads in enumerate(grad_seq):
        grads[0] = None
        if step % 2:
            grads[1] = None
    ours, theirs = make_ours(arrays, np.float64), make_torch(arrays, np.float64)
    opt, topt = our_opt(name, ours, **kwargs), torch_opt(name, theirs, **kwargs)
    run_steps(opt, topt, ours, theirs, grad_seq, np.float64)
    np.testing.assert_array_equal(ours[0].numpy(), arrays[0])
    assert ours[0] not in opt.state
    assert 0 not in opt.state_dict()["state"] and 0 not in topt.state_dict()["state"]
    assert_params_close(ours, theirs, np.float64)


def test_step_with_closure_returns_loss_and_matches_torch():
    rng = np.random.default_rng(4)
    x0, target = rng.standard_normal(5), rng.standard_normal(5)
    x, tx = Parameter(tc.tensor(x0)), torch.tensor(x0, requires_grad=True)
    opt, topt = optim.SGD([x], lr=0.1, momentum=0.9), torch.optim.SGD([tx], lr=0.1, momentum=0.9)
    tgt, ttgt = tc.tensor(target), torch.tensor(target)

    def closure():
        opt.zero_grad()
        d = x - tgt
        loss = (d * d).sum()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = ((tx - ttgt) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(10):
        with tc.no_grad():  # the closure must run with gradients enabled anyway
            loss = opt.step(closure)
        tloss = topt.step(tclosure)
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(x.numpy(), tx.detach().numpy(), rtol=1e-10)
    assert optim.SGD([x], lr=0.1).step() is None


def test_zero_grad():
    ours, theirs = make_ours(initial_arrays(), np.float32), make_torch(initial_arrays(), np.float32)
    opt, topt = optim.SGD(ours, lr=0.1), torch.optim.SGD(theirs, lr=0.1)
    set_grads(ours, theirs, gradient_sequence(steps=1)[0], np.float32)
    arrays = [p.grad.array for p in ours]
    opt.zero_grad(set_to_none=False)
    topt.zero_grad(set_to_none=False)
    for p, t, a in zip(ours, theirs, arrays):
        assert p.grad.array is a
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
        assert not p.grad.numpy().any()
    opt.zero_grad()
    topt.zero_grad()
    assert all(p.grad is None for p in ours) and all(t.grad is None for t in theirs)


def test_add_param_group_mid_run():
    arrays, grad_seq = initial_arrays(), gradient_sequence()
    ours, theirs = make_ours(arrays, np.float64), make_torch(arrays, np.float64)
    opt = optim.Adam(ours[:2], lr=0.05)
    topt = torch_opt("Adam", theirs[:2], lr=0.05)
    run_steps(opt, topt, ours, theirs, [[g[0], g[1], None] for g in grad_seq[:4]], np.float64)
    opt.add_param_group({"params": ours[2], "lr": 0.2, "betas": (0.5, 0.6)})
    topt.add_param_group({"params": theirs[2], "lr": 0.2, "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["eps"] == topt.param_groups[1]["eps"] == 1e-8
    run_steps(opt, topt, ours, theirs, grad_seq[4:], np.float64)
    assert_params_close(ours, theirs, np.float64)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [ours[0]]})
    with pytest.raises(ValueError):
        topt.add_param_group({"params": [theirs[0]]})


# ---------------------------------------------------------------- dtype, in place
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.1)),
                                         ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                         ("SGD", dict(lr=0.1)),
                                         ("Adam", dict(lr=0.1, weight_decay=0.1, amsgrad=True)),
                                         ("AdamW", dict(lr=0.1))])
def test_float32_kept_and_update_in_place(name, kwargs, device):
    ours = make_ours(initial_arrays(), np.float32, device)
    opt = our_opt(name, ours, **kwargs)
    opt.param_groups[0]["lr"] = np.float64(0.1)  # a numpy scalar option must not upcast either
    before = [p.array for p in ours]
    given, kept = [], []  # every gradient given so far, and a copy of it
    for grads in gradient_sequence(steps=3):
        step_grads = [tc.tensor(g.astype(np.float32), device=device) for g in grads]
        given += step_grads
        kept += [g.numpy().copy() for g in step_grads]
        for p, g in zip(ours, step_grads):
            p.grad = g
        opt.step()
        for p, a in zip(ours, before):
            assert p.array is a, "the update must be in place"
            assert p.dtype == np.float32 and p.array.dtype == np.float32
        for g, k in zip(given, kept):  # no gradient is modified, nor kept as a state buffer
            np.testing.assert_array_equal(g.numpy(), k)
    for s in opt.state.values():
        for v in s.values():
            if hasattr(v, "dtype"):
                assert v.dtype == np.float32


# ---------------------------------------------------------------- state dict
@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
                                         ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                         ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
                                         ("AdamW", dict(lr=0.05, betas=(0.8, 0.9)))])
def test_state_dict_round_trip(name, kwargs):
    """5 steps, save, (the original goes on: the saved dict is a snapshot), load into a fresh
    optimizer over copies of the parameters, 5 more steps: the same as the uninterrupted run,
    and as PyTorch."""
    arrays, grad_seq = initial_arrays(), gradient_sequence(steps=10)
    groups = lambda ps: [{"params": ps[:1], "lr": 0.02}, {"params": ps[1:]}]  # noqa: E731
    ours, theirs = make_ours(arrays, np.float64), make_torch(arrays, np.float64)
    opt, topt = our_opt(name, groups(ours), **kwargs), torch_opt(name, groups(theirs), **kwargs)
    run_steps(opt, topt, ours, theirs, grad_seq[:5], np.float64)
    saved = opt.state_dict()
    saved_params = [p.numpy().copy() for p in ours]

    # the layout is PyTorch's: same indices, same state names, same option values
    tsaved = topt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [g["params"] for g in tsaved["param_groups"]]
    for g, tg in zip(saved["param_groups"], tsaved["param_groups"]):
        assert {k: v for k, v in g.items() if k != "params"} == {k: tg[k] for k in g if k != "params"}
    assert saved["state"].keys() == tsaved["state"].keys()
    for i in saved["state"]:
        assert saved["state"][i].keys() == tsaved["state"][i].keys()
        for k, v in saved["state"][i].items():
            np.testing.assert_allclose(np.asarray(v), tsaved["state"][i][k].numpy(), rtol=1e-10, atol=1e-12)

    run_steps(opt, topt, ours, theirs, grad_seq[5:], np.float64)  # uninterrupted

    resumed = make_ours(saved_params, np.float64)
    opt2 = our_opt(name, groups(resumed), **kwargs)
    opt2.load_state_dict(saved)
    for grads in grad_seq[5:]:
        for p, g in zip(resumed, grads):
            p.grad = tc.tensor(g)
        opt2.step()
    for p, q in zip(resumed, ours):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert_params_close(resumed, theirs, np.float64)
    # loading copied the arrays: stepping opt2 did not change the saved dict
    opt3 = our_opt(name, groups(make_ours(saved_params, np.float64)), **kwargs)
    opt3.load_state_dict(saved)
    assert_same_snapshot(snapshot(opt3), {"state": {i: {k: np.asarray(v) for k, v in s.items()}
                                                    for i, s in saved["state"].items()},
                                          "param_groups": saved["param_groups"]})


def test_load_torch_state_dict_and_continue():
    """A PyTorch state dict converted to numpy loads and continues exactly as PyTorch does."""
    arrays, grad_seq = initial_arrays(), gradient_sequence(steps=10)
    ours, theirs = make_ours(arrays, np.float64), make_torch(arrays, np.float64)
    topt = torch_opt("Adam", theirs, lr=0.05, amsgrad=True)
    for grads in grad_seq[:5]:
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g)
        topt.step()
    for p, t in zip(ours, theirs):
        p.data[...] = t.detach().numpy()
    tsd = topt.state_dict()
    converted = {"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()},
                 "param_groups": [{k: v for k, v in g.items() if k in ("params", "lr", "betas", "eps",
                                                                        "weight_decay", "amsgrad")}
                                  for g in tsd["param_groups"]]}
    opt = optim.Adam(ours, lr=0.001)
    opt.load_state_dict(converted)
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["amsgrad"] is True
    assert isinstance(opt.state[ours[0]]["step"], int)
    run_steps(opt, topt, ours, theirs, grad_seq[5:], np.float64)
    assert_params_close(ours, theirs, np.float64)


def _bad_state_dicts(good):
    """(description, state dict, expected text in the message) for mismatching states."""
    cases = []
    sd = copy.deepcopy(good)
    sd["param_groups"] = sd["param_groups"][:1]
    cases.append(("fewer groups", sd, "parameter group"))
    sd = copy.deepcopy(good)
    sd["param_groups"][1]["params"] = sd["param_groups"][1]["params"][:1]
    cases.append(("fewer params in a group", sd, "group 1"))
    sd = copy.deepcopy(good)
    sd["state"][2]["exp_avg_sq"] = np.zeros((3, 2))  # the last parameter's state, after good ones
    cases.append(("wrong shape", sd, "shape"))
    sd = copy.deepcopy(good)
    sd["state"][7] = copy.deepcopy(sd["state"][0])
    cases.append(("unknown index", sd, "7"))
    sd = copy.deepcopy(good)
    sd["param_groups"][1]["lr"] = -1.0
    cases.append(("negative lr", sd, "lr"))
    return cases


@pytest.mark.parametrize("case", range(5))
def test_load_mismatched_state_raises_and_changes_nothing(case):
    arrays, grad_seq = initial_arrays(), gradient_sequence(steps=4)
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.5}]  # noqa: E731
    src = make_ours(arrays, np.float64)
    source = optim.Adam(groups(src), lr=0.1)
    for grads in grad_seq:
        for p, g in zip(src, grads):
            p.grad = tc.tensor(g)
        source.step()
    what, bad, text = _bad_state_dicts(source.state_dict())[case]

    ours, theirs = make_ours(arrays, np.float64), make_torch(arrays, np.float64)
    opt, topt = optim.Adam(groups(ours), lr=0.01), torch_opt("Adam", groups(theirs), lr=0.01)
    run_steps(opt, topt, ours, theirs, grad_seq[:2], np.float64)
    before = snapshot(opt)
    with pytest.raises(ValueError, match=text):
        opt.load_state_dict(bad)
    assert_same_snapshot(snapshot(opt), before)
    # and the optimizer goes on exactly as PyTorch's, which never saw the bad state
    run_steps(opt, topt, ours, theirs, grad_seq[2:], np.float64)
    assert_params_close(ours, theirs, np.float64, what)


def test_load_state_dict_casts_to_param_dtype():
    arrays, grad_seq = initial_arrays(), gradient_sequence(steps=3)
    src = make_ours(arrays, np.float64)
    source = optim.SGD(src, lr=0.1, momentum=0.9)
    for grads in grad_seq:
        for p, g in zip(src, grads):
            p.grad = tc.tensor(g)
        source.step()
    ours = make_ours(arrays, np.float32)
    opt = optim.SGD(ours, lr=0.1, momentum=0.9)
    opt.load_state_dict(source.state_dict())
    for p in ours:
        assert opt.state[p]["momentum_buffer"].dtype == np.float32


# ---------------------------------------------------------------- argument checks, as torch
@pytest.mark.parametrize("name,kwargs,text", [
    ("SGD", dict(lr=-0.1), "-0.1"), ("SGD", dict(lr=0.1, momentum=-0.5), "-0.5"),
    ("SGD", dict(lr=0.1, weight_decay=-1.0), "weight_decay"), ("SGD", dict(lr=0.1, nesterov=True), "Nesterov"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
    ("Adam", dict(lr=-1e-3), "-0.001"), ("Adam", dict(eps=-1e-8), "eps"), ("Adam", dict(betas=(1.0, 0.999)), "index 0"),
    ("Adam", dict(betas=(0.9, -0.1)), "index 1"), ("Adam", dict(weight_decay=-0.1), "weight_decay"),
    ("AdamW", dict(betas=(0.9, 1.5)), "1.5"), ("AdamW", dict(lr=-2.0), "lr"),
])
def test_invalid_arguments_raise_value_error_like_torch(name, kwargs, text):
    with pytest.raises(ValueError, match=text):
        our_opt(name, make_ours(initial_arrays(), np.float64), **kwargs)
    with pytest.raises(ValueError):
        torch_opt(name, make_torch(initial_arrays(), np.float64), **kwargs)


def test_invalid_params_argument():
    p = Parameter(tc.tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([{"params": [p], "lr": -1.0}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)


# ---------------------------------------------------------------- RMSprop, Adagrad, Adadelta
MORE_CASES = [
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8, centered=True)),
    ("RMSprop", dict(lr=0.02, momentum=0.5)),
    ("RMSprop", dict(lr=0.02, centered=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-8)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
]


def _more_torch_opt(name, params, **kwargs):
    return getattr(torch.optim, name)(params, foreach=False, **kwargs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", MORE_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MORE_CASES)])
def test_rmsprop_adagrad_adadelta_match_torch(name, kwargs, dtype, device):
    """Every step's parameters and, at the end, every state array equal torch.optim's."""
    arrays, grad_seq = initial_arrays(), gradient_sequence()
    ours, theirs = make_ours(arrays, dtype, device), make_torch(arrays, dtype)
    opt, topt = our_opt(name, ours, **kwargs), _more_torch_opt(name, theirs, **kwargs)
    for key, value in opt.defaults.items():
        assert topt.defaults[key] == value, key
    for step, grads in enumerate(grad_seq):
        set_grads(ours, theirs, grads, dtype, device)
        opt.step()
        topt.step()
        assert_params_close(ours, theirs, dtype, f"step {step}")
    for p, t in zip(ours, theirs):
        assert set(opt.state[p]) == set(topt.state[t])
        assert opt.state[p]["step"] == int(topt.state[t]["step"])
        for key, value in opt.state[p].items():
            if key != "step":
                assert value.dtype == dtype
                np.testing.assert_allclose(to_numpy(value), to_numpy(topt.state[t][key]), **TIGHT[dtype], err_msg=key)


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Adadelta"])
def test_more_optimizers_defaults_state_dict_and_skipping(name):
    """Defaults equal torch's; a parameter without a gradient is skipped; a state_dict round
    trip continues exactly."""
    arrays, grad_seq = initial_arrays(), gradient_sequence()
    for step, grads in enumerate(grad_seq):
        if step % 3 == 0:
            grads[1] = None
    ours, theirs = make_ours(arrays, np.float64), make_torch(arrays, np.float64)
    opt, topt = our_opt(name, ours), _more_torch_opt(name, theirs)
    run_steps(opt, topt, ours, theirs, grad_seq[:6], np.float64)
    copy_opt = our_opt(name, ours)
    copy_opt.load_state_dict(opt.state_dict())
    run_steps(copy_opt, topt, ours, theirs, grad_seq[6:], np.float64)
    assert_params_close(ours, theirs, np.float64, name)


@pytest.mark.parametrize("name, option, value", [("RMSprop", "alpha", -0.1), ("RMSprop", "momentum", -1),
                                                 ("Adagrad", "lr_decay", -0.5), ("Adadelta", "rho", 1.5),
                                                 ("Adadelta", "lr", -1.0)])
def test_more_optimizers_refuse_bad_options(name, option, value):
    with pytest.raises(ValueError):
        _more_torch_opt(name, make_torch(initial_arrays(), np.float64), **{option: value})
    with pytest.raises(ValueError, match=option):
        our_opt(name, make_ours(initial_arrays(), np.float64), **{option: value})
