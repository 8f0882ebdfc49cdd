"""Plots of a trained checkpoint: first-layer filters, feature maps of a test image, the
confusion matrix, the training curves, the augmentations and the autograd graph.

    python examples/visualize.py runs/quickstart/best.npz [--out DIR] [--image-index 3]
"""
import sys

from tinygrad_cnn import cli

if __name__ == "__main__":
    sys.exit(cli.main(["visualize", *sys.argv[1:]]))
