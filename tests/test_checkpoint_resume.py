"""A model + optimizer + scheduler checkpoint saved with tc.save and restored with tc.load
continues training exactly as an uninterrupted run."""
import os

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim


def make_run(optimizer_name):
    tc.manual_seed(0)
    model = tc.models.LeNet5(in_channels=1, input_size=28)
    if optimizer_name == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4, nesterov=True)
    else:
        opt = optim.AdamW(model.parameters(), lr=1e-3, amsgrad=True)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def train_steps(model, opt, sched, batches):
    losses = []
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("optimizer_name", ["sgd", "adamw"])
def test_resume_from_checkpoint_continues_identically(tmp_path, optimizer_name):
    rng = np.random.default_rng(0)
    batches = [(tc.tensor(rng.standard_normal((8, 1, 28, 28)).astype(np.float32)),
                tc.tensor(rng.integers(0, 10, 8))) for _ in range(6)]

    model, opt, sched = make_run(optimizer_name)
    straight = train_steps(model, opt, sched, batches)
    final = {k: v.copy() for k, v in model.state_dict().items()}

    model, opt, sched = make_run(optimizer_name)
    first = train_steps(model, opt, sched, batches[:3])
    path = os.path.join(tmp_path, "last.npz")
    tc.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "epoch": 3}, path)

    model, opt, sched = make_run(optimizer_name)  # fresh objects, as after a restart
    state = tc.load(path)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    assert state["epoch"] == 3
    second = train_steps(model, opt, sched, batches[3:])

    np.testing.assert_array_equal(first + second, straight)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, final[key], err_msg=key)
