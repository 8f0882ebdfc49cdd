"""matmul / @ and F.linear: the bad inputs. The op table (tests/op_table/matmul.py, run by
tests/test_op_table.py) proves forward and gradients of matmul (2-D, batched, broadcast batch
axes, 1-D operands; every spelling) and F.linear (1-D to 3-D input, with and without bias)
against PyTorch, with any subset of operands requiring grad and non-contiguous operands; this
file keeps what the table does not check: shape errors and mixed dtypes.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import assert_fails_cleanly, leaf

# The three spellings of a matrix product in tinygrad_cnn.
SPELLINGS = {"@": lambda a, b: a @ b, "tc.matmul": lambda a, b: tc.matmul(a, b),
             "Tensor.matmul": lambda a, b: a.matmul(b)}


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("spelling", list(SPELLINGS))
@pytest.mark.parametrize("a_shape,b_shape", [((2, 3), (4, 5)), ((3,), (4,)), ((3,), (4, 2)), ((2, 3), (2,)),
                                             ((2, 2, 3), (2, 4, 2))])
def test_matmul_mismatched_inner_dims(spelling, a_shape, b_shape):
    """Inner dimensions that differ: a tc.ShapeError (a ValueError and a RuntimeError, as torch
    raises) naming matmul and both shapes; the operands are left untouched."""
    with pytest.raises(RuntimeError):
        torch.matmul(torch.zeros(a_shape), torch.zeros(b_shape))
    a, b = leaf(a_shape), leaf(b_shape)
    call = lambda: SPELLINGS[spelling](a, b)  # noqa: E731
    assert_fails_cleanly(call, [a, b], tc.ShapeError, "matmul", str(a_shape), str(b_shape))
    assert_fails_cleanly(call, [a, b], ValueError)
    assert_fails_cleanly(call, [a, b], RuntimeError)


def test_matmul_batch_dims_that_do_not_broadcast():
    """Batch axes 2 and 5 cannot broadcast: a ShapeError naming matmul (torch: RuntimeError)."""
    with pytest.raises(RuntimeError):
        torch.matmul(torch.zeros(2, 3, 4), torch.zeros(5, 4, 2))
    a, b = leaf((2, 3, 4)), leaf((5, 4, 2))
    assert_fails_cleanly(lambda: a @ b, [a, b], tc.ShapeError, "matmul")


@pytest.mark.parametrize("x_shape,w_shape", [((4, 3), (5, 6)), ((2, 7, 3), (5, 6)), ((6,), (5, 4))])
def test_linear_mismatched_inner_dims(x_shape, w_shape):
    """Input features that do not match the weight's: a ShapeError naming linear and both
    shapes (torch: RuntimeError); nothing changed afterwards."""
    with pytest.raises(RuntimeError):
        TF.linear(torch.zeros(x_shape), torch.zeros(w_shape))
    x, w = leaf(x_shape), leaf(w_shape)
    assert_fails_cleanly(lambda: F.linear(x, w), [x, w], tc.ShapeError, "linear", str(x_shape), str(w_shape))
    assert_fails_cleanly(lambda: F.linear(x, w), [x, w], RuntimeError)


def test_linear_bias_of_wrong_shape():
    """A bias that is not (out_features,) is a ShapeError naming linear and the bias shape."""
    x, w, b = leaf((4, 3)), leaf((5, 3)), leaf((4,))
    with pytest.raises(RuntimeError):
        TF.linear(torch.zeros(4, 3), torch.zeros(5, 3), torch.zeros(4))
    assert_fails_cleanly(lambda: F.linear(x, w, b), [x, w, b], tc.ShapeError, "linear", "(4,)")


def test_matmul_mixed_dtypes_is_type_error():
    """float64 @ float32 is a TypeError naming matmul (torch: RuntimeError), as is F.linear."""
    a, b = leaf((2, 3)), leaf((3, 4), dtype=np.float32)
    w = leaf((4, 3), dtype=np.float32)
    assert_fails_cleanly(lambda: a @ b, [a, b], TypeError, "matmul")
    assert_fails_cleanly(lambda: F.linear(a, w), [a, w], TypeError, "linear")
