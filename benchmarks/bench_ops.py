"""Forward+backward time of the ops of a SimpleCNN step, ours vs PyTorch CPU, in one run.

    python benchmarks/bench_ops.py [--batch 64] [--repeats 15] [--threads 2]

For each case both libraries get the same inputs and the same output gradient; timings
alternate (ours, torch, ours, torch, ...) after warm-up, and the table gives medians and the
ratio ours / torch (below 1.0: we are faster).
"""
import argparse
import os
import statistics
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402  (thread counts must be set before numpy loads BLAS)
import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tinygrad_cnn as tc  # noqa: E402
import tinygrad_cnn.nn.functional as F  # noqa: E402

torch.set_num_threads(ARGS.threads)

# SimpleCNN's three stages at batch N: (in_channels, out_channels, spatial size)
STAGES = [(3, 32, 32), (32, 64, 16), (64, 128, 8)]


def cases(n):
    """(name, our function, torch function, input shapes, which inputs need grad)."""
    out = []
    for i, (cin, cout, s) in enumerate(STAGES):
        out.append((f"conv2d {cin}->{cout} @{s}x{s}",
                    lambda x, w, b: F.conv2d(x, w, b, padding=1),
                    lambda x, w, b: TF.conv2d(x, w, b, padding=1),
                    [(n, cin, s, s), (cout, cin, 3, 3), (cout,)], [i > 0, True, True]))
    for cin, c, s in STAGES:
        out.append((f"batch_norm {c}ch @{s}x{s}",
                    lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                    lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
                    [(n, c, s, s), (c,), (c,)], [True, True, True]))
    for cin, c, s in STAGES:
        out.append((f"relu {c}ch @{s}x{s}", F.relu, TF.relu, [(n, c, s, s)], [True]))
    for cin, c, s in STAGES:
        out.append((f"max_pool2d 2x2 {c}ch @{s}x{s}", lambda x: F.max_pool2d(x, 2),
                    lambda x: TF.max_pool2d(x, 2), [(n, c, s, s)], [True]))
    return out


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    rng = np.random.default_rng(0)
    print(f"batch {ARGS.batch}, {ARGS.threads} threads, median of {ARGS.repeats} (forward + backward)")
    print(f"{'op':34s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
    ratios = []
    for name, ours_fn, torch_fn, shapes, needs in cases(ARGS.batch):
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        ours_in = [tc.tensor(a, requires_grad=r) for a, r in zip(arrays, needs)]
        torch_in = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, needs)]
        out_shape = ours_fn(*ours_in).shape
        grad = rng.standard_normal(out_shape).astype(np.float32)
        ours_grad, torch_grad = tc.tensor(grad), torch.tensor(grad)

        def run_ours():
            ours_fn(*ours_in).backward(ours_grad)
            for t in ours_in:
                t.grad = None

        def run_torch():
            torch_fn(*torch_in).backward(torch_grad)
            for t in torch_in:
                t.grad = None

        for _ in range(ARGS.warmup):
            run_ours()
            run_torch()
        ours_t, torch_t = [], []
        for _ in range(ARGS.repeats):
            ours_t.append(timed(run_ours))
            torch_t.append(timed(run_torch))
        o, t = statistics.median(ours_t) * 1e3, statistics.median(torch_t) * 1e3
        ratios.append(o / t)
        print(f"{name:34s} {o:9.2f} {t:9.2f} {o / t:7.2f}")
    print(f"geometric mean ratio: {float(np.exp(np.mean(np.log(ratios)))):.2f}")


if __name__ == "__main__":
    main()
