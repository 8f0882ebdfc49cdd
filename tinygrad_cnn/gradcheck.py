"""A numerical gradient checker: compares backward() with central differences in float64."""
import numpy as np

from . import backend
from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """The analytic and numerical gradients of some input disagree."""


def _as_float64_inputs(inputs):
    """Copies of the tensor inputs in float64 with requires_grad=True (others passed through)."""
    converted = []
    for item in inputs:
        if isinstance(item, Tensor) and item.dtype.kind == "f":
            # C order, so that full mode can perturb elements through a flat view
            data = backend.array_module(item.array).array(item.array, dtype="float64", order="C")
            converted.append(Tensor(data, requires_grad=item.requires_grad))
        else:
            converted.append(item)
    return converted


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto", n_directions=8, seed=0,
              max_full_elements=2000):
    """Check the gradients of `fn(*inputs)` against central differences, in float64.

    fn: takes the inputs (Tensors and other values), returns a Tensor of any shape.
    inputs: a sequence; the floating tensors with requires_grad=True are checked.
    mode: "full" perturbs every element (2 forward calls per element); "random" compares
        `n_directions` directional derivatives along random unit directions; "auto" uses
        full when an input has at most `max_full_elements` elements.

    The scalar checked is sum(fn(...) * v) for a fixed random v, so every output element
    counts. Returns True, or raises GradcheckError naming the input and the worst element.
    """
    inputs = _as_float64_inputs(inputs if isinstance(inputs, (list, tuple)) else [inputs])
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input is a floating tensor with requires_grad=True")
    rng = np.random.default_rng(seed)

    out = fn(*inputs)
    xp = backend.array_module(out.array)
    cotangent = xp.asarray(rng.standard_normal(out.shape))

    def objective():
        with no_grad():
            value = fn(*inputs).array
        return float((value.astype("float64") * cotangent).sum())

    for i in checked:
        inputs[i].grad = None
    (out * Tensor._wrap(cotangent, out.device)).sum().backward()

    for i in checked:
        tensor = inputs[i]
        analytic = tensor.grad.numpy() if tensor.grad is not None else np.zeros(tensor.shape)
        analytic = np.asarray(analytic, dtype=np.float64)
        data = tensor.array
        use_full = mode == "full" or (mode == "auto" and data.size <= max_full_elements)
        if use_full:
            numeric = np.zeros(tensor.shape)
            flat = data.reshape(-1)  # a view: perturbs the input in place, restored below
            for k in range(flat.size):
                original = float(flat[k])
                flat[k] = original + eps
                plus = objective()
                flat[k] = original - eps
                minus = objective()
                flat[k] = original
                numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
            error = np.abs(analytic - numeric)
            allowed = atol + rtol * np.abs(numeric)
            if np.any(error > allowed):
                worst = np.unravel_index(np.argmax(error - allowed), error.shape)
                raise GradcheckError(
                    f"gradcheck: input {i} (shape {tensor.shape}): gradient mismatch at element {tuple(int(w) for w in worst)}: "
                    f"analytic {analytic[worst]:.6g} vs numerical {numeric[worst]:.6g} "
                    f"(abs error {error[worst]:.3g}, allowed {allowed[worst]:.3g}); "
                    f"{int(np.sum(error > allowed))} of {error.size} elements out of tolerance")
        else:
            original = data.copy()
            for d in range(n_directions):
                direction = rng.standard_normal(tensor.shape)
                direction /= np.linalg.norm(direction)
                step = xp.asarray(direction * eps)
                data[...] = original + step
                plus = objective()
                data[...] = original - step
                minus = objective()
                data[...] = original
                numeric = (plus - minus) / (2 * eps)
                predicted = float((analytic * direction).sum())
                if abs(predicted - numeric) > atol + rtol * abs(numeric):
                    raise GradcheckError(
                        f"gradcheck: input {i} (shape {tensor.shape}): directional derivative {d} disagrees: "
                        f"analytic {predicted:.6g} vs numerical {numeric:.6g}")
    return True
