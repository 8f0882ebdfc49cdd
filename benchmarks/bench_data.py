"""Data-pipeline speed: batch-transform throughput and what the DataLoader adds to training.

    python benchmarks/bench_data.py            # short default run (about 30 s on 2 cores)
    python benchmarks/bench_data.py --long     # 5,120-image epochs (capped at the data: 5,000), 7 repeats (~4 min)

1. Throughput on ONE thread (OMP/OPENBLAS/MKL threads set to 1 before numpy loads) of
   CIFAR-sized batches (128×3×32×32 float32): RandomCrop(32, padding=4) + RandomHorizontalFlip
   + Normalize, alone and as the DataLoader's whole batch preparation (gather from uint8
   data, scale to [0, 1], the same transforms), without prefetching; other transforms listed
   for reference. Images per second, median of the repeats.
2. Loader overhead: one training epoch of SimpleCNN (SGD step: forward, cross-entropy,
   backward, in-place update under tc.no_grad) fed from batches already in memory, against the
   same epoch fed through DataLoader with the augmentations above (prefetching in its thread,
   and, for reference, without). Runs alternate; the table gives the median and the fastest
   run of each (wall clock) and the median CPU time of all the process's threads.
3. Epoch throughput: images/s of one shuffled epoch over the whole data set (batches of 128,
   crop + flip + normalize), consumed without training, through (a) the batch path,
   `tinygrad_cnn.data.DataLoader` with batch transforms (prefetch thread, as by default), and
   (b) the PyTorch-style per-sample path, `tinygrad_cnn.utils.data.DataLoader` over the dataset
   built with `transform=` torchvision-style per-sample transforms (`tinygrad_cnn.utils.transforms`:
   RandomCrop, RandomHorizontalFlip, ToTensor, Normalize), with num_workers 0 and 2.
   `--epochs-only` runs just this part (a few seconds).
Data: the shared CIFAR-10 subset (../shared/data) when present, else the built-in Shapes set.
"""
import argparse
import os
import platform
import statistics
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="5,120-image epochs and more repeats")
    parser.add_argument("--epoch-images", type=int, default=None, help="images per training epoch (default 384)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of each timing")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (default 1)")
    parser.add_argument("--epochs-only", action="store_true", help="only part 3: epoch throughput of the loaders")
    args = parser.parse_args()
    args.epoch_images = args.epoch_images or (5120 if args.long else 384)
    args.repeats = args.repeats or (7 if args.long else 5)
    return args


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402  (thread counts must be set before numpy loads BLAS)

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, REPO)
import tinygrad_cnn as tc  # noqa: E402
import tinygrad_cnn.nn.functional as F  # noqa: E402
from tinygrad_cnn.data import CIFAR10, DataLoader, Shapes  # noqa: E402
from tinygrad_cnn.data import transforms as T  # noqa: E402


CIFAR_ROOT = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "cifar10-subset"))


def load_data(**kwargs):
    """The benchmark's data set (`kwargs`: the per-sample transform arguments, when given)."""
    if os.path.isdir(CIFAR_ROOT):
        return CIFAR10(CIFAR_ROOT, train=True, **kwargs), "CIFAR-10 subset (../shared/data, 5,000 images)"
    return Shapes(5000, seed=0, **kwargs), "Shapes(5000) (shared CIFAR-10 subset not found)"


def median_time(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def augmentation(seed=0):
    return T.Compose([T.RandomCrop(32, padding=4, seed=seed), T.RandomHorizontalFlip(seed=seed),
                      T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)])


def throughput(ds):
    rows = []
    n = ARGS.batch
    x = ds.data[:n].astype(np.float32) / np.float32(255)
    reps = max(15, ARGS.repeats * 10)
    main = augmentation()
    t = median_time(lambda: main(x), reps, warmup=3)
    rows.append(("crop + flip + normalize (transforms only)", n / t, t))
    loader = DataLoader(ds, batch_size=n, shuffle=True, seed=0, transform=augmentation(), prefetch=False,
                        drop_last=True)
    per_batch = []
    for _ in range(max(2, ARGS.repeats)):  # time each batch of whole epochs, without prefetching
        it = iter(loader)
        while True:
            start = time.perf_counter()
            if next(it, None) is None:
                break
            per_batch.append(time.perf_counter() - start)
    t = statistics.median(per_batch)
    rows.append(("crop + flip + normalize (whole batch preparation: gather, scale, transforms)", n / t, t))
    for name, tf in [("RandomCrop(32, padding=4, reflect)", T.RandomCrop(32, 4, padding_mode="reflect", seed=0)),
                     ("RandomHorizontalFlip()", T.RandomHorizontalFlip(seed=0)),
                     ("Normalize(CIFAR-10)", T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)),
                     ("RandomTranslate(0.125)", T.RandomTranslate(0.125, seed=0)),
                     ("Cutout(8)", T.Cutout(8, seed=0)),
                     ("RandomRotation(15) (bilinear)", T.RandomRotation(15, seed=0))]:
        t = median_time(lambda tf=tf: tf(x), reps, warmup=2)
        rows.append((name, n / t, t))
    return rows


class Trainer:
    """SimpleCNN (conv 3→32→64→128 + BN + ReLU + max-pool, linear 2048→256→10) with plain SGD."""

    def __init__(self, lr=0.01):
        try:
            from tinygrad_cnn.models import SimpleCNN  # noqa: PLC0415
            self.model = SimpleCNN()
            self.params = list(self.model.parameters())
            self.kind = "tinygrad_cnn.models.SimpleCNN"
        except ImportError:  # models not there yet: the same network from functional ops
            self.model, self.params = None, self._functional_params()
            self.kind = "SimpleCNN built from nn.functional"
        self.lr = lr

    def _functional_params(self):
        def p(*shape, scale):
            return (tc.randn(*shape) * scale).requires_grad_()
        params = []
        for cin, cout in [(3, 32), (32, 64), (64, 128)]:
            params += [p(cout, cin, 3, 3, scale=(2 / (cin * 9)) ** 0.5), tc.zeros(cout, requires_grad=True),
                       tc.ones(cout, requires_grad=True), tc.zeros(cout, requires_grad=True)]
        params += [p(256, 2048, scale=(2 / 2048) ** 0.5), tc.zeros(256, requires_grad=True),
                   p(10, 256, scale=(1 / 256) ** 0.5), tc.zeros(10, requires_grad=True)]
        self.running = [(tc.zeros(c), tc.ones(c)) for c in (32, 64, 128)]
        return params

    def forward(self, x):
        if self.model is not None:
            return self.model(x)
        p = self.params
        for i in range(3):
            w, b, gamma, beta = p[4 * i:4 * i + 4]
            mean, var = self.running[i]
            x = F.max_pool2d(F.relu(F.batch_norm(F.conv2d(x, w, b, padding=1), mean, var, gamma, beta, True)), 2)
        x = x.reshape(x.shape[0], -1)
        return F.linear(F.relu(F.linear(x, p[12], p[13])), p[14], p[15])

    def step(self, x, y):
        loss = F.cross_entropy(self.forward(x), y)
        for q in self.params:
            q.grad = None
        loss.backward()
        with tc.no_grad():
            for q in self.params:
                q.data -= self.lr * q.grad.data
        return loss


def loader_overhead(ds):
    n, bs = ARGS.epoch_images, ARGS.batch
    n = min(n, len(ds))
    subset = (ds.data[:n], ds.targets[:n])
    normalize = T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)
    xs = normalize(subset[0].astype(np.float32) / np.float32(255))
    in_memory = [(tc.tensor(xs[i:i + bs]), tc.tensor(subset[1][i:i + bs])) for i in range(0, n, bs)]
    tc.manual_seed(0)
    trainer = Trainer()
    loaders = {True: DataLoader(subset, bs, shuffle=True, seed=0, transform=augmentation(), prefetch=True),
               False: DataLoader(subset, bs, shuffle=True, seed=0, transform=augmentation(), prefetch=False)}

    def epoch(batches):
        for x, y in batches:
            trainer.step(x, y)

    epoch(in_memory[:1])  # warm-up
    wall = {"memory": [], True: [], False: []}
    cpu = {"memory": [], True: [], False: []}
    for _ in range(ARGS.repeats):  # alternate so drifts in machine speed hit all three alike
        for key in ("memory", True, False):
            start, start_cpu = time.perf_counter(), time.process_time()
            epoch(in_memory if key == "memory" else loaders[key])
            wall[key].append(time.perf_counter() - start)
            cpu[key].append(time.process_time() - start_cpu)  # all threads of this process
    med = statistics.median
    return (trainer.kind, n, {k: med(v) for k, v in wall.items()}, {k: min(v) for k, v in wall.items()},
            {k: med(v) for k, v in cpu.items()})


def epoch_rate(loader, repeats):
    """Images per second of whole epochs through `loader` (median over `repeats`, after one warm-up epoch)."""
    def epoch():
        count = 0
        for x, _ in loader:
            count += x.shape[0]
        return count

    count = epoch()
    return count / median_time(epoch, repeats, warmup=0)


def epoch_throughput(ds):
    """Part 3: rows (path, images/s) of one shuffled epoch through the batch and per-sample loaders."""
    bs, repeats = ARGS.batch, max(3, ARGS.repeats)
    rows = [("(a) batch path: tinygrad_cnn.data.DataLoader, batch transforms, prefetch thread",
             epoch_rate(DataLoader(ds, bs, shuffle=True, seed=0, transform=augmentation()), repeats))]
    try:
        from tinygrad_cnn.utils import data as udata, transforms as P  # noqa: PLC0415 (absent before the per-sample path existed)
    except ImportError:
        return rows + [("(b) per-sample path: not in this version of the library", float("nan"))]
    per_sample = P.Compose([P.RandomCrop(32, padding=4), P.RandomHorizontalFlip(), P.ToTensor(),
                            P.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)])
    ds_per_sample, _ = load_data(transform=per_sample)
    for workers in (0, 2):
        loader = udata.DataLoader(ds_per_sample, batch_size=bs, shuffle=True, num_workers=workers,
                                  persistent_workers=workers > 0, generator=0)
        rows.append((f"(b) per-sample path: tinygrad_cnn.utils.data.DataLoader, num_workers={workers}",
                     epoch_rate(loader, repeats)))
        del loader  # shuts its workers down
    return rows


def main():
    ds, source = load_data()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"# bench_data — {time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}, BLAS/OpenMP threads {ARGS.threads}")
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"data: {source}; batch {ARGS.batch}; load average at start {load}")
    print(f"command: python benchmarks/bench_data.py {' '.join(sys.argv[1:])}".rstrip())
    if ARGS.epochs_only:
        print_epoch_throughput(ds)
        print_load_at_end()
        return
    print()
    print("| transform (batch of %d, 3×32×32 float32, 1 thread) | images/s | ms/batch |" % ARGS.batch)
    print("|---|---:|---:|")
    for name, rate, t in throughput(ds):
        print(f"| {name} | {rate:,.0f} | {t * 1e3:.2f} |")
    print()
    kind, n, t, best, c = loader_overhead(ds)
    print(f"| SimpleCNN training epoch, {n} images, batch {ARGS.batch} ({kind}) | median wall s | vs. in memory "
          "| fastest wall s | vs. in memory | median CPU s (all threads) | vs. in memory |")
    print("|---|---:|---:|---:|---:|---:|---:|")

    def rel(d, key):
        return "—" if key == "memory" else f"{100 * (d[key] / d['memory'] - 1):+.1f}%"

    for key, name in [("memory", "batches already in memory (no augmentation)"),
                      (True, "DataLoader, crop + flip + normalize, prefetch thread"),
                      (False, "DataLoader, crop + flip + normalize, no prefetch")]:
        print(f"| {name} | {t[key]:.2f} | {rel(t, key)} | {best[key]:.2f} | {rel(best, key)} "
              f"| {c[key]:.2f} | {rel(c, key)} |")
    print(f"\n{ARGS.repeats} alternating runs of each epoch")
    print_epoch_throughput(ds)
    print_load_at_end()


def print_epoch_throughput(ds):
    print()
    print(f"| one shuffled epoch of {len(ds):,} images, batch {ARGS.batch}, crop + flip + normalize | images/s |")
    print("|---|---:|")
    for name, rate in epoch_throughput(ds):
        print(f"| {name} | {rate:,.0f} |")
    print(f"\nmedian of {max(3, ARGS.repeats)} epochs after one warm-up epoch")


def print_load_at_end():
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"load average at end {load}")


if __name__ == "__main__":
    main()
