"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""
import numbers

from .. import backend
from .optimizer import Optimizer, check_non_negative


class Adam(Optimizer):
    """Adam, with PyTorch's `torch.optim.Adam` update rule.

    For each parameter p with gradient g, at step t = 1, 2, ...:

        g = g + weight_decay * p                    (Adam: L2 penalty, if weight_decay != 0)
        p = p * (1 - lr * weight_decay)             (AdamW: decoupled weight decay, instead)
        m = m + (1 - beta1) * (g - m)               (exp_avg, a lerp as in PyTorch)
        v = beta2 * v + (1 - beta2) * g * g         (exp_avg_sq)
        v_max = max(v_max, v)                       (amsgrad; v_max is used below instead of v)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        params: iterable of Tensors, or of dicts with "params" and per-group options.
        lr (float): learning rate, >= 0. Default 1e-3.
        betas (tuple of 2 floats): decay rates of the moment estimates, each in [0, 1).
            Default (0.9, 0.999).
        eps (float): added to the denominator, >= 0. Default 1e-8.
        weight_decay (float): L2 penalty, >= 0. Default 0.
        amsgrad (bool): use the running maximum of the second moment (AMSGrad). Default False.

    State per parameter: "step" (int), "exp_avg", "exp_avg_sq" and, with amsgrad,
    "max_exp_avg_sq" (arrays of the parameter's shape and dtype).
    """

    # AdamW sets this: weight decay shrinks the parameters directly instead of adding to g.
    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative("learning rate (lr)", options["lr"])
        check_non_negative("epsilon (eps)", options["eps"])
        check_non_negative("weight_decay", options["weight_decay"])
        betas = options["betas"]
        try:
            betas = tuple(betas)
        except TypeError:
            raise ValueError(f"Invalid betas: {betas!r} (expected a pair of floats)") from None
        if len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (expected a pair of floats)")
        for i, beta in enumerate(betas):
            if not isinstance(beta, numbers.Real) or not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta!r} (expected 0 <= beta < 1)")
        options["betas"] = betas

    def _update(self, data, grad, state, group):
        # Python floats, so that float32 arrays stay float32 (a numpy float64 scalar would upcast).
        lr = float(group["lr"])
        beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        amsgrad = bool(group["amsgrad"])
        xp = backend.array_module(data)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(data)
            state["exp_avg_sq"] = xp.zeros_like(data)
            if amsgrad:
                state["max_exp_avg_sq"] = xp.zeros_like(data)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = state["step"]

        if weight_decay != 0:
            if self.decoupled_weight_decay:
                data *= 1 - lr * weight_decay
            else:
                g = xp.multiply(data, weight_decay)
                g += grad
                grad = g

        # m <- lerp(m, g, 1 - beta1), with PyTorch's two-sided lerp formula.
        weight = 1 - beta1
        tmp = xp.subtract(grad, exp_avg)                  # the one scratch array, reused below
        if abs(weight) < 0.5:
            tmp *= weight
            exp_avg += tmp
        else:
            tmp *= 1 - weight
            xp.subtract(grad, tmp, out=exp_avg)

        # v <- beta2 * v + (1 - beta2) * g * g
        exp_avg_sq *= beta2
        xp.multiply(grad, 1 - beta2, out=tmp)
        tmp *= grad
        exp_avg_sq += tmp

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5

        second = exp_avg_sq
        if amsgrad:
            max_exp_avg_sq = state.get("max_exp_avg_sq")
            if max_exp_avg_sq is None:  # amsgrad switched on after the first steps
                max_exp_avg_sq = state["max_exp_avg_sq"] = xp.zeros_like(data)
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            second = max_exp_avg_sq
        xp.sqrt(second, out=tmp)                          # denom = sqrt(v) / sqrt(bc2) + eps
        tmp /= bias_correction2_sqrt
        tmp += eps
        xp.divide(exp_avg, tmp, out=tmp)                  # p <- p - step_size * m / denom
        tmp *= step_size
        data -= tmp


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, PyTorch's `torch.optim.AdamW` update rule.

    Before the Adam update, each parameter is shrunk: p = p * (1 - lr * weight_decay); the
    gradient is not changed by the weight decay (see `Adam` for the rest of the rule).

    Args:
        params: iterable of Tensors, or of dicts with "params" and per-group options.
        lr (float): learning rate, >= 0. Default 1e-3.
        betas (tuple of 2 floats): decay rates of the moment estimates, each in [0, 1).
            Default (0.9, 0.999).
        eps (float): added to the denominator, >= 0. Default 1e-8.
        weight_decay (float): decoupled weight decay coefficient, >= 0. Default 1e-2.
        amsgrad (bool): use the running maximum of the second moment (AMSGrad). Default False.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
