"""LeNet-5 on MNIST (28x28 digits; random crops, no flips).

    python examples/mnist_lenet.py --data-dir ../shared/data/mnist-subset
    python examples/mnist_lenet.py --download
"""
import sys

from tinygrad_cnn import cli

DEFAULTS = ["--dataset", "mnist", "--model", "lenet5", "--epochs", "10", "--optimizer", "sgd", "--lr", "0.01",
            "--momentum", "0.9", "--batch-size", "64"]

if __name__ == "__main__":
    sys.exit(cli.run_example(DEFAULTS))
