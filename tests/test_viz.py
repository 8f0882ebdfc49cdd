"""viz: every plot function writes a readable PNG; apply_kernel against a direct double loop;
draw_graph's DOT text (every op once, shapes, deep graphs without recursion); feature-map
capture restores the model; importing the library never needs matplotlib."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import backend, nn, viz
from tinygrad_cnn.data import Shapes
from tinygrad_cnn.data import transforms as T

REPO = Path(__file__).resolve().parents[1]


def read_png(path, min_side=100, max_side=4000):
    """Assert `path` is a non-empty PNG that matplotlib reads back, of a plausible size; return it."""
    import matplotlib.image  # noqa: PLC0415

    path = Path(path)
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(path)
    height, width = pixels.shape[:2]
    assert min_side <= height <= max_side and min_side <= width <= max_side, pixels.shape
    assert pixels.std() > 0  # not a blank canvas
    return pixels


@pytest.fixture(scope="module")
def shapes():
    return Shapes(16, seed=0)


def history(epochs=6):
    return [dict(epoch=e, train_loss=2.0 / e, train_acc=0.2 + 0.1 * e,
                 val_loss=None if e % 2 else 2.1 / e, val_acc=None if e % 2 else 0.15 + 0.1 * e,
                 lr=0.1 * 0.1 ** (e // 3), seconds=1.5) for e in range(1, epochs + 1)]


# ------------------------------------------------------------------ import and backend
def test_import_needs_no_matplotlib_and_plots_need_no_display(tmp_path):
    code = ("import sys, tinygrad_cnn as tc, tinygrad_cnn.viz as viz\n"
            "assert 'matplotlib' not in sys.modules, 'import pulled in matplotlib'\n"
            "viz.draw_graph((tc.randn(2, requires_grad=True) * 2).sum())\n"
            "assert 'matplotlib' not in sys.modules, 'draw_graph pulled in matplotlib'\n"
            f"viz.plot_history([dict(epoch=1, train_loss=1.0, train_acc=0.5, lr=0.1)], {str(tmp_path / 'h.png')!r})\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'plots went through pyplot'\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    read_png(tmp_path / "h.png")


# ------------------------------------------------------------------ training curves
def test_plot_history(tmp_path):
    path = tmp_path / "nested" / "dir" / "curves.png"
    assert viz.plot_history(history(), path) == path
    pixels = read_png(path)
    assert pixels.shape[1] > 2 * pixels.shape[0]  # three panels side by side


def test_plot_history_variants(tmp_path):
    no_val = [dict(epoch=1, train_loss=1.0, train_acc=0.5, val_loss=None, val_acc=None, lr=0.1, seconds=2.0)]
    read_png(viz.plot_history(no_val, tmp_path / "one_epoch.png"))
    as_columns = {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "train_acc": [0.4, 0.6],
                  "val_acc": [0.3, 0.5], "lr": [[0.1, 0.01], [0.05, 0.005]]}  # two param groups
    read_png(viz.plot_history(as_columns, str(tmp_path / "columns.png")))
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history([], tmp_path / "empty.png")


# ------------------------------------------------------------------ confusion matrix
def test_plot_confusion_matrix(tmp_path, shapes):
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 20, (10, 10)) + np.diag(rng.integers(50, 100, 10))
    cm[3] = 0  # a class with no samples must not divide by zero
    read_png(viz.plot_confusion_matrix(cm, shapes.classes, tmp_path / "cm.png"))
    read_png(viz.plot_confusion_matrix(tc.tensor(cm), shapes.classes, tmp_path / "counts.png", normalize=False))
    read_png(viz.plot_confusion_matrix(cm[:3, :3], None, tmp_path / "small.png"))
    with pytest.raises(ValueError, match="3 class names"):
        viz.plot_confusion_matrix(cm, ["a", "b", "c"], tmp_path / "bad.png")


# ------------------------------------------------------------------ filters
def test_plot_filters(tmp_path):
    tc.manual_seed(0)
    model = tc.models.SimpleCNN()
    read_png(viz.plot_filters(model.features[0].weight, tmp_path / "rgb.png"))       # Parameter, C = 3
    read_png(viz.plot_filters(model.features[4].weight.data[:8, :5], tmp_path / "multi.png"))  # array, C = 5
    read_png(viz.plot_filters(tc.randn(6, 1, 5, 5), tmp_path / "gray.png"))          # Tensor, C = 1
    with pytest.raises(ValueError, match=r"\(O, C, kh, kw\)"):
        viz.plot_filters(np.zeros((4, 3, 3)), tmp_path / "bad.png")


# ------------------------------------------------------------------ feature maps
def assert_model_restored(model, training):
    for name, module in model.named_modules():
        assert "forward" not in module.__dict__, f"{name or 'model'}.forward left patched"
        assert module.training == training


def test_plot_feature_maps(tmp_path, shapes):
    tc.manual_seed(0)
    model = tc.models.SimpleCNN().train()
    image = tc.tensor(shapes[0][0])
    path = viz.plot_feature_maps(model, image, ["features.0", "features.2", "features.6", "classifier.1"],
                                 tmp_path / "maps.png", max_channels=8)
    read_png(path)
    assert_model_restored(model, training=True)  # eval during the call, train mode again after

    resnet = tc.models.SmallResNet().eval()
    read_png(viz.plot_feature_maps(resnet, shapes[1][0], ["stem", "layer1.0.conv1", "layer3"], tmp_path / "res.png"))
    assert_model_restored(resnet, training=False)


def test_plot_feature_maps_bad_name_lists_valid_ones(tmp_path, shapes):
    model = tc.models.LeNet5()
    with pytest.raises(ValueError) as info:
        viz.plot_feature_maps(model, shapes[0][0], ["features.0", "features.99"], tmp_path / "x.png")
    message = str(info.value)
    assert "features.99" in message
    for name in ("features", "features.0", "classifier.5"):
        assert re.search(rf"\b{re.escape(name)}\b", message.split("valid names:")[1])
    assert not (tmp_path / "x.png").exists()
    assert_model_restored(model, training=True)


def test_plot_feature_maps_restores_model_when_forward_fails(tmp_path):
    model = tc.models.LeNet5().train()
    with pytest.raises(tc.ShapeError):
        viz.plot_feature_maps(model, np.zeros((1, 32, 32), np.float32), ["features.0"], tmp_path / "x.png")
    assert_model_restored(model, training=True)


def test_feature_maps_capture_what_the_layer_computes():
    tc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    image = np.random.default_rng(0).random((3, 6, 6)).astype(np.float32)
    captured = viz._capture_outputs(model, tc.tensor(image[None]), ["0", "1"])
    expected = F.conv2d(tc.tensor(image[None]), model[0].weight, model[0].bias, padding=1)
    np.testing.assert_allclose(captured["0"].numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(captured["1"].numpy(), np.maximum(expected.numpy(), 0), rtol=1e-6)
    assert captured["1"]._node is None  # run under no_grad


# ------------------------------------------------------------------ augmentations
def test_plot_augmentations(tmp_path, shapes):
    images = shapes.data[:6].astype(np.float32) / 255
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.Cutout(8)])
    state = backend.generator("cpu").bit_generator.state
    read_png(viz.plot_augmentations(images, transform, tmp_path / "aug.png", n=4))
    assert backend.generator("cpu").bit_generator.state == state  # a private generator was used
    normalize = T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)  # outputs outside [0, 1]
    read_png(viz.plot_augmentations(tc.tensor(images), normalize, tmp_path / "norm.png"))
    read_png(viz.plot_augmentations(images, lambda x: x[:, :, ::-1], tmp_path / "callable.png", n=3))


# ------------------------------------------------------------------ classic kernels
def direct_correlation(image, kernel):
    """Zero-padded 'same' cross-correlation by a plain double loop (extra padding after for even sizes)."""
    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.zeros((image.shape[0] + kh - 1, image.shape[1] + kw - 1))
    padded[top:top + image.shape[0], left:left + image.shape[1]] = image
    out = np.zeros(image.shape)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = np.sum(padded[i:i + kh, j:j + kw] * kernel)
    return out


def test_classic_kernels():
    kernels = viz.classic_kernels()
    assert list(kernels) == ["identity", "sobel_x", "sobel_y", "laplacian", "box_blur", "gaussian_blur", "sharpen"]
    for name, kernel in kernels.items():
        assert kernel.ndim == 2 and kernel.shape[0] % 2 == 1 and kernel.dtype == np.float32
        expected_sum = 0.0 if name in ("sobel_x", "sobel_y", "laplacian") else 1.0
        assert kernel.sum() == pytest.approx(expected_sum, abs=1e-6), name
    kernels["identity"][1, 1] = 7.0
    assert viz.classic_kernels()["identity"][1, 1] == 1.0  # fresh copies


def test_apply_kernel_matches_direct_loop():
    rng = np.random.default_rng(1)
    image = rng.random((7, 9))
    extra = {"random_2x4": rng.standard_normal((2, 4)), "random_5x3": rng.standard_normal((5, 3))}
    for name, kernel in {**viz.classic_kernels(), **extra}.items():
        kernel = np.asarray(kernel, dtype=np.float64)
        out = viz.apply_kernel(image, kernel)
        assert isinstance(out, np.ndarray) and out.shape == image.shape and out.dtype == np.float64
        np.testing.assert_allclose(out, direct_correlation(image, kernel), rtol=1e-10, atol=1e-12, err_msg=name)
    out32 = viz.apply_kernel(tc.tensor(image.astype(np.float32)), viz.classic_kernels()["sharpen"])
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, direct_correlation(image, viz.classic_kernels()["sharpen"]), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(viz.apply_kernel(image, viz.classic_kernels()["identity"]), image)


def test_sobel_sign_convention():
    step = np.zeros((5, 6))
    step[:, 3:] = 1.0  # brighter to the right
    gx = viz.apply_kernel(step, viz.classic_kernels()["sobel_x"])
    gy = viz.apply_kernel(step.T.copy(), viz.classic_kernels()["sobel_y"])  # brighter downwards
    assert gx[2, 2] == 4.0 and gx[2, 3] == 4.0 and gx[2, 0] == 0.0
    np.testing.assert_array_equal(gy, gx.T)


def test_plot_kernels_on_image(tmp_path, shapes):
    read_png(viz.plot_kernels_on_image(shapes[2][0], tmp_path / "kernels.png"))            # (3, H, W) array
    read_png(viz.plot_kernels_on_image(tc.tensor(shapes[3][0][0]), tmp_path / "gray.png"))  # (H, W) Tensor


# ------------------------------------------------------------------ autograd graph
def node_lines(dot):
    return [line for line in dot.splitlines() if re.match(r"\s*n\d+ \[label=", line)]


def edge_lines(dot):
    return [line for line in dot.splitlines() if re.match(r"\s*n\d+ -> n\d+;", line)]


def small_net_loss():
    tc.manual_seed(0)
    x = tc.randn(2, 3, 8, 8)
    w = (tc.randn(4, 3, 3, 3) * 0.1).requires_grad_()
    b = tc.zeros(4, requires_grad=True)
    fc_w = (tc.randn(5, 64) * 0.1).requires_grad_()
    fc_b = tc.zeros(5, requires_grad=True)
    h = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)
    loss = F.cross_entropy(F.linear(h.flatten(1), fc_w, fc_b), tc.tensor([0, 3]))
    return loss, {"conv.weight": w, "conv.bias": b, "fc.weight": fc_w, "fc.bias": fc_b}


def test_draw_graph_small_conv_net():
    loss, params = small_net_loss()
    dot = viz.draw_graph(loss, params=params)
    assert dot.startswith("digraph {") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}") == 1
    nodes, edges = node_lines(dot), edge_lines(dot)
    for op, shape in [("conv2d", (2, 4, 8, 8)), ("relu", (2, 4, 8, 8)), ("max_pool2d", (2, 4, 4, 4)),
                      ("reshape", (2, 64)), ("linear", (2, 5)), ("cross_entropy", ())]:
        assert sum(f'label="{op}\\n{shape}' in line for line in nodes) == 1, op  # each op once, with its shape
    for name, t in params.items():
        assert sum(f'label="{name}\\n{tuple(t.shape)}' in line for line in nodes) == 1, name
    assert sum("input\\n(2, 3, 8, 8)" in line for line in nodes) == 1
    assert len(nodes) == 6 + 5  # six ops, five leaves
    assert len(edges) == 3 + 1 + 1 + 1 + 3 + 1  # one edge per op input
    assert len(set(edges)) == len(edges)
    ids = {re.match(r"\s*(n\d+)", line).group(1) for line in nodes}
    assert len(ids) == len(nodes) and all(set(re.findall(r"n\d+", e)) <= ids for e in edges)


def test_draw_graph_shared_tensor_is_one_node():
    w = tc.randn(3, requires_grad=True)
    y = (w * w + w).sum()
    dot = viz.draw_graph(y, params=[('w"1', w)])  # pairs work too; quotes are escaped
    nodes = node_lines(dot)
    assert len(nodes) == 4  # w, mul, add, sum
    assert sum('w\\"1' in line for line in nodes) == 1
    w_id = re.match(r"\s*(n\d+)", next(line for line in nodes if 'w\\"1' in line)).group(1)
    assert sum(e.strip().startswith(f"{w_id} ->") for e in edge_lines(dot)) == 3  # twice into mul, once into add


def test_draw_graph_deep_chain_needs_no_recursion():
    limit = sys.getrecursionlimit()
    x = tc.randn(4, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = F.relu(y)
    dot = viz.draw_graph(y)
    assert len(node_lines(dot)) == 10_001 and len(edge_lines(dot)) == 10_000
    assert dot.count('label="relu\\n(4,)') == 10_000
    assert sys.getrecursionlimit() == limit


def test_draw_graph_leaf_no_grad_and_after_backward():
    assert len(node_lines(viz.draw_graph(tc.randn(3)))) == 1
    with tc.no_grad():
        assert len(node_lines(viz.draw_graph(tc.randn(3, requires_grad=True) * 2))) == 1

    loss, params = small_net_loss()
    loss.backward(retain_graph=True)
    assert len(node_lines(viz.draw_graph(loss, params=params))) == 11  # retained: the whole graph
    loss.backward()
    dot = viz.draw_graph(loss)  # freed: only the last op is left, and says so
    assert len(node_lines(dot)) == 1 and "freed by backward" in dot


def test_draw_graph_writes_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)  # as on a machine without Graphviz
    loss, _ = small_net_loss()
    path = tmp_path / "graphs" / "net.dot"
    text = viz.draw_graph(loss, path)
    assert path.read_text() == text
    assert not path.with_suffix(".png").exists()
    viz.draw_graph(loss, tmp_path / "net2.png")  # a .png path writes the .dot beside it
    assert (tmp_path / "net2.dot").read_text() == text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_draw_graph_renders_png_with_graphviz(tmp_path):
    loss, params = small_net_loss()
    viz.draw_graph(loss, tmp_path / "net.dot", params=params)
    read_png(tmp_path / "net.png", min_side=50)
