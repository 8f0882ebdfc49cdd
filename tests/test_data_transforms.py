"""Batch transforms: identities, independent references (np.rot90, np.pad, torch grid_sample,
per-image loops written here), seeding, and the numpy/cupy dispatch."""
import os

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import backend
from tinygrad_cnn.data import CIFAR10, MNIST
from tinygrad_cnn.data import transforms as T
from helpers import DEVICES


def batch(n=6, c=3, h=8, w=8, seed=0, device="cpu", dtype=np.float32):
    x = np.random.default_rng(seed).random((n, c, h, w)).astype(dtype)
    return backend.to_device(x, device)


def host(a):
    return backend.to_device(a.array if isinstance(a, tc.Tensor) else a, "cpu")


RANDOM_TRANSFORMS = [
    lambda seed: T.RandomCrop(8, padding=2, seed=seed),
    lambda seed: T.RandomCrop(6, padding=1, padding_mode="reflect", seed=seed),
    lambda seed: T.RandomHorizontalFlip(0.5, seed=seed),
    lambda seed: T.RandomVerticalFlip(0.5, seed=seed),
    lambda seed: T.RandomRotation(30, seed=seed),
    lambda seed: T.RandomTranslate(0.25, seed=seed),
    lambda seed: T.Cutout(3, seed=seed),
]


# ------------------------------------------------------------------ identities
@pytest.mark.parametrize("device", DEVICES)
def test_flip_twice_is_identity(device):
    x = batch(device=device)
    flip = T.RandomHorizontalFlip(p=1.0)
    once = host(flip(x))
    np.testing.assert_array_equal(once, host(x)[..., ::-1])
    np.testing.assert_array_equal(host(flip(flip(x))), host(x))
    vflip = T.RandomVerticalFlip(p=1.0)
    np.testing.assert_array_equal(host(vflip(x)), host(x)[:, :, ::-1])
    np.testing.assert_array_equal(host(vflip(vflip(x))), host(x))


@pytest.mark.parametrize("device", DEVICES)
def test_flip_p_half_flips_each_image_or_keeps_it(device):
    x = batch(n=64, device=device)
    out, xs = host(T.RandomHorizontalFlip(0.5, seed=1)(x)), host(x)
    flipped = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, xs)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, xs)])
    assert np.all(flipped | kept)
    assert 10 < flipped.sum() < 54  # both outcomes happen
    assert np.array_equal(host(T.RandomHorizontalFlip(0.0)(x)), xs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_crop_with_padding_zero_at_full_size_is_identity(device, mode):
    x = batch(h=7, w=9, device=device)
    out = T.RandomCrop((7, 9), padding=0, padding_mode=mode)(x)
    np.testing.assert_array_equal(host(out), host(x))


@pytest.mark.parametrize("device", DEVICES)
def test_rotation_by_zero_is_identity(device):
    x = batch(h=9, w=6, device=device)
    np.testing.assert_array_equal(host(T.RandomRotation(0)(x)), host(x))
    np.testing.assert_array_equal(host(T.RandomRotation((0, 0))(x)), host(x))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("k", [1, 2, 3, -1])
def test_rotation_by_multiples_of_90_equals_rot90(device, size, k):
    x = batch(h=size, w=size, device=device)
    out = T.RandomRotation((90 * k, 90 * k))(x)
    np.testing.assert_allclose(host(out), np.rot90(host(x), k, axes=(2, 3)), atol=1e-5)


def test_normalize_then_inverse_returns_input():
    x = batch(dtype=np.float64)
    norm = T.Normalize((0.1, 0.2, 0.3), (0.5, 0.25, 2.0))
    y = norm(x)
    np.testing.assert_allclose(y[:, 1], (x[:, 1] - 0.2) / 0.25)
    np.testing.assert_allclose(norm.inverse(y), x, rtol=1e-12, atol=1e-12)
    # one value for all channels; Tensors in, Tensors out
    t = tc.tensor(x.astype(np.float32))
    out = T.Normalize(0.5, 0.5)(t)
    assert isinstance(out, tc.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), 2 * x - 1, rtol=1e-5, atol=1e-6)


def test_normalize_constants_match_the_data():
    """The provided CIFAR-10 / MNIST statistics describe real images: the in-repo synthetic data
    is not CIFAR, so compare with the shared files when present."""
    shared = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
    if not os.path.isdir(shared):
        pytest.skip(f"real data not found at {shared}")
    def moments(pixels):  # mean and std of uint8 pixels scaled to [0, 1], from a histogram
        counts = np.bincount(pixels.reshape(-1), minlength=256)
        values = np.arange(256) / 255.0
        mean = (counts * values).sum() / counts.sum()
        return mean, np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())

    x = CIFAR10(os.path.join(shared, "cifar10-subset")).data
    stats = np.array([moments(x[:, c]) for c in range(3)])
    np.testing.assert_allclose(stats[:, 0], T.CIFAR10_MEAN, atol=0.01)
    np.testing.assert_allclose(stats[:, 1], T.CIFAR10_STD, atol=0.01)
    mean, std = moments(MNIST(os.path.join(shared, "mnist-subset"), train=False).data)
    np.testing.assert_allclose([mean, std], [T.MNIST_MEAN[0], T.MNIST_STD[0]], atol=0.005)


# ------------------------------------------------------------------ against independent references
def test_rotation_matches_torch_grid_sample():
    """Bilinear rotation with zero fill equals torch's affine_grid + grid_sample (align_corners)."""
    n, c, h, w = 5, 2, 7, 12
    x = np.random.default_rng(3).random((n, c, h, w))
    rotate = T.RandomRotation(70, seed=11)
    out = rotate(x)
    angles = np.deg2rad(-70 + 140 * np.random.default_rng(11).random(n))  # the transform's draws
    cy, cx = (h - 1) / 2, (w - 1) / 2
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = np.cos(angles)
    theta[:, 0, 1] = -np.sin(angles) * cy / cx
    theta[:, 1, 0] = np.sin(angles) * cx / cy
    grid = torch.nn.functional.affine_grid(torch.tensor(theta), (n, c, h, w), align_corners=True)
    ref = torch.nn.functional.grid_sample(torch.tensor(x), grid, mode="bilinear", padding_mode="zeros",
                                          align_corners=True).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-10)


def test_rotation_fill_value_outside():
    x = np.zeros((1, 1, 9, 9))
    out = T.RandomRotation((45, 45), fill=1.0)(x)
    assert out[0, 0, 0, 0] == pytest.approx(1.0) and out[0, 0, 4, 4] == pytest.approx(0.0)


@given(side=st.integers(2, 8), size=st.integers(1, 8), pad=st.integers(0, 10),
       mode=st.sampled_from(["constant", "edge", "reflect", "symmetric"]), seed=st.integers(0, 2**16))
def test_crop_is_a_window_of_the_padded_image(side, size, pad, mode, seed):
    """Every crop equals some window of numpy.pad's padding (also pads wider than the image)."""
    size = min(size, side + 2 * pad)
    x = batch(n=4, h=side, w=side, seed=seed % 7)
    out = T.RandomCrop(size, padding=pad, padding_mode=mode, fill=0.5, seed=seed)(x)
    assert out.shape == (4, 3, size, size)
    widths = ((0, 0), (0, 0), (pad, pad), (pad, pad))
    padded = np.pad(x, widths, mode=mode, **({"constant_values": 0.5} if mode == "constant" else {}))
    span = side + 2 * pad - size + 1
    for img, ref in zip(out, padded):
        assert any(np.array_equal(img, ref[:, i:i + size, j:j + size]) for i in range(span) for j in range(span)), \
            "a crop must be a window of the padded image"
    full = T.RandomCrop(side + 2 * pad, padding=pad, padding_mode=mode, fill=0.5)(x)
    np.testing.assert_array_equal(full, padded)


def test_crop_offsets_cover_all_positions():
    x = np.broadcast_to(np.arange(6.0)[None, None, None, :], (2000, 1, 1, 6)).copy()
    out = T.RandomCrop((1, 4), padding=0, seed=0)(x)
    starts = out[:, 0, 0, 0].astype(int)
    assert set(starts) == {0, 1, 2}
    np.testing.assert_array_equal(out[:, 0, 0], starts[:, None] + np.arange(4))


def test_translate_shifts_with_zero_fill():
    n, h, w = 40, 10, 10
    x = batch(n=n, c=2, h=h, w=w) + 1.0  # no zeros in the input
    out = T.RandomTranslate(0.2, seed=4)(x)
    seen = set()
    for img, src in zip(out, x):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = np.zeros_like(src)
                ref[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
                    src[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
                if np.array_equal(img, ref):
                    matches.append((dy, dx))
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 10


def test_cutout_zeroes_one_square():
    n, size = 30, 4
    x = batch(n=n, h=12, w=12) + 1.0
    out = T.Cutout(size, seed=2)(x)
    for img, src in zip(out, x):
        zero = np.all(img == 0, axis=0)
        assert np.array_equal(img[:, ~zero], src[:, ~zero])
        rows, cols = np.nonzero(zero.any(axis=1))[0], np.nonzero(zero.any(axis=0))[0]
        assert 1 <= rows.size <= size and 1 <= cols.size <= size
        assert zero.sum() == rows.size * cols.size  # a (clipped) rectangle
    assert np.array_equal(T.Cutout(size, p=0.0)(x), x)


# ------------------------------------------------------------------ seeding
@pytest.mark.parametrize("make", RANDOM_TRANSFORMS)
def test_same_seed_repeats(make):
    x = batch(n=16)
    a, b = make(5)(x), make(5)(x)
    np.testing.assert_array_equal(a, b)
    t = make(5)
    first, second = t(x), t(x)  # one generator: consecutive calls differ
    assert not np.array_equal(first, second)
    assert not np.array_equal(make(5)(x), make(6)(x))


def test_manual_seed_makes_default_generator_repeat():
    x = batch(n=16)
    pipeline = T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(), T.RandomRotation(20), T.Cutout(2)])
    tc.manual_seed(123)
    a = pipeline(x)
    tc.manual_seed(123)
    b = pipeline(x)
    c = pipeline(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_explicit_generator_is_used_and_own_seed_wins():
    x = batch(n=16)
    a = T.RandomCrop(8, padding=2)(x, np.random.default_rng(9))
    b = T.RandomCrop(8, padding=2)(x, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    c = T.RandomCrop(8, padding=2, seed=1)(x, np.random.default_rng(9))
    d = T.RandomCrop(8, padding=2, seed=1)(x)
    np.testing.assert_array_equal(c, d)


def test_legacy_randomstate_generator_works():
    """cupy's RandomState API (random_sample/randint) is what GPU runs use; numpy's legacy
    RandomState has the same API, so it exercises that branch on the CPU."""
    x = batch(n=8)
    for make in RANDOM_TRANSFORMS:
        t = make(None)
        a = t(x, np.random.RandomState(0))
        b = t(x, np.random.RandomState(0))
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ shapes, dtypes, errors
@pytest.mark.parametrize("device", DEVICES)
def test_full_pipeline_on_device(device):
    x = batch(n=10, h=32, w=32, device=device)
    pipeline = T.Compose([T.RandomCrop(32, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip(),
                          T.RandomRotation(15), T.RandomTranslate(0.1), T.Cutout(8),
                          T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)])
    out = pipeline(x, backend.generator(backend.device_of(x)))
    assert backend.device_of(out) == backend.device_of(x)
    assert out.shape == (10, 3, 32, 32) and out.dtype == np.float32
    assert np.isfinite(host(out)).all()


def test_single_image_and_errors():
    img = batch(n=1)[0]
    assert T.RandomCrop(6, seed=0)(img).shape == (3, 6, 6)
    with pytest.raises(ValueError, match="N×C×H×W"):
        T.RandomHorizontalFlip()(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="larger"):
        T.RandomCrop(20)(batch())
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(8, padding_mode="wrap-around")
    with pytest.raises(ValueError, match="channel"):
        T.Normalize((0.5, 0.5), (1.0, 1.0))(batch(c=3))



@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("transform", [T.Normalize(0.5, 0.25), T.RandomCrop(6, padding=1), T.RandomHorizontalFlip()],
                         ids=["Normalize", "RandomCrop", "RandomHorizontalFlip"])
def test_a_batch_without_a_channel_axis_is_refused(device, transform):
    """A batch of grayscale images (N, H, W) would be taken for one image with N channels:
    normalized with the wrong statistics, or every image cropped and flipped alike. It is
    refused with a message saying how to add the channel axis; one image (C, H, W) still works."""
    batch = backend.to_device(np.zeros((16, 8, 8), dtype=np.float32), backend.parse_device(device))
    with pytest.raises(ValueError, match=r"\(16, 8, 8\).*16 channels.*x\[:, None\]"):
        transform(batch)
    assert transform(batch[:3]).shape[0] == 3
