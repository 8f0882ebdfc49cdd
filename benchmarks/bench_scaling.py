"""How the cost of a training step grows with the work: SmallResNet, ours vs PyTorch CPU.

    python benchmarks/bench_scaling.py                  # batch 16/64/256 at 32 px, 32/64/128 px at batch 64
    python benchmarks/bench_scaling.py --rounds 1 --steps 3 --plot runs/scaling.png

Two sweeps of one model: the batch size at 32x32 inputs, and the input size at batch 64. Each
point runs benchmarks/bench_train.py's workers (each library in its own process, alternately,
`--rounds` each; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed, the kernels a user's machine
picks) and reports the median training step, the time per image, and each worker's peak RSS
above its imports. The plot (PNG) shows time per image and peak memory against the work.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_train import blas_environment  # noqa: E402


def measure(args, batch, size):
    """Medians of every timed step (ms) and the largest peak RSS above imports (MiB), per library."""
    results = {"ours": [], "torch": []}
    for _ in range(args.rounds):
        for lib in ("ours", "torch"):
            cmd = [sys.executable, os.path.join(HERE, "bench_train.py"), "--worker", lib, "--model", args.model,
                   "--batch", str(batch), "--size", str(size), "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=blas_environment("default"))
            if out.returncode != 0:
                raise RuntimeError(f"worker {lib} b{batch} {size}px failed:\n{out.stderr[-3000:]}")
            results[lib].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {}
    for lib, runs in results.items():
        step = statistics.median(t for r in runs for t in r["train"]["times"]) * 1e3
        memory = max(r["peak_rss_mib"] - r["baseline_rss_mib"] for r in runs)
        load = max(r["train"]["others_cpu_fraction"] for r in runs)
        summary[lib] = {"step_ms": step, "ms_per_image": step / batch, "memory_mib": memory, "load": load,
                        "kernels": runs[0]["kernels"]}
    return summary


def plot(points, path, model="SmallResNet", threads=2):
    import matplotlib  # noqa: PLC0415
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter  # noqa: PLC0415

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for column, sweep in enumerate(("batch", "size")):
        rows = [p for p in points if p["sweep"] == sweep]
        xs = [p[sweep] for p in rows]
        for lib, style in (("ours", "o-"), ("torch", "s--")):
            name = "tinygrad_cnn" if lib == "ours" else "PyTorch"
            axes[0][column].plot(xs, [p[lib]["ms_per_image"] for p in rows], style, label=name)
            axes[1][column].plot(xs, [p[lib]["memory_mib"] for p in rows], style, label=name)
        label = "batch size (32x32 inputs)" if sweep == "batch" else "input size in px (batch 64)"
        for row, ylabel in enumerate(("training step, ms per image", "peak RSS above imports, MiB")):
            axes[row][column].set_xscale("log", base=2)
            axes[row][column].set_yscale("log")
            axes[row][column].yaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
            axes[row][column].yaxis.set_major_formatter(ScalarFormatter())  # 2, 5, 10, not 2x10^0
            axes[row][column].yaxis.set_minor_formatter(NullFormatter())
            axes[row][column].set_xticks(xs, [str(x) for x in xs])
            axes[row][column].set_xlabel(label)
            axes[row][column].set_ylabel(ylabel)
            axes[row][column].grid(True, which="both", alpha=0.3)
            axes[row][column].legend()
    fig.suptitle(f"{model} training step: how cost grows ({threads} threads each)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small_resnet", choices=["small_resnet", "resnet20"],
                        help="a model that ends in global pooling, so any input size fits")
    parser.add_argument("--batches", default="16,64,256", help="the batch sweep, at 32 px")
    parser.add_argument("--sizes", default="32,64,128", help="the input-size sweep, at batch 64")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plot", default=os.path.join(HERE, "scaling.png"))
    args = parser.parse_args()

    header = ("| sweep | batch | px | ours ms/step | torch ms/step | ratio | ours ms/img | torch ms/img | "
              "peak RSS above imports ours / torch MiB | other CPU |")
    print(header)
    print("|" + "---|" * 10)
    points, cache = [], {}
    plan = [("batch", int(b), 32) for b in args.batches.split(",")] + \
           [("size", 64, int(s)) for s in args.sizes.split(",")]
    for sweep, batch, size in plan:
        if (batch, size) not in cache:
            cache[batch, size] = measure(args, batch, size)
        result = cache[batch, size]
        points.append({"sweep": sweep, "batch": batch, "size": size, **result})
        ours, torch = result["ours"], result["torch"]
        print(f"| {sweep} | {batch} | {size} | {ours['step_ms']:.1f} | {torch['step_ms']:.1f} | "
              f"{ours['step_ms'] / torch['step_ms']:.2f} | {ours['ms_per_image']:.2f} | {torch['ms_per_image']:.2f} | "
              f"{ours['memory_mib']:.0f} / {torch['memory_mib']:.0f} | "
              f"{max(ours['load'], torch['load']):.0%} |", flush=True)
    print(f"Kernels: ours {points[0]['ours']['kernels']}; torch {points[0]['torch']['kernels']}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    plot(points, args.plot, {"small_resnet": "SmallResNet", "resnet20": "ResNet20"}[args.model], args.threads)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
