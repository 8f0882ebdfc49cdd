"""Each model against two PyTorch definitions with the same weights: the shared reference
(../shared/reference/torch_models.py, skipped when absent) and the project's own
(benchmarks/torch_reference.py, which the benchmarks time ours against). Parameter counts,
state_dict keys, logits, every parameter gradient, and running statistics after a training step."""
import copy
import os
import sys

import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import assert_close

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_REFERENCE = os.path.join(HERE, "..", "..", "shared", "reference")
sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))
import torch_reference  # noqa: E402
from bench_train import fuse_conv_bn  # noqa: E402

if os.path.exists(os.path.join(SHARED_REFERENCE, "torch_models.py")):
    sys.path.insert(0, SHARED_REFERENCE)
    import torch_models  # noqa: E402
else:
    torch_models = None
SOURCES = ["benchmarks", pytest.param("shared", marks=pytest.mark.skipif(
    torch_models is None, reason="../shared/reference/torch_models.py not found"))]


def reference_class(source, name):
    return getattr(torch_reference if source == "benchmarks" else torch_models, name)


# (name, constructor kwargs, input shape, expected parameter count from the reference's docstring)
MODELS = [
    ("SimpleCNN", {}, (3, 32, 32), 620_810),
    ("SmallResNet", {}, (3, 32, 32), 175_818),
    ("LeNet5", {}, (3, 32, 32), 62_050),
    ("LeNet5", {"in_channels": 1, "input_size": 28}, (1, 28, 28), 61_750),
    ("MiniVGG", {}, (3, 32, 32), 815_018),
    ("ResNet20", {}, (3, 32, 32), 269_722),
]
IDS = [f"{name}{'-' + str(kw['input_size']) if kw else ''}" for name, kw, _, _ in MODELS]


def build_pair(name, kwargs, dtype, source="shared"):
    torch.manual_seed(0)
    reference = reference_class(source, name)(**kwargs)
    ours = tc.models.get(name, **kwargs)
    if dtype == np.float64:
        reference.double()
        ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    return ours, reference


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name, kwargs, shape, count", MODELS, ids=IDS)
def test_structure_matches_reference(name, kwargs, shape, count, source):
    ours, reference = build_pair(name, kwargs, np.float32, source)
    assert sum(p.numel() for p in ours.parameters()) == count
    assert list(ours.state_dict()) == list(reference.state_dict())
    for (k, ours_p), (k_ref, ref_p) in zip(ours.named_parameters(), reference.named_parameters()):
        assert k == k_ref and ours_p.shape == tuple(ref_p.shape)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs, shape, count", MODELS, ids=IDS)
def test_training_step_matches_reference(name, kwargs, shape, count, dtype, source):
    """Logits, loss, every parameter gradient and the running statistics after one training step."""
    ours, reference = build_pair(name, kwargs, dtype, source)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4,) + shape).astype(dtype)
    y = rng.integers(0, 10, 4)
    # Dropout draws different masks in the two libraries: compare with dropout off.
    for module in list(ours.modules()) + list(reference.modules()):
        if type(module).__name__ == "Dropout":
            module.p = 0.0

    logits = ours(tc.tensor(x))
    ref_logits = reference(torch.tensor(x))
    assert_close(logits, ref_logits, dtype, "logits", scale=10)
    loss = F.cross_entropy(logits, tc.tensor(y))
    ref_loss = torch.nn.functional.cross_entropy(ref_logits, torch.tensor(y))
    assert_close(loss, ref_loss, dtype, "loss", scale=10)
    loss.backward()
    ref_loss.backward()
    ref_params = dict(reference.named_parameters())
    for key, p in ours.named_parameters():
        ref_grad = ref_params[key].grad
        # A conv bias followed by batch norm has an exactly zero true gradient: only an absolute
        # tolerance makes sense for it (both sides hold rounding noise).
        scale = 100 if dtype == np.float32 else 10
        assert_close(p.grad, ref_grad, dtype, f"gradient of {key}", scale=scale)
    ref_state = reference.state_dict()
    for key, value in ours.state_dict().items():
        if "running" in key or "num_batches" in key:
            assert_close(value, ref_state[key], dtype, key)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name, kwargs, shape, count", MODELS[:3], ids=IDS[:3])
def test_eval_mode_logits_match_reference(name, kwargs, shape, count, source):
    ours, reference = build_pair(name, kwargs, np.float64, source)
    # give the running statistics non-trivial values first
    warm = np.random.default_rng(1).standard_normal((8,) + shape)
    ours(tc.tensor(warm))
    reference(torch.tensor(warm))
    ours.eval()
    reference.eval()
    x = np.random.default_rng(2).standard_normal((3,) + shape)
    with tc.no_grad():
        logits = ours(tc.tensor(x))
    assert_close(logits, reference(torch.tensor(x)), np.float64, "eval logits")


def test_models_get_by_name():
    assert isinstance(tc.models.get("resnet"), tc.models.SmallResNet)
    assert isinstance(tc.models.get("ResNet20", num_classes=5), tc.models.ResNet20)
    with pytest.raises(ValueError, match="unknown model 'alexnet'"):
        tc.models.get("alexnet")


def test_torch_reference_get_by_name():
    assert isinstance(torch_reference.get("resnet"), torch_reference.SmallResNet)
    assert torch_reference.get("ResNet20", num_classes=5).fc.out_features == 5
    with pytest.raises(ValueError, match="unknown model 'alexnet'"):
        torch_reference.get("alexnet")


@pytest.mark.parametrize("name", ["SimpleCNN", "SmallResNet", "ResNet20", "MiniVGG"])
def test_the_benchmarks_conv_bn_fusion_folds_every_batch_norm_and_keeps_the_outputs(name):
    """benchmarks/bench_train.py times inference again after fuse_conv_bn; that must fold every
    BatchNorm2d of the model (in both libraries) and leave the eval outputs as they were."""
    ours, reference = build_pair(name, {}, np.float64, "benchmarks")
    warm = np.random.default_rng(1).standard_normal((8, 3, 32, 32))
    ours(tc.tensor(warm))
    reference(torch.tensor(warm))
    ours.eval()
    reference.eval()
    x = np.random.default_rng(2).standard_normal((3, 3, 32, 32))
    with tc.no_grad():
        expected = ours(tc.tensor(x)).numpy()
        fused = fuse_conv_bn(copy.deepcopy(ours), tc.nn.utils.fuse_conv_bn_eval, tc.nn.Identity)
        np.testing.assert_allclose(fused(tc.tensor(x)).numpy(), expected, rtol=1e-9, atol=1e-9)
    torch_fused = fuse_conv_bn(copy.deepcopy(reference), torch.nn.utils.fuse_conv_bn_eval, torch.nn.Identity)
    with torch.no_grad():
        np.testing.assert_allclose(torch_fused(torch.tensor(x)).numpy(), expected, rtol=1e-7, atol=1e-8)
    for model in (fused, torch_fused):
        assert not [m for m in model.modules() if type(m).__name__ == "BatchNorm2d"]
