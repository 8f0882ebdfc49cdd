"""Elementwise ops with NumPy broadcasting.

Each backward may return a gradient of the broadcast (output) shape: the engine sums it down
to the input's shape. Backward never modifies its incoming gradient in place.

The activations take PyTorch's `inplace=` argument where PyTorch's do (`F.relu(x, inplace=True)`)
and accept it for compatibility: they always compute a new tensor and return it, never changing
their input (an op's saved input must stay as it was for backward). Code that uses the return
value, as PyTorch code does, behaves the same.
"""
import math
import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ..backend import array_module
from ..errors import DeviceError
from ..tensor import Tensor
from .common import as_tensor, binary_operands, check_broadcast, require_float


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.shape == b.shape and a.dtype == b.dtype:  # a residual connection: workspace memory, a's layout
            return backend.into_workspace(array_module(a).add, a, b, like=a)
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = a / b
        ctx.save_for_backward(b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, g):
        b, out = ctx.saved_tensors
        ga = g / b  # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2 = -(a/b)/b
        return (ga if ctx.needs_input_grad[0] else None,
                -ga * out if ctx.needs_input_grad[1] else None)


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class PowScalar(Function):
    """y = x ** p for a Python number p."""

    name = "pow"

    @staticmethod
    def forward(ctx, x, exponent):
        ctx.exponent = exponent
        ctx.save_for_backward(x)
        return x ** exponent

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        if p == 0:  # d/dx x**0 = 0 everywhere, also at x = 0 where the formula gives 0 * inf
            return array_module(g).zeros_like(g)
        if p == 2:
            return g * (2 * x)
        return g * (p * x ** (p - 1))


class Pow(Function):
    """y = a ** b for tensors a, b (dy/db = y log a, defined for a > 0)."""

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        xp = array_module(a)
        # where b == 0 the gradient w.r.t. a is 0, also at a == 0 (as PyTorch)
        ga = xp.where(b == 0, 0, g * b * a ** (b - 1)) if ctx.needs_input_grad[0] else None
        gb = g * out * xp.log(a) if ctx.needs_input_grad[1] else None
        return ga, gb


# ---------------------------------------------------------------- unary functions
class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        out = array_module(x).exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        out = array_module(x).sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * array_module(x).sign(x)


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        out = backend.into_workspace(array_module(x).maximum, x, 0, like=x)  # an activation: workspace memory
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return backend.into_workspace(array_module(g).multiply, g, out > 0, like=g)


class LeakyReLU(Function):
    name = "leaky_relu"

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.negative_slope = negative_slope
        ctx.save_for_backward(x)
        return array_module(x).where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return array_module(x).where(x > 0, g, g * ctx.negative_slope)


def stable_sigmoid(x):
    """1 / (1 + exp(-x)) without overflow, exact in both tails, in x's dtype."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        out = stable_sigmoid(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = array_module(x).tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class ELU(Function):
    """x where x > 0, else alpha * (exp(x) - 1); gradient 1, or alpha * exp(x) where x <= 0."""

    name = "elu"

    @staticmethod
    def forward(ctx, x, alpha):
        xp = array_module(x)
        exp_neg = xp.exp(xp.minimum(x, 0))  # exp(x) where x <= 0, never overflowing
        ctx.alpha = alpha
        ctx.save_for_backward(x, exp_neg)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, exp_neg = ctx.saved_tensors
        return array_module(g).where(x > 0, g, g * (ctx.alpha * exp_neg))


class SiLU(Function):
    """x * sigmoid(x); gradient s * (1 + x * (1 - s)) with s = sigmoid(x)."""

    name = "silu"

    @staticmethod
    def forward(ctx, x):
        s = stable_sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        return g * (s * (1 + x * (1 - s)))


# erf (for GELU). NumPy has no erf and CuPy keeps its own in cupyx, so erf is evaluated here from
# two Chebyshev interpolants, fitted once at import to Python's math.erf / math.erfc (libm,
# within 1 ulp) and rewritten as power series for Horner's rule (2 array ops per degree):
#   |x| < 2:      erf(x) = x * P(x^2),              P of degree 18 on x^2 in [0, 4]
#   2 <= |x| < 6: erf(x) = sign(x) (1 - exp(-x^2) Q(|x|)), Q ~ erfc(x) exp(x^2), degree 20 on [2, 6]
#   |x| >= 6:     erf(x) = sign(x)                  (1 - erf(6) = 2e-17 is below float64's resolution)
# Measured against mpmath at 30 digits on 10^5 points per piece (float64): relative error at
# most 3e-15 for |x| < 2 (the rounding of Horner's rule), absolute error at most 1.2e-16 beyond.
# In float32 the same series run in float32 (error ~1e-6 relative, below float32's tolerance).
def _power_series(fn, degree, low, high):
    """(coefficients lowest first, low, high): the degree-`degree` Chebyshev interpolant of fn on
    [low, high] as a power series in y = (2 v - low - high) / (high - low), in [-1, 1]."""
    fit = np.polynomial.Chebyshev.interpolate(np.vectorize(fn), degree, domain=[low, high])
    return tuple(float(c) for c in np.polynomial.chebyshev.cheb2poly(fit.coef)), low, high


_ERF_NEAR = _power_series(lambda t: math.erf(math.sqrt(t)) / math.sqrt(t), 18, 0.0, 4.0)
_ERFC_SCALED = _power_series(lambda v: math.erfc(v) * math.exp(v * v), 20, 2.0, 6.0)


def _evaluate(series, v):
    """The power series of `_power_series` at v (an array in [low, high]), by Horner's rule."""
    coefficients, low, high = series
    y = v * (2 / (high - low)) - (high + low) / (high - low)
    out = coefficients[-1] * y + coefficients[-2]
    for c in reversed(coefficients[:-2]):
        out = out * y + c
    return out


def erf_array(x):
    """The error function of a floating array, in its dtype (see the comment above for accuracy)."""
    xp = array_module(x)
    a = xp.abs(x)
    near = xp.minimum(a, 2.0)
    inside = x * _evaluate(_ERF_NEAR, near * near)
    far = xp.clip(a, 2.0, 6.0)
    tail = xp.where(a >= 6.0, 1.0, 1 - xp.exp(-far * far) * _evaluate(_ERFC_SCALED, far))
    return xp.where(a < 2.0, inside, xp.where(x < 0, -tail, tail)).astype(x.dtype, copy=False)


class Erf(Function):
    """erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt; gradient 2/sqrt(pi) * exp(-x^2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((2 / math.sqrt(math.pi)) * array_module(x).exp(-x * x))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_KAPPA = 0.044715


class GELU(Function):
    """x * Phi(x), Phi the standard normal CDF: 0.5 * (1 + erf(x / sqrt(2))) (approximate="none"),
    or 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) (approximate="tanh"), as PyTorch."""

    name = "gelu"

    @staticmethod
    def forward(ctx, x, approximate):
        xp = array_module(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            t = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_KAPPA * (x * x * x)))
            ctx.save_for_backward(x, t)
            return 0.5 * x * (1 + t)
        cdf = 0.5 * (1 + erf_array(x * (1 / math.sqrt(2))))
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        if ctx.approximate == "tanh":
            x, t = ctx.saved_tensors
            inner_slope = _SQRT_2_OVER_PI * (1 + 3 * _GELU_KAPPA * (x * x))
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner_slope)
        x, cdf = ctx.saved_tensors
        pdf = xp.exp(-0.5 * (x * x)) * (1 / math.sqrt(2 * math.pi))
        return g * (cdf + x * pdf)


class Hardswish(Function):
    """x * relu6(x + 3) / 6; gradient 0 for x <= -3, x / 3 + 1/2 between, 1 for x >= 3 (PyTorch's
    values at the kinks)."""

    name = "hardswish"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * array_module(x).clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xp = array_module(g)
        return xp.where(x <= -3, 0, xp.where(x < 3, g * (x / 3 + 0.5), g)).astype(g.dtype, copy=False)


class Hardsigmoid(Function):
    """relu6(x + 3) / 6; gradient 1/6 strictly between -3 and 3, else 0 (as PyTorch)."""

    name = "hardsigmoid"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x > -3) & (x < 3)) / 6


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch);
    gradient sigmoid(beta x), and 1 where beta x > threshold."""

    name = "softplus"

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = array_module(x)
        scaled = x * beta
        linear = scaled > threshold
        z = xp.exp(xp.minimum(scaled, threshold))  # exp(beta x) where it is used: never overflowing
        ctx.save_for_backward(linear, z)
        return xp.where(linear, x, xp.log1p(z) / beta).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        linear, z = ctx.saved_tensors
        return array_module(g).where(linear, g, g * z / (z + 1))


# ---------------------------------------------------------------- selection
def _split_by_winner(g, a_wins, tie, needs_input_grad):
    """Gradients of a two-way selection: all of g to the winner, half to each on a tie."""
    xp = array_module(g)
    g, a_wins, tie = xp.broadcast_arrays(g, a_wins, tie)
    half = g * 0.5
    ga = xp.where(a_wins, g, xp.where(tie, half, 0)) if needs_input_grad[0] else None
    gb = xp.where(a_wins, 0, xp.where(tie, half, g)) if needs_input_grad[1] else None
    return ga, gb


class Maximum(Function):
    """Elementwise max; on ties each input gets half the gradient (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return array_module(a).maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _split_by_winner(g, a > b, a == b, ctx.needs_input_grad)


class Minimum(Function):
    """Elementwise min; on ties each input gets half the gradient (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return array_module(a).minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _split_by_winner(g, a < b, a == b, ctx.needs_input_grad)


class Clip(Function):
    """Clamp to [low, high]; the gradient passes where low <= x <= high (as torch.clamp)."""

    name = "clip"

    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        return array_module(x).clip(x, low, high)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inside = array_module(x).ones(x.shape, dtype=bool)
        if ctx.low is not None:
            inside &= x >= ctx.low
        if ctx.high is not None:
            inside &= x <= ctx.high
        return g * inside


class Hardtanh(Clip):
    """Clamp to [low, high] as an activation (hardtanh, relu6): the gradient passes strictly
    inside, low < x < high, so it is 0 on the bounds (as PyTorch's hardtanh, unlike clamp)."""

    name = "hardtanh"

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x > ctx.low) & (x < ctx.high))


class Copy(Function):
    """A copy in memory order `order` ("C": row-major, as contiguous(); "K": the input's layout,
    as clone()); the gradient passes unchanged."""

    @staticmethod
    def forward(ctx, x, order):
        return x.copy(order=order)

    @staticmethod
    def backward(ctx, g):
        return g


class Where(Function):
    """out = a where cond else b; cond is a boolean array outside the graph."""

    @staticmethod
    def forward(ctx, a, b, condition):
        ctx.save_for_backward(condition)
        return array_module(a).where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        (condition,) = ctx.saved_tensors
        xp = array_module(g)
        zero = xp.zeros((), dtype=g.dtype)
        return (xp.where(condition, g, zero) if ctx.needs_input_grad[0] else None,
                xp.where(condition, zero, g) if ctx.needs_input_grad[1] else None)


# ---------------------------------------------------------------- PyTorch-named functions
def add(a, b):
    """a + b with broadcasting."""
    a, b = binary_operands(a, b, "add")
    return Add.apply(a, b)


def sub(a, b):
    """a - b with broadcasting."""
    a, b = binary_operands(a, b, "sub")
    return Sub.apply(a, b)


def mul(a, b):
    """a * b with broadcasting."""
    a, b = binary_operands(a, b, "mul")
    return Mul.apply(a, b)


def div(a, b):
    """a / b with broadcasting (true division)."""
    a, b = binary_operands(a, b, "div")
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":  # true division of integers gives float32
        a = a.float()
    return Div.apply(a, b)


def neg(x):
    return Neg.apply(x)


def _python_number(value):
    """A number parameter as a Python int or float. NumPy keeps a float32 array float32 under a
    Python number (a "weak" scalar, as PyTorch does), but promotes it to float64 under a NumPy
    float64 scalar, which `np.float64` values (say, from a config array) are."""
    if value is None:
        return None
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def pow(base, exponent):  # noqa: A001 (PyTorch's name)
    """base ** exponent; either may be a tensor or a number."""
    if isinstance(base, Tensor) and isinstance(exponent, numbers.Number) and not isinstance(exponent, bool):
        return PowScalar.apply(base, exponent=_python_number(exponent))
    base, exponent = binary_operands(base, exponent, "pow")
    return Pow.apply(base, exponent)


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def abs(x):  # noqa: A001
    return Abs.apply(x)


def relu(input, inplace=False):  # noqa: A002 (PyTorch's argument names)
    """max(x, 0). `inplace` is accepted and ignored: the result is a new tensor (see the module
    docstring)."""
    return ReLU.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x where x > 0, else negative_slope * x (a new tensor whatever `inplace` says)."""
    return LeakyReLU.apply(input, negative_slope=_python_number(negative_slope))


def sigmoid(x):
    require_float("sigmoid", x)
    return Sigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """x clamped to [min_val, max_val]; its gradient is 0 on the bounds (a new tensor whatever
    `inplace` says)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return Hardtanh.apply(input, low=_python_number(min_val), high=_python_number(max_val))


def relu6(input, inplace=False):  # noqa: A002
    """min(max(x, 0), 6): hardtanh(x, 0, 6) (a new tensor whatever `inplace` says)."""
    return Hardtanh.apply(input, low=0, high=6)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x where x > 0, else alpha * (exp(x) - 1) (a new tensor whatever `inplace` says)."""
    require_float("elu", input)
    return ELU.apply(input, alpha=_python_number(alpha))


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x), also called swish (a new tensor whatever `inplace` says)."""
    require_float("silu", input)
    return SiLU.apply(input)


def erf(input):  # noqa: A002
    """The error function, 2/sqrt(pi) * integral_0^x exp(-t^2) dt."""
    require_float("erf", input)
    return Erf.apply(input)


def gelu(input, approximate="none"):  # noqa: A002
    """x * Phi(x) with Phi the standard normal CDF (erf-based, approximate="none"), or its tanh
    approximation (approximate="tanh")."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got {approximate!r}")
    require_float("gelu", input)
    return GELU.apply(input, approximate=approximate)


def hardswish(input, inplace=False):  # noqa: A002
    """x * relu6(x + 3) / 6 (a new tensor whatever `inplace` says)."""
    require_float("hardswish", input)
    return Hardswish.apply(input)


def hardsigmoid(input, inplace=False):  # noqa: A002
    """relu6(x + 3) / 6 (a new tensor whatever `inplace` says)."""
    require_float("hardsigmoid", input)
    return Hardsigmoid.apply(input)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    """log(1 + exp(beta * x)) / beta, reverting to x where beta * x > threshold."""
    require_float("softplus", input)
    return Softplus.apply(input, beta=_python_number(beta), threshold=_python_number(threshold))


def maximum(a, b):
    a, b = binary_operands(a, b, "maximum")
    return Maximum.apply(a, b)


def minimum(a, b):
    a, b = binary_operands(a, b, "minimum")
    return Minimum.apply(a, b)


def clip(x, min=None, max=None):  # noqa: A002 (PyTorch's argument names)
    """Clamp x to [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is larger than max ({max})")
    return Clip.apply(x, low=_python_number(min), high=_python_number(max))


clamp = clip


def clamp_min(input, min):  # noqa: A002
    """max(x, min): clamp with a lower bound only."""
    return clip(input, min=min)


def clamp_max(input, max):  # noqa: A002
    """min(x, max): clamp with an upper bound only."""
    return clip(input, max=max)


def clone(input):  # noqa: A002
    """A copy of x in its own memory, in x's memory layout; the gradient passes through."""
    return Copy.apply(input, order="K")


def contiguous(input):  # noqa: A002
    """x itself when it is row-major (C-contiguous) already, else a row-major copy; the gradient
    passes through."""
    if input.array.flags.c_contiguous:
        return input
    return Copy.apply(input, order="C")


# ---------------------------------------------------------------- comparisons
def _comparison(name, ufunc_name, doc):
    def compare(input, other):  # noqa: A002
        if isinstance(input, Tensor) and isinstance(other, numbers.Number):  # a number stays a kernel argument
            return Tensor._wrap(getattr(array_module(input.array), ufunc_name)(input.array, other), input.device)
        a, b = binary_operands(input, other, name)
        if a.device != b.device:
            raise DeviceError(f"{name}: expected both tensors on the same device, got {a.device} and {b.device}")
        return Tensor._wrap(getattr(array_module(a.array), ufunc_name)(a.array, b.array), a.device)
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"{doc}, elementwise with broadcasting: a boolean tensor outside the graph."
    return compare


eq = _comparison("eq", "equal", "input == other")
ne = _comparison("ne", "not_equal", "input != other")
lt = _comparison("lt", "less", "input < other")
le = _comparison("le", "less_equal", "input <= other")
gt = _comparison("gt", "greater", "input > other")
ge = _comparison("ge", "greater_equal", "input >= other")


def where(condition, a, b):
    """Elementwise choice: a where condition is true, else b (condition: bool tensor or array)."""
    like = a if isinstance(a, Tensor) else b
    a, b = binary_operands(a, b, "where")
    cond = condition.array if isinstance(condition, Tensor) else as_tensor(condition, like, "where").array
    if cond.dtype != bool:
        cond = cond.astype(bool)
    check_broadcast("where", cond.shape, a.shape, b.shape)
    return Where.apply(a, b, condition=cond)
