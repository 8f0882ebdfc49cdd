"""SimpleCNN on CIFAR-10, as in the reference run (79% test accuracy after 20 epochs on the full set).

SGD (momentum 0.9, weight decay 1e-4), lr 0.01, batch 64, random crop + horizontal flip.
Checkpoints, history and plots go to --out (default runs/cifar10_simple_cnn).

    python examples/cifar_simple.py --data-dir ../shared/data/cifar10-subset
    python examples/cifar_simple.py --download --device gpu          # the full dataset
"""
import sys

from tinygrad_cnn import cli

DEFAULTS = ["--dataset", "cifar10", "--model", "simple_cnn", "--epochs", "20", "--optimizer", "sgd",
            "--lr", "0.01", "--momentum", "0.9", "--batch-size", "64", "--augment"]

if __name__ == "__main__":
    sys.exit(cli.run_example(DEFAULTS))
