"""A residual network on CIFAR-10: SmallResNet by default (88.3% test accuracy after 50 epochs
in the reference run), or another model of the zoo with --model resnet20|minivgg|simple_cnn|lenet5.

SGD (momentum 0.9, weight decay 1e-4; 5e-4 for resnet20), lr 0.01, batch 64, random crop +
horizontal flip, 50 epochs with the lr divided by 10 at epochs 30 and 40.

    python examples/cifar_resnet.py --data-dir ../shared/data/cifar10-subset
    python examples/cifar_resnet.py --download --device gpu --model resnet20
"""
import sys

from tinygrad_cnn import cli

DEFAULTS = ["--dataset", "cifar10", "--model", "resnet", "--epochs", "50", "--schedule", "step",
            "--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9", "--batch-size", "64", "--augment"]

if __name__ == "__main__":
    sys.exit(cli.run_example(DEFAULTS))
