"""Op-table rows of the further layers' ops: conv_transpose2d, pooling with ceil_mode / dilation /
divisor_override, adaptive pooling to any size, layer / group / instance norm, interpolate, and
F.pad's reflect / replicate / circular modes (and negative constant widths).

Where our argument order must be PyTorch's, the torch function is called positionally and ours
by keyword (and positionally, as an alias), so a swapped argument fails the comparison.
"""
import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import strategies as st

import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops.pool import max_pool2d_reference
from .nn_ops import CONV_F32, channels_and_groups
from .row import Case, OpRow, arrays_from, distinct_arrays, int_or_pair, seeds


# ---------------------------------------------------------------- conv_transpose2d
@st.composite
def conv_transpose2d_cases(draw):
    """Batch, channels and groups, rectangular kernels, stride / padding / output_padding /
    dilation as ints or pairs, bias or not. output_padding is below the stride or the dilation
    and may exceed the padding (bias-only rows); every output is at least 1 x 1."""
    n = draw(st.integers(1, 2))
    cin, cout, groups = draw(channels_and_groups())
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, (sh, sw) = int_or_pair(draw, 1, 3)
    dilation, (dh, dw) = int_or_pair(draw, 1, 2)
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pads, output_pads = [], []
    for size, k, s, d in ((h, kh, sh, dh), (w, kw, sw, dw)):
        output_pads.append(draw(st.integers(0, max(s, d) - 1)))
        span = (size - 1) * s + d * (k - 1) + output_pads[-1]  # output size - 1 with no padding
        pads.append(draw(st.integers(0, min(2, span // 2))))
    padding = pads[0] if pads[0] == pads[1] and draw(st.booleans()) else tuple(pads)
    output_padding = tuple(output_pads)
    seed = draw(seeds)
    shapes = [(n, cin, h, w), (cin, cout // groups, kh, kw)] + ([(cout,)] if draw(st.booleans()) else [])
    arrays = arrays_from(seed, *shapes)
    return Case(tuple(arrays) + (None,) * (3 - len(arrays)),
                dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                     dilation=dilation), seed)


def _conv_transpose2d_positional(fn):
    return lambda x, w, b, stride, padding, output_padding, groups, dilation: fn(
        x, w, b, stride, padding, output_padding, groups, dilation)


# ---------------------------------------------------------------- pooling
@st.composite
def ceil_pool_cases(draw, distinct=True, dilated=True):
    """Input (N, C, H, W), kernel, stride (None: the kernel), padding (at most half the kernel),
    dilation (max pool), ceil_mode; the output has at least one window."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel, (kh, kw) = int_or_pair(draw, 1, 3)
    stride = None if draw(st.booleans()) else int_or_pair(draw, 1, 3)[0]
    dilation, (dh, dw) = int_or_pair(draw, 1, 2) if dilated else (1, (1, 1))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    ceil_mode = draw(st.booleans())
    (sh, sw) = (kh, kw) if stride is None else (stride, stride) if isinstance(stride, int) else stride
    # a dilated window may see padding only (torch then routes its gradient to another channel): not dilated there
    seen = (dh if _every_window_sees_input(h, kh, sh, ph, dh, ceil_mode) else 1,
            dw if _every_window_sees_input(w, kw, sw, pw, dw, ceil_mode) else 1)
    if seen != (dh, dw):
        dilation = seen
    padding = (ph, pw) if ph != pw or draw(st.booleans()) else ph
    seed = draw(seeds)
    x = distinct_arrays(seed, (n, c, h, w))[0] if distinct else arrays_from(seed, (n, c, h, w))[0]
    params = dict(kernel_size=kernel, stride=stride, padding=padding)
    if dilated:
        params["dilation"] = dilation
    params["ceil_mode"] = ceil_mode
    return Case((x,), params, seed)


def _every_window_sees_input(size, k, s, p, d, ceil_mode):
    """Whether every window of a pooling along an axis has a kernel position inside the input."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return all(any(0 <= o * s - p + i * d < size for i in range(k)) for o in range(out))


@st.composite
def avg_ceil_pool_cases(draw):
    case = draw(ceil_pool_cases(distinct=False, dilated=False))
    params = dict(case.params, count_include_pad=draw(st.booleans()),
                  divisor_override=draw(st.sampled_from([None, None, 1, 3, -2])))
    return Case(case.arrays, params, case.seed)


def _max_pool_positional(fn):
    return lambda x, kernel_size, stride, padding, dilation, ceil_mode: fn(x, kernel_size, stride, padding,
                                                                           dilation, ceil_mode)


def _avg_pool_positional(fn):
    return lambda x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: fn(
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


@st.composite
def adaptive_any_cases(draw, distinct=False):
    """Input (N, C, H, W) and any output size (int, pair, None in a pair keeps that size): most
    draws give overlapping windows of different sizes (the first choices do not divide the input
    size), some strided ones, some outputs larger than the input."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 7)), draw(st.integers(1, 7))

    def size(n_in):
        uneven = [m for m in range(1, n_in + 4) if n_in % m]
        return draw(st.sampled_from(uneven + [1, n_in, None]))

    oh, ow = size(h), size(w)
    output_size = oh if oh == ow and oh is not None and draw(st.booleans()) else (oh, ow)
    seed = draw(seeds)
    x = distinct_arrays(seed, (n, c, h, w))[0] if distinct else arrays_from(seed, (n, c, h, w))[0]
    return Case((x,), dict(output_size=output_size), seed)


# ---------------------------------------------------------------- normalization
# Each group of values normalized together holds at least 3: normalizing 2 values gives -1, 1
# whatever they are (up to eps), so their gradient is a difference of nearly equal terms whose
# float32 rounding (ours and PyTorch's alike) can exceed the float32 tolerance.
MIN_GROUP = 3


def _torch_in_float64(fn):
    """fn (a torch normalization) run on float64 copies of its tensors, the result and in-place
    updates rounded back to the input dtype. PyTorch's float32 layer / group / instance norm
    gradients lose digits when a group's spread is small against its mean: 3e-5 to 5e-5 off the
    float64 result on three values near 1.1 with spread 0.05, beyond the float32 tolerance, where
    ours are within 1e-6 (norms.py recenters the values). So float32 is compared with PyTorch's
    float64 result, at the float32 tolerance."""
    def call(*tensors, **params):
        wide = [None if t is None else t.double() for t in tensors]  # float64 tensors stay themselves
        out = fn(*wide, **params)
        with torch.no_grad():
            for t, w in zip(tensors, wide):
                if t is not None and not t.requires_grad:
                    t.copy_(w)  # running statistics updated in place
        return out.to(tensors[0].dtype)
    return call


def _scaled(draw, rng, shape):
    return rng.standard_normal(shape) * draw(st.floats(0.2, 3.0)) + draw(st.floats(-2.0, 2.0))


@st.composite
def layer_norm_cases(draw):
    """Input of 1-4 axes, normalized over its last 1-3 axes (a tuple or list; at least MIN_GROUP
    values), weight and bias of that shape or None, eps."""
    shape = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 4))))
    trailing = shape[len(shape) - draw(st.integers(1, min(3, len(shape)))):]
    if int(np.prod(trailing, dtype=int)) < MIN_GROUP:
        shape = shape[:-1] + (MIN_GROUP,)
        trailing = trailing[:-1] + (MIN_GROUP,)
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    x = _scaled(draw, rng, shape)
    weight = rng.standard_normal(trailing) if draw(st.booleans()) else None
    bias = rng.standard_normal(trailing) if draw(st.booleans()) else None
    normalized_shape = trailing if draw(st.booleans()) else list(trailing)
    return Case((x, weight, bias), dict(normalized_shape=normalized_shape, eps=draw(st.sampled_from([1e-5, 0.1]))),
                seed)


@st.composite
def group_norm_cases(draw):
    """(N, C, *0-2 spatial axes) input, groups dividing C, weight / bias (C,) or None, eps; at
    least MIN_GROUP values per group."""
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    if (c // groups) * int(np.prod(spatial, dtype=int)) < MIN_GROUP:
        spatial = (MIN_GROUP,) + spatial[1:]
    n = draw(st.integers(1, 3))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    x = _scaled(draw, rng, (n, c) + spatial)
    weight = rng.standard_normal(c) if draw(st.booleans()) else None
    bias = rng.standard_normal(c) if draw(st.booleans()) else None
    return Case((x, weight, bias), dict(num_groups=groups, eps=draw(st.sampled_from([1e-5, 0.1]))), seed)


def _torch_group_norm(x, weight, bias, **params):
    """torch's group_norm, with a ones weight where only the bias is given (torch 2.13's backward
    fails with a bias and no weight)."""
    if weight is None and bias is not None:
        weight = torch.ones(x.shape[1], dtype=x.dtype)
    return TF.group_norm(x, params["num_groups"], weight, bias, params["eps"])


@st.composite
def instance_norm_cases(draw, use_input_stats):
    """(N, C, *1-2 spatial axes) input with at least MIN_GROUP positions, weight / bias (C,) or None,
    running statistics (optional with input statistics), momentum, eps. Inputs: x, weight, bias,
    running_mean, running_var."""
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 2))))
    if int(np.prod(spatial, dtype=int)) < MIN_GROUP:
        spatial = (MIN_GROUP,) + spatial[1:]
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    x = _scaled(draw, rng, (n, c) + spatial)
    weight = rng.standard_normal(c) if draw(st.booleans()) else None
    bias = rng.standard_normal(c) if draw(st.booleans()) else None
    tracked = not use_input_stats or draw(st.booleans())
    running = (rng.standard_normal(c), rng.uniform(0.2, 3.0, c)) if tracked else (None, None)
    params = dict(use_input_stats=use_input_stats, momentum=draw(st.sampled_from([0.1, 0.0, 1.0, 0.35])),
                  eps=draw(st.sampled_from([1e-5, 0.1])))
    return Case((x, weight, bias) + running, params, seed)


def _instance_norm_as_batch_norm_row(fn):
    """fn(x, running_mean, running_var, weight, bias, ...) with the row's input order (x, weight,
    bias, running_mean, running_var)."""
    return lambda x, w, b, rm, rv, **params: fn(x, rm, rv, w, b, **params)


# ---------------------------------------------------------------- interpolate
_SCALES = [2.0, 0.5, 1.5, 3.0, 0.7, 2.5, 1.0]


@st.composite
def interpolate_cases(draw, modes):
    """(N, C, H, W) input resized to a size (int or pair) or by a scale factor (number or pair,
    sometimes with recompute_scale_factor); bilinear with align_corners None, False or True."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    mode = draw(st.sampled_from(modes))
    params = dict(mode=mode)
    if mode == "bilinear":
        params["align_corners"] = draw(st.sampled_from([None, False, True]))
    if draw(st.booleans()):
        oh, ow = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        params["size"] = oh if oh == ow and draw(st.booleans()) else (oh, ow)
    else:
        sh = draw(st.sampled_from([s for s in _SCALES if h * s >= 1]))
        sw = draw(st.sampled_from([s for s in _SCALES if w * s >= 1]))
        params["scale_factor"] = sh if sh == sw and draw(st.booleans()) else (sh, sw)
        if draw(st.booleans()):
            params["recompute_scale_factor"] = draw(st.booleans())
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, (n, c, h, w))), params, seed)


# ---------------------------------------------------------------- pad modes
@st.composite
def pad_mode_cases(draw):
    """Reflect / replicate / circular padding of the last 1-3 axes of input with an optional
    batch axis; widths within PyTorch's limits (reflect: below the size; circular: at most the
    size left after cropping), one side per axis possibly negative (a crop), outputs non-empty."""
    mode = draw(st.sampled_from(["reflect", "replicate", "circular"]))
    axes = draw(st.integers(1, 3))
    batch = draw(st.booleans())
    shape = ((draw(st.integers(1, 2)),) if batch else ()) + (draw(st.integers(1, 2)),) + \
        tuple(draw(st.integers(1, 4)) for _ in range(axes))
    pad = []
    for size in reversed(shape[len(shape) - axes:]):  # PyTorch's order: the last axis first
        cropped = draw(st.integers(0, size - 1)) if draw(st.integers(0, 3)) == 0 else 0
        kept = size - cropped
        limit = {"reflect": size - 1, "replicate": 3, "circular": kept}[mode]
        grown = draw(st.integers(0, limit))
        pad += [-cropped, grown] if draw(st.booleans()) else [grown, -cropped]
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, shape)), dict(pad=tuple(pad), mode=mode), seed)


@st.composite
def negative_constant_pad_cases(draw):
    """Constant padding of 1-3 trailing axes with widths from -2 to 2 (negative: a crop; at most
    the axis is cropped away), a fill value."""
    shape = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 3))))
    pad = []
    for size in reversed(shape):
        before = draw(st.integers(-min(2, size), 2))
        pad += [before, draw(st.integers(-min(2, size + min(before, 0)), 2))]
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, shape)), dict(pad=tuple(pad), mode="constant", value=1.5), seed)


ROWS = [
    OpRow("F.conv_transpose2d", F.conv_transpose2d, conv_transpose2d_cases(),
          torch_fn=_conv_transpose2d_positional(TF.conv_transpose2d), tol=CONV_F32,
          aliases={"positional": _conv_transpose2d_positional(F.conv_transpose2d)}),
    OpRow("F.max_pool2d (ceil_mode, dilation)", F.max_pool2d, ceil_pool_cases(),
          torch_fn=_max_pool_positional(TF.max_pool2d), reference=max_pool2d_reference,
          aliases={"positional": _max_pool_positional(F.max_pool2d)}),
    OpRow("F.avg_pool2d (ceil_mode, divisor_override)", F.avg_pool2d, avg_ceil_pool_cases(),
          torch_fn=_avg_pool_positional(TF.avg_pool2d), aliases={"positional": _avg_pool_positional(F.avg_pool2d)}),
    OpRow("F.adaptive_avg_pool2d (any size)", F.adaptive_avg_pool2d, adaptive_any_cases(),
          torch_fn=TF.adaptive_avg_pool2d),
    OpRow("F.adaptive_max_pool2d", F.adaptive_max_pool2d, adaptive_any_cases(distinct=True),
          torch_fn=TF.adaptive_max_pool2d),
    OpRow("F.layer_norm", lambda x, w, b, normalized_shape, eps: F.layer_norm(x, normalized_shape, weight=w, bias=b,
                                                                              eps=eps), layer_norm_cases(),
          torch_fn=_torch_in_float64(lambda x, w, b, normalized_shape, eps: TF.layer_norm(x, normalized_shape, w, b, eps)),
          aliases={"positional": lambda x, w, b, normalized_shape, eps: F.layer_norm(x, normalized_shape, w, b, eps)}),
    OpRow("F.group_norm", lambda x, w, b, num_groups, eps: F.group_norm(x, num_groups, w, b, eps), group_norm_cases(),
          torch_fn=_torch_in_float64(_torch_group_norm)),
    OpRow("F.instance_norm (input statistics)", _instance_norm_as_batch_norm_row(F.instance_norm),
          instance_norm_cases(use_input_stats=True),
          torch_fn=_torch_in_float64(_instance_norm_as_batch_norm_row(TF.instance_norm)),
          covers=("F.instance_norm",), differentiable=(True, True, True, False, False), mutates=(3, 4)),
    OpRow("F.instance_norm (running statistics)", _instance_norm_as_batch_norm_row(F.instance_norm),
          instance_norm_cases(use_input_stats=False), torch_fn=_instance_norm_as_batch_norm_row(TF.instance_norm),
          differentiable=(True, True, True, False, False)),
    OpRow("F.interpolate (nearest, nearest-exact, area)", F.interpolate,
          interpolate_cases(["nearest", "nearest-exact", "area"]), torch_fn=TF.interpolate, covers=("F.interpolate",)),
    OpRow("F.interpolate (bilinear)", F.interpolate, interpolate_cases(["bilinear"]), torch_fn=TF.interpolate),
    OpRow("F.pad (reflect, replicate, circular)", F.pad, pad_mode_cases(), torch_fn=TF.pad),
    OpRow("F.pad (constant, negative widths)", F.pad, negative_constant_pad_cases(), torch_fn=TF.pad),
]
