"""Op-table rows of the elementwise ops: arithmetic (with broadcasting and with Python scalars),
pow, the unary functions and activations, maximum/minimum, clip/clamp and where.

Every spelling of an op (operator, tc function, Tensor method, F function) is an alias of one
row. Values stay inside each op's domain and away from its kinks (0 for relu/abs/leaky_relu,
ties for maximum/minimum/clip), so gradients are unambiguous; the tie and special-value
conventions have tests of their own in tests/test_ops_elementwise.py.
"""
import operator

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from .row import MAX_SIZE, Case, OpRow, array_shapes, arrays_from, distinct_arrays, seeds

# ---------------------------------------------------------------- shapes and values
# One input: any rank from 0-d to 4-d.
shapes = array_shapes()


def broadcastable_shapes(count):
    """`count` shapes that broadcast together: all 0-d, or all of rank 1-4 (the layout
    invariant cannot lay out a 0-d input beside others, so a 0-d operand beside a larger one
    has a test in tests/test_ops_elementwise.py)."""
    some_dims = hnp.mutually_broadcastable_shapes(num_shapes=count, min_dims=1, max_dims=4, min_side=1, max_side=4)
    small = some_dims.filter(lambda s: np.prod(s.result_shape, dtype=int) <= MAX_SIZE)
    return st.one_of(st.just(((),) * count), small.map(lambda s: s.input_shapes))


def _values(seed, shape, domain):
    """An array of `shape` in `domain`: "any" (standard normal), "positive" ([0.1, 3): log,
    sqrt, fractional powers), "nonzero" (|x| >= 0.1: off the kink at 0), "wide" (normal * 10:
    the flat tails of sigmoid and tanh), "base" ([0.5, 2): bases of tensor ** tensor)."""
    if domain == "positive":
        return arrays_from(seed, shape, low=0.1, high=3.0)[0]
    if domain == "base":
        return arrays_from(seed, shape, low=0.5, high=2.0)[0]
    if domain == "nonzero":
        return arrays_from(seed, shape, away_from=0.0)[0]
    if domain == "wide":
        return arrays_from(seed, shape)[0] * 10.0
    return arrays_from(seed, shape)[0]


@st.composite
def unary_cases(draw, domain="any", params=st.just({})):
    """One input of any shape (0-d to 4-d) in `domain`, and keyword parameters drawn from `params`."""
    seed = draw(seeds)
    return Case((_values(seed, draw(shapes), domain),), draw(params), seed)


@st.composite
def binary_cases(draw, domain_a="any", domain_b="any"):
    """Two broadcasting inputs, the first in `domain_a`, the second in `domain_b`."""
    shape_a, shape_b = draw(broadcastable_shapes(2))
    seed = draw(seeds)
    return Case((_values(seed, shape_a, domain_a), _values(seed + 1, shape_b, domain_b)), {}, seed)


@st.composite
def distinct_pair_cases(draw):
    """Two broadcasting inputs with no value in common (no ties between them)."""
    shape_a, shape_b = draw(broadcastable_shapes(2))
    seed = draw(seeds)
    return Case(tuple(distinct_arrays(seed, shape_a, shape_b)), {}, seed)


# Python numbers for the operators with a scalar operand: ints and floats with |s| in [0.5, 3].
scalars = st.one_of(st.sampled_from([-3, -2, -1, 1, 2, 3]),
                    st.floats(0.5, 3.0).flatmap(lambda v: st.sampled_from([v, -v])))


@st.composite
def scalar_operand_cases(draw, domain):
    """One input in `domain`, a Python number `scalar`, and `reflected`: the number on the left."""
    case = draw(unary_cases(domain))
    return Case(case.arrays, dict(scalar=draw(scalars), reflected=draw(st.booleans())), case.seed)


# ---------------------------------------------------------------- arithmetic
def _with_scalar(op):
    """op(scalar, x) or op(x, scalar): the same expression for our tensors and torch's."""
    return lambda x, scalar, reflected: op(scalar, x) if reflected else op(x, scalar)


def _binary_rows(name, op, domain_b="any"):
    """Two rows of one arithmetic op: two broadcasting tensors (tc function, operator, method),
    and a tensor with a Python number on either side (operator and tc function)."""
    fn = getattr(tc, name)
    dunder = f"__{name.replace('div', 'truediv')}__"
    return [
        OpRow(f"tc.{name}", fn, binary_cases(domain_b=domain_b), torch_fn=getattr(torch, name),
              aliases={f"a {dunder} b": op, f"Tensor.{name}": lambda a, b: getattr(a, name)(b)},
              covers=(f"tc.{name}", f"Tensor.{name}", f"Tensor.{dunder}")),
        OpRow(f"tc.{name} (Python scalar)", _with_scalar(op), scalar_operand_cases(domain_b),
              torch_fn=_with_scalar(op), aliases={f"tc.{name}": _with_scalar(fn)},
              covers=(f"Tensor.{dunder}", f"Tensor.{dunder.replace('__', '__r', 1)}")),
    ]


# ---------------------------------------------------------------- pow
# Exponents that are Python numbers, each with the bases it is defined (and smooth) on.
POW_EXPONENTS = [(2, "any"), (3, "any"), (2.0, "any"), (1, "any"), (0, "nonzero"), (-1, "nonzero"),
                 (-2, "nonzero"), (0.5, "positive"), (1.5, "positive"), (-0.5, "positive"), (2.5, "positive")]


@st.composite
def pow_number_cases(draw, number_type=None):
    """x ** p for p from POW_EXPONENTS (0, negative, fractional with positive bases, ...);
    number_type: a type to give p (np.float64), or None to keep the Python int or float."""
    exponent, domain = draw(st.sampled_from(POW_EXPONENTS))
    case = draw(unary_cases(domain))
    return Case(case.arrays, dict(exponent=exponent if number_type is None else number_type(exponent)), case.seed)


@st.composite
def number_pow_cases(draw):
    """base ** x for a positive Python number base (int or float)."""
    case = draw(unary_cases())
    return Case(case.arrays, dict(base=draw(st.one_of(st.sampled_from([1, 2, 3]), st.floats(0.5, 3.0)))), case.seed)


# ---------------------------------------------------------------- maximum / minimum with a number, clip
def _between(draw, x, count, number_type=float):
    """`count` numbers (sorted), each halfway between two neighbouring values of x or beyond all
    of them: no value of x equals one (no ties, no value on a bound)."""
    points = np.sort(np.concatenate([x.reshape(-1), [-2.5, 2.5]]))
    candidates = [number_type(b) for b in (points[:-1] + points[1:]) / 2]
    return sorted(draw(st.lists(st.sampled_from(candidates), min_size=count, max_size=count)))


@st.composite
def number_operand_cases(draw):
    """Distinct values and a Python float `number` equal to none of them."""
    seed = draw(seeds)
    x = distinct_arrays(seed, draw(shapes))[0]
    return Case((x,), dict(number=_between(draw, x, 1)[0]), seed)


@st.composite
def clip_cases(draw, bound_type=float):
    """Distinct values and bounds (min only, max only or both) equal to none of them.
    bound_type: the bounds' Python type (float, or np.float64, a subclass of float)."""
    seed = draw(seeds)
    x = distinct_arrays(seed, draw(shapes))[0]
    low, high = _between(draw, x, 2, bound_type)
    kind = draw(st.sampled_from(["min", "max", "both"]))
    return Case((x,), dict(min=None if kind == "max" else low, max=None if kind == "min" else high), seed)


# ---------------------------------------------------------------- where
@st.composite
def where_cases(draw):
    """A boolean condition and two branches, all three broadcasting together."""
    c_shape, a_shape, b_shape = draw(broadcastable_shapes(3))
    seed = draw(seeds)
    condition = np.random.default_rng(seed).random(c_shape) > 0.5
    return Case((condition,) + tuple(arrays_from(seed + 1, a_shape, b_shape)), {}, seed)


# ---------------------------------------------------------------- activations
leaky_slopes = st.one_of(st.just({}), st.sampled_from([0.0, 0.2, 0.3, 1.5]).map(lambda s: dict(negative_slope=s)))
numpy_leaky_slopes = st.sampled_from([0.0, 0.2, 1.5]).map(lambda s: dict(negative_slope=np.float64(s)))


def _unary_row(name, torch_fn, domain, f_name=None):
    """A row for tc.<name> with the Tensor method (and F.<f_name>) as aliases."""
    aliases = {f"Tensor.{name}": lambda x: getattr(x, name)()}
    covers = (f"tc.{name}", f"Tensor.{name}")
    if f_name:
        aliases[f"F.{f_name}"] = getattr(F, f_name)
        covers += (f"F.{f_name}",)
    return OpRow(f"tc.{name}", getattr(tc, name), unary_cases(domain), torch_fn=torch_fn, aliases=aliases,
                 covers=covers)


ROWS = [
    *_binary_rows("add", operator.add),
    *_binary_rows("sub", operator.sub),
    *_binary_rows("mul", operator.mul),
    *_binary_rows("div", operator.truediv, domain_b="nonzero"),
    OpRow("tc.neg", tc.neg, unary_cases(), torch_fn=torch.neg,
          aliases={"-x": operator.neg, "Tensor.neg": lambda x: x.neg()}, covers=("Tensor.neg", "Tensor.__neg__")),
    OpRow("tc.pow (tensor ** number)", lambda x, exponent: tc.pow(x, exponent), pow_number_cases(),
          torch_fn=lambda x, exponent: x ** exponent,
          aliases={"x ** p": lambda x, exponent: x ** exponent, "Tensor.pow": lambda x, exponent: x.pow(exponent)},
          covers=("tc.pow", "Tensor.pow", "Tensor.__pow__")),
    # np.float64 is a float: PyTorch keeps a float32 tensor float32 for any float exponent.
    OpRow("tc.pow (tensor ** NumPy float)", lambda x, exponent: tc.pow(x, exponent), pow_number_cases(np.float64),
          torch_fn=lambda x, exponent: x ** exponent),
    OpRow("tc.pow (tensor ** tensor)", tc.pow, binary_cases("base", "any"), torch_fn=torch.pow,
          aliases={"a ** b": operator.pow, "Tensor.pow": lambda a, b: a.pow(b)}),
    OpRow("tc.pow (number ** tensor)", lambda x, base: tc.pow(base, x), number_pow_cases(),
          torch_fn=lambda x, base: base ** x, aliases={"base ** x": lambda x, base: base ** x},
          covers=("Tensor.__rpow__",)),
    _unary_row("exp", torch.exp, "any"),
    _unary_row("log", torch.log, "positive"),
    _unary_row("sqrt", torch.sqrt, "positive"),
    OpRow("tc.abs", tc.abs, unary_cases("nonzero"), torch_fn=torch.abs,
          aliases={"abs(x)": abs, "Tensor.abs": lambda x: x.abs()}, covers=("Tensor.abs", "Tensor.__abs__")),
    _unary_row("relu", torch.relu, "nonzero", f_name="relu"),
    OpRow("F.leaky_relu", F.leaky_relu, unary_cases("nonzero", leaky_slopes), torch_fn=TF.leaky_relu,
          aliases={"Tensor.leaky_relu": lambda x, **slope: x.leaky_relu(**slope)}, covers=("Tensor.leaky_relu",)),
    # np.float64 is a float: PyTorch keeps a float32 tensor float32 for any float slope.
    OpRow("F.leaky_relu (NumPy float slope)", F.leaky_relu, unary_cases("nonzero", numpy_leaky_slopes),
          torch_fn=TF.leaky_relu),
    _unary_row("sigmoid", torch.sigmoid, "wide", f_name="sigmoid"),
    _unary_row("tanh", torch.tanh, "wide", f_name="tanh"),
    OpRow("tc.maximum", tc.maximum, distinct_pair_cases(), torch_fn=torch.maximum,
          aliases={"Tensor.maximum": lambda a, b: a.maximum(b), "tc.max(a, b)": tc.max,
                   "Tensor.max(b)": lambda a, b: a.max(b)},
          covers=("Tensor.maximum",)),
    OpRow("tc.minimum", tc.minimum, distinct_pair_cases(), torch_fn=torch.minimum,
          aliases={"Tensor.minimum": lambda a, b: a.minimum(b), "tc.min(a, b)": tc.min,
                   "Tensor.min(b)": lambda a, b: a.min(b)},
          covers=("Tensor.minimum",)),
    OpRow("tc.maximum (Python number)", lambda x, number: tc.maximum(x, number), number_operand_cases(),
          torch_fn=lambda x, number: torch.maximum(x, torch.tensor(number, dtype=x.dtype))),
    OpRow("tc.minimum (Python number)", lambda x, number: tc.minimum(x, number), number_operand_cases(),
          torch_fn=lambda x, number: torch.minimum(x, torch.tensor(number, dtype=x.dtype))),
    OpRow("tc.clip", tc.clip, clip_cases(), torch_fn=torch.clamp,
          aliases={"tc.clamp(x, min, max)": lambda x, **b: tc.clamp(x, b["min"], b["max"]),
                   "Tensor.clip(min, max)": lambda x, **b: x.clip(b["min"], b["max"]),
                   "Tensor.clamp(min=, max=)": lambda x, **b: x.clamp(**b)},
          covers=("tc.clamp", "Tensor.clip", "Tensor.clamp")),
    # np.float64 is a float: PyTorch keeps a float32 tensor float32 for any float bound.
    OpRow("tc.clip (NumPy float bounds)", tc.clip, clip_cases(bound_type=np.float64), torch_fn=torch.clamp),
    OpRow("tc.where", tc.where, where_cases(), torch_fn=torch.where,
          aliases={"tc.where(NumPy condition)": lambda c, a, b: tc.where(c.numpy(), a, b)},
          differentiable=(False, True, True)),
]


# ---------------------------------------------------------------- more activations, erf, copies, comparisons
def away_from(x, points, gap=0.1):
    """x with every value moved at least `gap` away from each of `points` (an activation's kinks:
    its gradient jumps there, so numerical and analytic gradients would disagree)."""
    for point in points:
        d = x - point
        x = np.where(np.abs(d) < gap, point + np.where(d >= 0, gap, -gap) + d, x)
    return x


@st.composite
def activation_cases(draw, params=st.just({}), kinks=lambda params: (), scale=3.0):
    """One input of any shape (0-d to 4-d), standard normal times `scale`, moved away from the
    kinks(params) of the activation, and keyword parameters drawn from `params`."""
    seed = draw(seeds)
    kwargs = draw(params)
    x = arrays_from(seed, draw(shapes))[0] * scale
    return Case((away_from(x, kinks(kwargs)),), kwargs, seed)


def _optional(**choices):
    """Keyword parameters: each name left out (PyTorch's default) or given one of its values."""
    return st.fixed_dictionaries({}, optional={name: st.sampled_from(values) for name, values in choices.items()})


hardtanh_bounds = st.one_of(st.just({}), st.sampled_from([(0.0, 6.0), (-2.5, 0.5), (-0.5, 2.0), (-1, 1)]).map(
    lambda b: dict(min_val=b[0], max_val=b[1])))
softplus_params = _optional(beta=[0.5, 1, 2.0, -1.0], threshold=[1.0, 5.0, 20])


def _softplus_kinks(params):
    """Where beta * x = threshold: softplus jumps there (to x) when the threshold is small."""
    return (params.get("threshold", 20) / params.get("beta", 1),)


def _inplace(fn):
    """fn called with inplace=True, which the library accepts and ignores (it returns a new tensor)."""
    return lambda x, **params: fn(x, inplace=True, **params)


@st.composite
def comparison_cases(draw, number=False):
    """Two broadcasting inputs of small integer values (so equal pairs occur), or one input and a
    Python number (int or float) when `number`; and the comparison to make."""
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    op = draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]))
    if number:
        x = rng.integers(-2, 3, draw(shapes)).astype(float)
        return Case((x,), dict(op=op, other=draw(st.sampled_from([-1, 0, 2, 0.5, -1.0]))), seed)
    shape_a, shape_b = draw(broadcastable_shapes(2))
    return Case((rng.integers(-2, 3, shape_a).astype(float), rng.integers(-2, 3, shape_b).astype(float)),
                dict(op=op), seed)


COMPARISON_OPERATORS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
                        "gt": operator.gt, "ge": operator.ge}


def _clamp_by_halves(x, min=None, max=None):  # noqa: A002 (clip's argument names)
    """clip spelled as clamp_min then clamp_max (tc functions and Tensor methods)."""
    out = x if min is None else tc.clamp_min(x, min)
    return out if max is None else out.clamp_max(max)


ROWS += [
    OpRow("F.relu6", F.relu6, activation_cases(kinks=lambda p: (0.0, 6.0), scale=4.0), torch_fn=TF.relu6,
          aliases={"F.relu6(inplace=True)": _inplace(F.relu6), "F.hardtanh(x, 0, 6)": lambda x: F.hardtanh(x, 0, 6)}),
    OpRow("F.hardtanh", F.hardtanh, activation_cases(hardtanh_bounds, lambda p: (p.get("min_val", -1), p.get("max_val", 1))),
          torch_fn=TF.hardtanh, aliases={"F.hardtanh(inplace=True)": _inplace(F.hardtanh)}),
    OpRow("F.elu", F.elu, activation_cases(_optional(alpha=[0.5, 1.0, 2.0]), lambda p: (0.0,)), torch_fn=TF.elu,
          aliases={"F.elu(inplace=True)": _inplace(F.elu)}),
    OpRow("F.silu", F.silu, activation_cases(scale=10.0), torch_fn=TF.silu, aliases={"F.silu(inplace=True)": _inplace(F.silu)}),
    OpRow("F.gelu", F.gelu, activation_cases(_optional(approximate=["none", "tanh"]), scale=4.0), torch_fn=TF.gelu),
    # erf over both pieces of its approximation (|x| < 2 and 2 <= |x| < 6) and beyond
    OpRow("tc.erf", tc.erf, activation_cases(scale=3.0), torch_fn=torch.erf, aliases={"Tensor.erf": lambda x: x.erf()},
          covers=("Tensor.erf",)),
    OpRow("F.hardswish", F.hardswish, activation_cases(kinks=lambda p: (-3.0, 3.0), scale=4.0), torch_fn=TF.hardswish,
          aliases={"F.hardswish(inplace=True)": _inplace(F.hardswish)}),
    OpRow("F.hardsigmoid", F.hardsigmoid, activation_cases(kinks=lambda p: (-3.0, 3.0), scale=4.0),
          torch_fn=TF.hardsigmoid, aliases={"F.hardsigmoid(inplace=True)": _inplace(F.hardsigmoid)}),
    OpRow("F.softplus", F.softplus, activation_cases(softplus_params, _softplus_kinks, scale=10.0), torch_fn=TF.softplus),
    OpRow("tc.clone", tc.clone, unary_cases(), torch_fn=torch.clone,
          aliases={"Tensor.clone": lambda x: x.clone(), "Tensor.contiguous": lambda x: x.contiguous()},
          covers=("Tensor.clone", "Tensor.contiguous")),
    OpRow("tc.clamp_min / tc.clamp_max", _clamp_by_halves, clip_cases(), torch_fn=torch.clamp,
          covers=("tc.clamp_min", "tc.clamp_max", "Tensor.clamp_min", "Tensor.clamp_max")),
    OpRow("tc.eq / ne / lt / le / gt / ge", lambda a, b, op: getattr(tc, op)(a, b), comparison_cases(),
          torch_fn=lambda a, b, op: getattr(torch, op)(a, b),
          aliases={"Tensor.<op>": lambda a, b, op: getattr(a, op)(b),
                   "a <operator> b": lambda a, b, op: COMPARISON_OPERATORS[op](a, b)},
          covers=tuple(f"{prefix}.{op}" for op in COMPARISON_OPERATORS for prefix in ("tc", "Tensor")),
          differentiable=(False, False)),
    OpRow("tc.eq / ... (Python number)", lambda x, op, other: getattr(tc, op)(x, other), comparison_cases(number=True),
          torch_fn=lambda x, op, other: getattr(torch, op)(x, other),
          aliases={"Tensor.<op>": lambda x, op, other: getattr(x, op)(other),
                   "x <operator> number": lambda x, op, other: COMPARISON_OPERATORS[op](x, other),
                   "number <operator> x (reflected)": lambda x, op, other: _reflected(op, x, other)},
          differentiable=(False,)),
]

_REFLECTED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _reflected(op, x, number):
    """x <op> number written with the number on the left (Python calls the reflected operator)."""
    return COMPARISON_OPERATORS[_REFLECTED[op]](number, x)
