"""tc.gradcheck: (a) it passes on random small conv nets composed of many ops, in float64;
(b) its own behaviour: it returns True for a correct Function, raises tc.GradcheckError naming
the input index and the worst element for a wrong one, and works in random-direction mode.

The central differences are independent of every backward in the library, so (a) checks the
hand-written VJPs of the composed ops (and the engine that chains them) against calculus.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from helpers import DEVICES

seeds = st.integers(0, 2**32 - 1)

# ---------------------------------------------------------------- (a) random compositions
# Each stage is drawn independently; the names say which op (or small expression) is used.
PRE = {  # elementwise ops on the input, all smooth
    "identity": lambda x: x,
    "square": lambda x: x * x - 0.5,
    "soft_sign": lambda x: x / (x.abs() + 1),
    "exp": lambda x: (x * 0.5).exp() - 1,
    "log": lambda x: (x * x + 1).log(),
    "sqrt": lambda x: (x * x + 0.5).sqrt() - 1,
}
ACTIVATIONS = {"relu": F.relu, "tanh": F.tanh, "sigmoid": F.sigmoid,
               "leaky_relu": lambda h: F.leaky_relu(h, 0.1)}
POOLS = {"max": F.max_pool2d, "avg": F.avg_pool2d}
MIDDLE = {  # reductions and broadcasting on the (N, C, H, W) feature map
    "none": lambda h: h,
    "center": lambda h: h - h.mean(dim=(2, 3), keepdim=True),
    "scale_by_channel_sum": lambda h: h * h.sum(dim=1, keepdim=True).tanh(),
    "amax_over_width": lambda h: h + h.amax(dim=3, keepdim=True) * 0.5,
}
HEADS = ["cross_entropy", "cross_entropy_smoothed", "log_softmax", "softmax_mse", "logsumexp", "max"]


@st.composite
def conv_nets(draw):
    """A tiny conv net and its inputs: (description, build function, list of inputs).

    conv2d (drawn stride / padding) -> [batch_norm in training] -> activation -> middle op ->
    [pool] -> flatten -> linear -> head (a loss or a log_softmax). At most a few hundred
    parameters, so the full-mode check (2 forward passes per element) stays fast.
    """
    n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(3, 5)), draw(st.integers(3, 5))
    k = draw(st.integers(1, 3))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, min(k - 1, 1)))
    oh, ow = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    use_bn = draw(st.integers(0, 2)) > 0 and n * oh * ow >= 2  # batch norm in about 2 of 3 nets
    pool = draw(st.sampled_from(sorted(POOLS))) if min(oh, ow) >= 2 else "none"  # 2x2 pooling when it fits
    ph, pw = (oh // 2, ow // 2) if pool != "none" else (oh, ow)
    classes = draw(st.integers(2, 3))
    desc = dict(pre=draw(st.sampled_from(sorted(PRE))), k=k, stride=stride, padding=padding, bn=use_bn,
                act=draw(st.sampled_from(sorted(ACTIVATIONS))), middle=draw(st.sampled_from(sorted(MIDDLE))),
                pool=pool, head=draw(st.sampled_from(HEADS)), shape=(n, cin, h, w))

    rng = np.random.default_rng(draw(seeds))
    inputs = [rng.standard_normal((n, cin, h, w)),
              rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k),
              rng.standard_normal(cout) * 0.1,
              rng.standard_normal(cout) * 0.5 + 1,           # batch-norm weight
              rng.standard_normal(cout) * 0.1,               # batch-norm bias
              rng.standard_normal((classes, cout * ph * pw)) / np.sqrt(cout * ph * pw),
              rng.standard_normal(classes) * 0.1]
    tensors = [tc.tensor(a, requires_grad=True) for a in inputs]
    target = tc.tensor(rng.integers(0, classes, size=n))
    soft_target = tc.tensor(rng.random((n, classes)))

    def net(x, wc, bc, gamma, beta, wf, bf, probe=None):
        """The net; `probe`, a dict, receives the values that sit next to kinks (see kink_margin)."""
        record = (lambda name, t: probe.__setitem__(name, t.numpy())) if probe is not None else (lambda *a: None)
        record("input", x)
        hid = F.conv2d(PRE[desc["pre"]](x), wc, bc, stride=stride, padding=padding)
        if use_bn:
            hid = F.batch_norm(hid, None, None, gamma, beta, training=True)
        else:  # keep gamma and beta in use so that their gradients are checked either way
            hid = hid * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)
        record("pre_activation", hid)
        hid = ACTIVATIONS[desc["act"]](hid)
        record("activation", hid)
        hid = MIDDLE[desc["middle"]](hid)
        record("pool_input", hid)
        if pool != "none":
            hid = POOLS[pool](hid, 2)
        logits = F.linear(hid.flatten(1), wf, bf)
        record("logits", logits)
        head = desc["head"]
        if head == "cross_entropy":
            return F.cross_entropy(logits, target)
        if head == "cross_entropy_smoothed":
            return F.cross_entropy(logits, target, reduction="sum", label_smoothing=0.2)
        if head == "log_softmax":
            return F.log_softmax(logits, dim=1)
        if head == "softmax_mse":
            return F.mse_loss(F.softmax(logits, dim=1), soft_target)
        if head == "logsumexp":
            return logits.exp().sum(dim=1).log().mean()
        return logits.amax(dim=1)

    return desc, net, tensors


def _top_two_gap(values):
    """Smallest gap between the largest and second-largest value along the last axis; exact
    ties are left out (they come from dead ReLU units, which move together and are harmless)."""
    if values.shape[-1] < 2:
        return np.inf
    top = np.sort(values, axis=-1)
    gap = top[..., -1] - top[..., -2]
    gap = gap[gap != 0]
    return float(gap.min()) if gap.size else np.inf


def kink_margin(desc, net, tensors):
    """How far the net's inputs are from a kink (|x| = 0, relu at 0, a change of argmax in max
    pooling or amax). Central differences with step 1e-6 straddle a kink closer than that and
    then disagree with any correct backward, so such draws are discarded."""
    probe = {}
    net(*tensors, probe=probe)
    margins = [np.inf]
    if desc["pre"] == "soft_sign":
        margins.append(np.abs(probe["input"]).min())
    if desc["act"] in ("relu", "leaky_relu"):
        margins.append(np.abs(probe["pre_activation"]).min())
    if desc["middle"] == "amax_over_width":
        margins.append(_top_two_gap(probe["activation"]))
    if desc["pool"] == "max":
        h = probe["pool_input"]
        n, c, hh, ww = h.shape
        windows = h[:, :, :hh // 2 * 2, :ww // 2 * 2].reshape(n, c, hh // 2, 2, ww // 2, 2)
        margins.append(_top_two_gap(windows.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, hh // 2, ww // 2, 4)))
    if desc["head"] == "max":
        margins.append(_top_two_gap(probe["logits"]))
    return min(margins)


@given(case=conv_nets())
def test_gradcheck_passes_on_random_conv_nets(case):
    """Central differences agree with backward on every input and parameter of a random small
    conv net (full mode: every element perturbed). The tolerance is 100 times tighter than
    gradcheck's default: in float64, away from kinks, central differences are good to ~1e-9."""
    desc, net, tensors = case
    assume(kink_margin(desc, net, tensors) > 1e-3)
    assert tc.gradcheck(net, tensors, mode="full", atol=1e-7, rtol=1e-5), desc


@given(case=conv_nets(), seed=seeds)
def test_gradcheck_random_mode_passes_on_random_conv_nets(case, seed):
    """The same nets pass in random-direction mode (directional derivatives along random unit vectors)."""
    desc, net, tensors = case
    assume(kink_margin(desc, net, tensors) > 1e-3)
    assert tc.gradcheck(net, tensors, mode="random", n_directions=4, seed=seed % 2**31), desc


def test_gradcheck_leaves_inputs_unchanged():
    """gradcheck perturbs float64 copies: the caller's tensors keep their values, dtype and grad."""
    rng = np.random.default_rng(0)
    a64 = tc.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    a32 = tc.tensor(rng.standard_normal((4, 2)).astype(np.float32), requires_grad=True)
    before = [a64.numpy().copy(), a32.numpy().copy()]
    assert tc.gradcheck(lambda a, b: (a @ b).tanh(), [a64, a32])
    np.testing.assert_array_equal(a64.numpy(), before[0])
    np.testing.assert_array_equal(a32.numpy(), before[1])
    assert a32.dtype == np.float32 and a64.grad is None and a32.grad is None


# ---------------------------------------------------------------- (b) gradcheck's own behaviour
class ScaledSquare(tc.Function):
    """y = x * x with a backward that multiplies the true gradient 2 x g by `factor` at the
    flat positions `where` (all positions when None): factor 1 is correct."""

    @staticmethod
    def forward(ctx, x, factor=1.0, where=None):
        ctx.save_for_backward(x)
        ctx.factor, ctx.where = factor, where
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        grad = 2 * x * g
        if ctx.where is None:
            return grad * ctx.factor
        grad = grad.copy()
        grad.reshape(-1)[list(ctx.where)] *= ctx.factor
        return grad


class WrongMulFirst(tc.Function):
    """y = a * b whose gradient for the first input is off by a factor 1.5 (second input correct)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return 1.5 * g * b, g * a


def _two_inputs(seed, shape_a, shape_b):
    rng = np.random.default_rng(seed)
    return [tc.tensor(rng.standard_normal(shape_a), requires_grad=True),
            tc.tensor(rng.standard_normal(shape_b), requires_grad=True)]


def _element_text(index, shape):
    return str(tuple(int(i) for i in np.unravel_index(index, shape)))


@pytest.mark.parametrize("mode", ["full", "random", "auto"])
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), seed=seeds)
def test_gradcheck_returns_true_for_correct_function(mode, shape, seed):
    """A correct custom Function (factor 1) composed with library ops passes in every mode."""
    inputs = _two_inputs(seed, shape, shape)
    assert tc.gradcheck(lambda a, b: ScaledSquare.apply(a).tanh() * b + a, inputs, mode=mode) is True


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), seed=seeds,
       factor=st.sampled_from([0.5, 1.1, 2.0, -1.0]))
def test_gradcheck_names_input_and_worst_element(shape, seed, factor):
    """Backward off by `factor` everywhere on input 1 of a scalar function: GradcheckError names
    input 1 and the element of largest |x| (the error is |factor - 1| * 2 |x| * |cotangent|)."""
    inputs = _two_inputs(seed, (2, 3), shape)
    b = inputs[1].numpy()
    worst = _element_text(np.argmax(np.abs(b)), shape)

    def fn(a, b):
        return (a.tanh() * 2).sum() + ScaledSquare.apply(b, factor=factor).sum()

    with pytest.raises(tc.GradcheckError, match="input 1") as info:
        tc.gradcheck(fn, inputs, mode="full")
    assert f"element {worst}" in str(info.value), str(info.value)
    assert "input 0" not in str(info.value)


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), seed=seeds, data=st.data())
def test_gradcheck_finds_the_single_wrong_element(shape, seed, data):
    """A backward wrong at one drawn element only: the error names that element and counts 1 bad element."""
    size = int(np.prod(shape))
    k = data.draw(st.integers(0, size - 1), label="wrong element")
    inputs = _two_inputs(seed, shape, shape)
    inputs[0].array.reshape(-1)[k] = 1.0  # both factors of the wrong term far from 0,
    inputs[1].array.reshape(-1)[k] = 1.5  # so the wrong factor makes a visible difference

    def fn(a, b):
        return ScaledSquare.apply(a).sum() + (ScaledSquare.apply(b, factor=3.0, where=[k]) * a).sum()

    with pytest.raises(tc.GradcheckError, match="input 1") as info:
        tc.gradcheck(fn, inputs, mode="full")
    message = str(info.value)
    assert f"element {_element_text(k, shape)}" in message, message
    assert f"1 of {size} elements" in message, message


def test_gradcheck_names_input_0_when_first_input_is_wrong():
    """Only the first input's gradient is wrong: the error names input 0."""
    inputs = _two_inputs(1, (3, 2), (3, 2))
    with pytest.raises(tc.GradcheckError, match="input 0"):
        tc.gradcheck(lambda a, b: WrongMulFirst.apply(a, b), inputs)


def _counting(fn):
    """fn wrapped to count its calls (each forward pass of gradcheck is one call)."""
    def wrapped(*args):
        wrapped.calls += 1
        return fn(*args)
    wrapped.calls = 0
    return wrapped


@pytest.mark.parametrize("mode", ["random", "auto"])
def test_random_mode_on_large_input(mode):
    """On a 3,000-element input (over max_full_elements), random mode passes a correct Function
    in far fewer than 2 forward passes per element."""
    inputs = _two_inputs(2, (50, 60), (60,))
    fn = _counting(lambda a, b: (ScaledSquare.apply(a) * b).tanh().sum(dim=1))
    assert tc.gradcheck(fn, inputs, mode=mode, n_directions=8) is True
    assert fn.calls <= 1 + 2 * 8 * 2 + 2 * 60, f"{fn.calls} forward passes: not random-direction mode"


@pytest.mark.parametrize("factor", [0.5, 1.01, 3.0, -1.0])
def test_random_mode_catches_wrong_function(factor):
    """Random-direction mode also raises GradcheckError naming the input for a backward off by a factor."""
    inputs = _two_inputs(3, (4,), (50, 60))

    def fn(a, b):
        return a.sum() * 0 + ScaledSquare.apply(b, factor=factor).sum(dim=0)

    with pytest.raises(tc.GradcheckError, match="input 1"):
        tc.gradcheck(fn, inputs, mode="random")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["transposed", "permuted"])
@pytest.mark.parametrize("mode", ["full", "random"])
def test_gradcheck_on_non_contiguous_inputs(dtype, layout, mode):
    """A tensor made from a transposed array keeps its memory order (not C-contiguous); gradcheck
    must still perturb the tensor itself and pass a correct function (torch's gradcheck does)."""
    rng = np.random.default_rng(6)
    if layout == "transposed":
        array = rng.standard_normal((4, 3)).T                    # Fortran order
    else:
        array = rng.standard_normal((3, 4, 2)).transpose(2, 0, 1)  # neither C nor Fortran order
    x = tc.tensor(array.astype(dtype), requires_grad=True)
    w = tc.tensor(np.random.default_rng(7).standard_normal(x.shape[-1]), requires_grad=True)
    assert tc.gradcheck(lambda x, w: (x * x * w).tanh(), [x, w], mode=mode) is True


def test_gradcheck_needs_an_input_requiring_grad():
    """No floating input with requires_grad=True: a ValueError, not a silent pass."""
    with pytest.raises(ValueError):
        tc.gradcheck(lambda a: a * 2, [tc.tensor(np.ones(3))])


@pytest.mark.parametrize("device", DEVICES)
def test_gradcheck_on_device(device):
    """gradcheck works for a function whose inputs live on `device` (float64 copies are made there)."""
    rng = np.random.default_rng(4)
    x = tc.tensor(rng.standard_normal((2, 3, 4, 4)), device=device, requires_grad=True)
    w = tc.tensor(rng.standard_normal((2, 3, 3, 3)), device=device, requires_grad=True)
    assert tc.gradcheck(lambda x, w: F.max_pool2d(F.conv2d(x, w, padding=1).tanh(), 2), [x, w])
