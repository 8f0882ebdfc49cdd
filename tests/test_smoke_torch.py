"""A first end-to-end check: a small conv net's forward and gradients equal PyTorch's."""
import numpy as np
import pytest
import torch.nn.functional as TF

import tinygrad_cnn.nn.functional as F
from helpers import DEVICES, DTYPES, compare_with_torch


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_small_conv_net_matches_torch(device, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 8, 8))
    w = rng.standard_normal((5, 3, 3, 3)) * 0.3
    b = rng.standard_normal(5)
    fc = rng.standard_normal((3, 5 * 4 * 4)) * 0.1
    target = np.array([0, 2, 1, 2])

    def ours(x, w, b, fc, t):
        h = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)
        return F.cross_entropy(F.linear(h.flatten(1), fc), t)

    def theirs(x, w, b, fc, t):
        h = TF.max_pool2d(TF.relu(TF.conv2d(x, w, b, padding=1)), 2)
        return TF.cross_entropy(TF.linear(h.flatten(1), fc), t)

    compare_with_torch(ours, theirs, [x, w, b, fc, target], device=device, dtype=dtype)
