"""Op-table rows of the layers' ops: convolutions, pooling, batch norm, dropout."""
import warnings

import numpy as np
import torch.nn.functional as TF
from hypothesis import assume
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops.conv import conv2d_reference
from tinygrad_cnn.ops.normalization import batch_norm_reference
from tinygrad_cnn.communicator import SingleProcess
from tinygrad_cnn.ops.pool import max_pool2d_reference
from tinygrad_cnn.ops.sync_batch_norm import sync_batch_norm
from .row import Case, OpRow, arrays_from, distinct_arrays, int_or_pair, seeds

# float32 convolutions sum up to a few hundred products (the weight gradient sums over batch *
# output positions), so their absolute error is some 10x the default float32 atol.
CONV_F32 = {np.dtype(np.float32): (2e-4, 2e-4)}


# ---------------------------------------------------------------- convolutions
@st.composite
def channels_and_groups(draw):
    """(in_channels, out_channels, groups): channels 1-6, groups dividing both (groups > 1 in
    most draws, including depthwise cases)."""
    groups = draw(st.integers(1, 3))
    return groups * draw(st.integers(1, 6 // groups)), groups * draw(st.integers(1, 6 // groups)), groups


@st.composite
def conv2d_cases(draw):
    """Batch, channels, groups, rectangular images and kernels, stride, padding as int / pair /
    "same" / "valid", dilation, bias or not; every case has an output of at least 1 x 1."""
    n = draw(st.integers(1, 3))
    cin, cout, groups = draw(channels_and_groups())
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation, (dh, dw) = int_or_pair(draw, 1, 3)
    eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    assume(eff_h <= 10 and eff_w <= 10)
    mode = draw(st.sampled_from(["int", "pair", "same", "valid"]))
    if mode == "same":  # pads eff - 1 in all, so any input size fits the kernel
        padding, (ph, pw), stride = "same", ((eff_h - 1) / 2, (eff_w - 1) / 2), 1
    else:
        if mode == "valid":
            padding, (ph, pw) = "valid", (0, 0)
        elif mode == "int":
            padding = draw(st.integers(0, 3))
            ph = pw = padding
        else:
            padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
            ph, pw = padding
        stride = int_or_pair(draw, 1, 3)[0]
    low_h, low_w = max(1, int(eff_h - 2 * ph)), max(1, int(eff_w - 2 * pw))  # the padded input fits the kernel
    h, w = draw(st.integers(low_h, max(low_h, 9))), draw(st.integers(low_w, max(low_w, 9)))
    seed = draw(seeds)
    shapes = [(n, cin, h, w), (cout, cin // groups, kh, kw)] + ([(cout,)] if draw(st.booleans()) else [])
    arrays = arrays_from(seed, *shapes)
    return Case(tuple(arrays) + (None,) * (3 - len(arrays)),
                dict(stride=stride, padding=padding, dilation=dilation, groups=groups), seed)


@st.composite
def conv1d_cases(draw):
    """Like conv2d_cases for (N, C, L) inputs and (O, C/groups, k) weights; stride and dilation
    an int or a one-element tuple."""
    n = draw(st.integers(1, 3))
    cin, cout, groups = draw(channels_and_groups())
    k, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    eff = d * (k - 1) + 1
    mode = draw(st.sampled_from(["int", "same", "valid"]))
    if mode == "same":
        padding, p, stride = "same", (eff - 1) / 2, 1
    else:
        padding = draw(st.integers(0, 3)) if mode == "int" else "valid"
        p = padding if mode == "int" else 0
        stride = draw(st.integers(1, 3))
    low = max(1, int(eff - 2 * p))  # the padded input fits the kernel
    length = draw(st.integers(low, max(low, 12)))
    seed = draw(seeds)
    shapes = [(n, cin, length), (cout, cin // groups, k)] + ([(cout,)] if draw(st.booleans()) else [])
    arrays = arrays_from(seed, *shapes)
    # PyTorch also takes one-element tuples for stride and dilation
    stride, d = draw(st.sampled_from([stride, (stride,)])), draw(st.sampled_from([d, (d,)]))
    return Case(tuple(arrays) + (None,) * (3 - len(arrays)),
                dict(stride=stride, padding=padding, dilation=d, groups=groups), seed)


def _torch_conv(fn):
    def call(x, w, b, **params):
        if params.get("padding") == "same":  # torch warns that even kernels copy the input
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return fn(x, w, b, **params)
        return fn(x, w, b, **params)
    return call


# ---------------------------------------------------------------- pooling
@st.composite
def pool_cases(draw, distinct=True):
    """Input (N, C, H, W), kernel_size, stride (None: the kernel size), padding (at most half the
    kernel); the padded input holds at least one window. Distinct values: max has one winner."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kernel, (kh, kw) = int_or_pair(draw, 1, 4)
    stride = None if draw(st.booleans()) else int_or_pair(draw, 1, 3)[0]
    padding = draw(st.integers(0, min(kh, kw) // 2)) if draw(st.booleans()) else \
        (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    shape = (n, c, draw(st.integers(max(1, kh - 2 * ph), 9)), draw(st.integers(max(1, kw - 2 * pw), 9)))
    seed = draw(seeds)
    x = distinct_arrays(seed, shape)[0] if distinct else arrays_from(seed, shape)[0]
    return Case((x,), dict(kernel_size=kernel, stride=stride, padding=padding), seed)


@st.composite
def avg_pool_cases(draw):
    case = draw(pool_cases(distinct=False))
    return Case(case.arrays, dict(case.params, count_include_pad=draw(st.booleans())), case.seed)


@st.composite
def adaptive_cases(draw):
    """Input (N, C, H, W) and an output size that is 1 or divides the input size (int or pair)."""
    n, c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    oh = 1 if draw(st.booleans()) else draw(st.sampled_from([d for d in range(1, h + 1) if h % d == 0]))
    ow = oh if oh == 1 else draw(st.sampled_from([d for d in range(1, w + 1) if w % d == 0]))
    output_size = oh if oh == ow and draw(st.booleans()) else (oh, ow)
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, (n, c, h, w))), dict(output_size=output_size), seed)


# ---------------------------------------------------------------- batch norm
@st.composite
def batch_norm_cases(draw, training):
    """(N, C), (N, C, L) or (N, C, H, W) input shifted and scaled, optional weight and bias,
    running statistics (optional in training), momentum and eps. Inputs: x, weight, bias,
    running_mean, running_var."""
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(0, 2))))
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if training and n * int(np.prod(spatial, dtype=int)) < 2:
        n = 2
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c) + spatial) * draw(st.floats(0.1, 3.0)) + draw(st.floats(-2.0, 2.0))
    weight = rng.standard_normal(c) if draw(st.booleans()) else None
    bias = rng.standard_normal(c) if draw(st.booleans()) else None
    running = (rng.standard_normal(c), rng.uniform(0.2, 3.0, c)) if not training or draw(st.booleans()) else (None, None)
    params = dict(training=training, momentum=draw(st.one_of(st.sampled_from([0.0, 0.1, 1.0]), st.floats(0.0, 1.0))),
                  eps=draw(st.sampled_from([1e-5, 1e-3, 0.1, 1.0])))
    return Case((x, weight, bias) + running, params, seed)


def _ours_batch_norm(fn):
    return lambda x, w, b, rm, rv, **params: fn(x, rm, rv, w, b, **params)


# ---------------------------------------------------------------- dropout
@st.composite
def dropout_cases(draw, channels):
    shape = tuple(draw(st.integers(1, 5)) for _ in range(draw(st.integers(3, 4) if channels else st.integers(1, 4))))
    seed = draw(seeds)
    p = draw(st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), st.floats(0.01, 0.99)))
    return Case(tuple(arrays_from(seed, shape, away_from=0.0)), dict(p=p, training=draw(st.booleans())), seed)


def dropout_reference(x, p, training):
    """x times a mask of the library generator's uniforms >= p, scaled by 1 / (1 - p)."""
    return _dropout_reference(x, p, training, x.shape)


def dropout2d_reference(x, p, training):
    """x times a per-channel mask (N, C, 1, 1) of the generator's uniforms >= p, scaled."""
    return _dropout_reference(x, p, training, x.shape[:x.ndim - 2] + (1, 1))


def _dropout_reference(x, p, training, mask_shape):
    if not training or p == 0:
        return x
    keep = tc.rand(*mask_shape, dtype="float64", device=x.device) >= p  # the draws F.dropout makes
    return x * (keep.type(x.dtype) * (0.0 if p == 1 else 1.0 / (1.0 - p)))


ROWS = [
    OpRow("F.conv2d", F.conv2d, conv2d_cases(), torch_fn=_torch_conv(TF.conv2d), reference=conv2d_reference,
          tol=CONV_F32),
    OpRow("F.conv1d", F.conv1d, conv1d_cases(), torch_fn=_torch_conv(TF.conv1d), tol=CONV_F32),
    OpRow("F.max_pool2d", F.max_pool2d, pool_cases(), torch_fn=TF.max_pool2d, reference=max_pool2d_reference),
    OpRow("F.avg_pool2d", F.avg_pool2d, avg_pool_cases(), torch_fn=TF.avg_pool2d),
    OpRow("F.adaptive_avg_pool2d", F.adaptive_avg_pool2d, adaptive_cases(), torch_fn=TF.adaptive_avg_pool2d),
    OpRow("F.batch_norm (training)", _ours_batch_norm(F.batch_norm), batch_norm_cases(training=True),
          torch_fn=_ours_batch_norm(TF.batch_norm), reference=_ours_batch_norm(batch_norm_reference),
          covers=("F.batch_norm",), differentiable=(True, True, True, False, False), mutates=(3, 4)),
    OpRow("F.batch_norm (eval)", _ours_batch_norm(F.batch_norm), batch_norm_cases(training=False),
          torch_fn=_ours_batch_norm(TF.batch_norm), reference=_ours_batch_norm(batch_norm_reference),
          differentiable=(True, True, True, False, False)),
    # SyncBatchNorm's op on one process: the all-gather and all-reduce of its statistics are
    # identities, so it is batch norm in training (2-rank runs: tests/test_distributed.py)
    OpRow("sync_batch_norm (one process)",
          lambda x, w, b, rm, rv, training, momentum, eps: sync_batch_norm(x, rm, rv, w, b, momentum, eps,
                                                                           SingleProcess()),
          batch_norm_cases(training=True), torch_fn=_ours_batch_norm(TF.batch_norm),
          differentiable=(True, True, True, False, False), mutates=(3, 4)),
    OpRow("F.dropout", F.dropout, dropout_cases(channels=False), reference=dropout_reference, random=True),
    OpRow("F.dropout2d", F.dropout2d, dropout_cases(channels=True), reference=dropout2d_reference, random=True),
]
