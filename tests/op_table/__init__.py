"""The op table: one row per public op (see row.py for what a row holds); the invariants that
run on every row are in tests/test_op_table.py.

Adding an op: add its row to the family module below (or a new module listed here).
"""
from . import convert, elementwise, loss, matmul, movement, nn_more, nn_ops, reduce
from .row import Case, OpRow  # noqa: F401

ROWS = [*elementwise.ROWS, *reduce.ROWS, *movement.ROWS, *matmul.ROWS, *loss.ROWS, *convert.ROWS, *nn_ops.ROWS, *nn_more.ROWS]
