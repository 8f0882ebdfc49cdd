"""tinygrad_cnn.optim.lr_scheduler against torch.optim.lr_scheduler.

Each test builds the same optimizer (two parameter groups with different learning rates) in
both libraries, the same scheduler on each, and compares the learning rates (and, for
OneCycleLR, momentum / beta1) epoch by epoch over 20 epochs.
"""
import numpy as np
import pytest
import torch
import torch.optim.lr_scheduler as TS

import tinygrad_cnn as tc
from tinygrad_cnn import optim
from tinygrad_cnn.nn import Parameter
from tinygrad_cnn.optim import lr_scheduler as S

EPOCHS = 20
RTOL = 1e-12


def make_pair(opt_name="SGD", lrs=(0.1, 0.03), **kwargs):
    """Our optimizer and torch's, each with two param groups at the learning rates `lrs`."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(3), rng.standard_normal((2, 2))]
    ours = [Parameter(tc.tensor(a)) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt = getattr(optim, opt_name)([{"params": [p], "lr": lr} for p, lr in zip(ours, lrs)], **kwargs)
    topt = getattr(torch.optim, opt_name)([{"params": [t], "lr": lr} for t, lr in zip(theirs, lrs)], **kwargs)
    return opt, topt


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def run_schedule(opt, sched, epochs=EPOCHS, metrics=None, track_momentum=False):
    """Per epoch: the scheduler's last lrs (and the groups' momenta), then optimizer step and
    scheduler step (with the epoch's metric for ReduceLROnPlateau)."""
    lrs, moms = [], []
    for epoch in range(epochs):
        lrs.append(sched.get_last_lr())
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
        if track_momentum:
            moms.append(momenta(opt))
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[epoch])
    lrs.append(sched.get_last_lr())
    if track_momentum:
        moms.append(momenta(opt))
    return np.array(lrs), np.array(moms)


def assert_same_schedule(ours, theirs, what="lr"):
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0, err_msg=what)


SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("StepLR", dict(step_size=7)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 15], gamma=0.3)),
    ("MultiStepLR", dict(milestones=[0, 5])),
    ("ExponentialLR", dict(gamma=0.9)),
    ("ExponentialLR", dict(gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=20)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),  # through the minimum and back up
    ("CosineAnnealingLR", dict(T_max=3, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=4)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    ("LinearLR", dict()),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_schedule_matches_torch(name, kwargs):
    opt, topt = make_pair()
    sched, tsched = getattr(S, name)(opt, **kwargs), getattr(TS, name)(topt, **kwargs)
    assert sched.last_epoch == tsched.last_epoch == 0
    assert sched.base_lrs == tsched.base_lrs
    ours, _ = run_schedule(opt, sched)
    theirs, _ = run_schedule(topt, tsched)
    assert_same_schedule(ours, theirs)
    assert sched.last_epoch == tsched.last_epoch == EPOCHS


CHAINS = [
    [("LinearLR", dict(start_factor=0.1, total_iters=5)), ("ExponentialLR", dict(gamma=0.9)),
     ("MultiStepLR", dict(milestones=[8, 12], gamma=0.5))],
    [("LinearLR", dict(start_factor=0.2, total_iters=6)), ("CosineAnnealingLR", dict(T_max=8, eta_min=0.001))],
    [("CosineAnnealingLR", dict(T_max=12)), ("StepLR", dict(step_size=5, gamma=0.5))],
]


@pytest.mark.parametrize("chain", CHAINS, ids=[str(i) for i in range(len(CHAINS))])
def test_chained_schedulers_match_torch(chain):
    """Several schedulers on one optimizer act on the current lr (PyTorch's chainable,
    recursive forms), so their effects compose exactly as in PyTorch."""
    opt, topt = make_pair()
    ours = [getattr(S, name)(opt, **kwargs) for name, kwargs in chain]
    theirs = [getattr(TS, name)(topt, **kwargs) for name, kwargs in chain]
    our_lrs, their_lrs = [], []
    for _ in range(EPOCHS):
        opt.step()
        topt.step()
        for s, t in zip(ours, theirs):
            s.step()
            t.step()
        our_lrs.append([g["lr"] for g in opt.param_groups])
        their_lrs.append([g["lr"] for g in topt.param_groups])
    assert_same_schedule(np.array(our_lrs), np.array(their_lrs))


ONECYCLE = [
    ("SGD", dict(momentum=0.9), dict(max_lr=1.0, total_steps=20)),
    ("SGD", dict(momentum=0.9), dict(max_lr=[0.5, 2.0], total_steps=20, anneal_strategy="linear")),
    ("SGD", dict(momentum=0.9, nesterov=True), dict(max_lr=1.0, epochs=4, steps_per_epoch=5, three_phase=True)),
    ("SGD", dict(), dict(max_lr=0.3, total_steps=20, pct_start=0.25, div_factor=10.0, final_div_factor=100.0,
                          base_momentum=[0.8, 0.7], max_momentum=0.99)),
    ("SGD", dict(momentum=0.5), dict(max_lr=0.3, total_steps=20, cycle_momentum=False)),
    ("Adam", dict(betas=(0.9, 0.99)), dict(max_lr=0.01, total_steps=20)),
    ("Adam", dict(), dict(max_lr=0.01, total_steps=20, three_phase=True, anneal_strategy="linear")),
    ("AdamW", dict(), dict(max_lr=[0.01, 0.02], total_steps=20, pct_start=0.4)),
]


@pytest.mark.parametrize("opt_name,opt_kwargs,kwargs", ONECYCLE, ids=[f"{c[0]}-{i}" for i, c in enumerate(ONECYCLE)])
def test_one_cycle_lr_and_momentum_match_torch(opt_name, opt_kwargs, kwargs):
    opt, topt = make_pair(opt_name, **opt_kwargs)
    sched, tsched = S.OneCycleLR(opt, **kwargs), TS.OneCycleLR(topt, **kwargs)
    ours, our_moms = run_schedule(opt, sched, epochs=20, track_momentum=True)
    theirs, their_moms = run_schedule(topt, tsched, epochs=20, track_momentum=True)
    assert_same_schedule(ours, theirs)
    assert_same_schedule(our_moms, their_moms, "momentum")
    for key in ("initial_lr", "max_lr", "min_lr"):
        assert [g[key] for g in opt.param_groups] == [g[key] for g in topt.param_groups]
    if opt_name == "Adam":
        assert [g["betas"][1] for g in opt.param_groups] == [g["betas"][1] for g in topt.param_groups]
    with pytest.raises(ValueError, match="total steps"):
        sched.step()  # step 21 of 20
    with pytest.raises(ValueError):
        tsched.step()


@pytest.mark.parametrize("opt_name,opt_kwargs", [("SGD", dict(momentum=0.9, weight_decay=1e-3)),
                                                 ("Adam", dict(weight_decay=1e-2))])
def test_one_cycle_drives_the_updates_like_torch(opt_name, opt_kwargs):
    """The scheduled lr and momentum / beta1 are what the optimizer uses: the parameters after
    20 scheduled steps equal PyTorch's."""
    opt, topt = make_pair(opt_name, **opt_kwargs)
    sched, tsched = S.OneCycleLR(opt, max_lr=0.5, total_steps=20), TS.OneCycleLR(topt, max_lr=0.5, total_steps=20)
    ours = [p for g in opt.param_groups for p in g["params"]]
    theirs = [p for g in topt.param_groups for p in g["params"]]
    rng = np.random.default_rng(5)
    for _ in range(20):
        for p, t in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad, t.grad = tc.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


PLATEAU_METRICS = [5.0, 4.0, 4.0, 4.0, 3.9996, 3.9, 3.9, 3.9, 3.9, 4.2, 2.0, 2.0, 2.0, 2.0, 2.0,
                   1.9999, 1.0, 1.0, 1.0, 1.0]
PLATEAUS = [
    dict(),
    dict(patience=1, factor=0.5),
    dict(patience=0, factor=0.5, threshold=1e-3),
    dict(patience=1, factor=0.5, threshold_mode="abs", threshold=0.05),
    dict(patience=1, factor=0.5, cooldown=2),
    dict(patience=0, factor=0.1, min_lr=[0.005, 0.0]),
    dict(patience=0, factor=0.1, min_lr=0.002),
    dict(patience=0, factor=0.9, eps=0.005),  # group 2's reductions are below eps: skipped
    dict(mode="max", patience=1, factor=0.5),
    dict(mode="max", patience=0, factor=0.5, threshold_mode="abs", threshold=0.5, cooldown=1),
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(i) for i in range(len(PLATEAUS))])
def test_reduce_on_plateau_matches_torch(kwargs):
    metrics = PLATEAU_METRICS if kwargs.get("mode") != "max" else [10.0 - m for m in PLATEAU_METRICS]
    opt, topt = make_pair()
    sched, tsched = S.ReduceLROnPlateau(opt, **kwargs), TS.ReduceLROnPlateau(topt, **kwargs)
    ours, _ = run_schedule(opt, sched, metrics=metrics)
    theirs, _ = run_schedule(topt, tsched, metrics=metrics)
    assert_same_schedule(ours, theirs)
    assert len(np.unique(theirs[:, 0])) > 1 or not kwargs  # the metric sequence does trigger reductions
    assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch) == \
           (tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter, tsched.last_epoch)


def test_reduce_on_plateau_accepts_tensor_metrics():
    opt, topt = make_pair()
    sched, tsched = S.ReduceLROnPlateau(opt, patience=0), TS.ReduceLROnPlateau(topt, patience=0)
    for m in [1.0, 2.0, 3.0]:
        sched.step(tc.tensor(m))
        tsched.step(torch.tensor(m))
    assert sched.get_last_lr() == tsched.get_last_lr()


RESUMABLE = SCHEDULES[::2] + [
    ("OneCycleLR", dict(max_lr=1.0, total_steps=20)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=20, three_phase=True, anneal_strategy="linear")),
    ("ReduceLROnPlateau", dict(patience=1, factor=0.5, cooldown=1)),
]


@pytest.mark.parametrize("name,kwargs", RESUMABLE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(RESUMABLE)])
def test_state_dict_round_trip_mid_way(name, kwargs):
    """Save after 8 epochs, rebuild optimizer and scheduler, load both states (scheduler first,
    as PyTorch advises), continue: the same sequence as PyTorch's uninterrupted one."""
    metrics = PLATEAU_METRICS if name == "ReduceLROnPlateau" else None
    opt, topt = make_pair("SGD", momentum=0.9)
    sched, tsched = getattr(S, name)(opt, **kwargs), getattr(TS, name)(topt, **kwargs)
    first, _ = run_schedule(opt, sched, epochs=8, metrics=metrics, track_momentum=True)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in saved_sched
    sched.step(*([100.0] if metrics else []))  # the original goes on: the saved state is a snapshot
    opt.param_groups[0]["lr"] = 123.0

    opt2, _ = make_pair("SGD", lrs=(0.5, 0.5), momentum=0.9)
    sched2 = getattr(S, name)(opt2, **kwargs)
    sched2.load_state_dict(saved_sched)
    opt2.load_state_dict(saved_opt)
    rest, rest_moms = run_schedule(opt2, sched2, epochs=EPOCHS - 8,
                                   metrics=metrics[8:] if metrics else None, track_momentum=True)
    theirs, their_moms = run_schedule(topt, tsched, metrics=metrics, track_momentum=True)
    assert_same_schedule(np.concatenate([first[:-1], rest]), theirs)
    assert_same_schedule(rest_moms, their_moms[8:], "momentum")


def test_state_dict_is_a_snapshot():
    """Changing the returned dict does not change the scheduler (CosineAnnealingLR uses its
    base_lrs at each minimum): it goes on as PyTorch's."""
    opt, topt = make_pair()
    sched, tsched = S.CosineAnnealingLR(opt, T_max=3, eta_min=0.01), TS.CosineAnnealingLR(topt, T_max=3, eta_min=0.01)
    saved = sched.state_dict()
    saved["base_lrs"][:] = [5.0, 5.0]
    saved["_last_lr"][:] = [5.0, 5.0]
    ours, _ = run_schedule(opt, sched)
    theirs, _ = run_schedule(topt, tsched)
    assert_same_schedule(ours, theirs)


def test_resume_with_last_epoch_matches_torch():
    """Constructing with last_epoch >= 0 (resuming from "initial_lr" in the groups), as torch."""
    for name, kwargs in [("StepLR", dict(step_size=3, gamma=0.5)), ("CosineAnnealingLR", dict(T_max=10)),
                         ("ExponentialLR", dict(gamma=0.8)),
                         ("LinearLR", dict(start_factor=0.5, total_iters=8))]:
        opt, topt = make_pair()
        for g, tg in zip(opt.param_groups, topt.param_groups):
            g["initial_lr"] = tg["initial_lr"] = 0.2
        sched = getattr(S, name)(opt, last_epoch=5, **kwargs)
        tsched = getattr(TS, name)(topt, last_epoch=5, **kwargs)
        ours, _ = run_schedule(opt, sched, epochs=10)
        theirs, _ = run_schedule(topt, tsched, epochs=10)
        assert_same_schedule(ours, theirs, name)
    opt, topt = make_pair()
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(opt, step_size=2, last_epoch=3)
    with pytest.raises(KeyError):
        TS.StepLR(topt, step_size=2, last_epoch=3)


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, step_size=0),
    lambda o: S.MultiStepLR(o, milestones=[2.5]),
    lambda o: S.CosineAnnealingLR(o, T_max=0),
    lambda o: S.LinearLR(o, start_factor=0.0),
    lambda o: S.LinearLR(o, end_factor=1.5),
    lambda o: S.OneCycleLR(o, max_lr=0.1),
    lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=0),
    lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5),
    lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
    lambda o: S.OneCycleLR(o, max_lr=[0.1], total_steps=10),
    lambda o: S.ReduceLROnPlateau(o, factor=1.0),
    lambda o: S.ReduceLROnPlateau(o, mode="maximum"),
    lambda o: S.ReduceLROnPlateau(o, threshold_mode="relative"),
    lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]),
])
def test_invalid_arguments_raise_value_error(make):
    opt, _ = make_pair()
    lrs = [g["lr"] for g in opt.param_groups]
    with pytest.raises(ValueError):
        make(opt)
    assert [g["lr"] for g in opt.param_groups] == lrs


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError):
        S.StepLR(object(), step_size=2)
    with pytest.raises(TypeError):
        S.ReduceLROnPlateau(object())
