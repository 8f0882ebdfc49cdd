"""The GPU step budget, counted by the CuPy stand-in: what a training step asks of the device.

Reading a value back from a GPU waits for all queued work, so a training loop that read its
loss every step would run the GPU one step at a time. `fit` reads once per logging interval
(`log_every`), and nothing else in a step reads from the device. The number of array calls
per step (each a kernel launch or a view on a real GPU) is kept under a budget measured when
the flat parameter buffers went in.
"""
import math

import cupy_standin
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.data import DataLoader
from tinygrad_cnn.train import fit
from helpers import STANDIN

# SmallResNet, batch 8, SGD with momentum and weight decay: 2,364 array calls per step before
# the flat buffers (and 3 device reads), 1,691 after; the budget leaves room for small changes.
CALLS_PER_STEP_BUDGET = 1_750


def small_resnet_run(device, steps, batch=8):
    tc.manual_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (steps * batch, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, steps * batch)
    loader = DataLoader((images, labels), batch_size=batch, shuffle=True, device=device, prefetch=False)
    model = tc.models.get("small_resnet").to(device)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    return model, opt, loader


@pytest.mark.parametrize("device", [STANDIN])
@pytest.mark.parametrize("steps, log_every", [(6, 3), (5, 2), (4, 20)])
def test_fit_reads_from_the_device_once_per_logging_interval(device, steps, log_every):
    model, opt, loader = small_resnet_run(device, steps)
    with cupy_standin.counting() as window:
        history = fit(model, loader, opt, 1, verbose=False, log_every=log_every)
    assert history["epoch"] == [1]
    reads = math.ceil(steps / log_every)   # the losses and accuracy of each interval
    reads += 1                             # every parameter checked finite at the end of the epoch
    assert window.device_to_host <= reads, f"{window.device_to_host} reads for {steps} steps, budget {reads}"


@pytest.mark.parametrize("device", [STANDIN])
def test_a_training_step_stays_within_its_array_call_budget(device):
    model, opt, loader = small_resnet_run(device, steps=2)
    x, y = next(iter(loader))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # the first step creates the optimizer's state
    with cupy_standin.counting() as window:
        step()
    assert window.device_to_host == 0
    assert window.calls <= CALLS_PER_STEP_BUDGET, f"{window.calls} array calls per SmallResNet step"
