"""Per-op time table of one training step (forward, cross-entropy, backward, SGD step).

    python benchmarks/profile_step.py --model simple_cnn --batch 64 [--steps 10] [--threads 2]

Every primitive op's forward and backward are timed by wrapping the Function classes; the
table lists each op's share of the step, which tells where optimization effort pays.
"""
import argparse
import collections
import os
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="simple_cnn")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np  # noqa: PLC0415
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import tinygrad_cnn as tc  # noqa: PLC0415
    import tinygrad_cnn.nn.functional as F  # noqa: PLC0415
    from tinygrad_cnn.autograd import Function  # noqa: PLC0415

    totals = collections.defaultdict(float)

    def timed(name, fn):
        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                totals[name] += time.perf_counter() - start
        return staticmethod(wrapper)

    def all_functions(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from all_functions(sub)

    for cls in set(all_functions(Function)):
        if "forward" in cls.__dict__:
            cls.forward = timed(f"{cls.op_name()} forward", cls.__dict__["forward"].__func__)
        if "backward" in cls.__dict__:
            cls.backward = timed(f"{cls.op_name()} backward", cls.__dict__["backward"].__func__)

    shape = (1, 28, 28) if args.model.startswith("lenet") else (3, 32, 32)
    kwargs = {"in_channels": 1, "input_size": 28} if args.model.startswith("lenet") else {}
    tc.manual_seed(0)
    model = tc.models.get(args.model, **kwargs)
    opt = tc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = tc.tensor(rng.standard_normal((args.batch,) + shape).astype(np.float32))
    y = tc.tensor(rng.integers(0, 10, args.batch))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        start = time.perf_counter()
        opt.step()
        totals["optimizer step"] += time.perf_counter() - start

    for _ in range(3):
        step()
    totals.clear()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    wall = (time.perf_counter() - start) / args.steps * 1e3
    print(f"{args.model} batch {args.batch}: {wall:.1f} ms per step (mean of {args.steps})")
    print(f"{'op':28s} {'ms/step':>8s} {'share':>6s}")
    accounted = 0.0
    for name, total in sorted(totals.items(), key=lambda kv: -kv[1]):
        ms = total / args.steps * 1e3
        accounted += ms
        print(f"{name:28s} {ms:8.2f} {ms / wall:6.1%}")
    print(f"{'engine, Python, other':28s} {wall - accounted:8.2f} {(wall - accounted) / wall:6.1%}")


if __name__ == "__main__":
    main()
