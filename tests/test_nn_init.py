"""Default initializations of the layers and the nn.init functions, checked statistically.

Our random generator is not torch's, so the tests compare distributions, not values: on large
tensors (>= 100,000 samples) the bounds, the standard deviation (within 2%, some six standard
errors), the mean (within 5 standard errors) and the kurtosis (1.8 for a uniform, 3 for a
normal distribution, which tells the two apart) must match the formula, computed here
independently of the library. Each formula is also checked against torch's own init on the same
shape, so a wrong formula here cannot hide a wrong formula in the library.

Also: calculate_gain equals torch's, dtypes are preserved, tc.manual_seed makes every init
repeat, and each init writes into the tensor's own array.
"""
import math

import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.nn import init
from helpers import DEVICES, to_numpy

STD_RTOL = 0.02


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    tc.manual_seed(0)


# ---------------------------------------------------------------- statistics
def _stats(values):
    v = np.asarray(to_numpy(values), dtype=np.float64).ravel()
    centered = v - v.mean()
    m2 = np.mean(centered ** 2)
    return v, v.mean(), math.sqrt(m2), np.mean(centered ** 4) / m2 ** 2


def assert_uniform(values, low, high, what=""):
    """Samples of U(low, high): inside the bounds, reaching close to both ends, with the
    uniform's mean, std and kurtosis (1.8)."""
    v, mean, std, kurt = _stats(values)
    assert v.size >= 100_000, "too few samples for a statistical check"
    width = high - low
    assert v.min() >= low and v.max() <= high, f"{what}: samples outside [{low}, {high}]"
    assert v.min() < low + 0.001 * width and v.max() > high - 0.001 * width, f"{what}: bounds not reached"
    expected_std = width / math.sqrt(12)
    assert abs(std - expected_std) <= STD_RTOL * expected_std, f"{what}: std {std} != {expected_std}"
    assert abs(mean - (low + high) / 2) <= 5 * expected_std / math.sqrt(v.size), f"{what}: mean {mean}"
    assert abs(kurt - 1.8) < 0.05, f"{what}: kurtosis {kurt} is not a uniform's 1.8"


def assert_normal(values, mean, std, what=""):
    """Samples of N(mean, std^2): mean, std and kurtosis (3) of a normal distribution."""
    v, m, s, kurt = _stats(values)
    assert v.size >= 100_000, "too few samples for a statistical check"
    assert abs(s - std) <= STD_RTOL * std, f"{what}: std {s} != {std}"
    assert abs(m - mean) <= 5 * std / math.sqrt(v.size), f"{what}: mean {m} != {mean}"
    assert abs(kurt - 3.0) < 0.15, f"{what}: kurtosis {kurt} is not a normal's 3"
    assert np.abs(v - mean).max() > 4 * std, f"{what}: no tails"


def fans(shape):
    """fan_in, fan_out as in the Glorot / He papers: in (out) channels times the kernel area."""
    receptive = int(np.prod(shape[2:], dtype=np.int64))
    return shape[1] * receptive, shape[0] * receptive


def gain(nonlinearity, a=None):
    """Gains written out independently (torch's documented table)."""
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = 0.01 if a is None else a
        return math.sqrt(2.0 / (1.0 + a * a))
    raise AssertionError(nonlinearity)


def ours_tensor(shape, device="cpu", dtype="float32"):
    return tc.zeros(shape, dtype=dtype, device=device, requires_grad=True)


# ---------------------------------------------------------------- layer defaults
DEFAULT_LAYERS = [
    # (name, constructor taking the nn namespace, fan_in, which parameter carries >= 100k samples)
    ("Linear(400,500).weight", lambda lib: lib.Linear(400, 500), 400, "weight"),
    ("Linear(9,100000).bias", lambda lib: lib.Linear(9, 100_000), 9, "bias"),
    ("Conv2d(64,128,5).weight", lambda lib: lib.Conv2d(64, 128, 5), 64 * 25, "weight"),
    ("Conv2d(256,512,3,groups=4).weight", lambda lib: lib.Conv2d(256, 512, 3, groups=4), 64 * 9, "weight"),
    ("Conv2d(2,100000,(1,3)).bias", lambda lib: lib.Conv2d(2, 100_000, (1, 3)), 6, "bias"),
    ("Conv2d(4,100000,1,groups=2).bias", lambda lib: lib.Conv2d(4, 100_000, 1, groups=2), 2, "bias"),
    ("Conv1d(16,2048,5).weight", lambda lib: lib.Conv1d(16, 2048, 5), 80, "weight"),
    ("Conv1d(3,100000,2).bias", lambda lib: lib.Conv1d(3, 100_000, 2), 6, "bias"),
]


@pytest.mark.parametrize("name,make,fan_in,param", DEFAULT_LAYERS, ids=[d[0] for d in DEFAULT_LAYERS])
def test_linear_and_conv_default_init(name, make, fan_in, param):
    """Linear / Conv weights and biases are U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (torch's default,
    kaiming_uniform_ with a=sqrt(5)), fan_in counting in_channels / groups times the kernel."""
    bound = 1 / math.sqrt(fan_in)
    assert_uniform(getattr(make(torch.nn), param).detach(), -bound, bound, f"torch {name}")  # the formula
    layer = make(nn)
    values = getattr(layer, param)
    assert values.dtype == np.float32
    assert_uniform(values, -bound, bound, name)
    # the smaller parameter of the same layer obeys the same bound
    other = getattr(layer, "bias" if param == "weight" else "weight")
    assert np.abs(to_numpy(other)).max() <= bound


def test_linear_and_conv_default_init_is_not_constant_per_layer():
    """Weights and bias of small layers are drawn independently (no repeated values)."""
    for layer in (nn.Linear(30, 40), nn.Conv2d(3, 8, 3)):
        w = to_numpy(layer.weight).ravel()
        assert len(np.unique(w)) == w.size
        assert not np.allclose(to_numpy(layer.bias), to_numpy(layer.bias)[0])


@pytest.mark.parametrize("cls", ["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_default_init_equals_torch(cls):
    """BatchNorm: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0,
    float32 (int64 for the counter), exactly torch's state."""
    ours, theirs = getattr(nn, cls)(7), getattr(torch.nn, cls)(7)
    our_state = ours.state_dict()
    their_state = {k: v.numpy() for k, v in theirs.state_dict().items()}
    assert list(our_state) == list(their_state)
    for key, value in their_state.items():
        np.testing.assert_array_equal(to_numpy(our_state[key]), value, err_msg=key)
        assert to_numpy(our_state[key]).dtype == value.dtype, key
    assert np.all(to_numpy(ours.weight) == 1) and np.all(to_numpy(ours.bias) == 0)
    assert np.all(to_numpy(ours.running_mean) == 0) and np.all(to_numpy(ours.running_var) == 1)


def test_batchnorm_without_affine_or_stats():
    """affine=False has no weight / bias; track_running_stats=False has no running buffers (as torch)."""
    for kwargs in (dict(affine=False), dict(track_running_stats=False)):
        ours, theirs = nn.BatchNorm2d(3, **kwargs), torch.nn.BatchNorm2d(3, **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_default_init_respects_dtype_argument():
    """Layers built with dtype=float64 hold float64 parameters with the same distribution."""
    layer = nn.Linear(400, 500, dtype="float64")
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    assert_uniform(layer.weight, -1 / 20, 1 / 20, "float64 Linear weight")


# ---------------------------------------------------------------- kaiming
KAIMING_CASES = [
    # (shape, mode, nonlinearity, a)
    ((256, 64, 3, 3), "fan_in", "relu", 0),
    ((256, 64, 3, 3), "fan_out", "relu", 0),
    ((256, 64, 3, 3), "fan_in", "leaky_relu", 0),
    ((256, 64, 3, 3), "fan_out", "leaky_relu", 0.2),
    ((600, 300), "fan_in", "leaky_relu", math.sqrt(5)),
    ((300, 600), "fan_out", "leaky_relu", 1.0),
    ((300, 600), "fan_in", "tanh", 0),
    ((300, 600), "fan_in", "linear", 0),
]
KAIMING_IDS = [f"{s}-{m}-{n}-a={a:.3g}" for s, m, n, a in KAIMING_CASES]


def kaiming_std(shape, mode, nonlinearity, a):
    fan_in, fan_out = fans(shape)
    return gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,mode,nonlinearity,a", KAIMING_CASES, ids=KAIMING_IDS)
def test_kaiming_normal(shape, mode, nonlinearity, a, device):
    """kaiming_normal_: N(0, (gain / sqrt(fan))^2) with the mode's fan and the nonlinearity's gain."""
    std = kaiming_std(shape, mode, nonlinearity, a)
    assert_normal(torch.nn.init.kaiming_normal_(torch.empty(shape), a=a, mode=mode, nonlinearity=nonlinearity),
                  0.0, std, "torch")
    t = ours_tensor(shape, device)
    assert init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity) is t
    assert_normal(t, 0.0, std, "kaiming_normal_")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,mode,nonlinearity,a", KAIMING_CASES, ids=KAIMING_IDS)
def test_kaiming_uniform(shape, mode, nonlinearity, a, device):
    """kaiming_uniform_: U(-b, b) with b = gain * sqrt(3 / fan)."""
    bound = math.sqrt(3.0) * kaiming_std(shape, mode, nonlinearity, a)
    assert_uniform(torch.nn.init.kaiming_uniform_(torch.empty(shape), a=a, mode=mode, nonlinearity=nonlinearity),
                   -bound, bound, "torch")
    t = ours_tensor(shape, device)
    assert init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity) is t
    assert_uniform(t, -bound, bound, "kaiming_uniform_")


def test_kaiming_defaults_are_fan_in_leaky_relu_a0():
    """Without arguments: mode fan_in, nonlinearity leaky_relu with a=0 (gain sqrt(2))."""
    shape = (500, 400)
    t = ours_tensor(shape)
    init.kaiming_normal_(t)
    assert_normal(t, 0.0, math.sqrt(2.0 / 400), "kaiming_normal_ defaults")
    init.kaiming_uniform_(t)
    assert_uniform(t, -math.sqrt(6.0 / 400), math.sqrt(6.0 / 400), "kaiming_uniform_ defaults")


# ---------------------------------------------------------------- xavier
XAVIER_CASES = [((300, 700), 1.0), ((128, 64, 5, 5), 1.0), ((300, 700), math.sqrt(2.0)), ((700, 300), 0.5)]
XAVIER_IDS = [f"{s}-gain={g:.3g}" for s, g in XAVIER_CASES]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,g", XAVIER_CASES, ids=XAVIER_IDS)
def test_xavier_uniform(shape, g, device):
    """xavier_uniform_: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    bound = g * math.sqrt(6.0 / (fan_in + fan_out))
    assert_uniform(torch.nn.init.xavier_uniform_(torch.empty(shape), gain=g), -bound, bound, "torch")
    t = ours_tensor(shape, device)
    assert init.xavier_uniform_(t, gain=g) is t
    assert_uniform(t, -bound, bound, "xavier_uniform_")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,g", XAVIER_CASES, ids=XAVIER_IDS)
def test_xavier_normal(shape, g, device):
    """xavier_normal_: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    std = g * math.sqrt(2.0 / (fan_in + fan_out))
    assert_normal(torch.nn.init.xavier_normal_(torch.empty(shape), gain=g), 0.0, std, "torch")
    t = ours_tensor(shape, device)
    assert init.xavier_normal_(t, gain=g) is t
    assert_normal(t, 0.0, std, "xavier_normal_")


@pytest.mark.parametrize("fn", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_fan_based_inits_reject_1d_tensors(fn):
    """Fans need at least 2 dimensions: ValueError for a 1-D tensor, as torch."""
    with pytest.raises(ValueError):
        getattr(torch.nn.init, fn)(torch.empty(10))
    with pytest.raises(ValueError):
        getattr(init, fn)(ours_tensor((10,)))


def test_kaiming_rejects_unknown_mode():
    with pytest.raises(ValueError):
        torch.nn.init.kaiming_normal_(torch.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError):
        init.kaiming_normal_(ours_tensor((3, 3)), mode="fan_avg")


# ---------------------------------------------------------------- simple fills
@pytest.mark.parametrize("device", DEVICES)
def test_normal_(device):
    """normal_(mean, std) and its default N(0, 1)."""
    t = ours_tensor((400, 500), device)
    assert init.normal_(t, mean=2.0, std=0.5) is t
    assert_normal(t, 2.0, 0.5, "normal_(2, 0.5)")
    init.normal_(t)
    assert_normal(t, 0.0, 1.0, "normal_()")
    assert_normal(torch.nn.init.normal_(torch.empty(400, 500)), 0.0, 1.0, "torch normal_()")


@pytest.mark.parametrize("device", DEVICES)
def test_uniform_(device):
    """uniform_(a, b) and its default U(0, 1)."""
    t = ours_tensor((400, 500), device)
    assert init.uniform_(t, a=-3.0, b=5.0) is t
    assert_uniform(t, -3.0, 5.0, "uniform_(-3, 5)")
    init.uniform_(t)
    assert_uniform(t, 0.0, 1.0, "uniform_()")
    assert_uniform(torch.nn.init.uniform_(torch.empty(400, 500)), 0.0, 1.0, "torch uniform_()")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn,args,value", [("zeros_", (), 0.0), ("ones_", (), 1.0), ("constant_", (0.37,), 0.37),
                                           ("constant_", (-2,), -2.0)])
def test_constant_fills(fn, args, value, device):
    """zeros_ / ones_ / constant_ fill every element with the value (in the tensor's dtype), like torch."""
    for dtype in ("float32", "float64"):
        t = ours_tensor((3, 4, 5), device, dtype)
        init.normal_(t)
        assert getattr(init, fn)(t, *args) is t
        expected = getattr(torch.nn.init, fn)(torch.empty(3, 4, 5, dtype=getattr(torch, dtype)), *args).numpy()
        np.testing.assert_array_equal(to_numpy(t), expected)
        assert np.all(to_numpy(t) == np.asarray(value, dtype=dtype))
        assert t.dtype == np.dtype(dtype)


# ---------------------------------------------------------------- calculate_gain
GAIN_CASES = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
              ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
              ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 1.5),
              ("leaky_relu", math.sqrt(5)), ("selu", None)]


@pytest.mark.parametrize("nonlinearity,param", GAIN_CASES, ids=[f"{n}-{p}" for n, p in GAIN_CASES])
def test_calculate_gain_equals_torch(nonlinearity, param):
    """calculate_gain(nonlinearity, param) equals torch.nn.init.calculate_gain for every name torch knows."""
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-12)


def test_calculate_gain_unknown_nonlinearity_raises():
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("softplus")
    with pytest.raises(ValueError):
        init.calculate_gain("softplus")


# ---------------------------------------------------------------- dtype, seeding, in place
def _all_inits():
    """(name, fn(t)) for every init function, with non-default arguments where there are some."""
    return [
        ("uniform_", lambda t: init.uniform_(t, -2.0, 3.0)),
        ("normal_", lambda t: init.normal_(t, 1.0, 2.0)),
        ("xavier_uniform_", lambda t: init.xavier_uniform_(t, gain=2.0)),
        ("xavier_normal_", lambda t: init.xavier_normal_(t)),
        ("kaiming_uniform_", lambda t: init.kaiming_uniform_(t, a=0.1, mode="fan_out")),
        ("kaiming_normal_", lambda t: init.kaiming_normal_(t, nonlinearity="relu")),
    ]


INIT_IDS = [name for name, _ in _all_inits()]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("index", range(len(INIT_IDS)), ids=INIT_IDS)
def test_init_preserves_dtype_and_writes_in_place(index, device):
    """Each random init keeps the tensor's dtype (float32 stays float32, float64 stays float64 and
    is not merely float32 values), writes into the same array object, returns the tensor, and
    leaves a Parameter a gradient-free leaf that still requires grad."""
    _, fn = _all_inits()[index]
    for dtype in ("float32", "float64"):
        p = nn.Parameter(tc.zeros((64, 32, 3, 3), dtype=dtype, device=device))
        array = p.array
        assert fn(p) is p
        assert p.array is array, "init replaced the array instead of writing into it"
        assert p.dtype == np.dtype(dtype) and p.array.dtype == np.dtype(dtype)
        assert np.any(to_numpy(p) != 0)
        assert p.requires_grad and p.grad is None
        if dtype == "float64":
            values = to_numpy(p)
            assert np.any(values.astype(np.float32).astype(np.float64) != values), "float64 init at float32 precision"


def test_layer_init_writes_into_the_parameters_array():
    """Re-initializing a layer's weight in place keeps the Parameter and its array."""
    layer = nn.Conv2d(3, 8, 3)
    weight, array = layer.weight, layer.weight.array
    init.kaiming_normal_(layer.weight)
    init.zeros_(layer.bias)
    assert layer.weight is weight and layer.weight.array is array
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert not np.any(to_numpy(layer.bias))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("index", range(len(INIT_IDS)), ids=INIT_IDS)
def test_manual_seed_makes_init_repeat(index, device):
    """tc.manual_seed(s) before an init gives the same values every time; another seed differs."""
    _, fn = _all_inits()[index]

    def sample(seed):
        tc.manual_seed(seed)
        t = ours_tensor((16, 8, 3, 3), device)
        fn(t)
        return to_numpy(t).copy()

    first = sample(123)
    np.testing.assert_array_equal(sample(123), first)
    assert not np.array_equal(sample(124), first)


def test_manual_seed_makes_layer_construction_repeat():
    """Two models built after the same tc.manual_seed have identical parameters."""
    def build(seed):
        tc.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2)).state_dict()

    a, b, c = build(7), build(7), build(8)
    for key in a:
        np.testing.assert_array_equal(to_numpy(a[key]), to_numpy(b[key]))
    assert not np.array_equal(to_numpy(a["0.weight"]), to_numpy(c["0.weight"]))
