"""RMSprop: steps scaled by a running average of squared gradients."""
from .. import backend
from .optimizer import Optimizer, check_non_negative, with_weight_decay


class RMSprop(Optimizer):
    """RMSprop, with PyTorch's `torch.optim.RMSprop` update rule.

    For each parameter p with gradient g, at every step:

        g = g + weight_decay * p                              (if weight_decay != 0)
        v = alpha * v + (1 - alpha) * g * g                   (square_avg)
        m = lerp(m, g, 1 - alpha); avg = sqrt(v - m * m)      (centered: grad_avg)
        avg = sqrt(v)                                         (otherwise)
        avg = avg + eps
        buf = momentum * buf + g / avg; p = p - lr * buf      (if momentum > 0)
        p = p - lr * g / avg                                  (otherwise)

    Args: lr (default 1e-2), alpha (0.99), eps (1e-8), weight_decay (0), momentum (0),
    centered (False), as PyTorch's. State per parameter: "step", "square_avg" and, as
    needed, "momentum_buffer" and "grad_avg".
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _check_options(self, options):
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            check_non_negative(name, options[name])

    def _update(self, data, grad, state, group):
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum = float(group["momentum"])
        xp = backend.array_module(data)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(data)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = xp.zeros_like(data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = xp.zeros_like(data)
        state["step"] += 1
        grad = with_weight_decay(xp, data, grad, float(group["weight_decay"]))
        square_avg = state["square_avg"]
        square_avg *= alpha
        tmp = xp.multiply(grad, grad)                  # the scratch array, reused below
        tmp *= 1 - alpha
        square_avg += tmp
        if group["centered"]:
            grad_avg = state["grad_avg"]
            xp.subtract(grad, grad_avg, out=tmp)       # lerp(m, g, 1 - alpha) = m + (1 - alpha) (g - m)
            tmp *= 1 - alpha
            grad_avg += tmp
            xp.multiply(grad_avg, grad_avg, out=tmp)
            xp.subtract(square_avg, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(square_avg, out=tmp)
        tmp += eps                                     # avg
        xp.divide(grad, tmp, out=tmp)                  # g / avg
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += tmp
            xp.multiply(buf, lr, out=tmp)
        else:
            tmp *= lr
        data -= tmp
