"""Primitive ops: each file holds one topic's Functions (forward and VJP side by side) and the
PyTorch-named functions that apply them to Tensors."""
from . import common, convert, elementwise, reduce, movement, matmul, conv, pool, normalization, dropout, loss  # noqa: F401
