"""What one training step asks of a GPU, counted on the test suite's strict CuPy stand-in:
array calls (each a kernel launch, a copy or a view on a real GPU), device-to-host reads
(each one waits for all queued work) and host-to-device copies.

    python benchmarks/gpu_calls.py [--models small_resnet,simple_cnn,resnet20] [--batch 8]

Needs CuPy installed (the stand-in reads its names from it; no GPU needed), as the test extra
installs it. A manual step (forward, cross-entropy, backward, SGD with momentum and weight
decay), then one epoch of `fit` (batches moved to the device by the DataLoader, losses and
accuracy read every `log_every` steps).
"""
import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import cupy_standin  # noqa: E402
import tinygrad_cnn as tc  # noqa: E402
import tinygrad_cnn.nn.functional as F  # noqa: E402
from tinygrad_cnn import backend, optim  # noqa: E402
from tinygrad_cnn.data import DataLoader  # noqa: E402
from tinygrad_cnn.train import fit  # noqa: E402


def count(model_name, batch, steps, log_every):
    tc.manual_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (steps * batch, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, steps * batch)
    loader = DataLoader((images, labels), batch_size=batch, device="cuda:0", prefetch=False)
    model = tc.models.get(model_name).to("cuda:0")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x, y = next(iter(loader))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    with cupy_standin.counting() as manual:
        step()
    with cupy_standin.counting() as epoch:
        fit(model, loader, opt, 1, verbose=False, log_every=log_every)
    return manual, epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="small_resnet,simple_cnn,resnet20")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="steps in the fit epoch")
    parser.add_argument("--log-every", type=int, default=20)
    args = parser.parse_args()
    standin = cupy_standin.load()
    if standin is None:
        sys.exit(cupy_standin.skip_reason())
    print(f"| model | array calls per step | reads per step | copies per step | fit: reads in {args.steps} steps "
          f"(log_every={args.log_every}) | fit: copies |")
    print("|---|---:|---:|---:|---:|---:|")
    with backend.cupy_module_replaced(standin):
        for name in args.models.split(","):
            manual, epoch = count(name, args.batch, args.steps, args.log_every)
            print(f"| {name} | {manual.calls} | {manual.device_to_host} | {manual.host_to_device} | "
                  f"{epoch.device_to_host} | {epoch.host_to_device} |")


if __name__ == "__main__":
    main()
