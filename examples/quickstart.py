"""Quickstart: train SimpleCNN on the built-in Shapes dataset, offline, in well under 2 minutes.

Generates 4,000 training and 1,000 test images of ten shape classes (16x16 RGB, no download),
trains for 12 epochs with SGD, a cosine schedule and crop + flip augmentation, prints the epochs, a per-class report and
the test accuracy, and writes checkpoints, the history and plots (training curves, confusion
matrix, filters, feature maps, augmentations) into --out (default runs/quickstart).

    python examples/quickstart.py                      # any `tinygrad-cnn train` flag overrides:
    python examples/quickstart.py --epochs 3 --device gpu --out /tmp/qs
"""
import sys

from tinygrad_cnn import cli

DEFAULTS = ["--dataset", "shapes", "--model", "simple_cnn", "--image-size", "16", "--subset", "4000",
            "--test-subset", "1000", "--epochs", "12", "--batch-size", "64", "--lr", "0.05", "--schedule", "cosine",
            "--augment", "--out", "runs/quickstart"]

if __name__ == "__main__":
    sys.exit(cli.run_example(DEFAULTS, visualize=True))
