"""Batch transforms: applied to a whole N×C×H×W batch at once, vectorized with the batch's array
module (numpy or cupy), so they run unchanged on GPU arrays. No Python loop over images.

Every random transform draws from, in order of precedence: its own generator when built with
`seed=`; the `generator` passed to the call (the DataLoader passes its own); otherwise the
library's generator for the batch's device, `tinygrad_cnn.backend.generator(device)`, so
`tc.manual_seed` makes runs repeat.

A transform accepts an array (N×C×H×W, or a single C×H×W image) or a Tensor (the result is a
new Tensor outside the autograd graph) and returns the same kind.
"""
import math
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["Transform", "Compose", "Normalize", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
           "RandomRotation", "RandomTranslate", "Cutout",
           "CIFAR10_MEAN", "CIFAR10_STD", "MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD"]

# Per-channel statistics of the official training sets (pixels scaled to [0, 1]).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)


# A 3-D input is one image C×H×W; more channels than an RGBA image has means a batch was meant.
_MAX_IMAGE_CHANNELS = 4


class Transform:
    """Base class: subclasses implement `apply(x, xp, generator)` on a 4-D array."""

    random = False

    def __init__(self, seed=None):
        self.seed = seed
        self._generators = {}

    def __call__(self, x, generator=None):
        if isinstance(x, Tensor):
            return Tensor._wrap(self(x.array, generator), x.device)
        xp = backend.array_module(x)
        if x.ndim == 3:
            if x.shape[0] > _MAX_IMAGE_CHANNELS:  # a batch of channel-less images, taken for one image?
                raise ValueError(f"{type(self).__name__}: an array of shape {tuple(x.shape)} would be one image "
                                 f"with {x.shape[0]} channels; for a batch of images without a channel axis "
                                 "add one: x[:, None] is N×1×H×W")
            return self(x[None], generator)[0]
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected a batch N×C×H×W (or one image C×H×W), "
                             f"got an array of shape {tuple(x.shape)}")
        return self.apply(x, xp, self._generator(x, generator) if self.random else None)

    def apply(self, x, xp, generator):
        raise NotImplementedError

    def _generator(self, x, generator):
        device = backend.device_of(x)
        if self.seed is not None:
            gen = self._generators.get(device)
            if gen is None:
                gen = self._generators[device] = backend.new_generator(self.seed, device)
            return gen
        if generator is not None:
            return generator
        return backend.generator(device)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._repr_args().items())
        return f"{type(self).__name__}({args})"

    def _repr_args(self):
        return {}


def _on(x, values):
    """Random draws (numpy or cupy) moved to `x`'s device."""
    return backend.to_device(values, backend.device_of(x))


def _pair(value, name):
    if isinstance(value, numbers.Number):
        return value, value
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{name} must be a number or a pair, got {value!r}")
    return value


class Compose(Transform):
    """Apply transforms in order; each random one draws from the same generator chain."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = list(transforms)

    def __call__(self, x, generator=None):
        for t in self.transforms:
            x = t(x, generator) if isinstance(t, Transform) else t(x)
        return x

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Normalize(Transform):
    """(x - mean) / std per channel; `inverse` undoes it."""

    def __init__(self, mean, std):
        super().__init__()
        self.mean = tuple(float(m) for m in (mean if not isinstance(mean, numbers.Number) else (mean,)))
        self.std = tuple(float(s) for s in (std if not isinstance(std, numbers.Number) else (std,)))
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: {len(self.mean)} means but {len(self.std)} stds")
        if any(s == 0 for s in self.std):
            raise ValueError("Normalize: std must not be zero")

    def _stats(self, x, xp):
        c = x.shape[1]
        if len(self.mean) not in (1, c):
            raise ValueError(f"Normalize: {len(self.mean)} channel statistics for a batch with {c} channels")
        dtype = x.dtype if x.dtype.kind == "f" else "float32"
        mean = xp.asarray(self.mean, dtype=dtype).reshape(1, -1, 1, 1)
        std = xp.asarray(self.std, dtype=dtype).reshape(1, -1, 1, 1)
        return mean, std

    def apply(self, x, xp, generator):
        mean, std = self._stats(x, xp)
        out = x - mean
        out /= std  # in place on our own temporary: one allocation per batch
        return out

    def inverse(self, x):
        """x * std + mean: undo the normalization (for viewing images)."""
        if isinstance(x, Tensor):
            return Tensor._wrap(self.inverse(x.array), x.device)
        xp = backend.array_module(x)
        if x.ndim == 3:
            return self.inverse(x[None])[0]
        mean, std = self._stats(x, xp)
        return x * std + mean

    def _repr_args(self):
        return {"mean": self.mean, "std": self.std}


def _pad(x, xp, top, bottom, left, right, mode, fill):
    if not (top or bottom or left or right):
        return x
    if mode == "constant":  # one fill and one copy: cheaper than xp.pad's generic path
        n, c, h, w = x.shape
        out = xp.full((n, c, h + top + bottom, w + left + right), fill, dtype=x.dtype)
        out[:, :, top:top + h, left:left + w] = x
        return out
    rows = _pad_index(x.shape[2], top, bottom, mode)
    cols = _pad_index(x.shape[3], left, right, mode)
    return xp.take(xp.take(x, xp.asarray(rows), axis=2), xp.asarray(cols), axis=3)


def _pad_index(n, before, after, mode):
    """Source index of each position of a length-n axis padded by (before, after) in `mode`
    (numpy.pad's edge / reflect / symmetric, including pads wider than the axis)."""
    i = np.arange(-before, n + after)
    if mode == "edge" or n == 1:
        return np.clip(i, 0, n - 1)
    if mode == "reflect":  # mirror about the edge pixels: period 2(n - 1)
        period = 2 * (n - 1)
        i = np.mod(i, period)
        return np.where(i >= n, period - i, i)
    period = 2 * n  # symmetric: mirror including the edge pixels
    i = np.mod(i, period)
    return np.where(i >= n, period - 1 - i, i)


def _crop(x, xp, oy, ox, height, width):
    """Per-image crops x[n, :, oy[n]:oy[n]+height, ox[n]:ox[n]+width] via a strided window view."""
    n, c, h, w = x.shape
    s = x.strides
    windows = backend.as_strided(x, (n, c, h - height + 1, w - width + 1, height, width),
                                 (s[0], s[1], s[2], s[3], s[2], s[3]))
    return windows[xp.arange(n), :, oy, ox]


_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


class RandomCrop(Transform):
    """Pad by `padding` (int, (left/right, top/bottom) or (left, top, right, bottom)), then crop a
    random `size` window per image. padding_mode: constant (with `fill`), edge, reflect, symmetric.
    """

    random = True

    def __init__(self, size, padding=0, padding_mode="constant", fill=0.0, seed=None):
        super().__init__(seed)
        self.size = tuple(int(s) for s in _pair(size, "RandomCrop size"))
        if isinstance(padding, numbers.Number):
            padding = (padding,) * 4
        padding = tuple(int(p) for p in padding)
        if len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        if len(padding) != 4 or min(padding) < 0:
            raise ValueError(f"RandomCrop: padding must be a non-negative int, a pair or a 4-tuple, got {padding}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.padding, self.padding_mode, self.fill = padding, padding_mode, fill

    def apply(self, x, xp, generator):
        left, top, right, bottom = self.padding
        x = _pad(x, xp, top, bottom, left, right, self.padding_mode, self.fill)
        n, _, h, w = x.shape
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image {(h, w)}")
        oy = _on(x, backend.integers(generator, 0, h - th + 1, n))
        ox = _on(x, backend.integers(generator, 0, w - tw + 1, n))
        return _crop(x, xp, oy, ox, th, tw)

    def _repr_args(self):
        return {"size": self.size, "padding": self.padding, "padding_mode": self.padding_mode}


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability p."""

    random = True
    _axis = 3

    def __init__(self, p=0.5, seed=None):
        super().__init__(seed)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = float(p)

    def apply(self, x, xp, generator):
        flip = _on(x, backend.random(generator, x.shape[0]) < self.p)
        flipped = xp.flip(x, axis=self._axis)
        return xp.where(flip[:, None, None, None], flipped, x)

    def _repr_args(self):
        return {"p": self.p}


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top-bottom with probability p."""

    _axis = 2


def _bilinear(x, xp, sy, sx, fill):
    """Sample x (N×C×H×W) at source coordinates sy, sx (N×H'×W', in pixels) with bilinear
    interpolation; positions outside the image read `fill`.

    The batch is viewed channels-last as one table of N·H·W pixels, so each of the four
    corners is a single row gather (`take`) for all images at once.
    """
    n, c, h, w = x.shape
    oh, ow = sy.shape[1:]
    pixels = xp.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n * h * w, c)
    y0 = xp.floor(sy)
    x0 = xp.floor(sx)
    wy, wx = sy - y0, sx - x0
    y0, x0 = y0.astype(xp.int64), x0.astype(xp.int64)
    base = (xp.arange(n, dtype=xp.int64) * (h * w)).reshape(n, 1, 1)
    out = xp.zeros((n, oh, ow, c), dtype=x.dtype)
    covered = xp.zeros((n, oh, ow), dtype=x.dtype) if fill else None
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        yi, xi = y0 + dy, x0 + dx
        weight = (wy if dy else 1 - wy) * (wx if dx else 1 - wx)
        weight = weight * ((yi >= 0) & (yi < h) & (xi >= 0) & (xi < w))
        index = base + xp.clip(yi, 0, h - 1) * w + xp.clip(xi, 0, w - 1)
        out += xp.take(pixels, index, axis=0) * weight[..., None]
        if fill:
            covered += weight
    if fill:
        out += fill * (1 - covered)[..., None]
    return xp.ascontiguousarray(out.transpose(0, 3, 1, 2))


class RandomRotation(Transform):
    """Rotate each image by an angle drawn uniformly from [-degrees, degrees] (or the given
    (min, max)), counter-clockwise for positive angles, about the image centre, with bilinear
    interpolation; corners outside the source read `fill`."""

    random = True

    def __init__(self, degrees, fill=0.0, seed=None):
        super().__init__(seed)
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be >= 0, got {degrees}")
            degrees = (-degrees, degrees)
        self.degrees = tuple(float(d) for d in _pair(degrees, "RandomRotation degrees"))
        self.fill = float(fill)

    def apply(self, x, xp, generator):
        n, _, h, w = x.shape
        dtype = x.dtype if x.dtype.kind == "f" else xp.float32
        if x.dtype.kind != "f":
            x = x.astype(dtype)
        lo, hi = self.degrees
        angles = _on(x, backend.uniform(generator, lo, hi, n)) * (math.pi / 180.0)
        cos = xp.cos(angles).astype(dtype).reshape(n, 1, 1)
        sin = xp.sin(angles).astype(dtype).reshape(n, 1, 1)
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        yy = (xp.arange(h, dtype=dtype) - cy).reshape(1, h, 1)
        xx = (xp.arange(w, dtype=dtype) - cx).reshape(1, 1, w)
        sy = cos * yy + sin * xx + cy  # output pixel -> source pixel (inverse rotation)
        sx = cos * xx - sin * yy + cx
        return _bilinear(x, xp, sy, sx, self.fill)

    def _repr_args(self):
        return {"degrees": self.degrees, "fill": self.fill}


class RandomTranslate(Transform):
    """Shift each image by a whole number of pixels drawn uniformly from
    [-fraction·W, fraction·W] horizontally and [-fraction·H, fraction·H] vertically
    (`fraction` a number or (horizontal, vertical)); uncovered pixels read `fill`."""

    random = True

    def __init__(self, fraction, fill=0.0, seed=None):
        super().__init__(seed)
        fx, fy = _pair(fraction, "RandomTranslate fraction")
        if not (0 <= fx <= 1 and 0 <= fy <= 1):
            raise ValueError(f"RandomTranslate: fractions must be in [0, 1], got {fraction!r}")
        self.fraction, self.fill = (float(fx), float(fy)), fill

    def apply(self, x, xp, generator):
        n, _, h, w = x.shape
        mx, my = int(self.fraction[0] * w), int(self.fraction[1] * h)
        dx = _on(x, backend.integers(generator, -mx, mx + 1, n))
        dy = _on(x, backend.integers(generator, -my, my + 1, n))
        x = _pad(x, xp, my, my, mx, mx, "constant", self.fill)
        return _crop(x, xp, my - dy, mx - dx, h, w)

    def _repr_args(self):
        return {"fraction": self.fraction, "fill": self.fill}


class Cutout(Transform):
    """Set a `size`×`size` square (centre uniform over the image, may overlap the border) to
    `fill` in each image, with probability p (DeVries & Taylor, 2017)."""

    random = True

    def __init__(self, size, p=1.0, fill=0.0, seed=None):
        super().__init__(seed)
        self.size = tuple(int(s) for s in _pair(size, "Cutout size"))
        self.p, self.fill = float(p), fill

    def apply(self, x, xp, generator):
        n, _, h, w = x.shape
        cy = _on(x, backend.integers(generator, 0, h, n)).reshape(n, 1)
        cx = _on(x, backend.integers(generator, 0, w, n)).reshape(n, 1)
        keep = _on(x, backend.random(generator, n) < self.p).reshape(n, 1, 1)
        top, left = cy - self.size[0] // 2, cx - self.size[1] // 2
        rows, cols = xp.arange(h).reshape(1, h), xp.arange(w).reshape(1, w)
        in_rows = (rows >= top) & (rows < top + self.size[0])
        in_cols = (cols >= left) & (cols < left + self.size[1])
        mask = in_rows[:, :, None] & in_cols[:, None, :] & keep
        return xp.where(mask[:, None], xp.asarray(self.fill, dtype=x.dtype), x)

    def _repr_args(self):
        return {"size": self.size, "p": self.p, "fill": self.fill}
