"""Data-parallel training steps: one process against 2 MPI ranks at the same global batch.

    python benchmarks/bench_dist.py [--models simple_cnn,small_resnet] [--batch 64] [--steps 20]

For each model: the median step (forward, cross-entropy, backward, gradient averaging, SGD)
of one process with 2 BLAS threads on the whole batch, and of 2 ranks (`mpiexec -n 2`, one
BLAS thread each, DistributedDataParallel, half the batch each). Inside the 2-rank step the
table separates the time a rank waited for the slower one (a barrier before the gradient
all-reduce) and the all-reduce itself. Workers run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
removed (the kernels a user's machine picks) and print the kernels used. Needs the mpi extra.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def worker(args):
    """One process of a measurement: times `steps` training steps after a warm-up; rank 0
    writes the medians to args.out."""
    sys.path.insert(0, ROOT)
    import numpy as np  # noqa: PLC0415 (after the environment is set)
    import tinygrad_cnn as tc  # noqa: PLC0415
    import tinygrad_cnn.nn.functional as F  # noqa: PLC0415
    from tinygrad_cnn import distributed as dist  # noqa: PLC0415

    world = dist.init(set_blas_threads=False)
    tc.manual_seed(0)
    model = tc.models.get(args.model)
    if world.size > 1:
        model = dist.DistributedDataParallel(tc.nn.SyncBatchNorm.convert_sync_batchnorm(model))
    opt = tc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    per_rank = args.batch // world.size
    rng = np.random.default_rng(world.rank)
    x = tc.tensor(rng.standard_normal((per_rank, 3, 32, 32)).astype(np.float32))
    y = tc.tensor(rng.integers(0, 10, per_rank))
    waits, reductions = [], []
    if world.size > 1:  # time the wait for the slower rank apart from the all-reduce
        average = model._average_gradients

        def timed_average():
            start = time.perf_counter()
            world.barrier()
            middle = time.perf_counter()
            average()
            waits.append(middle - start)
            reductions.append(time.perf_counter() - middle)
        model._average_gradients = timed_average

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    waits.clear()
    reductions.clear()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    if world.rank == 0:
        result = {"step": statistics.median(times), "blas": _openblas_core()}
        if waits:
            result.update(wait=statistics.median(waits), allreduce=statistics.median(reductions))
        with open(args.out, "w") as f:
            json.dump(result, f)


def _openblas_core():
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415
    except ImportError:
        return "unknown"
    return ", ".join(f"{i['internal_api']} {i.get('architecture', '?')} x{i['num_threads']}"
                     for i in threadpool_info() if i["user_api"] == "blas")


def measure(model, ranks, batch, steps):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    threads = str(2 // ranks if ranks <= 2 else 1)
    env.update(OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, PYTHONPATH=ROOT,
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_btl_tcp_if_include="lo",
               OMPI_MCA_oob_tcp_if_include="lo")
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "result.json")
        command = [sys.executable, os.path.abspath(__file__), "--worker", "--model", model, "--batch", str(batch),
                   "--steps", str(steps), "--out", out]
        if ranks > 1:
            mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
            if mpiexec is None:
                sys.exit("mpiexec not found: pip install -e '.[mpi]'")
            command = [mpiexec, "-n", str(ranks), "--oversubscribe"] + command
        subprocess.run(command, env=env, check=True, timeout=1800)
        with open(out) as f:
            return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="simple_cnn,small_resnet")
    parser.add_argument("--batch", type=int, default=64, help="the global batch")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="alternating measurements of each setting")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"global batch {args.batch}, {args.steps} steps per measurement, {args.rounds} rounds, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    print("| model | 1 process, 2 threads (ms) | 2 ranks, 1 thread each (ms) | speed-up | "
          "waiting for the slower rank (ms) | all-reduce (ms) | all-reduce share |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model in args.models.split(","):
        one, two = [], []
        for _ in range(args.rounds):  # alternate, so that drifts of the machine hit both
            one.append(measure(model, 1, args.batch, args.steps))
            two.append(measure(model, 2, args.batch, args.steps))
        single = statistics.median(r["step"] for r in one) * 1e3
        double = statistics.median(r["step"] for r in two) * 1e3
        wait = statistics.median(r["wait"] for r in two) * 1e3
        reduce = statistics.median(r["allreduce"] for r in two) * 1e3
        print(f"| {model} | {single:.1f} | {double:.1f} | {single / double:.2f} | {wait:.1f} | {reduce:.2f} | "
              f"{reduce / double:.1%} |", flush=True)
    print(f"kernels: {one[0]['blas']} (1 process); {two[0]['blas']} (each rank)")


if __name__ == "__main__":
    main()
