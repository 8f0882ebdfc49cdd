"""The further nn layers against the same torch.nn layers, on identical weights: ConvTranspose2d,
Conv2d / Conv1d with padding_mode, MaxPool2d / AvgPool2d with ceil_mode and friends,
AdaptiveAvgPool2d / AdaptiveMaxPool2d of any size, GroupNorm, LayerNorm, InstanceNorm2d,
Upsample (and UpsamplingNearest2d / UpsamplingBilinear2d), the Pad2d layers, and the containers
ModuleDict, ParameterList and ParameterDict.

Each layer test copies the torch layer's state into ours (state-dict keys, order and shapes must
be torch's), then compares in training and eval mode the output, the input gradient, every
parameter gradient and, for instance norm, the running statistics after several steps; also
the default initialization's distribution and the repr. The ops' own edge cases that have no
better home (F.pad modes, F.interpolate) close the file; the op table (tests/op_table/nn_more.py)
proves every op on drawn cases.
"""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from helpers import DEVICES, DTYPES, assert_close, to_numpy, torch_device
from test_nn_layers import pair, randn  # both modules in one dtype holding torch's state; seeded inputs


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    tc.manual_seed(0)


def f32_scale(dtype):
    """atol multiplier: float32 sums of a few hundred products need ~10x the default atol."""
    return 10.0 if np.dtype(dtype) == np.float32 else 1.0


def randomized(theirs, seed=0):
    """torch's module with its floating parameters and buffers drawn at random (the default
    ones and zeros would hide mix-ups between weight and bias)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(theirs.named_parameters()) + list(theirs.named_buffers()):
            if t.dtype.is_floating_point:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5 if "var" in name else torch.randn(t.shape, generator=g))
    return theirs


def check(ours, theirs, x, device, dtype, training, atol_scale=1.0, seed=1, **kwargs):
    """Forward x through both modules; compare output, input gradient and every parameter gradient."""
    ours.train(training)
    theirs.train(training)
    x = np.asarray(x, dtype=dtype)
    xo = tc.tensor(x, device=device, requires_grad=True)
    xt = torch.tensor(x, device=torch_device(device), requires_grad=True)
    out, ref = ours(xo, **kwargs), theirs(xt, **kwargs)
    assert out.shape == tuple(ref.shape) and out.dtype == np.dtype(dtype)
    assert_close(out, ref, dtype, "forward", scale=atol_scale)
    cotangent = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(tc.tensor(cotangent, device=device))
    ref.backward(torch.tensor(cotangent, device=torch_device(device)))
    assert_close(xo.grad, xt.grad, dtype, "input gradient", scale=atol_scale)
    our_params, their_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(our_params) == list(their_params), "parameter names differ from torch's"
    for name, tp in their_params.items():
        assert our_params[name].grad is not None, f"parameter {name} got no gradient"
        assert_close(our_params[name].grad, tp.grad, dtype, f"gradient of {name}", scale=atol_scale)
    ours.zero_grad()
    theirs.zero_grad()
    return out, ref


def check_buffers(ours, theirs, dtype, what):
    our_buffers, their_buffers = dict(ours.named_buffers()), dict(theirs.named_buffers())
    assert list(our_buffers) == list(their_buffers), f"buffer names differ from torch's {what}"
    for name, tb in their_buffers.items():
        assert_close(to_numpy(our_buffers[name]).astype(np.float64), tb.double(), dtype, f"{name} {what}")


def same_repr(ours, theirs):
    assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------- ConvTranspose2d
CONV_TRANSPOSE = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(2, 3), stride=(2, 1), padding=(0, 1), groups=2),
    dict(in_channels=2, out_channels=2, kernel_size=3, dilation=2, padding=1, output_padding=1, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=2, stride=3, padding=(1, 0), output_padding=2, groups=4),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kwargs", CONV_TRANSPOSE, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_conv_transpose2d(kwargs, device, dtype):
    """ConvTranspose2d (strides, asymmetric kernels, groups, dilation, output_padding up to
    beyond the padding): output, input and parameter gradients in train and eval, and repr."""
    ours, theirs = pair(nn.ConvTranspose2d(**kwargs), torch.nn.ConvTranspose2d(**kwargs), device, dtype)
    same_repr(ours, theirs)
    for training in (True, False):
        check(ours, theirs, randn((2, kwargs["in_channels"], 4, 5)), device, dtype, training, f32_scale(dtype))


@pytest.mark.parametrize("output_size", [(9, 11), (10, 12), [2, 4, 10, 11]])
def test_conv_transpose2d_output_size(output_size):
    """forward(x, output_size) picks the output_padding giving that size, as torch."""
    ours, theirs = pair(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(
        3, 4, 3, stride=2, padding=1), "cpu", np.float64)
    out, _ = check(ours, theirs, randn((2, 3, 5, 6)), "cpu", np.float64, True, output_size=output_size)
    assert out.shape[2:] == tuple(output_size[-2:])
    with pytest.raises(ValueError, match=r"ConvTranspose2d.*\(12, 12\)"):
        ours(tc.randn(2, 3, 5, 6), output_size=(12, 12))


def test_conv_transpose2d_init_and_options():
    """PyTorch's initialization: weight (in, out/groups, kh, kw) and bias uniform within
    1 / sqrt(out/groups * kh * kw); only padding_mode 'zeros' (ValueError otherwise)."""
    layer = nn.ConvTranspose2d(64, 8, 3, groups=2)
    bound = 1 / math.sqrt(8 // 2 * 9)
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    assert weight.shape == (64, 4, 3, 3) and bias.shape == (8,)
    assert bound * 0.95 < np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.05 * bound
    with pytest.raises(ValueError):
        torch.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


# ---------------------------------------------------------------- padding_mode of Conv2d / Conv1d
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding,dilation", [(1, 1), ((2, 1), 1), ("same", 1), ("same", (1, 2)), ("valid", 1)])
def test_conv2d_padding_mode(mode, padding, dilation, device, dtype):
    """Conv2d with every padding_mode, padding an int, a pair, 'same' (even kernel width: the odd
    extra after) or 'valid': output, gradients, repr."""
    kwargs = dict(in_channels=2, out_channels=3, kernel_size=(3, 2), padding=padding, dilation=dilation,
                  padding_mode=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: 'same' with an even kernel copies the input
        ours, theirs = pair(nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs), device, dtype)
        same_repr(ours, theirs)
        check(ours, theirs, randn((2, 2, 5, 6)), device, dtype, True, f32_scale(dtype))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [2, "same"])
def test_conv1d_padding_mode(mode, padding):
    kwargs = dict(in_channels=2, out_channels=3, kernel_size=4, padding=padding, padding_mode=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ours, theirs = pair(nn.Conv1d(**kwargs), torch.nn.Conv1d(**kwargs), "cpu", np.float64)
        same_repr(ours, theirs)
        check(ours, theirs, randn((2, 2, 7)), "cpu", np.float64, True)


def test_conv_unknown_padding_mode_is_value_error():
    with pytest.raises(ValueError):
        torch.nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="padding_mode.*'mirror'"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")


# ---------------------------------------------------------------- pooling
POOLS = [
    ("MaxPool2d(3,2,ceil_mode=True)", lambda lib: lib.MaxPool2d(3, 2, ceil_mode=True)),
    ("MaxPool2d(2,2,1,ceil_mode=True)", lambda lib: lib.MaxPool2d(2, 2, 1, ceil_mode=True)),
    ("MaxPool2d(3,2,1,dilation=2)", lambda lib: lib.MaxPool2d(3, 2, 1, dilation=2)),
    ("MaxPool2d((2,3),(1,2),dilation=(2,1),ceil_mode=True)",
     lambda lib: lib.MaxPool2d((2, 3), (1, 2), dilation=(2, 1), ceil_mode=True)),
    ("AvgPool2d(3,2,ceil_mode=True)", lambda lib: lib.AvgPool2d(3, 2, ceil_mode=True)),
    ("AvgPool2d(2,2,1,True,False)", lambda lib: lib.AvgPool2d(2, 2, 1, True, False)),
    ("AvgPool2d(3,2,1,True,True)", lambda lib: lib.AvgPool2d(3, 2, 1, True, True)),
    ("AvgPool2d(3,divisor_override=2)", lambda lib: lib.AvgPool2d(3, 1, 1, divisor_override=2)),
    ("AdaptiveAvgPool2d((4,3))", lambda lib: lib.AdaptiveAvgPool2d((4, 3))),
    ("AdaptiveAvgPool2d(9)", lambda lib: lib.AdaptiveAvgPool2d(9)),
    ("AdaptiveAvgPool2d((None,3))", lambda lib: lib.AdaptiveAvgPool2d((None, 3))),
    ("AdaptiveMaxPool2d((4,3))", lambda lib: lib.AdaptiveMaxPool2d((4, 3))),
    ("AdaptiveMaxPool2d((5,None))", lambda lib: lib.AdaptiveMaxPool2d((5, None))),
    ("AdaptiveMaxPool2d(1)", lambda lib: lib.AdaptiveMaxPool2d(1)),
    ("AdaptiveMaxPool2d((2,4))", lambda lib: lib.AdaptiveMaxPool2d((2, 4))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,make", POOLS, ids=[p[0] for p in POOLS])
def test_pool(name, make, device, dtype):
    """Pooling layers on distinct values of (2, 3, 7, 8) (so max pooling has no ties): output,
    input gradient, repr."""
    ours, theirs = pair(make(nn), make(torch.nn), device, dtype)
    same_repr(ours, theirs)
    x = np.random.default_rng(0).permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0 - 14.0
    check(ours, theirs, x, device, dtype, True)


# ---------------------------------------------------------------- normalization layers
NORMS = [
    ("GroupNorm(3,6)", lambda lib: lib.GroupNorm(3, 6), (2, 6, 4, 5)),
    ("GroupNorm(1,6,affine=False)", lambda lib: lib.GroupNorm(1, 6, affine=False), (2, 6, 3)),
    ("GroupNorm(6,6,eps=0.1)", lambda lib: lib.GroupNorm(6, 6, eps=0.1), (3, 6, 2, 2)),
    ("GroupNorm(2,6,bias=False)", lambda lib: lib.GroupNorm(2, 6, bias=False), (2, 6)),
    ("LayerNorm(5)", lambda lib: lib.LayerNorm(5), (2, 3, 5)),
    ("LayerNorm((4,5))", lambda lib: lib.LayerNorm((4, 5)), (2, 3, 4, 5)),
    ("LayerNorm([3,4,5],elementwise_affine=False)", lambda lib: lib.LayerNorm([3, 4, 5], elementwise_affine=False),
     (2, 3, 4, 5)),
    ("LayerNorm(5,bias=False,eps=1e-3)", lambda lib: lib.LayerNorm(5, bias=False, eps=1e-3), (4, 5)),
    ("InstanceNorm2d(3)", lambda lib: lib.InstanceNorm2d(3), (2, 3, 4, 5)),
    ("InstanceNorm2d(3,affine=True)", lambda lib: lib.InstanceNorm2d(3, affine=True), (2, 3, 4, 5)),
    ("InstanceNorm2d(3,affine=True,bias=False)", lambda lib: lib.InstanceNorm2d(3, affine=True, bias=False),
     (2, 3, 3, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,make,shape", NORMS, ids=[n[0] for n in NORMS])
def test_norm(name, make, shape, device, dtype):
    """GroupNorm, LayerNorm and InstanceNorm2d (random affine parameters) on shifted, scaled
    input, in train and eval: outputs, gradients, repr."""
    ours, theirs = pair(make(nn), randomized(make(torch.nn)), device, dtype)
    same_repr(ours, theirs)
    for training in (True, False):
        check(ours, theirs, randn(shape, scale=2.0, offset=1.0), device, dtype, training, f32_scale(dtype))


def test_norm_default_parameters():
    """Weights start at ones and biases at zeros, as torch's."""
    for make in (lambda lib: lib.GroupNorm(2, 4), lambda lib: lib.LayerNorm((2, 3)),
                 lambda lib: lib.InstanceNorm2d(3, affine=True, track_running_stats=True)):
        ours, theirs = make(nn), make(torch.nn)
        for (name, value), (their_name, theirs_value) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            assert name == their_name
            np.testing.assert_array_equal(to_numpy(value), theirs_value.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("options", [dict(track_running_stats=True), dict(affine=True, track_running_stats=True,
                                                                            momentum=0.3)], ids=["track", "affine"])
def test_instance_norm_running_statistics(options, device, dtype):
    """InstanceNorm2d(track_running_stats=True): three training steps move running_mean and
    running_var as torch's (batch mean of the instances' statistics, unbiased variance; never
    num_batches_tracked); eval normalizes with them."""
    ours, theirs = pair(nn.InstanceNorm2d(3, **options), randomized(torch.nn.InstanceNorm2d(3, **options)),
                        device, dtype)
    for step in range(3):
        check(ours, theirs, randn((2, 3, 4, 5), seed=step, scale=1 + step, offset=step), device, dtype, True,
              f32_scale(dtype), seed=step)
        check_buffers(ours, theirs, dtype, f"after training step {step + 1}")
    check(ours, theirs, randn((2, 3, 4, 5), seed=9), device, dtype, False, f32_scale(dtype))
    check_buffers(ours, theirs, dtype, "after eval (unchanged)")
    assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked.item()) == 0


def test_instance_norm_unbatched_and_channel_mismatch():
    """(C, H, W) input is one sample, as torch; a channel count other than num_features warns
    when affine=False (the layer does not use it) and is an error when affine=True."""
    ours, theirs = pair(nn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3), "cpu", np.float64)
    check(ours, theirs, randn((3, 4, 5)), "cpu", np.float64, True)
    with pytest.warns(UserWarning, match="num_features"):
        out = nn.InstanceNorm2d(4)(tc.tensor(randn((2, 3, 4, 5))))
    np.testing.assert_allclose(out.numpy(), TF.instance_norm(torch.tensor(randn((2, 3, 4, 5)))).numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="num_features"):
        nn.InstanceNorm2d(4, affine=True)(tc.randn(2, 3, 4, 5))
    with pytest.raises(tc.ShapeError, match=r"InstanceNorm2d.*\(3, 4\)"):
        nn.InstanceNorm2d(3)(tc.randn(3, 4))


def test_norm_layer_bad_arguments():
    """Channels not divisible by the groups: ValueError at construction (torch too); input of
    the wrong shape names the layer and both shapes."""
    with pytest.raises(ValueError):
        torch.nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"num_channels \(6\).*num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(tc.ShapeError, match=r"GroupNorm\(2, 6.*\(2, 4, 3\)"):
        nn.GroupNorm(2, 6)(tc.randn(2, 4, 3))
    with pytest.raises(tc.ShapeError, match=r"LayerNorm\(\(4, 5\).*\(2, 5, 4\)"):
        nn.LayerNorm((4, 5))(tc.randn(2, 5, 4))


# ---------------------------------------------------------------- Upsample and padding layers
RESAMPLE = [
    ("Upsample(scale_factor=2)", lambda lib: lib.Upsample(scale_factor=2)),
    ("Upsample(size=(5,3))", lambda lib: lib.Upsample(size=(5, 3))),
    ("Upsample(scale_factor=(1.5,2.5),mode=bilinear)", lambda lib: lib.Upsample(scale_factor=(1.5, 2.5),
                                                                                  mode="bilinear")),
    ("Upsample(size=7,mode=bilinear,align_corners=True)",
     lambda lib: lib.Upsample(size=7, mode="bilinear", align_corners=True)),
    ("Upsample(scale_factor=0.6,mode=nearest-exact)", lambda lib: lib.Upsample(scale_factor=0.6, mode="nearest-exact")),
    ("UpsamplingNearest2d(scale_factor=3)", lambda lib: lib.UpsamplingNearest2d(scale_factor=3)),
    ("UpsamplingBilinear2d(size=(6,9))", lambda lib: lib.UpsamplingBilinear2d(size=(6, 9))),
    ("ReflectionPad2d(2)", lambda lib: lib.ReflectionPad2d(2)),
    ("ReflectionPad2d((1,3,0,2))", lambda lib: lib.ReflectionPad2d((1, 3, 0, 2))),
    ("ReplicationPad2d((2,0,1,3))", lambda lib: lib.ReplicationPad2d((2, 0, 1, 3))),
    ("ZeroPad2d((1,2,3,0))", lambda lib: lib.ZeroPad2d((1, 2, 3, 0))),
    ("ConstantPad2d(1,0.5)", lambda lib: lib.ConstantPad2d(1, 0.5)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,make", RESAMPLE, ids=[r[0] for r in RESAMPLE])
def test_resample_and_pad_layers(name, make, device, dtype):
    ours, theirs = pair(make(nn), make(torch.nn), device, dtype)
    same_repr(ours, theirs)
    check(ours, theirs, randn((2, 3, 4, 5)), device, dtype, True)


# ---------------------------------------------------------------- containers
def _torch_repr(module):
    """torch's repr with our dtype spelling (float32 for torch.float32 and torch.FloatTensor)."""
    return (repr(module).replace("torch.float32", "float32").replace("torch.float64", "float64")
            .replace("torch.FloatTensor", "float32").replace("torch.DoubleTensor", "float64"))


def _both(build):
    return build(nn, lambda *shape: nn.Parameter(tc.zeros(*shape))), \
        build(torch.nn, lambda *shape: torch.nn.Parameter(torch.zeros(*shape)))


def test_module_dict():
    """ModuleDict: insertion order (a plain dict's too), state_dict keys, repr, the dict API."""
    def build(lib, _):
        d = lib.ModuleDict({"conv": lib.Conv2d(1, 2, 3), "act": lib.ReLU()})
        d["fc"] = lib.Linear(2, 3)
        d.update([("norm", lib.GroupNorm(1, 2))])
        return d
    ours, theirs = _both(build)
    assert list(ours.keys()) == list(theirs.keys()) == ["conv", "act", "fc", "norm"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert len(ours) == 4 and "fc" in ours and list(ours) == list(theirs)
    assert isinstance(ours.pop("act"), nn.ReLU) and "act" not in ours and len(ours) == 3
    del ours["fc"]
    assert list(ours.keys()) == ["conv", "norm"] and len(list(ours.parameters())) == 4
    assert [type(m).__name__ for m in ours.values()] == ["Conv2d", "GroupNorm"]
    ours.clear()
    assert len(ours) == 0 and not list(ours.parameters())
    with pytest.raises(TypeError):
        torch.nn.ModuleDict().update(3)
    with pytest.raises(TypeError, match="ModuleDict"):
        nn.ModuleDict().update(3)
    with pytest.raises(ValueError, match="#0 has length 1"):
        nn.ModuleDict([("a",)])


def test_parameter_list():
    """ParameterList: names "0", "1", ... (state_dict keys as torch's), tensors become
    Parameters sharing memory, indexing and slicing, append / extend / +=, repr, not callable."""
    def build(lib, param):
        p = lib.ParameterList([param(2, 3)])
        p.append(param(4))
        p.extend([param(1, 2)])
        p += [param(5)]
        return p
    ours, theirs = _both(build)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2", "3"]
    assert repr(ours) == _torch_repr(theirs)
    assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
    assert ours[-1].shape == (5,) and isinstance(ours[1:3], nn.ParameterList) and len(ours[1:3]) == 2
    plain = tc.ones(3)
    ours[0] = plain
    assert isinstance(ours[0], nn.Parameter) and ours[0].array is plain.array and ours[0].requires_grad
    with pytest.raises(IndexError):
        ours[4]
    with pytest.raises(RuntimeError, match="should not be called"):
        ours(tc.zeros(1))
    single, their_single = nn.ParameterList([nn.Parameter(tc.zeros(2))]), torch.nn.ParameterList(
        [torch.nn.Parameter(torch.zeros(2))])
    assert repr(single) == _torch_repr(their_single)
    assert repr(nn.ParameterList()) == repr(torch.nn.ParameterList())


def test_parameter_dict():
    """ParameterDict: a plain dict is taken in sorted key order (an OrderedDict in its own),
    as torch; state_dict keys, repr, the dict API."""
    def build(lib, param):
        d = lib.ParameterDict({"w": param(2), "b": param(3)})
        d["a"] = param(1, 4)
        return d
    ours, theirs = _both(build)
    assert list(ours.keys()) == list(theirs.keys()) == ["b", "w", "a"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == _torch_repr(theirs)
    assert ours.get("zz") is None and ours.get("w").shape == (2,) and "a" in ours and len(ours) == 3
    assert ours.setdefault("c", tc.ones(2)).shape == (2,) and isinstance(ours["c"], nn.Parameter)
    key, value = ours.popitem()
    assert key == "c" and value.shape == (2,)
    assert ours.pop("b").shape == (3,) and list(ours) == ["w", "a"]
    merged = ours | nn.ParameterDict({"z": nn.Parameter(tc.zeros(1))})
    assert list(merged) == ["w", "a", "z"] and list(ours) == ["w", "a"]
    copy = ours.copy()
    assert copy["w"] is ours["w"]
    with pytest.raises(TypeError, match="strings"):
        ours[1] = tc.zeros(1)
    ours.clear()
    assert len(ours) == 0 and not list(ours.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_containers_in_a_model_train_like_torch(device):
    """A model holding a ModuleDict, a ParameterList and a ParameterDict: torch's state dict
    loads into it, and the output and every parameter gradient equal torch's."""
    def build(lib):
        class Model(lib.Module):
            def __init__(self):
                super().__init__()
                self.blocks = lib.ModuleDict({"conv": lib.Conv2d(2, 3, 3, padding=1), "up": lib.Upsample(scale_factor=2)})
                self.scales = lib.ParameterList([lib.Parameter(torch.ones(3) if lib is torch.nn else tc.ones(3))])
                self.shifts = lib.ParameterDict({"b": lib.Parameter(torch.zeros(3) if lib is torch.nn else tc.zeros(3))})

            def forward(self, x):
                h = self.blocks["up"](self.blocks["conv"](x))
                return h * self.scales[0].reshape(1, 3, 1, 1) + self.shifts["b"].reshape(1, 3, 1, 1)
        return Model()
    ours, theirs = pair(build(nn), randomized(build(torch.nn)), device, np.float64)  # same state_dict keys
    check(ours, theirs, randn((2, 2, 3, 4)), device, np.float64, True)


# ---------------------------------------------------------------- F.pad modes: edge cases
def test_pad_modes_follow_pytorch_rules():
    """reflect needs widths below the axis size, circular at most the size (one wrap), and
    non-constant modes pad the last 1-3 axes of 2-5 dimensional input; a value is refused with
    a non-constant mode. Each is refused as torch refuses it, naming the op."""
    x = tc.randn(1, 3, 4)
    cases = [((4, 0), "reflect", RuntimeError, "less than"), ((5, 0), "circular", RuntimeError, "wrap"),
             ((1, 1, 1, 1, 1, 1), "reflect", NotImplementedError, "padding of size 6")]
    for pad, mode, error, fragment in cases:
        with pytest.raises(error):
            TF.pad(torch.zeros(1, 3, 4), pad, mode=mode)
        with pytest.raises(error, match=fragment):
            F.pad(x, pad, mode=mode)
    with pytest.raises(RuntimeError):
        TF.pad(torch.zeros(1, 3, 4), (1, 1), mode="reflect", value=2.0)
    with pytest.raises(RuntimeError, match="value"):
        F.pad(x, (1, 1), mode="reflect", value=2.0)
    with pytest.raises(NotImplementedError, match="'mirror'"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(RuntimeError):
        TF.pad(torch.zeros(1, 3, 4), (-2, -3))
    with pytest.raises(RuntimeError, match="crops more"):
        F.pad(x, (-2, -3))


def test_pad_negative_widths_crop_as_pytorch():
    """A negative width crops: constant crops then pads; reflect / replicate pad from the whole
    input, then crop; circular crops, then wraps what is left (torch's order in each mode)."""
    x = np.arange(12.0).reshape(1, 3, 4)
    for pad, mode in [((-1, 2), "constant"), ((-1, 2), "reflect"), ((-3, 3), "reflect"), ((2, -3), "replicate"),
                      ((-4, 1), "replicate"), ((-2, 2), "circular"), ((1, -1), "circular")]:
        np.testing.assert_array_equal(F.pad(tc.tensor(x), pad, mode=mode).numpy(),
                                      TF.pad(torch.tensor(x), pad, mode=mode).numpy(), err_msg=f"{pad} {mode}")


def test_circular_pad_gradient_sums_every_copy():
    """Circular padding by the whole size copies each element up to three times: its gradient
    is the sum of the copies' (ones cotangent: 3 everywhere), as torch."""
    x = tc.randn(1, 2, 3, requires_grad=True)
    F.pad(x, (3, 3), mode="circular").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 2, 3), 3.0))


# ---------------------------------------------------------------- F.interpolate: edge cases
def test_interpolate_argument_errors_as_pytorch():
    x = tc.randn(1, 1, 3, 4)
    t = torch.zeros(1, 1, 3, 4)
    bad = [(dict(size=2, scale_factor=2), ValueError, "only one"), (dict(), ValueError, "either size"),
           (dict(scale_factor=2, align_corners=True), ValueError, "align_corners"),
           (dict(size=(2, 3, 4)), ValueError, "spatial dimensions"),
           (dict(scale_factor=0.1), RuntimeError, "greater than 0"),
           (dict(size=(2, 2), recompute_scale_factor=True), ValueError, "recompute_scale_factor"),
           (dict(size=(2.0, 3)), TypeError, "size")]
    for kwargs, error, fragment in bad:
        with pytest.raises(error):
            TF.interpolate(t, **kwargs)
        with pytest.raises(error, match=fragment):
            F.interpolate(x, **kwargs)
    for kwargs in (dict(scale_factor=2, mode="bicubic"), dict(scale_factor=2, mode="linear"),
                   dict(scale_factor=2, mode="bilinear", antialias=True)):
        with pytest.raises(NotImplementedError, match="interpolate"):
            F.interpolate(x, **kwargs)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_backward_is_deterministic_and_sums_overlaps(mode):
    """Downsampling by 1/3 then upsampling maps many outputs to one input: the gradient is the
    same bit for bit on every run and equals torch's."""
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5))
    grads = []
    for _ in range(2):
        t = tc.tensor(x, requires_grad=True)
        (F.interpolate(t, size=(20, 13), mode=mode) ** 2).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    ref = torch.tensor(x, requires_grad=True)
    (TF.interpolate(ref, size=(20, 13), mode=mode) ** 2).sum().backward()
    np.testing.assert_allclose(grads[0], ref.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_interpolate_nearest_indices_equal_pytorch_bit_for_bit():
    """Nearest and nearest-exact pick PyTorch's source rows (float32 index arithmetic), for many
    sizes and scale factors, on a float32 ramp."""
    for n in (3, 7, 10, 33):
        x = np.arange(n, dtype=np.float32).reshape(1, 1, n, 1)
        for kwargs in [dict(size=(m, 1)) for m in (1, 2, 5, 13, 29, 64)] + \
                      [dict(scale_factor=(s, 1.0)) for s in (0.3, 0.5, 1.7, 2.0, 2.9, 3.3) if n * s >= 1]:
            for mode in ("nearest", "nearest-exact"):
                np.testing.assert_array_equal(F.interpolate(tc.tensor(x), mode=mode, **kwargs).numpy(),
                                              TF.interpolate(torch.tensor(x), mode=mode, **kwargs).numpy(),
                                              err_msg=f"{n} {kwargs} {mode}")
