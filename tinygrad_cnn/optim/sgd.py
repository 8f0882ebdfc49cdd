"""SGD: stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""
from .. import backend
from .optimizer import Optimizer, check_non_negative


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's `torch.optim.SGD` update rule.

    For each parameter p with gradient g, at every step:

        g = g + weight_decay * p                              (if weight_decay != 0)
        buf = g  (first step),  buf = momentum * buf + (1 - dampening) * g  (later)
        g = g + momentum * buf  (nesterov)   or   g = buf  (otherwise)   (if momentum != 0)
        p = p - lr * g

    Args:
        params: iterable of Tensors, or of dicts with "params" and per-group options.
        lr (float): learning rate, >= 0. Default 1e-3.
        momentum (float): momentum factor, >= 0. Default 0.
        dampening (float): dampening of the momentum. Default 0.
        weight_decay (float): L2 penalty, >= 0. Default 0.
        nesterov (bool): Nesterov momentum; needs momentum > 0 and dampening = 0. Default False.

    State per parameter: "momentum_buffer" (an array; only when momentum != 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative("learning rate (lr)", options["lr"])
        check_non_negative("momentum", options["momentum"])
        check_non_negative("weight_decay", options["weight_decay"])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"Nesterov momentum requires a momentum > 0 and zero dampening, got "
                             f"momentum={options['momentum']!r}, dampening={options['dampening']!r}")

    def _update(self, data, grad, state, group):
        # Python floats, so that float32 arrays stay float32 (a numpy float64 scalar would upcast).
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = float(group["weight_decay"])
        nesterov = bool(group["nesterov"])
        xp = backend.array_module(data)
        # `d` is the update direction; `owned` says whether it is a scratch array of ours
        # (which may be overwritten) or the caller's gradient / our momentum buffer.
        d, owned = grad, False
        if weight_decay != 0:
            d = xp.multiply(data, weight_decay)
            d += grad
            owned = True
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = d if owned else d.copy()
                state["momentum_buffer"] = buf
                owned = False
            else:
                buf *= momentum
                if dampening == 0:
                    buf += d
                elif owned and not nesterov:  # d is not needed afterwards
                    d *= 1 - dampening
                    buf += d
                else:
                    buf += xp.multiply(d, 1 - dampening)
            if nesterov:
                step_dir = xp.multiply(buf, momentum)
                step_dir += d
                d, owned = step_dir, True
            else:
                d, owned = buf, False
        if owned:
            d *= lr
            data -= d
        else:
            data -= xp.multiply(d, lr)
