"""Shapes: a built-in synthetic image dataset that needs no files (the offline default).

Ten classes of filled or outlined shapes drawn on `size`×`size` RGB images with a random
foreground and background colour (always well apart), random position and scale, and
Gaussian pixel noise. The same (n, train, seed, size) always gives the same images; the
train and test splits of one seed are drawn from different streams.
"""
import numpy as np

from ._util import ImageDataset, split_name

__all__ = ["Shapes"]

_CLASSES = ["circle", "square", "triangle", "plus", "ring", "diamond", "horizontal bar", "vertical bar",
            "x-cross", "frame"]


def _masks(label, u, v):
    """Boolean masks (n, size, size) of class `label`; u, v: pixel coordinates in shape units."""
    au, av = np.abs(u), np.abs(v)
    box = np.maximum(au, av)
    if label == 0:  # circle
        return u * u + v * v <= 1.0
    if label == 1:  # square
        return box <= 0.8
    if label == 2:  # triangle, apex up
        return (v <= 0.8) & (au <= (v + 1.0) / 1.8)
    if label == 3:  # plus
        return ((au <= 0.3) & (av <= 1.0)) | ((av <= 0.3) & (au <= 1.0))
    if label == 4:  # ring
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.55 ** 2)
    if label == 5:  # diamond
        return au + av <= 1.0
    if label == 6:  # horizontal bar
        return (au <= 1.0) & (av <= 0.35)
    if label == 7:  # vertical bar
        return (av <= 1.0) & (au <= 0.35)
    if label == 8:  # x-cross
        return ((np.abs(u - v) <= 0.42) | (np.abs(u + v) <= 0.42)) & (box <= 0.9)
    return (box <= 0.9) & (box >= 0.55)  # frame


class Shapes(ImageDataset):
    """`n` deterministic `size`×`size` RGB images of 10 shape classes (balanced), no files needed.

    `data`: uint8 n×3×size×size; `targets`: int64; `classes`: the shape names.
    `transform` / `target_transform`: per-sample callables, as torchvision's (see ImageDataset).
    """

    classes = list(_CLASSES)

    def __init__(self, n=10000, train=True, seed=0, size=32, noise=0.06, transform=None, target_transform=None):
        n, size = int(n), int(size)
        if n < 0:
            raise ValueError(f"Shapes: n must be >= 0, got {n}")
        if size < 8:
            raise ValueError(f"Shapes: size must be >= 8 pixels, got {size}")
        self.train, self.seed, self.size = bool(train), int(seed), size
        rng = np.random.default_rng([self.seed, 0 if self.train else 1, size])
        labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
        radius = rng.uniform(0.22, 0.42, n) * size                     # half-extent in pixels
        cy = rng.uniform(radius, size - radius)                          # shape stays inside the image
        cx = rng.uniform(radius, size - radius)
        background = rng.uniform(0.0, 1.0, (n, 3))
        offset = rng.uniform(0.35, 0.65, (n, 3))                        # per-channel colour gap >= 0.35
        foreground = (background + offset) % 1.0
        noise_field = rng.standard_normal((n, 3, size, size), dtype=np.float32) * np.float32(noise)

        data = np.empty((n, 3, size, size), dtype=np.uint8)
        grid = np.arange(size, dtype=np.float64) + 0.5                   # pixel centres
        for start in range(0, n, 2048):                                  # bounded memory for large n
            sl = slice(start, min(n, start + 2048))
            u = (grid[None, None, :] - cx[sl, None, None]) / radius[sl, None, None]
            v = (grid[None, :, None] - cy[sl, None, None]) / radius[sl, None, None]
            mask = np.zeros((sl.stop - sl.start, size, size), dtype=bool)
            for label in range(10):                                      # a loop over classes, not images
                rows = np.nonzero(labels[sl] == label)[0]
                if rows.size:
                    mask[rows] = _masks(label, u[rows], v[rows])
            image = np.where(mask[:, None], foreground[sl, :, None, None], background[sl, :, None, None])
            image = image.astype(np.float32) + noise_field[sl]
            data[sl] = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
        super().__init__(data, labels, _CLASSES, transform, target_transform)

    def extra_repr(self):
        return f"{split_name(self.train)}, seed={self.seed}"
