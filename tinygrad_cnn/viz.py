"""Pictures of training and of what a network computes, written as PNG files.

    from tinygrad_cnn import viz
    viz.plot_history(history, "runs/curves.png")            # loss, accuracy, learning rate
    viz.plot_confusion_matrix(cm, classes, "runs/cm.png")    # rows true, columns predicted
    viz.plot_filters(model.features[0].weight, "runs/filters.png")
    viz.plot_feature_maps(model, image, ["features.2", "features.6"], "runs/maps.png")
    viz.plot_augmentations(images, transform, "runs/aug.png")
    viz.plot_kernels_on_image(image, "runs/kernels.png")     # Sobel, blur, sharpen via F.conv2d
    dot_text = viz.draw_graph(loss, "runs/graph.dot", params=dict(model.named_parameters()))

Every plot function takes arrays or Tensors (on any device), creates the parent folders of
`path`, writes a PNG and returns `path`.

matplotlib is imported only inside the plot functions, so `import tinygrad_cnn` (and even
`import tinygrad_cnn.viz`, and `draw_graph`) never needs it. Figures are built with
`matplotlib.figure.Figure` and the Agg renderer directly, never through `pyplot`: nothing
needs a display (headless machines work without `matplotlib.use("Agg")`), the caller's
interactive backend is left alone, and no figure stays registered in pyplot's global list
(so nothing leaks however many PNGs are written).
"""
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from . import backend
from .autograd import Node, no_grad
from .data.transforms import Transform
from .nn.parameter import Parameter
from .ops.conv import conv2d  # the function behind nn.functional.conv2d
from .tensor import Tensor

__all__ = ["new_figure", "plot_history", "plot_confusion_matrix", "plot_filters", "plot_feature_maps", "plot_augmentations",
           "plot_kernels_on_image", "classic_kernels", "apply_kernel", "draw_graph"]

_DPI = 100


# ---------------------------------------------------------------- shared helpers
def _to_numpy(value):
    """A numpy array from a Tensor/Parameter, a cupy array, a numpy array or a nested list."""
    if isinstance(value, Tensor):
        return value.numpy()
    if backend.is_gpu_array(value):
        return value.get()
    return np.asarray(value)


def new_figure(width, height):
    """A matplotlib Figure (width, height in inches) that is not registered with pyplot, so no
    display is needed and it is freed with its last reference."""
    # imported on first use: importing matplotlib takes about half a second
    from matplotlib.figure import Figure  # noqa: PLC0415

    return Figure(figsize=(width, height), dpi=_DPI)


def _save(fig, path):
    """Write `fig` as PNG to `path` (making its parent folders), release it, return `path`."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(os.fspath(path), format="png", dpi=_DPI, bbox_inches="tight")
    fig.clear()  # a pyplot-free Figure is freed with its last reference; clear() frees it early
    return path


def _unit_range(array, axis=None, flat=0.5):
    """Min-max scale to [0, 1] over `axis` (all axes when None); constant parts become `flat`."""
    array = np.asarray(array, dtype=np.float64)
    lo = np.nanmin(array, axis=axis, keepdims=True)
    hi = np.nanmax(array, axis=axis, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (array - lo) / np.where(span > 0, span, 1.0), flat)


def _displayable(image_chw):
    """(H, W, 3) RGB or (H, W) grayscale array in [0, 1] for imshow, from a (C, H, W) image.

    Values already in [0, 1] are shown as they are; anything else (a normalized image) is
    min-max scaled. C == 3 is RGB, other channel counts are averaged to grayscale.
    """
    image = np.asarray(image_chw, dtype=np.float64)
    if image.ndim == 2:
        image = image[None]
    if image.min() < 0.0 or image.max() > 1.0:
        image = _unit_range(image)
    if image.shape[0] == 3:
        return image.transpose(1, 2, 0)
    return image.mean(axis=0)


def _mosaic(tiles, ncols, gap=1, fill=np.nan):
    """Tile images into one array with `gap` pixels of `fill` between them.

    tiles: (n, h, w) or (n, h, w, 3). Returns (rows*(h+gap)-gap, ncols*(w+gap)-gap[, 3]),
    tile i at row i // ncols, column i % ncols; missing tiles are left as `fill`.
    """
    tiles = np.asarray(tiles, dtype=np.float64)
    n, h, w = tiles.shape[:3]
    rows = max(1, math.ceil(n / ncols))
    out = np.full((rows * (h + gap) - gap, ncols * (w + gap) - gap) + tiles.shape[3:], fill)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tiles[i]
    return out


def _gray_cmap(bad="white"):
    """The gray colormap with NaN (the gaps of a mosaic) drawn in `bad`."""
    import matplotlib  # noqa: PLC0415 (imported on first use, as in new_figure)

    return matplotlib.colormaps["gray"].with_extremes(bad=bad)


def _hide_ticks(ax):
    ax.set_xticks([])
    ax.set_yticks([])


# ---------------------------------------------------------------- training curves
def _history_rows(history):
    """List of per-epoch dicts from a list of dicts, or from a dict of equal-length lists."""
    if isinstance(history, dict):
        keys = list(history)
        length = len(history[keys[0]]) if keys else 0
        return [{k: history[k][i] for k in keys} for i in range(length)]
    return list(history)


def _column(rows, key):
    """float array of rows[i][key], NaN where missing or None."""
    values = [row.get(key) for row in rows]
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def plot_history(history, path):
    """Training curves in three panels: loss, accuracy, learning rate against epoch.

    history: a list of per-epoch dicts with keys `epoch`, `train_loss`, `train_acc`,
    `val_loss`, `val_acc` (val_* may be None: no validation that epoch), `lr` (a number, or a
    list with one rate per parameter group) and `seconds`; a dict of equal-length lists with
    those keys works too. Missing epochs count from 1. Returns `path`.
    """
    rows = _history_rows(history)
    if not rows:
        raise ValueError("plot_history: the history is empty (no epoch to plot)")
    epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(rows)], dtype=np.float64)
    marker = "o" if len(rows) <= 30 else None  # a single epoch would be invisible as a bare line

    fig = new_figure(15, 4.2)
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    for ax, key, title in ((ax_loss, "loss", "Loss"), (ax_acc, "acc", "Accuracy")):
        for split, style in (("train", "-"), ("val", "--")):
            values = _column(rows, f"{split}_{key}")
            if np.isfinite(values).any():
                ax.plot(epochs, values, style, marker=marker, markersize=3, label=split)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()

    lr = [row.get("lr") for row in rows]
    if any(v is not None for v in lr):
        groups = max(len(v) if isinstance(v, (list, tuple)) else 1 for v in lr if v is not None)
        table = np.full((len(rows), groups), np.nan)
        for i, v in enumerate(lr):
            if v is not None:
                table[i, :len(np.atleast_1d(v))] = np.atleast_1d(v)
        for g in range(groups):
            ax_lr.plot(epochs, table[:, g], marker=marker, markersize=3,
                       label=f"group {g}" if groups > 1 else None)
        positive = table[np.isfinite(table) & (table > 0)]
        if positive.size and positive.max() / positive.min() > 20:  # schedules spanning decades
            ax_lr.set_yscale("log")
        if groups > 1:
            ax_lr.legend()
    ax_lr.set_title("Learning rate")
    ax_lr.set_xlabel("epoch")
    ax_lr.grid(alpha=0.3)
    seconds = _column(rows, "seconds")
    if np.isfinite(seconds).any():
        fig.suptitle(f"{len(rows)} epochs, {np.nansum(seconds):.1f} s in all")
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------- confusion matrix
def plot_confusion_matrix(cm, class_names, path, normalize=True):
    """Heatmap of a confusion matrix, each cell annotated (for up to 30 classes).

    cm: int (K, K) array or Tensor, rows = true class, columns = predicted class.
    class_names: K names (None: the indices). normalize=True shows each row as fractions of
    that true class (rows with no samples stay 0) and annotates percentages; False shows counts.
    Returns `path`.
    """
    counts = _to_numpy(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"plot_confusion_matrix: cm must be a square (K, K) array, got shape {counts.shape}")
    k = counts.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(n) for n in class_names]
    if len(names) != k:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names for a {k}x{k} matrix")
    counts = counts.astype(np.float64)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    else:
        values = counts

    side = min(max(5.0, 0.55 * k + 2.5), 30.0)
    fig = new_figure(side + 1.2, side)
    ax = fig.subplots()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else max(values.max(), 1.0))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k))
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        threshold = (1.0 if normalize else values.max()) / 2
        for i in range(k):
            for j in range(k):
                text = f"{100 * values[i, j]:.0f}%" if normalize else f"{int(counts[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8 if k <= 15 else 6,
                        color="white" if values[i, j] > threshold else "black")
    total = counts.sum()
    accuracy = np.trace(counts) / total if total else float("nan")
    ax.set_title(f"Confusion matrix ({'row-normalized' if normalize else 'counts'}), "
                 f"accuracy {100 * accuracy:.1f}% of {int(total)}")
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------- filters
def plot_filters(weight, path):
    """The filters of a conv layer (usually the first) as a grid of small images.

    weight: (O, C, kh, kw) Tensor, Parameter or array (numpy or cupy).
    C == 3: one RGB tile per filter, each filter min-max scaled on its own.
    C == 1: one grayscale tile per filter, each min-max scaled.
    Other C: one row per filter, one grayscale tile per input channel, each filter's
    channels scaled together (so a row shows which channels the filter weighs most).
    Returns `path`.
    """
    w = _to_numpy(weight).astype(np.float64)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight of shape (O, C, kh, kw), got shape {w.shape}")
    o, c, kh, kw = w.shape
    scaled = _unit_range(w, axis=(1, 2, 3))  # per filter
    if c in (1, 3):
        ncols = math.ceil(math.sqrt(o))
        if c == 3:
            tiles, cmap = scaled.transpose(0, 2, 3, 1), None  # (O, kh, kw, 3)
            grid = _mosaic(tiles, ncols, fill=1.0)  # white gaps
        else:
            tiles, cmap = scaled[:, 0], _gray_cmap()
            grid = _mosaic(tiles, ncols)
        title = f"{o} filters, {c} channel{'s' if c > 1 else ''}, {kh}x{kw}"
    else:
        ncols = c
        grid = _mosaic(scaled.reshape(o * c, kh, kw), ncols)
        cmap = _gray_cmap()
        title = f"{o} filters (rows) x {c} input channels (columns), {kh}x{kw}"
    rows = math.ceil(grid.shape[0] / (kh + 1))
    cols = math.ceil(grid.shape[1] / (kw + 1))
    scale = min(0.6, 16.0 / max(rows, cols))  # inches per tile, the whole grid at most ~16 inches
    fig = new_figure(max(3.0, cols * scale), max(3.0, rows * scale) + 0.5)
    ax = fig.subplots()
    ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    _hide_ticks(ax)
    ax.set_title(title)
    return _save(fig, path)


# ---------------------------------------------------------------- feature maps
def _model_device_dtype(model):
    for p in model.parameters():
        return p.device, p.dtype
    return "cpu", np.dtype("float32")


def _capture_outputs(model, x, layer_names):
    """Run model(x) and return {name: output Tensor} of the named submodules.

    Each named module's `forward` is wrapped for the call (an instance attribute shadowing
    the class method) and restored in a finally block, as is every module's training flag.
    A module called more than once keeps its first output.
    """
    modules = dict(model.named_modules())
    captured = {}
    patched = []  # (module, had an instance-level forward, that forward)
    training = [(m, m.training) for m in model.modules()]

    def wrap(name, forward):
        def capturing_forward(*args, **kwargs):
            out = forward(*args, **kwargs)
            captured.setdefault(name, out)
            return out
        return capturing_forward

    try:
        for name in dict.fromkeys(layer_names):
            module = modules[name]
            patched.append((module, "forward" in module.__dict__, module.__dict__.get("forward")))
            object.__setattr__(module, "forward", wrap(name, module.forward))
        model.eval()
        with no_grad():
            model(x)
    finally:
        for module, had, forward in reversed(patched):
            if had:
                object.__setattr__(module, "forward", forward)
            else:
                module.__dict__.pop("forward", None)
        for module, flag in training:
            object.__setattr__(module, "training", flag)
    return captured


def plot_feature_maps(model, image, layer_names, path, max_channels=16):
    """The outputs of chosen layers for one image: one row per layer.

    model: an nn.Module taking (N, C, H, W). image: (C, H, W) array or Tensor (a (H, W)
    image is taken as one channel); it is moved to the model's device and dtype.
    layer_names: names as in `model.named_modules()` ("features.2", "layer1.0.conv1").
    The model runs in eval mode under no_grad on image[None]; its training flags are
    restored afterwards. Each row shows the first `max_channels` channels of that layer's
    (1, C', H', W') output, each channel min-max scaled on its own (constant ones black); an output of another rank
    (e.g. a Linear layer's (1, F)) is drawn as one heat strip. The input image is on the left.
    Unknown names raise ValueError listing the valid ones. Returns `path`.
    """
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    layer_names = list(layer_names)
    valid = [name for name, _ in model.named_modules() if name]
    unknown = [name for name in layer_names if name not in valid]
    if unknown or not layer_names:
        raise ValueError(f"plot_feature_maps: unknown layer name(s) {unknown or layer_names}; "
                         f"valid names: {', '.join(valid)}")
    array = _to_numpy(image)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"plot_feature_maps: expected one image of shape (C, H, W), got shape {array.shape}")
    device, dtype = _model_device_dtype(model)
    x = Tensor(array[None].astype(dtype), device=device)
    outputs = _capture_outputs(model, x, layer_names)

    modules = dict(model.named_modules())
    maps = []
    for name in layer_names:
        out = outputs.get(name)
        if not isinstance(out, Tensor):
            raise ValueError(f"plot_feature_maps: layer {name!r} "
                             + ("was not called by the model's forward" if out is None
                                else f"returned {type(out).__name__}, not a Tensor"))
        maps.append(_to_numpy(out)[0])

    fig = new_figure(2.5 + 1.0 * max_channels, 1.3 * len(layer_names) + 0.6)
    grid = fig.add_gridspec(len(layer_names), 2, width_ratios=[2.0, max(1.0, max_channels - 0.5)], wspace=0.05)
    ax_in = fig.add_subplot(grid[:, 0])
    shown = _displayable(array)
    ax_in.imshow(shown, cmap="gray" if shown.ndim == 2 else None, interpolation="nearest")
    ax_in.set_title(f"input {tuple(array.shape)}", fontsize=9)
    _hide_ticks(ax_in)
    for row, (name, fmap) in enumerate(zip(layer_names, maps)):
        ax = fig.add_subplot(grid[row, 1])
        if fmap.ndim == 3:
            channels = fmap[:max_channels]
            tiles = _unit_range(channels, axis=(1, 2), flat=0.0)  # a dead channel is black
            ax.imshow(_mosaic(tiles, len(tiles)), cmap=_gray_cmap(), vmin=0.0, vmax=1.0,
                      interpolation="nearest")
            what = f"{len(tiles)} of {fmap.shape[0]} channels" if fmap.shape[0] > len(tiles) else "all channels"
        else:
            ax.imshow(fmap.reshape(1, -1), cmap="viridis", aspect="auto", interpolation="nearest")
            what = f"{fmap.size} values"
        _hide_ticks(ax)
        ax.set_title(f"{name}: {type(modules[name]).__name__}, "
                     f"output {tuple(fmap.shape)}, {what}", fontsize=9, loc="left")
    return _save(fig, path)


# ---------------------------------------------------------------- augmentations
def plot_augmentations(images, transform, path, n=8, seed=0):
    """Originals (top row) beside their augmented versions (bottom row).

    images: (N, C, H, W) floats in [0, 1] (array or Tensor); the first `n` are shown.
    transform: a batch transform from tinygrad_cnn.data.transforms (or any callable taking
    and returning a batch); it is called once on the batch, with a private generator seeded by
    `seed` (a transform built with its own seed= uses that instead), so the library's global
    random state is untouched. Outputs outside [0, 1] (after Normalize) are min-max scaled
    per image for display. Returns `path`.
    """
    batch = _to_numpy(images)
    if batch.ndim != 4:
        raise ValueError(f"plot_augmentations: expected images of shape (N, C, H, W), got shape {batch.shape}")
    batch = batch[:n].astype(np.float32)
    if isinstance(transform, Transform):
        augmented = transform(batch, generator=backend.new_generator(seed))
    else:
        augmented = transform(batch)
    augmented = _to_numpy(augmented)
    count = len(batch)

    fig = new_figure(1.6 * count + 0.8, 3.6)
    axes = np.asarray(fig.subplots(2, count, squeeze=False))
    for i in range(count):
        for row, source in enumerate((batch, augmented)):
            shown = _displayable(source[i])
            axes[row, i].imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0,
                                interpolation="nearest")
            _hide_ticks(axes[row, i])
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("augmented")
    inner = getattr(transform, "transforms", None)  # Compose: name its parts
    title = " -> ".join(type(t).__name__ for t in inner) if inner else repr(transform)
    fig.suptitle(title if len(title) < 150 else type(transform).__name__, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------- classic kernels
def classic_kernels():
    """Hand-designed 2-D kernels, name -> float32 array (a fresh copy each call).

    They are applied as cross-correlations (as conv2d and PyTorch do, no kernel flip), so
    sobel_x is positive where the image gets brighter to the right and sobel_y where it gets
    brighter downwards. The blurs sum to 1 (brightness kept), the edge detectors to 0
    (flat regions give 0), sharpen to 1 (identity plus a negative Laplacian).
    """
    gauss = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
    kernels = {
        "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
        "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
        "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
        "box_blur": np.ones((3, 3)) / 9.0,
        "gaussian_blur": np.outer(gauss, gauss) / 256.0,  # 5x5 binomial approximation, sigma ~ 1
        "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    }
    return {name: np.asarray(k, dtype=np.float32) for name, k in kernels.items()}


def apply_kernel(image_2d, kernel, padding="same"):
    """Filter a grayscale image with a kernel through the library's own F.conv2d.

    image_2d: (H, W) array or Tensor; kernel: (kh, kw). Cross-correlation with zero padding:
    out[i, j] = sum_{u, v} padded[i + u, j + v] * kernel[u, v]; padding="same" keeps (H, W)
    (for an even kernel the extra row/column of padding goes after, as in PyTorch).
    Float64 input is computed in float64, anything else in float32. Returns a numpy (H', W') array.
    """
    image = _to_numpy(image_2d)
    weight = _to_numpy(kernel)
    if image.ndim != 2 or weight.ndim != 2:
        raise ValueError(f"apply_kernel: expected a 2-D image and a 2-D kernel, got shapes {image.shape} "
                         f"and {weight.shape}")
    dtype = np.float64 if image.dtype == np.float64 else np.float32
    device = image_2d.device if isinstance(image_2d, Tensor) else "cpu"
    with no_grad():
        out = conv2d(Tensor(image[None, None].astype(dtype), device=device),
                     Tensor(weight[None, None].astype(dtype), device=device), padding=padding)
    return _to_numpy(out)[0, 0]


def _grayscale(image):
    """(H, W) luminance of a (C, H, W) / (H, W) image: ITU-R 601 weights for RGB, else the channel mean."""
    image = _to_numpy(image).astype(np.float64)
    if image.ndim == 2:
        return image
    if image.ndim != 3:
        raise ValueError(f"expected an image of shape (C, H, W) or (H, W), got shape {image.shape}")
    if image.shape[0] == 3:
        return np.tensordot(np.array([0.299, 0.587, 0.114]), image, axes=1)
    return image.mean(axis=0)


def plot_kernels_on_image(image, path):
    """Classic kernels applied to one image through conv2d: results above, kernels below.

    image: (C, H, W) or (H, W) array or Tensor, values in [0, 1]; it is converted to grayscale
    (luminance). Each kernel of `classic_kernels()` is applied with `apply_kernel`
    (padding="same"). Edge detectors (kernels summing to 0) are drawn with a diverging colormap
    centred on 0; the others in gray clipped to [0, 1]. Returns `path`.
    """
    gray = _grayscale(image)
    kernels = classic_kernels()
    count = len(kernels)
    fig = new_figure(2.2 * count, 4.8)
    axes = np.asarray(fig.subplots(2, count, gridspec_kw={"height_ratios": [1.6, 1.0]}))
    for col, (name, kernel) in enumerate(kernels.items()):
        result = apply_kernel(gray, kernel)
        ax = axes[0, col]
        if abs(float(kernel.sum())) < 1e-6:
            limit = float(np.abs(result).max()) or 1.0
            ax.imshow(result, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        else:
            ax.imshow(np.clip(result, 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        _hide_ticks(ax)

        ax = axes[1, col]
        limit = float(np.abs(kernel).max())
        ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        if kernel.size <= 25:
            for (i, j), value in np.ndenumerate(kernel):
                ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7 if kernel.shape[0] > 3 else 9,
                        color="white" if abs(value) > 0.6 * limit else "black")
        _hide_ticks(ax)
    axes[1, 0].set_ylabel("kernel")
    fig.suptitle("Classic kernels through tinygrad_cnn's conv2d (cross-correlation, zero 'same' padding)")
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------- autograd graph
def _dot_quote(text):
    """A DOT double-quoted string; newlines become DOT's centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _param_names(params):
    """{id(tensor): name} from a dict name -> tensor or an iterable of (name, tensor) pairs."""
    if params is None:
        return {}
    items = params.items() if isinstance(params, dict) else params
    return {id(t): str(name) for name, t in items}


def _leaf_label(t, names):
    if id(t) in names:
        kind = names[id(t)]
    elif isinstance(t, Parameter):
        kind = "parameter"
    elif t.requires_grad:
        kind = "leaf"
    elif t.ndim == 0:
        kind = "constant"
    else:
        kind = "input"
    grad = "requires_grad" if t.requires_grad else "no grad"
    return f"{kind}\n{tuple(t.shape)} {t.dtype}\n{grad}"


def draw_graph(tensor, path=None, params=None):
    """The autograd graph that produced `tensor`, as Graphviz DOT text (`digraph { ... }`).

    Vertices: one box per op application (its name and output shape) and one per leaf tensor
    (its name from `params`, else parameter / leaf / input / constant, its shape, dtype and
    whether it requires grad); edges run from inputs to the op that used them, so the
    picture reads top (inputs, parameters) to bottom (`tensor`, drawn bold). Each op and each
    tensor appears once however often it is used. The walk is iterative (a stack, no
    recursion), so graphs of any depth work.

    params: {name: tensor} (e.g. dict(model.named_parameters())) or (name, tensor) pairs,
    to label parameters by name.
    path: when given, the DOT text is written there (a ".png" path writes the ".dot" beside
    it), and when Graphviz's `dot` executable is on PATH a PNG is rendered next to it
    (same stem, ".png"); a failing `dot` raises RuntimeError with its message.

    Draw before backward: backward without retain_graph=True frees each op's inputs, so
    afterwards only the last op is known (it is marked "graph freed by backward"); call
    backward(retain_graph=True) to draw after it. Tensors from no_grad have no graph: they
    are drawn as a single leaf.
    """
    names = _param_names(params)
    root = tensor._node if tensor._node is not None else tensor
    ids = {id(root): "n0"}
    keep = [root]  # the visited objects stay referenced, so their ids stay unique during the walk
    lines, edges = [], []
    stack = [root]
    while stack:
        item = stack.pop()
        vid = ids[id(item)]
        is_root = item is root
        if isinstance(item, Node):
            label = f"{item.name}\n{tuple(item.shape)}"
            if item.inputs is None:
                label += "\n(graph freed by backward)"
            style = 'shape=box, style="rounded,filled", fillcolor="#fff2cc"'
            new = []
            for source in item.inputs or ():  # each the Node that computed the input, or a leaf Tensor
                if source is None:  # an absent optional input (bias=None)
                    continue
                if id(source) not in ids:
                    ids[id(source)] = f"n{len(ids)}"
                    keep.append(source)
                    new.append(source)
                edges.append(f"  {ids[id(source)]} -> {vid};")
            stack.extend(reversed(new))  # the first input is visited (and defined) first
        else:
            label = _leaf_label(item, names)
            fill = "#cfe2f3" if item.requires_grad else "#eeeeee"
            style = f'shape=box, style=filled, fillcolor="{fill}"'
        if is_root:
            style += ", penwidth=2.5"
        lines.append(f"  {vid} [label={_dot_quote(label)}, {style}];")
    text = "\n".join(["digraph {", '  graph [rankdir=TB];', '  node [fontname="Helvetica", fontsize=10];',
                      *lines, *edges, "}"]) + "\n"
    if path is not None:
        _write_graph(text, Path(path))
    return text


def _write_graph(text, path):
    """Write DOT `text` to `path` (.dot) and render a PNG beside it when `dot` is installed."""
    dot_path = path.with_suffix(".dot") if path.suffix.lower() == ".png" else path
    dot_path.parent.mkdir(parents=True, exist_ok=True)
    dot_path.write_text(text, encoding="utf-8")
    executable = shutil.which("dot")
    if executable is None:
        return
    png_path = dot_path.with_suffix(".png")
    done = subprocess.run([executable, "-Tpng", str(dot_path), "-o", str(png_path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"draw_graph: Graphviz 'dot' failed on {dot_path} (exit {done.returncode}): "
                           f"{done.stderr.strip()}")
