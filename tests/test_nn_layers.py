"""Every nn layer against the same torch.nn layer.

Each test builds a layer in tinygrad_cnn and in torch.nn, copies the torch layer's weights into
ours with `load_state_dict({k: v.detach().numpy() ...})`, casts both sides to the same dtype
(`double()` / `float()`), and compares in training and in eval mode:

- the forward output (shape, dtype, values),
- the gradient of the input for a random cotangent,
- the gradient of every parameter (looked up by its state-dict name),
- for batch norm also the buffers running_mean / running_var / num_batches_tracked after
  several training forwards.

float64 is compared at rtol 1e-6, float32 at a float32 tolerance (helpers.TOLERANCES). Shapes
and layer options are drawn by hypothesis where that is cheap.
"""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from helpers import DEVICES, DTYPES, assert_close, to_numpy, torch_device

# torch warns that padding="same" with even kernels copies the input; that is its business.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

TORCH_DTYPE = {np.dtype("float64"): torch.float64, np.dtype("float32"): torch.float32}


@pytest.fixture(autouse=True)
def _seed():
    """Deterministic torch initializations and library RNG in every test."""
    torch.manual_seed(0)
    tc.manual_seed(0)


# ---------------------------------------------------------------- helpers
def f32_scale(dtype, scale=10.0):
    """atol multiplier: float32 sums of a few hundred products need ~10x the default atol."""
    return scale if np.dtype(dtype) == np.float32 else 1.0


def pair(ours, theirs, device, dtype):
    """Cast both modules to `dtype`, move ours to `device`, and copy torch's state into ours.

    Also checks that both have the same state-dict keys, in the same order, with the same shapes.
    """
    if np.dtype(dtype) == np.float64:
        theirs.double()
        ours.double()
    else:
        theirs.float()
        ours.float()
    theirs.to(torch_device(device))
    ours.to(device)
    their_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(their_state), "state_dict keys differ from torch's"
    for key, value in ours.state_dict().items():
        assert tuple(value.shape) == tuple(their_state[key].shape), f"shape of {key}"
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in their_state.items()})
    return ours, theirs


def check(ours, theirs, x, device, dtype, training, atol_scale=1.0, seed=1):
    """Forward `x` through both modules in the given mode; compare the output, the input
    gradient and every parameter gradient. Returns (our_output, torch_output)."""
    ours.train(training)
    theirs.train(training)
    x = np.asarray(x, dtype=dtype)
    xo = tc.tensor(x, device=device, requires_grad=True)
    xt = torch.tensor(x, device=torch_device(device), requires_grad=True)
    out = ours(xo)
    ref = theirs(xt)
    assert out.shape == tuple(ref.shape), f"output shape {out.shape} != torch {tuple(ref.shape)}"
    assert out.dtype == np.dtype(dtype), f"output dtype {out.dtype}, expected {np.dtype(dtype)}"
    assert out.device == tc.tensor([0.0], device=device).device
    assert_close(out, ref, dtype, "forward", scale=atol_scale)

    cotangent = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(tc.tensor(cotangent, device=device))
    ref.backward(torch.tensor(cotangent, device=torch_device(device)))
    assert xo.grad is not None, "input got no gradient"
    assert_close(xo.grad, xt.grad, dtype, "input gradient", scale=atol_scale)

    our_params = dict(ours.named_parameters())
    their_params = dict(theirs.named_parameters())
    assert list(our_params) == list(their_params), "parameter names differ from torch's"
    for name, tp in their_params.items():
        op = our_params[name]
        assert op.grad is not None, f"parameter {name} got no gradient"
        assert op.grad.dtype == np.dtype(dtype), f"gradient of {name} has dtype {op.grad.dtype}"
        assert_close(op.grad, tp.grad, dtype, f"gradient of parameter {name}", scale=atol_scale)
    return out, ref


def check_modes(ours, theirs, x, device, dtype, atol_scale=1.0):
    """`check` in training and then in eval mode (gradients cleared in between)."""
    for training in (True, False):
        check(ours, theirs, x, device, dtype, training, atol_scale)
        ours.zero_grad()
        theirs.zero_grad()


def check_buffers(ours, theirs, dtype, what=""):
    """Same buffer names as torch, float buffers close, num_batches_tracked exactly equal."""
    our_buffers = dict(ours.named_buffers())
    their_buffers = dict(theirs.named_buffers())
    assert list(our_buffers) == list(their_buffers), f"buffer names differ from torch's {what}"
    for name, tb in their_buffers.items():
        ob = to_numpy(our_buffers[name])
        if name.endswith("num_batches_tracked"):
            assert ob.dtype == np.int64 and ob.shape == ()
            assert int(ob) == int(tb.item()), f"{name} {what}: {int(ob)} != torch {tb.item()}"
        else:
            assert ob.dtype == np.dtype(dtype), f"{name} has dtype {ob.dtype}"
            assert_close(ob, tb, dtype, f"{name} {what}")


def randn(shape, seed=0, scale=1.0, offset=0.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale + offset


# ---------------------------------------------------------------- Linear
@st.composite
def linear_cases(draw):
    """(in_features, out_features, bias, input shape (..., in_features), seed)."""
    fin, fout = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    lead = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    return fin, fout, draw(st.booleans()), lead + (fin,), draw(st.integers(0, 2**31))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@given(case=linear_cases(), training=st.booleans())
def test_linear(device, dtype, case, training):
    """Linear on inputs with 0-3 leading dimensions, with and without bias."""
    fin, fout, bias, shape, seed = case
    ours, theirs = pair(nn.Linear(fin, fout, bias=bias), torch.nn.Linear(fin, fout, bias=bias), device, dtype)
    check(ours, theirs, randn(shape, seed), device, dtype, training, f32_scale(dtype))


# ---------------------------------------------------------------- Conv2d
CONV2D_CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding=1),
    dict(in_channels=3, out_channels=4, kernel_size=(2, 3), padding=(1, 2)),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding="same"),
    dict(in_channels=3, out_channels=4, kernel_size=(2, 4), padding="same"),          # even: asymmetric pad
    dict(in_channels=3, out_channels=4, kernel_size=(2, 3), padding="same", dilation=(2, 1)),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding="valid"),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=(2, 1)),
    dict(in_channels=3, out_channels=4, kernel_size=3, dilation=2, padding=2),
    dict(in_channels=3, out_channels=4, kernel_size=2, dilation=(1, 3)),
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, padding=1),
    dict(in_channels=4, out_channels=4, kernel_size=3, groups=4),                     # depthwise
    dict(in_channels=3, out_channels=4, kernel_size=3, bias=False),
    dict(in_channels=4, out_channels=2, kernel_size=1, stride=2, groups=2, bias=False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kwargs", CONV2D_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_conv2d_options(kwargs, device, dtype):
    """Conv2d with every padding form, stride, dilation, groups and bias=False (train and eval)."""
    ours, theirs = pair(nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs), device, dtype)
    check_modes(ours, theirs, randn((2, kwargs["in_channels"], 7, 8)), device, dtype, f32_scale(dtype))


@st.composite
def conv2d_cases(draw):
    """Conv2d keyword arguments and an input shape whose output is at least 1 x 1."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.sampled_from(["same", "valid"])))
    stride = (1, 1) if padding == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = {"same": (0, 0), "valid": (0, 0)}.get(padding) if isinstance(padding, str) else \
        (padding, padding) if isinstance(padding, int) else padding
    eff = [d * (kk - 1) + 1 for d, kk in zip(dilation, k)]
    h = draw(st.integers(max(1, eff[0] - 2 * pads[0]), eff[0] + 4))
    w = draw(st.integers(max(1, eff[1] - 2 * pads[1]), eff[1] + 4))
    kwargs = dict(in_channels=cin, out_channels=cout, kernel_size=k, stride=stride, padding=padding,
                  dilation=dilation, groups=groups, bias=draw(st.booleans()))
    return kwargs, (draw(st.integers(1, 3)), cin, h, w), draw(st.integers(0, 2**31))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@given(case=conv2d_cases(), training=st.booleans())
def test_conv2d_hypothesis(device, dtype, case, training):
    """Conv2d on drawn channels, groups, kernels, strides, dilations and paddings."""
    kwargs, shape, seed = case
    ours, theirs = pair(nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs), device, dtype)
    check(ours, theirs, randn(shape, seed), device, dtype, training, f32_scale(dtype))


# ---------------------------------------------------------------- Conv1d
CONV1D_CASES = [
    dict(in_channels=3, out_channels=5, kernel_size=3),
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=2),
    dict(in_channels=3, out_channels=5, kernel_size=(3,), padding=(1,)),
    dict(in_channels=3, out_channels=5, kernel_size=4, padding="same"),
    dict(in_channels=3, out_channels=5, kernel_size=3, padding="same", dilation=2),
    dict(in_channels=3, out_channels=5, kernel_size=3, padding="valid"),
    dict(in_channels=3, out_channels=5, kernel_size=3, stride=2),
    dict(in_channels=3, out_channels=5, kernel_size=2, dilation=3),
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2),
    dict(in_channels=3, out_channels=5, kernel_size=3, bias=False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kwargs", CONV1D_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_conv1d_options(kwargs, device, dtype):
    """Conv1d with every padding form, stride, dilation, groups and bias=False (train and eval)."""
    ours, theirs = pair(nn.Conv1d(**kwargs), torch.nn.Conv1d(**kwargs), device, dtype)
    check_modes(ours, theirs, randn((3, kwargs["in_channels"], 11)), device, dtype, f32_scale(dtype))


@st.composite
def conv1d_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    padding = draw(st.one_of(st.integers(0, 3), st.sampled_from(["same", "valid"])))
    stride = 1 if padding == "same" else draw(st.integers(1, 3))
    pad = 0 if isinstance(padding, str) else padding
    eff = dilation * (k - 1) + 1
    length = draw(st.integers(max(1, eff - 2 * pad), eff + 6))
    kwargs = dict(in_channels=cin, out_channels=cout, kernel_size=k, stride=stride, padding=padding,
                  dilation=dilation, groups=groups, bias=draw(st.booleans()))
    return kwargs, (draw(st.integers(1, 3)), cin, length), draw(st.integers(0, 2**31))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@given(case=conv1d_cases(), training=st.booleans())
def test_conv1d_hypothesis(device, dtype, case, training):
    """Conv1d on drawn channels, groups, kernels, strides, dilations and paddings."""
    kwargs, shape, seed = case
    ours, theirs = pair(nn.Conv1d(**kwargs), torch.nn.Conv1d(**kwargs), device, dtype)
    check(ours, theirs, randn(shape, seed), device, dtype, training, f32_scale(dtype))


# ---------------------------------------------------------------- batch norm
def randomize_bn(theirs, seed=0):
    """Give torch's batch norm non-trivial affine parameters and running statistics
    (the defaults 1 / 0 / 0 / 1 would hide mix-ups between them)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if theirs.weight is not None:
            theirs.weight.copy_(torch.rand(theirs.num_features, generator=g) + 0.5)
            theirs.bias.copy_(torch.randn(theirs.num_features, generator=g))
        if theirs.running_mean is not None:
            theirs.running_mean.copy_(torch.randn(theirs.num_features, generator=g))
            theirs.running_var.copy_(torch.rand(theirs.num_features, generator=g) + 0.5)
            theirs.num_batches_tracked.fill_(3)
    return theirs


def run_bn(ours, theirs, shape, device, dtype, steps=3):
    """`steps` training forwards/backwards (fresh batches, shifted and scaled so the running
    statistics move), buffers compared after each; then an eval forward/backward."""
    for step in range(steps):
        x = randn(shape, seed=10 + step, scale=1.5 + step, offset=step - 1.0)
        check(ours, theirs, x, device, dtype, True, f32_scale(dtype), seed=step)
        check_buffers(ours, theirs, dtype, f"after training step {step + 1}")
        ours.zero_grad()
        theirs.zero_grad()
    check(ours, theirs, randn(shape, seed=99, scale=2.0), device, dtype, False, f32_scale(dtype))
    check_buffers(ours, theirs, dtype, "after an eval forward (must not change)")


BN_OPTIONS = [
    dict(),
    dict(affine=False),
    dict(track_running_stats=False),
    dict(affine=False, track_running_stats=False),
    dict(momentum=None),                       # cumulative moving average
    dict(momentum=0.5, eps=1e-3),
]
BN_IDS = ["default", "affine=False", "track=False", "affine=False,track=False", "momentum=None",
          "momentum=0.5,eps=1e-3"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("options", BN_OPTIONS, ids=BN_IDS)
def test_batchnorm2d(options, device, dtype):
    """BatchNorm2d: outputs, gradients and buffers over 3 training steps, then eval."""
    ours, theirs = pair(nn.BatchNorm2d(3, **options), randomize_bn(torch.nn.BatchNorm2d(3, **options)),
                        device, dtype)
    run_bn(ours, theirs, (4, 3, 5, 6), device, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)], ids=["(N,C)", "(N,C,L)"])
@pytest.mark.parametrize("options", BN_OPTIONS, ids=BN_IDS)
def test_batchnorm1d(options, shape, device, dtype):
    """BatchNorm1d on (N, C) and (N, C, L): outputs, gradients and buffers over 3 training
    steps, then eval."""
    ours, theirs = pair(nn.BatchNorm1d(4, **options), randomize_bn(torch.nn.BatchNorm1d(4, **options)),
                        device, dtype)
    run_bn(ours, theirs, shape, device, dtype)


@st.composite
def bn_cases(draw):
    """(2-D or not, options, input shape, seed) with at least 2 values per channel."""
    two_d = draw(st.booleans())
    c = draw(st.integers(1, 4))
    spatial = (draw(st.integers(1, 4)), draw(st.integers(1, 4))) if two_d else \
        tuple(draw(st.lists(st.integers(1, 5), max_size=1)))
    n = draw(st.integers(1, 4))
    if n * int(np.prod(spatial, dtype=int)) < 2:
        n = 2
    options = dict(affine=draw(st.booleans()), track_running_stats=draw(st.booleans()),
                   momentum=draw(st.sampled_from([None, 0.1, 0.3, 1.0])),
                   eps=draw(st.sampled_from([1e-5, 1e-2])))
    return two_d, c, options, (n, c) + spatial


@pytest.mark.parametrize("device", DEVICES)
@given(case=bn_cases())
def test_batchnorm_hypothesis(device, case):
    """BatchNorm1d / BatchNorm2d on drawn shapes and option combinations (float64)."""
    two_d, c, options, shape = case
    ours_cls, their_cls = (nn.BatchNorm2d, torch.nn.BatchNorm2d) if two_d else (nn.BatchNorm1d, torch.nn.BatchNorm1d)
    ours, theirs = pair(ours_cls(c, **options), randomize_bn(their_cls(c, **options)), device, np.float64)
    run_bn(ours, theirs, shape, device, np.float64, steps=2)


def test_batchnorm_one_value_per_channel_in_training_raises():
    """Like torch, training batch norm on a single value per channel is an error (ValueError)."""
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(3)(torch.randn(1, 3))
    with pytest.raises(ValueError):
        nn.BatchNorm1d(3)(tc.randn(1, 3))
    # in eval the running statistics are used, so one sample is fine on both sides
    ours, theirs = pair(nn.BatchNorm1d(3), randomize_bn(torch.nn.BatchNorm1d(3)), "cpu", np.float64)
    check(ours, theirs, randn((1, 3)), "cpu", np.float64, False)


# ---------------------------------------------------------------- activations
ACTIVATIONS = [
    ("ReLU", lambda lib: lib.ReLU()),
    ("LeakyReLU", lambda lib: lib.LeakyReLU()),
    ("LeakyReLU(0.2)", lambda lib: lib.LeakyReLU(0.2)),
    ("LeakyReLU(negative_slope=1.5)", lambda lib: lib.LeakyReLU(negative_slope=1.5)),
    ("Sigmoid", lambda lib: lib.Sigmoid()),
    ("Tanh", lambda lib: lib.Tanh()),
    ("Identity", lambda lib: lib.Identity()),
    ("Identity(args)", lambda lib: lib.Identity(54, unused_argument=0.1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,make", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 2**31),
       training=st.booleans())
def test_activation(name, make, device, dtype, shape, seed, training):
    """Parameter-free elementwise layers on drawn shapes (values away from the kinks)."""
    ours, theirs = pair(make(nn), make(torch.nn), device, dtype)
    x = randn(tuple(shape), seed, scale=3.0)
    x[np.abs(x) < 1e-3] = 0.5
    check(ours, theirs, x, device, dtype, training)


# ---------------------------------------------------------------- pooling and flatten
POOLS = [
    ("MaxPool2d(2)", lambda lib: lib.MaxPool2d(2)),
    ("MaxPool2d(3,stride=2,padding=1)", lambda lib: lib.MaxPool2d(3, stride=2, padding=1)),
    ("MaxPool2d((2,3),stride=(1,2),padding=(1,1))", lambda lib: lib.MaxPool2d((2, 3), stride=(1, 2), padding=(1, 1))),
    ("MaxPool2d(2,stride=1)", lambda lib: lib.MaxPool2d(2, stride=1)),
    ("AvgPool2d(2)", lambda lib: lib.AvgPool2d(2)),
    ("AvgPool2d(3,stride=2,padding=1)", lambda lib: lib.AvgPool2d(3, stride=2, padding=1)),
    ("AvgPool2d(3,2,1,count_include_pad=False)", lambda lib: lib.AvgPool2d(3, 2, 1, count_include_pad=False)),
    ("AvgPool2d((2,3),stride=(2,1))", lambda lib: lib.AvgPool2d((2, 3), stride=(2, 1))),
    ("AdaptiveAvgPool2d(1)", lambda lib: lib.AdaptiveAvgPool2d(1)),
    ("AdaptiveAvgPool2d((3,2))", lambda lib: lib.AdaptiveAvgPool2d((3, 2))),
    ("AdaptiveAvgPool2d((6,8))", lambda lib: lib.AdaptiveAvgPool2d((6, 8))),
    ("Flatten()", lambda lib: lib.Flatten()),
    ("Flatten(0)", lambda lib: lib.Flatten(0)),
    ("Flatten(2,3)", lambda lib: lib.Flatten(2, 3)),
    ("Flatten(1,2)", lambda lib: lib.Flatten(1, 2)),
    ("Flatten(-3,-2)", lambda lib: lib.Flatten(-3, -2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,make", POOLS, ids=[p[0] for p in POOLS])
def test_pool_and_flatten(name, make, device, dtype):
    """Pooling layers (distinct values, so max pooling has no ties) and Flatten on (2, 3, 6, 8),
    in train and eval."""
    ours, theirs = pair(make(nn), make(torch.nn), device, dtype)
    x = np.random.default_rng(0).permutation(2 * 3 * 6 * 8).reshape(2, 3, 6, 8) / 10.0 - 14.0
    check_modes(ours, theirs, x, device, dtype)


@pytest.mark.parametrize("output_size", [(3, 5), 4])
def test_adaptive_avg_pool_uneven_bins(output_size):
    """Output sizes that do not divide the input: either torch's overlapping bins or a clear
    NotImplementedError, never a silently wrong answer."""
    ours, theirs = pair(nn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size),
                        "cpu", np.float64)
    try:
        check(ours, theirs, randn((2, 3, 7, 7)), "cpu", np.float64, True)
    except NotImplementedError as e:
        assert "adaptive" in str(e).lower()


# ---------------------------------------------------------------- dropout
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls", ["Dropout", "Dropout2d"])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_dropout_eval_is_identity(p, cls, device, dtype):
    """In eval, Dropout and Dropout2d return the input unchanged and pass the gradient through."""
    ours, theirs = pair(getattr(nn, cls)(p), getattr(torch.nn, cls)(p), device, dtype)
    out, _ = check(ours, theirs, randn((3, 4, 5, 5)), device, dtype, False)
    assert_close(out, randn((3, 4, 5, 5)), dtype, "eval dropout must be the identity")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls", ["Dropout", "Dropout2d"])
def test_dropout_train_p0_and_p1(cls, device, dtype):
    """In training, p=0 is the identity and p=1 zeroes everything (output and gradient), as torch."""
    for p in (0.0, 1.0):
        ours, theirs = pair(getattr(nn, cls)(p), getattr(torch.nn, cls)(p), device, dtype)
        out, _ = check(ours, theirs, randn((3, 4, 5, 5)), device, dtype, True)
        assert np.all(np.isfinite(to_numpy(out)))


def _train_forward_backward(layer, x, device, seed=3):
    """Forward x through `layer` in training and backprop a random cotangent.
    Returns (x, output, cotangent, input gradient) as numpy arrays."""
    layer.train()
    xo = tc.tensor(x, device=device, requires_grad=True)
    out = layer(xo)
    cot = np.random.default_rng(seed).standard_normal(x.shape).astype(x.dtype)
    out.backward(tc.tensor(cot, device=device))
    return to_numpy(out), cot, to_numpy(xo.grad)


def _nonzero_input(shape, dtype, seed=0):
    """Values with |x| in [0.5, 1.5], so a dropped (zero) output is never mistaken for a kept one."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_dropout_train_properties(device, dtype):
    """Dropout(p) in training, mask-independent properties (torch's mask differs from ours):
    each output is 0 or x / (1 - p); the fraction of zeros is p (within 7 standard errors on
    100,000 elements); the input gradient is cotangent / (1 - p) where kept, 0 where dropped;
    the output dtype is the input's."""
    p = 0.3
    x = _nonzero_input((100, 1000), dtype)
    out, cot, grad = _train_forward_backward(nn.Dropout(p), x, device)
    assert out.dtype == np.dtype(dtype)
    kept = out != 0
    assert_close(out[kept], x[kept] / (1 - p), dtype, "kept values are scaled by 1/(1-p)")
    assert abs((~kept).mean() - p) < 7 * np.sqrt(p * (1 - p) / x.size)
    assert_close(grad, np.where(kept, cot / (1 - p), 0.0), dtype, "gradient follows the mask")
    # the same statistics from torch (sanity of the expected values)
    ref = torch.nn.Dropout(p).train()(torch.tensor(x)).numpy()
    assert abs((ref == 0).mean() - p) < 7 * np.sqrt(p * (1 - p) / x.size)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_dropout2d_train_properties(device, dtype):
    """Dropout2d(p) in training drops whole channels: every (n, c) plane is all 0 or all
    x / (1 - p); the fraction of dropped planes is p (within 6 standard errors on 4,000
    planes); the gradient follows the same per-channel mask."""
    p = 0.4
    x = _nonzero_input((200, 20, 3, 3), dtype)
    out, cot, grad = _train_forward_backward(nn.Dropout2d(p), x, device)
    kept = out != 0
    plane_kept = kept.all(axis=(2, 3))
    assert np.array_equal(plane_kept, kept.any(axis=(2, 3))), "a channel was only partly dropped"
    assert_close(out[kept], x[kept] / (1 - p), dtype, "kept channels are scaled by 1/(1-p)")
    assert abs((~plane_kept).mean() - p) < 6 * np.sqrt(p * (1 - p) / plane_kept.size)
    assert_close(grad, np.where(kept, cot / (1 - p), 0.0), dtype, "gradient follows the channel mask")
    ref = torch.nn.Dropout2d(p).train()(torch.tensor(x)).numpy()
    assert abs((ref == 0).all(axis=(2, 3)).mean() - p) < 6 * np.sqrt(p * (1 - p) / plane_kept.size)


# ---------------------------------------------------------------- a whole model
def small_cnn(lib):
    """Conv-BN-ReLU-pool twice, then flatten, dropout and two linear layers."""
    return lib.Sequential(
        lib.Conv2d(3, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(4, 6, 3, padding="same", bias=False), lib.BatchNorm2d(6), lib.LeakyReLU(0.1),
        lib.AvgPool2d(2), lib.Flatten(), lib.Dropout(0.0), lib.Linear(6 * 2 * 2, 8), lib.Tanh(),
        lib.Linear(8, 3), lib.Sigmoid())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_sequential_model(device, dtype):
    """A small CNN built from the layers: 3 training steps (outputs, every gradient and the
    batch-norm buffers), then eval."""
    ours, theirs = pair(small_cnn(nn), small_cnn(torch.nn), device, dtype)
    run_bn(ours, theirs, (4, 3, 8, 8), device, dtype)
