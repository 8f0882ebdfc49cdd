"""SimpleCNN on Fashion-MNIST (28x28 clothing images; crop + flip augmentation, cosine schedule).

Finds the data in --data-dir, the default root, or /usr/share/datasets/fashion-mnist
(Debian: apt-get install dataset-fashion-mnist).

    python examples/fashion_mnist.py
    python examples/fashion_mnist.py --epochs 5 --subset 10000
"""
import sys

from tinygrad_cnn import cli

DEFAULTS = ["--dataset", "fashion_mnist", "--model", "simple_cnn", "--epochs", "15", "--optimizer", "sgd",
            "--lr", "0.01", "--momentum", "0.9", "--batch-size", "64", "--schedule", "cosine", "--augment"]

if __name__ == "__main__":
    sys.exit(cli.run_example(DEFAULTS))
