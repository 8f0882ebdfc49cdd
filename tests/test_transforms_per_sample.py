"""Per-sample transforms (tinygrad_cnn.utils.transforms) against torchvision's formulas, written
out here with NumPy (torchvision is not installed): ToTensor's transpose and x / 255, Normalize's
(x - mean) / std, RandomCrop's pad-then-window with i uniform in [0, H - h] and j in [0, W - w],
the flips, CenterCrop's round((H - h) / 2), the padding modes on hand-written rows; both layouts
(H×W×C uint8 arrays and C×H×W Tensors/arrays) and the errors."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import backend
from tinygrad_cnn.utils import transforms as T
from helpers import DEVICES


def hwc(h=6, w=5, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def to_chw_float(image):
    """torchvision's ToTensor, written out: H×W×C uint8 -> C×H×W float32 / 255."""
    if image.ndim == 2:
        image = image[:, :, None]
    return image.transpose(2, 0, 1).astype(np.float32) / np.float32(255)


def windows(padded, size, h_axis):
    """Every size×size window of `padded` (spatial axes h_axis, h_axis + 1), keyed by (i, j)."""
    h, w = padded.shape[h_axis], padded.shape[h_axis + 1]
    out = {}
    for i in range(h - size[0] + 1):
        for j in range(w - size[1] + 1):
            index = [slice(None)] * padded.ndim
            index[h_axis], index[h_axis + 1] = slice(i, i + size[0]), slice(j, j + size[1])
            out[(i, j)] = padded[tuple(index)]
    return out


def which(result, candidates):
    keys = [k for k, v in candidates.items() if v.shape == result.shape and np.array_equal(v, result)]
    assert keys, "the result is none of the allowed outputs"
    return keys[0]


# ------------------------------------------------------------------ ToTensor, Normalize
def test_to_tensor_formula_and_layouts():
    image = hwc(4, 7, 3)
    out = T.ToTensor()(image)
    assert isinstance(out, tc.Tensor) and out.shape == (3, 4, 7) and out.dtype == np.float32 and out.device == "cpu"
    np.testing.assert_array_equal(out.numpy(), to_chw_float(image))  # bit for bit
    assert out.array.flags.c_contiguous
    gray = hwc(5, 3, 1)[:, :, 0]
    np.testing.assert_array_equal(T.ToTensor()(gray).numpy(), to_chw_float(gray))  # H×W -> 1×H×W
    floats = np.random.default_rng(1).random((3, 2, 2)) * 7  # not uint8: neither scaled nor cast
    out = T.ToTensor()(floats)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.numpy(), floats.transpose(2, 0, 1))
    ints = np.arange(6, dtype=np.int16).reshape(2, 3)
    assert T.ToTensor()(ints).dtype == np.int16
    kept = T.ToTensor()(ints)
    ints[0, 0] = 99
    assert kept.numpy()[0, 0, 0] == 0  # a copy, never a view of the input
    with pytest.raises(TypeError, match="NumPy array"):
        T.ToTensor()(tc.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 2, 3), np.uint8))


def test_normalize_formula():
    x = np.random.default_rng(2).random((3, 4, 5)).astype(np.float32)
    x_before = x.copy()
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    expected = (x - np.float32(mean)[:, None, None]) / np.float32(std)[:, None, None]
    out = T.Normalize(mean, std)(tc.tensor(x))
    assert isinstance(out, tc.Tensor) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(T.Normalize(mean, std)(x), expected)  # a float array in, an array out
    np.testing.assert_array_equal(T.Normalize(0.5, 0.25)(x), (x - np.float32(0.5)) / np.float32(0.25))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(T.Normalize(mean, std)(tc.tensor(x64)).numpy(),
                               (x64 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None], rtol=1e-15)
    batch = np.stack([x, x * 2])
    np.testing.assert_array_equal(T.Normalize(mean, std)(batch)[1], T.Normalize(mean, std)(x * 2))  # ...×C×H×W
    t = tc.tensor(x)
    assert T.Normalize(mean, std, inplace=True)(t) is t
    np.testing.assert_array_equal(t.numpy(), expected)
    np.testing.assert_array_equal(x, x_before)  # out-of-place calls leave their input untouched
    with pytest.raises(TypeError, match="float"):
        T.Normalize(mean, std)(hwc())
    with pytest.raises(ValueError, match="zero"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(RuntimeError, match="2 channel means"):
        T.Normalize((0.5, 0.5), (1, 1))(tc.tensor(x))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize(0.5, 1)(tc.zeros(4, 4))


# ------------------------------------------------------------------ padding, cropping
def test_padding_modes_on_written_out_rows():
    row = np.array([[[1, 2, 3]]], dtype=np.float32)  # C×H×W: 1×1×3
    expected = {"constant": [9, 9, 1, 2, 3, 9, 9], "edge": [1, 1, 1, 2, 3, 3, 3],
                "reflect": [3, 2, 1, 2, 3, 2, 1], "symmetric": [2, 1, 1, 2, 3, 3, 2]}
    for mode, values in expected.items():
        out = T.Pad((2, 0), fill=9, padding_mode=mode)(row)
        np.testing.assert_array_equal(out[0, 0], values, err_msg=mode)
    image = np.arange(4, dtype=np.uint8).reshape(2, 2, 1).repeat(3, axis=2)
    out = T.Pad((1, 2, 3, 4), fill=(10, 20, 30))(image)  # (left, top, right, bottom), one fill per channel
    assert out.shape == (2 + 2 + 4, 2 + 1 + 3, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[2:4, 1:3], image)
    assert (out[0, 0] == [10, 20, 30]).all() and (out[-1, -1] == [10, 20, 30]).all()
    with pytest.raises(ValueError, match="4 element tuple"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode"):
        T.Pad(1, padding_mode="wrap")


@pytest.mark.parametrize("layout", ["hwc", "hw", "chw_tensor", "chw_array"])
def test_random_crop_is_a_window_of_the_padded_image_with_uniform_offsets(layout):
    base = hwc(8, 8, 3, seed=3)
    if layout == "hwc":
        image, h_axis, pad = base, 0, ((2, 2), (2, 2), (0, 0))
    elif layout == "hw":
        image, h_axis, pad = base[:, :, 0].copy(), 0, ((2, 2), (2, 2))
    else:
        image, h_axis, pad = to_chw_float(base), 1, ((0, 0), (2, 2), (2, 2))
        image = tc.tensor(image) if layout == "chw_tensor" else image
    padded = np.pad(np.asarray(image), pad)  # zeros, torchvision's default fill
    candidates = windows(padded, (8, 8), h_axis)
    crop = T.RandomCrop(8, padding=2)
    tc.manual_seed(0)
    offsets = []
    for _ in range(300):
        out = crop(image)
        assert type(out) is type(image)
        offsets.append(which(np.asarray(out), candidates))
    rows, cols = zip(*offsets)
    assert set(rows) == set(range(5)) and set(cols) == set(range(5))  # i, j uniform in [0, 4]
    assert max(np.bincount(rows)) < 300 * 0.35
    tc.manual_seed(0)
    assert [which(np.asarray(crop(image)), candidates) for _ in range(20)] == offsets[:20]  # tc.manual_seed repeats


def test_random_crop_sizes_and_pad_if_needed():
    image = hwc(5, 9, 3)
    tc.manual_seed(1)
    out = T.RandomCrop((3, 4))(image)
    assert out.shape == (3, 4, 3)
    which(out, windows(image, (3, 4), 0))
    state = backend.generator("cpu").bit_generator.state
    np.testing.assert_array_equal(T.RandomCrop((5, 9))(image), image)  # exactly the size: no draw
    assert backend.generator("cpu").bit_generator.state == state
    small = hwc(3, 2, 3)
    out = T.RandomCrop((5, 6), pad_if_needed=True, fill=7)(small)  # width padded by 4 a side, height by 2
    which(out, windows(np.pad(small, ((2, 2), (4, 4), (0, 0)), constant_values=7), (5, 6), 0))
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(10)(image)
    with pytest.raises(ValueError, match="read as C×H×W"):
        T.RandomCrop(4)(np.zeros((32, 32, 3), np.float32))  # an H×W×C float array: ambiguous, refused
    with pytest.raises(TypeError, match="img should be"):
        T.RandomCrop(4)([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="two dimensions"):
        T.RandomCrop((1, 2, 3))


def test_center_crop_rounding_and_padding():
    image = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6)
    # torchvision: top = round((5 - 2) / 2) = round(1.5) = 2, left = round((6 - 3) / 2) = round(1.5) = 2
    np.testing.assert_array_equal(T.CenterCrop((2, 3))(image), image[2:4, 2:5])
    np.testing.assert_array_equal(T.CenterCrop(4)(image), image[0:4, 1:5])  # round(0.5) = 0, round(1.0) = 1
    chw = tc.tensor(np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3))
    out = T.CenterCrop((4, 4))(chw)  # larger: zero padding, (left, top, right, bottom) = (0, 1, 1, 1)
    expected = np.pad(chw.numpy(), ((0, 0), (1, 1), (0, 1)))
    np.testing.assert_array_equal(out.numpy(), expected)


# ------------------------------------------------------------------ flips, Compose
@pytest.mark.parametrize("cls,axis_hwc,axis_chw", [(T.RandomHorizontalFlip, 1, 2), (T.RandomVerticalFlip, 0, 1)])
def test_flips(cls, axis_hwc, axis_chw):
    image = hwc(4, 5, 3)
    np.testing.assert_array_equal(cls(p=1.0)(image), np.flip(image, axis_hwc))
    chw = tc.tensor(to_chw_float(image))
    np.testing.assert_array_equal(cls(p=1.0)(chw).numpy(), np.flip(chw.numpy(), axis_chw))
    assert cls(p=0.0)(image) is image
    tc.manual_seed(3)
    flips = sum(not np.array_equal(cls()(image), image) for _ in range(400))
    assert 150 < flips < 250  # p = 0.5
    with pytest.raises(ValueError, match="p must be"):
        cls(p=1.5)


def test_cifar_pipeline_on_one_image_is_one_of_torchvisions_outputs():
    mean, std = T.CIFAR10_MEAN, T.CIFAR10_STD
    pipeline = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])
    image = hwc(32, 32, 3, seed=9)
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    tc.manual_seed(4)
    for _ in range(5):
        out = pipeline(image)
        assert isinstance(out, tc.Tensor) and out.shape == (3, 32, 32) and out.dtype == np.float32
        found = False
        for (i, j), window in windows(padded, (32, 32), 0).items():
            for flipped in (window, window[:, ::-1]):
                expected = (to_chw_float(flipped) - np.float32(mean)[:, None, None]) / np.float32(std)[:, None, None]
                found = found or np.array_equal(out.numpy(), expected)
        assert found
    assert "RandomCrop(size=(32, 32)" in repr(pipeline) and repr(pipeline).startswith("Compose(")
    assert T.Lambda(lambda img: img + 1)(1) == 2
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


@pytest.mark.parametrize("device", DEVICES)
def test_tensor_transforms_stay_on_the_device(device):
    x = to_chw_float(hwc(8, 8, 3, seed=5))
    t = tc.tensor(x, device=device)

    def host(result):
        assert isinstance(result, tc.Tensor) and result.device == t.device
        assert backend.device_of(result.array) == t.device
        return backend.to_device(result.array, "cpu")

    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    expected = (x - np.float32(mean)[:, None, None]) / np.float32(std)[:, None, None]
    np.testing.assert_allclose(host(T.Normalize(mean, std)(t)), expected, rtol=1e-6, atol=1e-6)
    tc.manual_seed(0)
    which(host(T.RandomCrop(8, padding=2)(t)), windows(np.pad(x, ((0, 0), (2, 2), (2, 2))), (8, 8), 1))
    np.testing.assert_array_equal(host(T.RandomHorizontalFlip(1.0)(t)), x[..., ::-1])
    np.testing.assert_array_equal(host(T.Pad(1, padding_mode="reflect")(t)),
                                  np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect"))
    np.testing.assert_array_equal(host(T.CenterCrop(4)(t)), x[:, 2:6, 2:6])


def test_per_sample_augmentation_through_the_batch_loader_repeats_under_manual_seed():
    """tinygrad_cnn.data.DataLoader (prefetch on by default) with a dataset whose per-sample
    RandomCrop draws from the library's generator, while the training loop draws from it too:
    the batches must not depend on how the two threads' draws interleave."""
    import time  # noqa: PLC0415

    from tinygrad_cnn.data import DataLoader, Shapes  # noqa: PLC0415

    def run(delay):
        tc.manual_seed(0)
        data = Shapes(32, transform=T.Compose([T.RandomCrop(32, padding=4), T.ToTensor()]))
        out = []
        for x, _ in DataLoader(data, batch_size=8):
            out.append(x.numpy().copy())
            tc.randn(3)  # the training step's own draw (dropout, say)
            time.sleep(delay)
        return np.stack(out)

    np.testing.assert_array_equal(run(0.0), run(0.05))
