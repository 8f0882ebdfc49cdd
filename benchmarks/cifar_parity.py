"""Learning parity on the CIFAR-10 subset: the same recipe trained in tinygrad_cnn and in PyTorch.
(Without CIFAR-10 files in --data-dir it says so and compares on the built-in Shapes images.)

    python benchmarks/cifar_parity.py                       # SimpleCNN, 20 epochs, seeds 0,1,2
    python benchmarks/cifar_parity.py --epochs 2 --seeds 0  # a quick look

For each seed both libraries start from the same initial weights (PyTorch's default init of
the PyTorch definition in benchmarks/torch_reference.py, copied into ours) and see the same batches: one
tinygrad_cnn DataLoader per run, seeded alike, with random crop + flip + normalize. The
optimizer (SGD, momentum 0.9, weight decay 1e-4, lr 0.01, batch 64) and epochs are the same;
only the engines (and dropout's random masks) differ. Prints the final test accuracy of every
run and the mean per library; the target is equal means within 1.5 points.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = ("simple_cnn", "small_resnet", "resnet20", "minivgg", "lenet5")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data", "cifar10-subset"))
    parser.add_argument("--model", default="simple_cnn", choices=MODELS)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    return parser.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402

sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
import tinygrad_cnn as tc  # noqa: E402
import tinygrad_cnn.nn.functional as F  # noqa: E402
import torch_reference  # noqa: E402
from tinygrad_cnn.data import CIFAR10, DataLoader, Shapes  # noqa: E402
from tinygrad_cnn.data import transforms as T  # noqa: E402

torch.set_num_threads(ARGS.threads)


def datasets():
    """(train, test): the CIFAR-10 files in --data-dir, else the built-in Shapes images (3x32x32,
    5,000 / 1,000) so that a fresh clone without the data still runs the comparison."""
    try:
        return CIFAR10(ARGS.data_dir, train=True), CIFAR10(ARGS.data_dir, train=False)
    except FileNotFoundError as exc:
        print(f"{exc}\n-> using the built-in Shapes images instead (not CIFAR-10)", file=sys.stderr)
        return Shapes(5000, train=True, seed=0), Shapes(1000, train=False, seed=0)


def loaders(seed):
    train, test = datasets()
    augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                         T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)])
    train_loader = DataLoader(train, ARGS.batch_size, shuffle=True, seed=seed, transform=augment)
    test_loader = DataLoader(test, 256, transform=T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD))
    return train_loader, test_loader


def run(library, seed):
    """Train one model; returns (final test accuracy, seconds)."""
    torch.manual_seed(seed)
    tc.manual_seed(seed)
    reference = torch_reference.get(ARGS.model)
    train_loader, test_loader = loaders(seed)
    start = time.perf_counter()
    if library == "torch":
        model = reference
        opt = torch.optim.SGD(model.parameters(), lr=ARGS.lr, momentum=ARGS.momentum, weight_decay=ARGS.weight_decay)
        for _ in range(ARGS.epochs):
            model.train()
            for x, y in train_loader:
                loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x.numpy())), torch.from_numpy(y.numpy()))
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test_loader:
                correct += int((model(torch.from_numpy(x.numpy())).argmax(1) == torch.from_numpy(y.numpy())).sum())
    else:
        model = tc.models.get(ARGS.model)
        model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
        opt = tc.optim.SGD(model.parameters(), lr=ARGS.lr, momentum=ARGS.momentum, weight_decay=ARGS.weight_decay)
        for _ in range(ARGS.epochs):
            model.train()
            for x, y in train_loader:
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        correct = 0
        with tc.no_grad():
            for x, y in test_loader:
                correct += int((model(x).argmax(dim=1) == y).numpy().sum())
    return correct / len(test_loader.dataset), time.perf_counter() - start


def main():
    results = {"tinygrad_cnn": [], "torch": []}
    for seed in (int(s) for s in ARGS.seeds.split(",")):
        for library in ("tinygrad_cnn", "torch"):
            accuracy, seconds = run(library, seed)
            results[library].append(accuracy)
            print(f"seed {seed} {library:13s} test accuracy {accuracy:.4f}  ({seconds:.0f} s)", flush=True)
    means = {lib: statistics.mean(accs) for lib, accs in results.items()}
    for lib, accs in results.items():
        spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{lib:13s} mean {means[lib]:.4f} ± {spread:.4f} over {len(accs)} seed(s)")
    gap = abs(means["tinygrad_cnn"] - means["torch"]) * 100
    print(f"difference of means: {gap:.2f} points (target: within 1.5)")
    if ARGS.out:
        with open(ARGS.out, "w") as f:
            json.dump({"args": vars(ARGS), "results": results, "means": means, "gap_points": gap}, f, indent=2)


if __name__ == "__main__":
    main()
