"""Op-table rows of dtype casts (the Cast function) and device moves (the ToDevice function)."""
import torch
from hypothesis import strategies as st

from .row import Case, OpRow, array_shapes, arrays_from, seeds

FLOATING = ["float32", "float64"]


@st.composite
def cast_cases(draw):
    """x of any shape (0-d to 4-d) and a floating dtype to cast it to (the same as x's in
    some draws, where the cast returns x itself)."""
    seed = draw(seeds)
    shape = draw(array_shapes())
    return Case(tuple(arrays_from(seed, shape)), dict(dtype=draw(st.sampled_from(FLOATING))), seed)


@st.composite
def any_cases(draw):
    """x of any shape (0-d to 4-d)."""
    seed = draw(seeds)
    return Case(tuple(arrays_from(seed, draw(array_shapes()))), {}, seed)


def _named_cast(x, dtype):
    """x.double() or x.float(), whichever names `dtype`."""
    return x.double() if dtype == "float64" else x.float()


def _round_trip(x):
    """Off the device and back: on a GPU two ToDevice ops, on the CPU the tensor itself."""
    return x.cpu().to(x.device)


ROWS = [
    # The gradcheck perturbs float64 inputs by 1e-6, which a cast to float32 rounds away, so
    # central differences through the cast mean nothing; the gradient is compared with PyTorch.
    OpRow("Tensor.to(dtype)", lambda x, dtype: x.to(dtype=dtype), cast_cases(),
          torch_fn=lambda x, dtype: x.to(getattr(torch, dtype)),
          aliases={"Tensor.type": lambda x, dtype: x.type(dtype), "Tensor.astype": lambda x, dtype: x.astype(dtype),
                   "Tensor.double / Tensor.float": _named_cast},
          covers=("Tensor.to", "Tensor.type", "Tensor.astype", "Tensor.double", "Tensor.float"), gradcheck=False),
    OpRow("Tensor.cpu().to(device)", _round_trip, any_cases(), torch_fn=_round_trip, covers=("Tensor.cpu",)),
]
