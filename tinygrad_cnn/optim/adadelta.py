"""Adadelta: steps scaled by running averages of squared gradients and of squared steps."""
from .. import backend
from .optimizer import Optimizer, check_non_negative, with_weight_decay


class Adadelta(Optimizer):
    """Adadelta, with PyTorch's `torch.optim.Adadelta` update rule.

    For each parameter p with gradient g, at every step:

        g = g + weight_decay * p                              (if weight_decay != 0)
        v = rho * v + (1 - rho) * g * g                       (square_avg)
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta               (acc_delta)
        p = p - lr * delta

    Args: lr (default 1.0), rho (0.9), eps (1e-6), weight_decay (0). State per parameter:
    "step", "square_avg", "acc_delta".
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _check_options(self, options):
        for name in ("lr", "eps", "weight_decay"):
            check_non_negative(name, options[name])
        if not 0.0 <= options["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {options['rho']!r} (expected 0 <= rho <= 1)")

    def _update(self, data, grad, state, group):
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        xp = backend.array_module(data)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(data)
            state["acc_delta"] = xp.zeros_like(data)
        state["step"] += 1
        grad = with_weight_decay(xp, data, grad, float(group["weight_decay"]))
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        tmp = xp.multiply(grad, grad)
        tmp *= 1 - rho
        square_avg += tmp
        std = xp.add(square_avg, eps)
        xp.sqrt(std, out=std)
        delta = xp.add(acc_delta, eps)
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= grad
        acc_delta *= rho
        xp.multiply(delta, delta, out=tmp)
        tmp *= 1 - rho
        acc_delta += tmp
        delta *= lr
        data -= delta
