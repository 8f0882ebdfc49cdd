"""Every op proven the same way on every device: each invariant below runs on every row of the
op table (tests/op_table/), on cpu, on the CuPy stand-in and on a real GPU when present.

- forward and every input gradient equal PyTorch's (float64 tight, float32 at float32 tolerance),
  inputs the op updates in place too, and the result keeps the input dtype;
- the fast op equals our slow reference implementation, where the row has one;
- every alias (method, operator, other spelling) equals the op;
- gradients equal central differences (float64);
- inputs and the incoming gradient are not modified;
- backward twice with retain_graph=True gives the same gradients;
- any subset of the inputs requiring grad gives those same gradients (and None elsewhere);
- non-contiguous and channels-last inputs give the same results as contiguous ones.

A meta-test fails when a Function subclass or a public op function has no row.
"""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import backend
from tinygrad_cnn.autograd import Function
from tinygrad_cnn.tensor import Tensor
from helpers import DEVICES, TOLERANCES, to_numpy, torch_device
from op_table import ROWS

ROW_IDS = [row.name for row in ROWS]

# Examples per invariant: the comparison with PyTorch draws the most; the structural
# invariants need a few each. Scaled from the active hypothesis profile (ci: 15).
_BASE = settings.default.max_examples
MAIN = settings(max_examples=max(4, _BASE // 2))
FEW = settings(max_examples=max(2, _BASE // 5))


def rows_with(predicate):
    return [pytest.param(row, id=row.name) for row in ROWS if predicate(row)]


# ---------------------------------------------------------------- running a row
def _device_array(array, dtype, device):
    a = np.asarray(array)
    if a.dtype.kind == "f":
        a = a.astype(dtype)
    return backend.to_device(a, device)


def make_inputs(row, case, dtype, device, requires_grad=None, layout=None):
    """Our tensors for `case` (None stays None). requires_grad: per input (default: the row's
    differentiable inputs). layout(array, device) -> device array: how floating inputs are laid out."""
    requires_grad = row.takes_grad(case) if requires_grad is None else requires_grad
    tensors = []
    for array, rg in zip(case.arrays, requires_grad):
        if array is None:
            tensors.append(None)
            continue
        data = _device_array(array, dtype, "cpu")
        data = layout(data, device) if layout is not None and data.dtype.kind == "f" else backend.to_device(data, device)
        t = Tensor._wrap(data, device)
        tensors.append(t.requires_grad_(rg) if rg else t)
    return tensors


def call(row, fn, tensors, case):
    """fn(*tensors, **params); random ops first seed the library's generators with the case's seed."""
    if row.random:
        tc.manual_seed(case.seed)
    return fn(*tensors, **case.params)


def cotangent(out, case, dtype):
    return tc.tensor(np.random.default_rng(case.seed).standard_normal(out.shape).astype(dtype), device=out.device)


def forward_backward(row, case, dtype, device, fn=None, **input_options):
    """(inputs, output, gradients) of one call, the gradient taken against a seeded cotangent."""
    inputs = make_inputs(row, case, dtype, device, **input_options)
    out = call(row, fn or row.ours, inputs, case)
    grads = [None] * len(inputs)
    if out.requires_grad:
        out.backward(cotangent(out, case, dtype))
        grads = [None if t is None or t.grad is None else t.grad.numpy().copy() for t in inputs]
    return inputs, out, grads


def tolerance(row, dtype):
    rtol, atol = row.tol.get(np.dtype(dtype), (TOLERANCES[np.dtype(dtype)]["rtol"], TOLERANCES[np.dtype(dtype)]["atol"]))
    return dict(rtol=rtol, atol=atol)


def close(ours, theirs, tol, what):
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), err_msg=what, **tol)


# ---------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("row", rows_with(lambda r: r.torch_fn is not None))
@MAIN
@given(data=st.data())
def test_matches_torch(row, dtype, device, data):
    """Forward, every input gradient and every in-place update equal PyTorch's; dtype kept."""
    if dtype not in row.dtypes:
        pytest.skip(f"{row.name} is not defined for {np.dtype(dtype)}")
    case = data.draw(row.cases)
    inputs, out, grads = forward_backward(row, case, dtype, device)
    tdev = torch_device(device)
    theirs = [None if a is None else torch.tensor(_device_array(a, dtype, "cpu"), device=tdev, requires_grad=rg)
              for a, rg in zip(case.arrays, row.takes_grad(case))]
    ref = row.torch_fn(*theirs, **case.params)
    tol = tolerance(row, dtype)
    assert out.shape == tuple(ref.shape), f"shape {out.shape}, PyTorch {tuple(ref.shape)}"
    assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", "")), f"dtype {out.dtype}, PyTorch {ref.dtype}"
    assert out.device == device
    close(out, ref, tol, "forward")
    if out.requires_grad:
        ref.backward(torch.tensor(cotangent(out, case, dtype).numpy(), device=tdev))
    for i, (ours_grad, t) in enumerate(zip(grads, theirs)):
        if t is not None and t.requires_grad:
            assert ours_grad is not None, f"input {i} got no gradient"
            assert ours_grad.dtype == inputs[i].dtype
            close(ours_grad, t.grad, tol, f"gradient of input {i}")
    for i in row.mutates:
        if inputs[i] is not None:
            close(inputs[i], theirs[i], tol, f"input {i} updated in place")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("row", rows_with(lambda r: r.reference is not None))
@MAIN
@given(data=st.data())
def test_matches_reference(row, dtype, device, data):
    """The fast op equals our slow reference implementation, forward and every gradient."""
    case = data.draw(row.cases)
    inputs, out, grads = forward_backward(row, case, dtype, device)
    ref_inputs, ref, ref_grads = forward_backward(row, case, dtype, device, fn=row.reference)
    tol = tolerance(row, dtype)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    close(out, ref, tol, "forward")
    for i, (a, b) in enumerate(zip(grads, ref_grads)):
        assert (a is None) == (b is None), f"input {i}: gradient present in one only"
        if a is not None:
            close(a, b, tol, f"gradient of input {i}")
    for i in row.mutates:
        if inputs[i] is not None:
            close(inputs[i], ref_inputs[i], tol, f"input {i} updated in place")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", rows_with(lambda r: r.aliases))
@FEW
@given(data=st.data())
def test_aliases(row, device, data):
    """Every other spelling (method, operator, function) gives the same output and gradients."""
    case = data.draw(row.cases)
    _, out, grads = forward_backward(row, case, np.float64, device)
    for label, alias in row.aliases.items():
        _, alias_out, alias_grads = forward_backward(row, case, np.float64, device, fn=alias)
        np.testing.assert_array_equal(to_numpy(alias_out), to_numpy(out), err_msg=label)
        for a, b in zip(alias_grads, grads):
            assert (a is None) == (b is None), label
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=label)


# ---------------------------------------------------------------- structure
def _has_grad_inputs(row):
    return row.differentiable is None or any(row.differentiable)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", rows_with(lambda r: r.gradcheck and _has_grad_inputs(r)))
@FEW
@given(data=st.data())
def test_gradcheck(row, device, data):
    """Gradients equal central differences, in float64."""
    case = data.draw(row.cases)
    inputs = make_inputs(row, case, np.float64, device)
    if not any(t is not None and t.requires_grad for t in inputs):
        return
    tc.gradcheck(lambda *ts: call(row, row.ours, ts, case), inputs, max_full_elements=48, n_directions=4,
                 seed=case.seed % 1000)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", rows_with(_has_grad_inputs))
@FEW
@given(data=st.data())
def test_inputs_and_incoming_gradient_not_modified(row, device, data):
    """Forward and backward leave the inputs (but those the op updates by design) and the
    incoming gradient as they were."""
    case = data.draw(row.cases)
    inputs = make_inputs(row, case, np.float64, device)
    before = [None if t is None else to_numpy(t).copy() for t in inputs]
    out = call(row, row.ours, inputs, case)
    if not out.requires_grad:
        return
    grad = cotangent(out, case, np.float64)
    grad_before = to_numpy(grad).copy()
    out.backward(grad)
    np.testing.assert_array_equal(to_numpy(grad), grad_before, err_msg="incoming gradient modified")
    for i, (t, old) in enumerate(zip(inputs, before)):
        if t is not None and i not in row.mutates:
            np.testing.assert_array_equal(to_numpy(t), old, err_msg=f"input {i} modified")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", rows_with(_has_grad_inputs))
@FEW
@given(data=st.data())
def test_backward_twice_with_retain_graph(row, device, data):
    """backward(retain_graph=True) twice gives the same gradients twice."""
    case = data.draw(row.cases)
    inputs = make_inputs(row, case, np.float64, device)
    out = call(row, row.ours, inputs, case)
    if not out.requires_grad:
        return
    grad = cotangent(out, case, np.float64)
    results = []
    for _ in range(2):
        for t in inputs:
            if t is not None:
                t.grad = None
        out.backward(grad, retain_graph=True)
        results.append([None if t is None or t.grad is None else to_numpy(t.grad).copy() for t in inputs])
    for i, (a, b) in enumerate(zip(*results)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=f"input {i}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", rows_with(_has_grad_inputs))
@FEW
@given(data=st.data())
def test_every_subset_of_inputs_requiring_grad(row, device, data):
    """With only some inputs requiring grad, those get the gradients they get when all do, and
    the others none (backward skips work nobody needs, never work somebody needs)."""
    case = data.draw(row.cases)
    full = row.takes_grad(case)
    differentiable = [i for i, d in enumerate(full) if d]
    _, _, all_grads = forward_backward(row, case, np.float64, device)
    for size in range(1, len(differentiable)):
        for subset in itertools.combinations(differentiable, size):
            wanted = tuple(i in subset for i in range(len(full)))
            inputs, out, grads = forward_backward(row, case, np.float64, device, requires_grad=wanted)
            for i, g in enumerate(grads):
                if i in subset:
                    np.testing.assert_allclose(g, all_grads[i], rtol=1e-12, atol=1e-14,
                                               err_msg=f"input {i} with inputs {subset} requiring grad")
                elif inputs[i] is not None:
                    assert inputs[i].grad is None, f"input {i} does not require grad but got one"


def _transposed(array, device):
    """The same values stored in reversed axis order (Fortran order): a transposed view."""
    return backend.to_device(np.ascontiguousarray(array.transpose()), device).transpose()


def _strided(array, device):
    """The same values as every other element of a twice-as-long last axis: a strided view
    (a 0-d array stays as it is)."""
    if array.ndim == 0:
        return backend.to_device(array, device)
    wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), dtype=array.dtype)
    wide[..., ::2] = array
    return backend.to_device(wide, device)[..., ::2]


def _channels_last(array, device):
    """4-D values stored as (N, H, W, C) and viewed as (N, C, H, W), the layout conv outputs have."""
    if array.ndim != 4:
        return backend.to_device(array, device)
    return backend.to_device(np.ascontiguousarray(array.transpose(0, 2, 3, 1)), device).transpose(0, 3, 1, 2)


LAYOUTS = {"transposed": _transposed, "strided": _strided, "channels_last": _channels_last}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("row", rows_with(lambda r: r.layouts))
@FEW
@given(data=st.data())
def test_non_contiguous_inputs(row, layout, device, data):
    """Inputs in other memory layouts give the results of contiguous ones."""
    case = data.draw(row.cases)
    if not any(a is not None and np.ndim(a) >= 1 and np.asarray(a).dtype.kind == "f" for a in case.arrays):
        return
    _, out, grads = forward_backward(row, case, np.float64, device)
    _, out_l, grads_l = forward_backward(row, case, np.float64, device, layout=LAYOUTS[layout])
    np.testing.assert_allclose(to_numpy(out_l), to_numpy(out), rtol=1e-10, atol=1e-12, err_msg="forward")
    for i, (a, b) in enumerate(zip(grads_l, grads)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"gradient of input {i}")


# ---------------------------------------------------------------- every op has a row
def _function_classes():
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("tinygrad_cnn.") and sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def _public_op_functions():
    """'F.name' for every public function of nn.functional and 'tc.name' for every op function
    exported at the top level (functions defined in tinygrad_cnn.ops)."""
    names = set()
    for prefix, module in (("F", F), ("tc", tc)):
        for name, obj in vars(module).items():
            if not name.startswith("_") and callable(obj) and getattr(obj, "__module__", "").startswith("tinygrad_cnn.ops"):
                names.add(f"{prefix}.{name}")
    return names


def test_every_public_op_function_has_a_row():
    covered = {name for row in ROWS for name in (row.name,) + tuple(row.covers)}
    missing = sorted(_public_op_functions() - covered)
    assert not missing, f"public op functions without a row in the op table: {missing}"


@pytest.mark.parametrize("device", DEVICES)
def test_every_function_subclass_is_applied_by_a_row(device):
    """Running one case of every row applies every Function subclass (on the CPU all but
    ToDevice, which only runs where there is another device to move data to)."""
    applied = set()
    original = Function.apply.__func__

    def recording(cls, *inputs, **params):
        applied.add(cls)
        return original(cls, *inputs, **params)

    Function.apply = classmethod(recording)
    try:
        for row in ROWS:
            for case in _some_cases(row):
                forward_backward(row, case, np.float64, device)
                for fn in row.aliases.values():
                    forward_backward(row, case, np.float64, device, fn=fn)
    finally:
        Function.apply = classmethod(original)
    exempt = {"ToDevice"} if device == "cpu" else set()
    missing = sorted(cls.__name__ for cls in _function_classes() - applied if cls.__name__ not in exempt)
    assert not missing, f"Function subclasses no op-table row applies: {missing}"


def _some_cases(row, count=6):
    """A few cases of `row`, from the simplest on (a deterministic draw, no search)."""
    found = []

    @settings(max_examples=count, database=None, derandomize=True)
    @given(row.cases)
    def take(case):
        found.append(case)
    take()
    return found
