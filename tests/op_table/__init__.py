"""The op table: one row per public op (see row.py for what a row holds); the invariants that
run on every row are in tests/test_op_table.py.

Adding an op: add its row to the family module below (or a new module listed here).
"""
from . import nn_ops
from .row import Case, OpRow  # noqa: F401

ROWS = [*nn_ops.ROWS]
