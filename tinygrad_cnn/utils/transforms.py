"""Per-sample image transforms with torchvision.transforms' names, arguments and formulas.

Porting torchvision code is one changed import line:

    from torchvision import transforms            ->  from tinygrad_cnn.utils import transforms
    import torchvision.transforms as transforms   ->  import tinygrad_cnn.utils.transforms as transforms

    train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), transforms.Normalize(mean, std)])
    ds = CIFAR10(root, train=True, transform=train_tf)      # ds[i] -> (float32 3×32×32 Tensor, int)

Each transform takes ONE image. There is no PIL here: where torchvision passes a PIL image, this
library passes a uint8 NumPy array, which the transforms read as H×W×C (H×W for one channel),
the layout the built-in datasets hand to `transform=`. Which layout an input has follows from
its type, as torchvision's follows from PIL-image-or-tensor:

- a uint8 NumPy array: H×W×C or H×W (the PIL image's stand-in; before ToTensor);
- a Tensor, or a NumPy array of another dtype: C×H×W (more generally ...×H×W; after ToTensor).

Geometric transforms (RandomCrop, CenterCrop, Pad, the flips) accept either and return the
same kind and layout; ToTensor turns an H×W×C / H×W array into a C×H×W Tensor (uint8 scaled to
[0, 1], other dtypes kept, as torchvision); Normalize takes a float C×H×W Tensor or array.

Random transforms draw from the library's CPU generator (`tinygrad_cnn.backend.generator`),
where torchvision draws from torch's: `tc.manual_seed` repeats them, and each DataLoader worker
reseeds it (base_seed + worker_id), as PyTorch does. For whole batches at once, use the
vectorized `tinygrad_cnn.data.transforms` with `tinygrad_cnn.data.DataLoader` instead.
"""
import numbers

import numpy as np

from .. import backend
from ..data.transforms import (CIFAR10_MEAN, CIFAR10_STD, FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN,
                               MNIST_STD)
from ..errors import ShapeError
from ..tensor import Tensor

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "CenterCrop", "Pad", "RandomHorizontalFlip",
           "RandomVerticalFlip", "Lambda", "CIFAR10_MEAN", "CIFAR10_STD", "MNIST_MEAN", "MNIST_STD",
           "FASHION_MNIST_MEAN", "FASHION_MNIST_STD"]

_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
_MAX_CHANNELS = 4  # a C×H×W image has at most 4 channels (RGBA); more means a misread H×W×C array


# ---------------------------------------------------------------- layouts
class _Image:
    """One image as a raw array with its layout: `hwc` for a uint8 NumPy array (H×W×C or H×W),
    else C×H×W (…×H×W); `wrap(array)` returns a result of the input's kind (Tensor or array)."""

    def __init__(self, img, name):
        if isinstance(img, Tensor):
            self.array, self.device, self.hwc = img.array, img.device, False
        elif isinstance(img, np.ndarray) or backend.is_gpu_array(img):
            self.array, self.device = img, None
            self.hwc = img.dtype == np.uint8 and not backend.is_gpu_array(img)
        else:
            raise TypeError(f"{name}: img should be a uint8 NumPy array (H×W×C or H×W, the PIL image's stand-in), "
                            f"a Tensor or a float array (C×H×W); got {type(img).__name__}")
        a = self.array
        if self.hwc:
            if a.ndim not in (2, 3):
                raise ValueError(f"{name}: a uint8 array is read as one image H×W×C or H×W, got shape {a.shape}")
            self.h_axis, self.w_axis = 0, 1
        else:
            if a.ndim < 2:
                raise ValueError(f"{name}: expected an image C×H×W (or ...×H×W), got shape {tuple(a.shape)}")
            if a.ndim == 3 and a.shape[0] > _MAX_CHANNELS and a.shape[2] <= _MAX_CHANNELS:
                raise ValueError(f"{name}: a {a.dtype} array of shape {tuple(a.shape)} is read as C×H×W, i.e. "
                                 f"{a.shape[0]} channels; an H×W×C image must be a uint8 array (or go through "
                                 "ToTensor first)")
            self.h_axis, self.w_axis = a.ndim - 2, a.ndim - 1
        self.xp = backend.array_module(a)

    @property
    def height(self):
        return int(self.array.shape[self.h_axis])

    @property
    def width(self):
        return int(self.array.shape[self.w_axis])

    @property
    def channel_axis(self):
        """The axis holding the channels (None for a 2-D image)."""
        if self.array.ndim == 2:
            return None
        return 2 if self.hwc else self.array.ndim - 3

    def crop(self, top, left, height, width):
        index = [slice(None)] * self.array.ndim
        index[self.h_axis] = slice(top, top + height)
        index[self.w_axis] = slice(left, left + width)
        return self.array[tuple(index)]

    def wrap(self, array):
        return Tensor._wrap(array, self.device) if self.device is not None else array


def _empty_in_layout(xp, shape, like):
    """An empty array of `shape` whose axes lie in memory in the order of `like`'s: an H×W×C view
    of C×H×W memory (what the datasets hand to transforms) stays C×H×W underneath, so ToTensor's
    transpose back to C×H×W reads memory in order."""
    strides = [abs(s) for s in like.strides]
    order = sorted(range(like.ndim), key=strides.__getitem__, reverse=True)  # outermost axis first
    if order == list(range(like.ndim)):
        return xp.empty(tuple(shape), dtype=like.dtype)
    block = xp.empty(tuple(shape[axis] for axis in order), dtype=like.dtype)
    return block.transpose([order.index(axis) for axis in range(like.ndim)])


def _pad(image, left, top, right, bottom, fill, mode):
    """image's array padded by the given pixels on each side (numpy.pad's four modes, which are
    torchvision's: constant with `fill` (a number or one value per channel), edge, reflect, symmetric)."""
    a, xp = image.array, image.xp
    if not (left or top or right or bottom):
        return a
    if mode != "constant":
        widths = [(0, 0)] * a.ndim
        widths[image.h_axis], widths[image.w_axis] = (top, bottom), (left, right)
        return xp.pad(a, widths, mode=mode)
    shape = list(a.shape)
    shape[image.h_axis] += top + bottom
    shape[image.w_axis] += left + right
    out = _empty_in_layout(xp, shape, a)
    if isinstance(fill, numbers.Number):
        out[...] = fill
    else:
        values = xp.asarray(tuple(fill), dtype=a.dtype)
        axis = image.channel_axis
        if axis is None or values.size not in (1, a.shape[axis]):
            raise ValueError(f"Pad: fill has {values.size} values for an image of shape {tuple(a.shape)}")
        out[...] = values.reshape((-1,) + (1,) * (a.ndim - 1 - axis))  # (C,) -> (C, 1, ...): along the channel axis
    index = [slice(None)] * a.ndim
    index[image.h_axis] = slice(top, top + image.height)
    index[image.w_axis] = slice(left, left + image.width)
    out[tuple(index)] = a
    return out


def _parse_padding(padding, name):
    """torchvision's padding: an int (all sides), (left/right, top/bottom) or (left, top, right,
    bottom), as (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        padding = (int(padding),) * 4
    elif isinstance(padding, (tuple, list)) and all(isinstance(p, numbers.Integral) for p in padding):
        padding = tuple(int(p) for p in padding)
        if len(padding) == 1:
            padding = padding * 4
        elif len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        elif len(padding) != 4:
            raise ValueError(f"{name}: padding must be an int or a 1, 2, or 4 element tuple, not a "
                             f"{len(padding)} element tuple")
    else:
        raise TypeError(f"{name}: got inappropriate padding arg {padding!r}: expected an int or a tuple of ints")
    if min(padding) < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {padding}")
    return padding


def _check_mode(padding_mode, name):
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"{name}: padding_mode should be either constant, edge, reflect or symmetric, "
                         f"got {padding_mode!r}")
    return padding_mode


def _parse_size(size, name):
    """torchvision's size: an int (square) or (h, w) / (s,) as (height, width)."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (int(size[0]), int(size[0]))
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        size = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"{name}: please provide only two dimensions (h, w) for size, got {size!r}")
    if min(size) <= 0:
        raise ValueError(f"{name}: size must be positive, got {size}")
    return size


def _draw_integer(high):
    """An int uniform in [0, high) from the library's CPU generator (a numpy Generator)."""
    return int(backend.generator("cpu").integers(high))


def _draw_uniform():
    """A float uniform in [0, 1) from the library's CPU generator."""
    return float(backend.generator("cpu").random())


# ---------------------------------------------------------------- transforms
class Compose:
    """Apply `transforms` (any callables) one after the other: Compose([A(), B()])(img) == B()(A()(img))."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """An H×W×C (or H×W) NumPy image -> a C×H×W Tensor on the CPU (1×H×W for H×W).

    uint8 values are scaled to float32 in [0, 1] (x / 255); arrays of any other dtype keep their
    dtype and values, as torchvision's ToTensor does for non-uint8 input.
    """

    def __call__(self, pic):
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"ToTensor: pic should be a NumPy array H×W×C or H×W (the PIL image's stand-in), "
                            f"got {type(pic).__name__}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"ToTensor: pic should be 2/3 dimensional, got {pic.ndim} dimensions (shape {pic.shape})")
        chw = (pic[None] if pic.ndim == 2 else pic.transpose(2, 0, 1))  # (H, W) -> (1, H, W); (H, W, C) -> (C, H, W)
        if pic.dtype == np.uint8:
            out = np.empty(chw.shape, dtype=np.float32)
            np.divide(chw, np.float32(255), out=out)  # float32 x / 255, torchvision's img.float().div(255)
        else:
            out = np.ascontiguousarray(chw)
            if out is pic or np.shares_memory(out, pic):
                out = out.copy()
        return Tensor._wrap(out, "cpu")

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(img - mean[c]) / std[c] per channel, on a float C×H×W (or ...×C×H×W) Tensor or array, in
    the image's dtype (torchvision's formula). `inplace=True` overwrites the input's values."""

    def __init__(self, mean, std, inplace=False):
        self.mean = tuple(float(m) for m in (mean if not isinstance(mean, numbers.Number) else (mean,)))
        self.std = tuple(float(s) for s in (std if not isinstance(std, numbers.Number) else (std,)))
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: {len(self.mean)} means but {len(self.std)} stds")
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std evaluated to zero, leading to division by zero (std={self.std})")
        self.inplace = bool(inplace)
        self._stats = {}  # (array module, dtype) -> (mean, std) arrays shaped C×1×1

    def _mean_std(self, xp, dtype):
        key = (xp.__name__, dtype)
        if key not in self._stats:
            self._stats[key] = (xp.asarray(self.mean, dtype=dtype).reshape(-1, 1, 1),
                                xp.asarray(self.std, dtype=dtype).reshape(-1, 1, 1))
        return self._stats[key]

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor) and not (isinstance(tensor, np.ndarray) or backend.is_gpu_array(tensor)):
            raise TypeError(f"Normalize: expected a Tensor or array C×H×W, got {type(tensor).__name__}")
        a = tensor.array if isinstance(tensor, Tensor) else tensor
        if a.dtype.kind != "f":
            raise TypeError(f"Normalize: input should be a float image, got {a.dtype} (apply ToTensor first)")
        if a.ndim < 3:
            raise ValueError(f"Normalize: expected an image of size (..., C, H, W), got shape {tuple(a.shape)}")
        c = a.shape[-3]
        if len(self.mean) not in (1, c):
            raise ShapeError(f"Normalize: {len(self.mean)} channel means and stds for an image with {c} channels "
                             f"(shape {tuple(a.shape)})")
        mean, std = self._mean_std(backend.array_module(a), a.dtype)
        if self.inplace:
            a -= mean
            a /= std
            return tensor
        out = a - mean
        out /= std
        return Tensor._wrap(out, tensor.device) if isinstance(tensor, Tensor) else out

    def __repr__(self):
        return f"{type(self).__name__}(mean={list(self.mean)}, std={list(self.std)})"


class Pad:
    """Pad the image's borders: `padding` an int (all sides), (left/right, top/bottom) or
    (left, top, right, bottom); padding_mode constant (with `fill`: a number, or one value per
    channel), edge, reflect or symmetric. H×W×C uint8 arrays and C×H×W Tensors/arrays."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding = _parse_padding(padding, "Pad")
        self.fill = fill
        self.padding_mode = _check_mode(padding_mode, "Pad")

    def __call__(self, img):
        image = _Image(img, "Pad")
        return image.wrap(_pad(image, *self.padding, self.fill, self.padding_mode))

    def __repr__(self):
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class RandomCrop:
    """Crop a random `size` window (an int or (h, w)), after padding by `padding` (None: none;
    else as Pad's) and, with pad_if_needed, padding an image smaller than `size` up to it.
    torchvision's order of steps and draws: the top row i uniform in [0, H - h], then the left
    column j in [0, W - w] (no draw when the image is exactly `size`). H×W×C uint8 arrays and
    C×H×W Tensors/arrays; the result has the input's kind and layout."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _parse_size(size, "RandomCrop")
        self.padding = None if padding is None else _parse_padding(padding, "RandomCrop")
        self.pad_if_needed = bool(pad_if_needed)
        self.fill = fill
        self.padding_mode = _check_mode(padding_mode, "RandomCrop")

    @staticmethod
    def get_params(img, output_size):
        """(i, j, h, w): a random crop window of `output_size` (h, w) inside `img`."""
        return _crop_params(_Image(img, "RandomCrop"), output_size)

    def __call__(self, img):
        image = _Image(img, "RandomCrop")
        th, tw = self.size
        if self.padding is not None:
            image.array = _pad(image, *self.padding, self.fill, self.padding_mode)
        if self.pad_if_needed and image.width < tw:  # torchvision: the missing width on both sides, then height
            extra = tw - image.width
            image.array = _pad(image, extra, 0, extra, 0, self.fill, self.padding_mode)
        if self.pad_if_needed and image.height < th:
            extra = th - image.height
            image.array = _pad(image, 0, extra, 0, extra, self.fill, self.padding_mode)
        i, j, h, w = _crop_params(image, self.size)
        return image.wrap(image.crop(i, j, h, w))

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


def _crop_params(image, output_size):
    """torchvision's RandomCrop.get_params: i uniform in [0, H - h], then j in [0, W - w]; no draw
    when the image is exactly the output size."""
    h, w = image.height, image.width
    th, tw = output_size
    if h < th or w < tw:
        raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input image size {(h, w)}")
    if h == th and w == tw:
        return 0, 0, h, w
    return _draw_integer(h - th + 1), _draw_integer(w - tw + 1), th, tw


class CenterCrop:
    """Crop the central `size` window (an int or (h, w)); an image smaller than `size` is first
    zero-padded around, as torchvision's. Top-left corner: round((H - h) / 2), round((W - w) / 2)
    (Python's round, as torchvision)."""

    def __init__(self, size):
        self.size = _parse_size(size, "CenterCrop")

    def __call__(self, img):
        image = _Image(img, "CenterCrop")
        th, tw = self.size
        h, w = image.height, image.width
        if tw > w or th > h:
            left, top = (tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0
            right, bottom = (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0
            image.array = _pad(image, left, top, right, bottom, 0, "constant")
            h, w = image.height, image.width
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return image.wrap(image.crop(top, left, th, tw))

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability p (one uniform draw u per call; flip when
    u < p). H×W×C uint8 arrays and C×H×W Tensors/arrays. A flipped array is a view of the input
    (as numpy.flip's: copying an H×W×C image costs more than the rest of the pipeline); a
    flipped Tensor holds a new contiguous array."""

    _name = "RandomHorizontalFlip"

    def __init__(self, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{self._name}: p must be in [0, 1], got {p}")
        self.p = float(p)

    def _axis(self, image):
        return image.w_axis

    def __call__(self, img):
        image = _Image(img, self._name)
        if _draw_uniform() < self.p:
            flipped = image.xp.flip(image.array, axis=self._axis(image))
            return image.wrap(image.xp.ascontiguousarray(flipped)) if isinstance(img, Tensor) else flipped
        return img

    def __repr__(self):
        return f"{self._name}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror the image top-bottom with probability p."""

    _name = "RandomVerticalFlip"

    def _axis(self, image):
        return image.h_axis


class Lambda:
    """A user function as a transform: Lambda(lambda img: img * 2)."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return "Lambda()"
