"""Elementwise ops with NumPy broadcasting.

Each backward may return a gradient of the broadcast (output) shape: the engine sums it down
to the input's shape. Backward never modifies its incoming gradient in place.
"""
import numbers

from .. import backend
from ..autograd import Function
from ..backend import array_module
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


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        xp = array_module(x)
        e = xp.exp(-xp.abs(x))  # never overflows; exact in both tails
        out = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
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


def relu(x):
    """max(x, 0)."""
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    return LeakyReLU.apply(x, negative_slope=_python_number(negative_slope))


def sigmoid(x):
    require_float("sigmoid", x)
    return Sigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)


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


def where(condition, a, b):
    """Elementwise choice: a where condition is true, else b (condition: bool tensor or array)."""
    like = a if isinstance(a, Tensor) else b
    a, b = binary_operands(a, b, "where")
    cond = condition.array if isinstance(condition, Tensor) else as_tensor(condition, like, "where").array
    if cond.dtype != bool:
        cond = cond.astype(bool)
    check_broadcast("where", cond.shape, a.shape, b.shape)
    return Where.apply(a, b, condition=cond)
