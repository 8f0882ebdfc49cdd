"""Learning-rate schedulers with PyTorch's semantics and numbers (`torch.optim.lr_scheduler`).

A scheduler changes `group["lr"]` of every parameter group of an optimizer. As in PyTorch:

- the constructor records each group's starting lr as `group["initial_lr"]` (kept in
  `base_lrs`) and performs the initial step (`last_epoch` goes from -1 to 0);
- each `step()` (call it after `optimizer.step()`) advances `last_epoch` by one and sets the
  new learning rates; `get_last_lr()` returns them;
- the chainable schedulers compute the new lr from the group's *current* lr (StepLR multiplies
  it by gamma, CosineAnnealingLR uses PyTorch's recursive cosine formula), so the numbers equal
  PyTorch's to rounding and several schedulers can act on one optimizer;
- `state_dict()` / `load_state_dict()` save and restore everything but the optimizer. To resume,
  build the optimizer and the scheduler, load the scheduler's state, then the optimizer's
  (the optimizer's state holds the current lrs and the values some schedulers store in groups).

Schedulers: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR,
ReduceLROnPlateau.
"""
import copy
import math
import numbers
from collections import Counter

from .optimizer import Optimizer


def _check_int(name, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= {minimum})")


def _check_real(name, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected a number)")


def _per_group(name, optimizer, value):
    """`value` repeated for each param group, or a list/tuple of one value per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups: {name} has "
                             f"{len(value)} values, param_groups has {len(optimizer.param_groups)}")
        return list(value)
    return [value] * len(optimizer.param_groups)


def _current_lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class of the learning-rate schedulers (subclasses implement `get_lr`).

    Args:
        optimizer (Optimizer): the optimizer whose learning rates are scheduled.
        last_epoch (int): index of the last epoch seen; -1 (default) starts a new schedule.
            Another value resumes one and needs "initial_lr" in every param group.
    """

    _is_initial = False  # True during the constructor's initial step

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        _check_int("last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                                   f"a scheduler with last_epoch={last_epoch}; load the optimizer's state "
                                   "first, or start with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The learning rates for the new `last_epoch` (one per param group)."""
        raise NotImplementedError

    def step(self):
        """Advance the schedule by one epoch (or batch) and set the groups' learning rates."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _current_lrs(self.optimizer)

    def get_last_lr(self):
        """The learning rates set by the last `step()` (a list, one per param group)."""
        return list(self._last_lr)

    def state_dict(self):
        """The scheduler's state: a copy of its attributes except the optimizer."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a state returned by `state_dict()`."""
        self.__dict__.update(copy.deepcopy(state_dict))


class StepLR(LRScheduler):
    """Multiply the learning rate by `gamma` every `step_size` epochs.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        step_size (int): period of the decay, >= 1.
        gamma (float): multiplicative factor. Default 0.1.
        last_epoch (int): index of the last epoch. Default -1.
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check_int("step_size", step_size, 1)
        _check_real("gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _current_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by `gamma` at each milestone epoch.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        milestones (iterable of int): epochs at which to decay (a repeated milestone decays by
            gamma once per repetition).
        gamma (float): multiplicative factor. Default 0.1.
        last_epoch (int): index of the last epoch. Default -1.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        for m in milestones:
            _check_int("milestone", m, 0)
        _check_real("gamma", gamma)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return _current_lrs(self.optimizer)
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by `gamma` every epoch.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        gamma (float): multiplicative factor.
        last_epoch (int): index of the last epoch. Default -1.
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        _check_real("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return _current_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial lr to `eta_min` over `T_max` epochs (no restarts).

    Follows the closed form eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2
    through PyTorch's recursive formula (numbers equal to PyTorch's):

        lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max))

    After T_max the lr rises again along the cosine (period 2 * T_max), as in PyTorch.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        T_max (int): number of epochs of the half cosine period, >= 1.
        eta_min (float): minimum learning rate. Default 0.
        last_epoch (int): index of the last epoch. Default -1.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _check_int("T_max", T_max, 1)
        _check_real("eta_min", eta_min)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if self._is_initial:
            return _current_lrs(self.optimizer)
        if self._step_count == 1 and t > 0:
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                    for base_lr in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:  # the cosine's minimum: the recursion would divide by 0
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (group["lr"] - eta_min) + eta_min for group in groups]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): scale the lr by a factor going linearly from `start_factor`
    to `end_factor` over `total_iters` epochs, then keep it.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        start_factor (float): factor at epoch 0, in (0, 1]. Default 1/3.
        end_factor (float): factor from epoch `total_iters` on, in [0, 1]. Default 1.0.
        total_iters (int): number of epochs of the ramp, >= 1. Default 5.
        last_epoch (int): index of the last epoch. Default -1.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        _check_real("start_factor", start_factor)
        _check_real("end_factor", end_factor)
        if not 0 < start_factor <= 1:
            raise ValueError(f"Invalid start_factor: {start_factor!r} (expected 0 < start_factor <= 1)")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"Invalid end_factor: {end_factor!r} (expected 0 <= end_factor <= 1)")
        _check_int("total_iters", total_iters, 1)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _current_lrs(self.optimizer)
        delta = self.end_factor - self.start_factor
        factor = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [group["lr"] * factor for group in groups]


class OneCycleLR(LRScheduler):
    """The 1cycle policy: the lr rises from max_lr/div_factor to max_lr, then anneals to
    max_lr/(div_factor*final_div_factor), while momentum cycles inversely. Step it after
    every batch; stepping more than `total_steps` times raises ValueError.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        max_lr (float or list): peak learning rate (per group with a list).
        total_steps (int): number of steps in the cycle; or give `epochs` and `steps_per_epoch`.
        epochs (int), steps_per_epoch (int): total_steps = epochs * steps_per_epoch.
        pct_start (float): fraction of the cycle spent increasing the lr. Default 0.3.
        anneal_strategy (str): "cos" (default) or "linear".
        cycle_momentum (bool): cycle the momentum (SGD's "momentum", Adam's beta1) between
            max_momentum and base_momentum. Default True.
        base_momentum (float or list): momentum at the lr's peak. Default 0.85.
        max_momentum (float or list): momentum at the start and end. Default 0.95.
        div_factor (float): initial lr = max_lr / div_factor. Default 25.
        final_div_factor (float): minimum lr = initial lr / final_div_factor. Default 1e4.
        three_phase (bool): use three phases (up, back down to the initial lr, then down to the
            minimum), as the original paper. Default False.
        last_epoch (int): index of the last batch. Default -1.

    The values "initial_lr", "max_lr", "min_lr" (and "max_momentum", "base_momentum") are
    stored in each param group, as PyTorch does.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if total_steps is not None:
            _check_int("total_steps", total_steps, 1)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_int("epochs", epochs, 1)
            _check_int("steps_per_epoch", steps_per_epoch, 1)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        _check_real("pct_start", pct_start)
        if not 0 <= pct_start <= 1:
            raise ValueError(f"Invalid pct_start: {pct_start!r} (expected a float between 0 and 1)")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy

        n = self.total_steps
        if three_phase:
            self._schedule_phases = [
                dict(end_step=float(pct_start * n) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * n) - 2, start_lr="max_lr", end_lr="initial_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
                dict(end_step=n - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._schedule_phases = [
                dict(end_step=float(pct_start * n) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=n - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]

        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, m_max, m_base in zip(optimizer.param_groups, max_momentums, base_momentums):
                    self._set_momentum(group, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"Tried to step {step_num} times. The specified number of total steps is "
                             f"{self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == last:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[phase["start_momentum"]],
                                                               group[phase["end_momentum"]], pct))
                    break
                start_step = phase["end_step"]
        return lrs


class ChainedScheduler:
    """Step several schedulers of one optimizer together, each on the lr the previous one left
    (PyTorch's ChainedScheduler), e.g. a linear warm-up and a step decay:

        ChainedScheduler([MultiStepLR(opt, [30, 40]), LinearLR(opt, start_factor=0.25, total_iters=5)])

    The schedulers must compute the lr from the current one (not ReduceLROnPlateau)."""

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: expected at least one scheduler")
        optimizer = optimizer if optimizer is not None else schedulers[0].optimizer
        for s in schedulers:
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError("ChainedScheduler: ReduceLROnPlateau needs a metric and cannot be chained")
            if s.optimizer is not optimizer:
                raise ValueError("ChainedScheduler: every scheduler must belong to the same optimizer")
        self.optimizer, self._schedules = optimizer, schedulers
        self._last_lr = _current_lrs(optimizer)

    def step(self):
        for s in self._schedules:
            s.step()
        self._last_lr = _current_lrs(self.optimizer)

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        return {"_schedulers": [s.state_dict() for s in self._schedules], "_last_lr": list(self._last_lr)}

    def load_state_dict(self, state_dict):
        saved = state_dict["_schedulers"]
        if len(saved) != len(self._schedules):
            raise ValueError(f"ChainedScheduler.load_state_dict: {len(saved)} saved schedulers, "
                             f"{len(self._schedules)} here")
        for s, state in zip(self._schedules, saved):
            s.load_state_dict(state)
        self._last_lr = list(state_dict["_last_lr"])


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by `factor` when a metric has stopped improving.

    Call `step(metric)` once per epoch. A metric better than the best so far (by more than
    the threshold) resets the count of bad epochs; when the count exceeds `patience`, every
    group's lr becomes max(lr * factor, min_lr) (unless that changes it by less than `eps`),
    and the next `cooldown` epochs count no bad epochs.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        mode (str): "min" (the metric should decrease, default) or "max".
        factor (float): multiplicative factor of the reduction, in [0, 1). Default 0.1.
        patience (int): number of bad epochs tolerated before reducing, >= 0. Default 10.
        threshold (float): minimal significant improvement. Default 1e-4.
        threshold_mode (str): "rel" (default; better means below best * (1 - threshold) in
            min mode, above best * (1 + threshold) in max mode) or "abs" (best -/+ threshold).
        cooldown (int): epochs to wait after a reduction before counting bad epochs, >= 0.
            Default 0.
        min_lr (float or list): lower bound of the lr (per group with a list). Default 0.
        eps (float): reductions smaller than eps are skipped. Default 1e-8.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        _check_real("factor", factor)
        if not 0 <= factor < 1.0:
            raise ValueError(f"Invalid factor: {factor!r} (expected 0 <= factor < 1)")
        _check_int("patience", patience, 0)
        _check_int("cooldown", cooldown, 0)
        _check_real("threshold", threshold)
        _check_real("eps", eps)
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode!r} is unknown: expected 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode!r} is unknown: expected 'rel' or 'abs'")
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = _current_lrs(optimizer)
        self._reset()

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def is_better(self, a, best):
        """Whether metric value `a` is a significant improvement over `best`."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics):
        """Record this epoch's metric (a number, or a one-element tensor/array) and maybe reduce the lr."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _current_lrs(self.optimizer)

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"The number of param groups in the optimizer ({len(groups)}) differs from "
                                   f"when ReduceLROnPlateau was initialized ({len(self.min_lrs)}); set the "
                                   "`min_lrs` attribute to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
