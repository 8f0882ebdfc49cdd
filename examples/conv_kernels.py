"""Convolution by hand-made kernels through the library: a 1-D signal smoothed and
differentiated with F.conv1d, and classic 2-D kernels (Sobel, blur, sharpen, Laplacian) on an
image with F.conv2d. Prints what the kernels do and writes conv1d.png and kernels.png.

    python examples/conv_kernels.py [--out runs/kernels]
"""
import sys

from tinygrad_cnn import cli

if __name__ == "__main__":
    sys.exit(cli.main(["kernels", *sys.argv[1:]]))
