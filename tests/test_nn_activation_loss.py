"""Activation and loss layers (tinygrad_cnn/nn/activation.py, nn/loss.py) against torch.nn.

Each layer is built with the same arguments in both libraries and compared on the same inputs:
output (shape, dtype, values) and the gradient of every input that takes one, in float64 and
float32, on every device; reprs and state_dict keys (loss weights are buffers) are torch's. The
functional ops beneath them are proven row by row in the op table (tests/op_table/); this file
proves the layers' plumbing: argument order, defaults, stored settings, buffers, warnings.
"""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from helpers import DEVICES, DTYPES, compare_with_torch, to_numpy, torch_device

TORCH_DTYPE = {np.dtype("float64"): torch.float64, np.dtype("float32"): torch.float32}


def away_from_kinks(x, kinks=(-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0), gap=0.05):
    """x with values near the activations' kinks moved off them (gradients there are conventions,
    tested in tests/test_ops_elementwise.py)."""
    for kink in kinks:
        near = np.abs(x - kink) < gap
        x = np.where(near, kink + 2 * gap, x)
    return x


# ---------------------------------------------------------------- activations
ACTIVATIONS = [
    ("ReLU", lambda lib: lib.ReLU()),
    ("ReLU(inplace=True)", lambda lib: lib.ReLU(inplace=True)),
    ("ReLU6", lambda lib: lib.ReLU6()),
    ("LeakyReLU(0.2, True)", lambda lib: lib.LeakyReLU(0.2, True)),
    ("Sigmoid", lambda lib: lib.Sigmoid()),
    ("Tanh", lambda lib: lib.Tanh()),
    ("Hardtanh", lambda lib: lib.Hardtanh()),
    ("Hardtanh(-2.5, 0.5)", lambda lib: lib.Hardtanh(-2.5, 0.5)),
    ("ELU", lambda lib: lib.ELU()),
    ("ELU(alpha=0.5, inplace=True)", lambda lib: lib.ELU(alpha=0.5, inplace=True)),
    ("SiLU", lambda lib: lib.SiLU()),
    ("GELU", lambda lib: lib.GELU()),
    ("GELU('tanh')", lambda lib: lib.GELU("tanh")),
    ("Hardswish", lambda lib: lib.Hardswish()),
    ("Hardsigmoid", lambda lib: lib.Hardsigmoid()),
    ("Softplus", lambda lib: lib.Softplus()),
    ("Softplus(beta=2, threshold=5)", lambda lib: lib.Softplus(beta=2, threshold=5)),
    ("Softmax(dim=1)", lambda lib: lib.Softmax(dim=1)),
    ("Softmax(-1)", lambda lib: lib.Softmax(-1)),
    ("LogSoftmax(dim=1)", lambda lib: lib.LogSoftmax(dim=1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,make", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
@given(shape=st.lists(st.integers(2, 4), min_size=2, max_size=4), seed=st.integers(0, 2**31))
def test_activation_layer_matches_torch(name, make, device, dtype, shape, seed):
    """Output (its dtype too) and input gradient equal torch.nn's (torch's in-place layers are given
    a copy of the input: they refuse to change a leaf that requires grad)."""
    x = away_from_kinks(np.random.default_rng(seed).standard_normal(shape) * 4)
    theirs = make(torch.nn)
    compare_with_torch(make(nn), lambda t: theirs(t.clone()), [x], device=device, dtype=dtype, seed=seed)


@pytest.mark.parametrize("name,make", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_repr_matches_torch(name, make):
    assert repr(make(nn)) == repr(make(torch.nn))


def test_activation_layers_live_in_nn_activation():
    """ReLU, LeakyReLU, Sigmoid and Tanh moved to nn/activation.py and still import from nn."""
    from tinygrad_cnn.nn import LeakyReLU, ReLU, Sigmoid, Tanh  # noqa: PLC0415 (the import is the test)
    from tinygrad_cnn.nn import activation  # noqa: PLC0415
    assert (ReLU, LeakyReLU, Sigmoid, Tanh) == (activation.ReLU, activation.LeakyReLU, activation.Sigmoid,
                                                activation.Tanh)


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_true_returns_a_new_tensor_and_leaves_the_input(device):
    """inplace=True is accepted (layers and functions) and computes out of place: the input keeps
    its values and the result is what PyTorch's in-place call leaves in its input."""
    import tinygrad_cnn.nn.functional as F  # noqa: PLC0415
    x = np.array([-2.0, -0.5, 0.5, 7.0])
    for name in ("relu", "relu6", "elu", "silu", "hardswish", "hardsigmoid", "hardtanh", "leaky_relu"):
        t = tc.tensor(x, device=device)
        out = getattr(F, name)(t, inplace=True)
        expected = torch.tensor(x)
        getattr(torch.nn.functional, name)(expected, inplace=True)
        np.testing.assert_allclose(to_numpy(out), expected.numpy(), rtol=1e-12, err_msg=name)
        np.testing.assert_array_equal(to_numpy(t), x, err_msg=name)
        assert out is not t


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_softmax_without_dim_warns_and_picks_torchs_dim(cls, ndim):
    """dim=None: PyTorch's deprecated implicit choice (0 for 1-d and 3-d input, else 1) with its warning."""
    x = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim])
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        ours = getattr(nn, cls)()(tc.tensor(x))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        theirs = getattr(torch.nn, cls)()(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_hardtanh_arguments_like_torch():
    """min_value / max_value: deprecated spellings with torch's FutureWarning; max_val <= min_val:
    torch's AssertionError."""
    with pytest.warns(FutureWarning, match="min_value"):
        layer = nn.Hardtanh(min_value=-2.0)
    assert layer.min_val == -2.0 and repr(layer) == "Hardtanh(min_val=-2.0, max_val=1.0)"
    for lib in (nn, torch.nn):
        with pytest.raises(AssertionError):
            lib.Hardtanh(1.0, 1.0)


# ---------------------------------------------------------------- losses
REDUCTIONS = ["mean", "sum", "none"]


def _class_problem(seed, n=5, c=4, extra=(), ignore_index=-100):
    """Logits (n, c, *extra), targets with the first row ignored, class weights (c,)."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, (n,) + extra)
    target[0] = ignore_index
    return rng.standard_normal((n, c) + extra) * 2, target, rng.uniform(0.2, 3.0, c)


def _torch_tensor(array, dtype):
    return torch.tensor(np.asarray(array, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2}, {"ignore_index": 1}, {"weight": True},
                                    {"weight": True, "label_smoothing": 0.3}],
                         ids=["plain", "smoothing", "ignore_index", "weight", "weight+smoothing"])
@pytest.mark.parametrize("extra", [(), (3,)], ids=["NC", "NCd"])
def test_cross_entropy_loss_layer(dtype, device, reduction, kwargs, extra):
    """CrossEntropyLoss with every reduction, weights (a buffer), smoothing and ignore_index, (N, C)
    and (N, C, d) input, equals torch.nn.CrossEntropyLoss."""
    x, target, weight = _class_problem(0, extra=extra, ignore_index=kwargs.get("ignore_index", -100))
    kwargs = dict(kwargs)
    use_weight = kwargs.pop("weight", False)
    ours = nn.CrossEntropyLoss(weight=tc.tensor(weight) if use_weight else None, reduction=reduction, **kwargs)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight) if use_weight else None, reduction=reduction,
                                       **kwargs)
    if dtype == np.float32:
        ours.float()
        theirs.float()
    ours.to(device)
    theirs.to(torch_device(device))
    compare_with_torch(ours, theirs, [x, target], device=device, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_nll_loss_layer(dtype, device, reduction, use_weight):
    x, target, weight = _class_problem(1)
    ours = nn.NLLLoss(tc.tensor(weight.astype(dtype)) if use_weight else None, reduction=reduction).to(device)
    theirs = torch.nn.NLLLoss(_torch_tensor(weight, dtype) if use_weight else None, reduction=reduction)
    compare_with_torch(lambda a, t: ours(nn.functional.log_softmax(a, 1), t),
                       lambda a, t: theirs(torch.log_softmax(a, 1), t), [x, target], device=device, dtype=dtype)


def _pair(seed, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal(shape)


REGRESSION = [
    ("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", {}), ("SmoothL1Loss", {"beta": 0.5}),
    ("SmoothL1Loss", {"beta": 0.0}), ("HuberLoss", {}), ("HuberLoss", {"delta": 0.5}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cls,kwargs", REGRESSION, ids=[f"{c}{k}" for c, k in REGRESSION])
def test_regression_loss_layers(dtype, device, reduction, cls, kwargs):
    """Input and target both take gradients (as in torch)."""
    a, b = _pair(2)
    ours, theirs = getattr(nn, cls)(reduction=reduction, **kwargs), getattr(torch.nn, cls)(reduction=reduction, **kwargs)
    compare_with_torch(ours, theirs, [a, b], device=device, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_bce_loss_layer(dtype, device, reduction, use_weight):
    rng = np.random.default_rng(3)
    p, target, weight = rng.uniform(0.05, 0.95, (4, 3)), rng.random((4, 3)), rng.uniform(0.5, 2.0, 3)
    ours = nn.BCELoss(tc.tensor(weight.astype(dtype), device=device) if use_weight else None, reduction=reduction)
    theirs = torch.nn.BCELoss(_torch_tensor(weight, dtype) if use_weight else None, reduction=reduction)
    compare_with_torch(ours, theirs, [p, target], device=device, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_loss_layer(dtype, device, reduction, weights):
    """Per-class pos_weight (C,) broadcasts over (N, C) logits; weight (N, 1) over the classes."""
    rng = np.random.default_rng(4)
    x, target = rng.standard_normal((5, 3)) * 4, rng.random((5, 3))
    weight = rng.uniform(0.5, 2.0, (5, 1)) if weights in ("weight", "both") else None
    pos_weight = rng.uniform(0.5, 3.0, 3) if weights in ("pos_weight", "both") else None

    def make(lib, to_tensor):
        return lib.BCEWithLogitsLoss(weight=None if weight is None else to_tensor(weight), reduction=reduction,
                                     pos_weight=None if pos_weight is None else to_tensor(pos_weight))
    ours = make(nn, lambda a: tc.tensor(a.astype(dtype), device=device))
    theirs = make(torch.nn, lambda a: _torch_tensor(a, dtype))
    compare_with_torch(ours, theirs, [x, target], device=device, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_loss_layer(dtype, device, reduction, log_target):
    rng = np.random.default_rng(5)
    logq = np.log(rng.dirichlet(np.ones(4), 3))
    p = rng.dirichlet(np.ones(4), 3)
    target = np.log(p) if log_target else p
    ours = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    theirs = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="reduction: 'mean' divides")
        compare_with_torch(ours, theirs, [logq, target], device=device, dtype=dtype)


def test_kl_div_mean_warns_like_torch():
    x, t = np.log(np.full((2, 3), 1 / 3)), np.full((2, 3), 1 / 3)
    for loss, tensor in ((nn.KLDivLoss(), tc.tensor), (torch.nn.KLDivLoss(), torch.tensor)):
        with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
            loss(tensor(x), tensor(t))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.KLDivLoss(reduction="batchmean")(tc.tensor(x), tc.tensor(t))


LOSS_LAYERS = [
    ("CrossEntropyLoss", {}), ("CrossEntropyLoss", {"weight": 3, "ignore_index": 2, "label_smoothing": 0.1}),
    ("NLLLoss", {"weight": 3}), ("MSELoss", {"reduction": "sum"}), ("L1Loss", {}), ("SmoothL1Loss", {"beta": 2.0}),
    ("HuberLoss", {"delta": 3.0}), ("BCELoss", {"weight": 3}), ("BCEWithLogitsLoss", {"pos_weight": 3}),
    ("BCEWithLogitsLoss", {"weight": 3, "pos_weight": 3}), ("KLDivLoss", {"reduction": "batchmean", "log_target": True}),
]


def _build(lib, cls, kwargs, tensor):
    """The layer with any weight given as a tensor of that many values."""
    kwargs = {k: tensor(np.linspace(0.5, 2.0, v)) if k in ("weight", "pos_weight") else v for k, v in kwargs.items()}
    return getattr(lib, cls)(**kwargs)


@pytest.mark.parametrize("cls,kwargs", LOSS_LAYERS, ids=[f"{c}{k}" for c, k in LOSS_LAYERS])
def test_loss_layer_state_and_repr_match_torch(cls, kwargs):
    """Weights are buffers (same state_dict keys as torch, cast by .float()); settings stored
    under torch's attribute names; the repr is torch's."""
    ours, theirs = _build(nn, cls, kwargs, tc.tensor), _build(torch.nn, cls, kwargs, torch.tensor)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name in ("reduction", "ignore_index", "label_smoothing", "beta", "delta", "log_target"):
        assert getattr(ours, name, None) == getattr(theirs, name, None), name
    ours.float()
    assert all(v.dtype == np.float32 for v in ours.state_dict().values())


@pytest.mark.parametrize("size_average,reduce,expected", [(None, False, "none"), (False, None, "sum"),
                                                          (True, True, "mean"), (False, False, "none")])
@pytest.mark.parametrize("cls", ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "BCELoss",
                                 "BCEWithLogitsLoss", "KLDivLoss"])
def test_deprecated_size_average_and_reduce_like_torch(cls, size_average, reduce, expected):
    """The legacy arguments set `reduction` as in torch, with torch's UserWarning."""
    for lib in (nn, torch.nn):
        with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
            layer = getattr(lib, cls)(size_average=size_average, reduce=reduce)
        assert layer.reduction == expected


@pytest.mark.parametrize("device", DEVICES)
def test_functional_losses_take_the_deprecated_arguments(device):
    """F.cross_entropy(x, t, w, size_average=False) sums, as torch's (positional weight, legacy keyword)."""
    x, target, weight = _class_problem(6)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        ours = nn.functional.cross_entropy(tc.tensor(x, device=device), tc.tensor(target, device=device),
                                           tc.tensor(weight, device=device), False)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(target), torch.tensor(weight), False)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_loss_weight_buffer_moves_with_the_layer(device):
    layer = nn.CrossEntropyLoss(weight=tc.tensor([1.0, 2.0, 3.0])).to(device).double()
    assert layer.weight.device == tc.tensor([0.0], device=device).device and layer.weight.dtype == np.float64
    out = layer(tc.tensor(np.zeros((2, 3)), device=device), tc.tensor([0, 2], device=device))
    np.testing.assert_allclose(out.item(), np.log(3), rtol=1e-12)


# ---------------------------------------------------------------- nn.init aliases
INIT_ALIASES = [("uniform", (-0.5, 0.5)), ("normal", (0.0, 0.1)), ("constant", (0.3,)), ("xavier_uniform", ()),
                ("xavier_normal", ()), ("kaiming_uniform", ()), ("kaiming_normal", ())]


@pytest.mark.parametrize("name,args", INIT_ALIASES, ids=[a[0] for a in INIT_ALIASES])
def test_init_deprecated_aliases_warn_like_torch_and_fill_like_the_new_names(name, args):
    message = f"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`"
    with pytest.warns(FutureWarning, match=message):
        getattr(torch.nn.init, name)(torch.empty(4, 3), *args)
    weight = nn.Parameter(tc.zeros(4, 3))
    tc.manual_seed(0)
    with pytest.warns(FutureWarning, match=message):
        returned = getattr(nn.init, name)(weight, *args)
    assert returned is weight
    tc.manual_seed(0)
    expected = getattr(nn.init, f"{name}_")(tc.zeros(4, 3), *args)
    np.testing.assert_array_equal(weight.numpy(), expected.numpy())


@pytest.mark.parametrize("name,args", INIT_ALIASES + [("zeros", ()), ("ones", ())], ids=lambda a: str(a))
def test_init_fills_parameters_through_their_data(name, args):
    """nn.init.<name>_(p.data) changes p itself (as in PyTorch: .data shares the memory), and a
    parameter that requires grad is filled directly too."""
    p = nn.Parameter(tc.full((4, 3), 7.0))
    tc.manual_seed(1)
    getattr(nn.init, f"{name}_")(p.data, *args)
    q = nn.Parameter(tc.full((4, 3), 7.0))
    tc.manual_seed(1)
    getattr(nn.init, f"{name}_")(q, *args)
    assert p.requires_grad and q.requires_grad and p.grad is None
    np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert not np.all(p.numpy() == 7.0)
