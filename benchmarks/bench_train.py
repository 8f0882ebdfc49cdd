"""Full training steps and inference, ours vs PyTorch CPU, each library in its own process.

    python benchmarks/bench_train.py                      # SimpleCNN, SmallResNet, ResNet20, LeNet5 at b64/b128
    python benchmarks/bench_train.py --models simple_cnn --batches 64 --rounds 2 --blas default
    python benchmarks/bench_train.py --write-results      # also append the table to RESULTS.md

A training step is forward, cross-entropy, zero_grad, backward and an SGD step (momentum 0.9)
on random data held in memory; inference is an eval-mode forward without gradients, timed
after the training steps (a freshly initialized model's statistics flatter PyTorch's eval
speed), then again with every batch norm folded into its conv by each library's
nn.utils.fuse_conv_bn_eval ("fused"). For each
row the two libraries run in separate worker processes, alternately (ours, torch, ours,
torch: `--rounds` each), every worker after its own warm-up, with the same thread count. Rows
report the median over all timed steps and the ratio ours / torch (below 1.0: we are faster).

While timing, each worker reads /proc/stat to measure the CPU time that *other* processes used
(and hypervisor steal). If that exceeds `--max-load` of the machine's capacity in any worker,
the row is marked LOADED and its ratio is not reported: rerun on a quiet machine.
Peak memory is each worker's peak RSS; the baseline RSS after imports (torch's import costs
~220 MiB) is shown separately so the model's own footprint can be compared.

The kernels each library's matrix products run on are printed with every row: NumPy's
OpenBLAS picks them when loaded, from the CPU, unless the environment variable
OPENBLAS_CORETYPE overrides that choice; PyTorch uses MKL/oneDNN with its own CPU detection.
The development machines set OPENBLAS_CORETYPE=Haswell (AVX2 kernels on AVX-512 CPUs) and
OPENBLAS_L2_SIZE for old OpenBLAS builds; users' machines do not. So by default every worker
runs with both removed (`default` rows: the kernels a user's machine selects), and a second set
of rows keeps OPENBLAS_CORETYPE=Haswell (`haswell` rows, what these machines run); `--blas
default` or `--blas haswell` runs one set only. The library, tests and CI never change them.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# model name -> input shape (C, H, W) and constructor kwargs
MODELS = {
    "simple_cnn": ((3, 32, 32), {}),
    "small_resnet": ((3, 32, 32), {}),
    "lenet5": ((1, 28, 28), {"in_channels": 1, "input_size": 28}),
    "resnet20": ((3, 32, 32), {}),
    "minivgg": ((3, 32, 32), {}),
}

# ---------------------------------------------------------------- worker side
def _cpu_busy_jiffies():
    """Total non-idle CPU time of the machine (all cores) in clock ticks, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal


def _openblas_core():
    """The kernel set ("Haswell", "SkylakeX", ...) of the OpenBLAS loaded in this process, or
    "unknown"; NumPy's wheels bundle OpenBLAS with a prefixed symbol name."""
    import ctypes  # noqa: PLC0415
    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    for path in paths:
        lib = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            if hasattr(lib, symbol):
                getter = getattr(lib, symbol)
                getter.restype = ctypes.c_char_p
                return getter().decode().strip()
    return "unknown"


def fuse_conv_bn(model, fuse, identity):
    """`model` (eval mode; either library) with every BatchNorm2d that directly follows a Conv2d
    among its parent's children folded into that conv by `fuse` (nn.utils.fuse_conv_bn_eval)
    and replaced by `identity()`: the pairs of Sequentials and of conv1/bn1-style attributes."""
    for module in list(model.modules()):
        children = list(module.named_children())
        for (conv_name, conv), (bn_name, bn) in zip(children, children[1:]):
            if type(conv).__name__ == "Conv2d" and type(bn).__name__ == "BatchNorm2d":
                setattr(module, conv_name, fuse(conv, bn))
                setattr(module, bn_name, identity())
    return model


def _timed(fn, count):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def run_worker(args):
    import resource  # noqa: PLC0415

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np  # noqa: PLC0415
    shape, kwargs = MODELS[args.model]
    if args.size:  # a square input of another size (benchmarks/bench_scaling.py)
        shape = (shape[0], args.size, args.size)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((args.batch,) + shape).astype(np.float32)
    y_np = rng.integers(0, 10, args.batch)

    if args.worker == "torch":
        import torch  # noqa: PLC0415
        torch.set_num_threads(args.threads)
        sys.path.insert(0, HERE)
        import torch_reference  # noqa: PLC0415
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        torch.manual_seed(0)
        model = torch_reference.get(args.model, **kwargs)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.tensor(x_np), torch.tensor(y_np)

        def train_step():
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        def infer():
            with torch.no_grad():
                model(x)

        def set_mode(train):
            model.train(train)

        fuse, identity = torch.nn.utils.fuse_conv_bn_eval, torch.nn.Identity
    else:
        sys.path.insert(0, ROOT)
        import tinygrad_cnn as tc  # noqa: PLC0415
        import tinygrad_cnn.nn.functional as F  # noqa: PLC0415
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tc.manual_seed(0)
        model = tc.models.get(args.model, **kwargs)
        opt = tc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = tc.tensor(x_np), tc.tensor(y_np)

        def train_step():
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        def infer():
            with tc.no_grad():
                model(x)

        def set_mode(train):
            model.train(train)

        fuse, identity = tc.nn.utils.fuse_conv_bn_eval, tc.nn.Identity

    if args.worker == "torch":
        kernels = f"MKL/oneDNN, CPU capability {torch.backends.cpu.get_cpu_capability()}"
    else:
        kernels = f"OpenBLAS {_openblas_core()} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})"
    result = {"baseline_rss_mib": baseline / 1024, "kernels": kernels}
    ticks = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count()
    for mode, fn in (("train", train_step), ("infer", infer), ("fused", infer)):
        set_mode(mode == "train")
        if mode == "fused":  # inference again, each batch norm folded into the conv before it
            model = fuse_conv_bn(model, fuse, identity)
        _timed(fn, args.warmup)
        busy0, own0, wall0 = _cpu_busy_jiffies(), time.process_time(), time.perf_counter()
        times = _timed(fn, args.steps)
        busy = (_cpu_busy_jiffies() - busy0) / ticks
        own = time.process_time() - own0
        wall = time.perf_counter() - wall0
        others = max(busy - own, 0.0)
        result[mode] = {"times": times, "others_cpu_fraction": others / (wall * cores)}
        if mode == "train":
            result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# ---------------------------------------------------------------- driver side
def blas_environment(blas):
    """The environment of a worker: `default` without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
    (OpenBLAS picks its kernels from the CPU), `haswell` with OPENBLAS_CORETYPE=Haswell."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if blas == "default":
        env.pop("OPENBLAS_L2_SIZE", None)
    else:
        env["OPENBLAS_CORETYPE"] = "Haswell"
    return env


def run_row(args, model, batch, blas):
    runs = {"ours": [], "torch": []}
    for _ in range(args.rounds):
        for lib in ("ours", "torch"):
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--model", model,
                   "--batch", str(batch), "--steps", str(args.steps), "--warmup", str(args.warmup),
                   "--threads", str(args.threads)]
            env = blas_environment(blas)
            out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
            if out.returncode != 0:
                raise RuntimeError(f"worker {lib} {model} b{batch} failed:\n{out.stderr[-3000:]}")
            runs[lib].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return runs


def summarize(runs, mode):
    times = {lib: [t for r in rs for t in r[mode]["times"]] for lib, rs in runs.items()}
    load = max(r[mode]["others_cpu_fraction"] for rs in runs.values() for r in rs)
    return statistics.median(times["ours"]) * 1e3, statistics.median(times["torch"]) * 1e3, load


KERNELS_SEEN = set()


def format_row(args, model, batch, blas, runs):
    """One table row from the workers' results: medians, ratios (or LOADED), throughput, memory."""
    ours_kernels = runs["ours"][0]["kernels"]
    KERNELS_SEEN.update({f"ours ({blas} rows) {ours_kernels}", f"torch {runs['torch'][0]['kernels']}"})
    cells = [f'{blas}: {ours_kernels.split(" (")[0].replace("OpenBLAS ", "")}', model, str(batch)]
    for mode in ("train", "infer", "fused"):
        ours, theirs, load = summarize(runs, mode)
        ratio = f"{ours / theirs:.2f}" if load <= args.max_load else f"LOADED ({load:.0%} other CPU)"
        cells += [f"{ours:.1f}", f"{theirs:.1f}", ratio]
        if mode == "train":
            cells.append(f"{batch / ours * 1e3:.0f}")
    peak = {lib: max(r["peak_rss_mib"] for r in rs) for lib, rs in runs.items()}
    base = {lib: min(r["baseline_rss_mib"] for r in rs) for lib, rs in runs.items()}
    cells.append(f"{peak['ours']:.0f} / {peak['torch']:.0f} "
                 f"({peak['ours'] - base['ours']:.0f} / {peak['torch'] - base['torch']:.0f})")
    return "| " + " | ".join(cells) + " |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="simple_cnn,small_resnet,resnet20,lenet5")
    parser.add_argument("--batches", default="64,128")
    parser.add_argument("--rounds", type=int, default=2, help="worker processes per library and row")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per worker and mode")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-load", type=float, default=0.10,
                        help="largest fraction of machine CPU other processes may use while timing")
    parser.add_argument("--blas", default="default,haswell",
                        help="row sets: default (OPENBLAS_CORETYPE/L2_SIZE removed), haswell (CORETYPE=Haswell)")
    parser.add_argument("--write-results", action="store_true", help="append the table to benchmarks/RESULTS.md")
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_worker(args)

    header = ("| rows: ours' kernels | model | batch | train ours ms | train torch ms | train ratio | ours img/s | "
              "infer ours ms | infer torch ms | infer ratio | infer conv+bn fused: ours ms | torch ms | ratio | "
              "peak RSS ours / torch MiB (after imports) |")
    lines = [header, "|" + "---|" * 14]
    print(header)
    for blas in args.blas.split(","):
        if blas not in ("default", "haswell"):
            parser.error(f"--blas: expected default and/or haswell, got {blas!r}")
        for model in args.models.split(","):
            for batch in [int(b) for b in args.batches.split(",")]:
                line = format_row(args, model, batch, blas, run_row(args, model, batch, blas))
                lines.append(line)
                print(line, flush=True)
    kernels = "Kernels: " + "; ".join(sorted(KERNELS_SEEN))
    print(kernels)
    lines.insert(0, kernels + "\n")
    if args.write_results:
        command = "python benchmarks/bench_train.py " + " ".join(sys.argv[1:]).replace("--write-results", "").strip()
        with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
            f.write(f"\n### Training step, {time.strftime('%Y-%m-%d %H:%M')} — `{command}`\n\n")
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
