"""Adagrad: steps scaled by the sum of all squared gradients so far."""
from .. import backend
from .optimizer import Optimizer, check_non_negative, with_weight_decay


class Adagrad(Optimizer):
    """Adagrad, with PyTorch's `torch.optim.Adagrad` update rule.

    For each parameter p with gradient g, at step t = 1, 2, ...:

        g = g + weight_decay * p                  (if weight_decay != 0)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                             (sum, starting at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    Args: lr (default 1e-2), lr_decay (0), weight_decay (0), initial_accumulator_value (0),
    eps (1e-10). As in PyTorch, every parameter has state from the start: "step" and "sum".
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))
        for group in self.param_groups:
            for p in group["params"]:
                xp = backend.array_module(p.array)
                with backend.device_context(p.device):
                    self.state[p] = {"step": 0, "sum": xp.full(p.shape, group["initial_accumulator_value"],
                                                                dtype=p.dtype)}

    def _check_options(self, options):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_non_negative(name, options[name])

    def _update(self, data, grad, state, group):
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        xp = backend.array_module(data)
        if not state:  # a parameter group added after construction
            state["step"] = 0
            state["sum"] = xp.full(data.shape, group["initial_accumulator_value"], dtype=data.dtype)
        state["step"] += 1
        grad = with_weight_decay(xp, data, grad, float(group["weight_decay"]))
        clr = lr / (1 + (state["step"] - 1) * lr_decay)
        tmp = xp.multiply(grad, grad)
        state["sum"] += tmp
        xp.sqrt(state["sum"], out=tmp)
        tmp += eps                                     # std
        xp.divide(grad, tmp, out=tmp)
        tmp *= clr
        data -= tmp
