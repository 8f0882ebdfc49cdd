"""The nn.Module API against torch.nn.Module on the same structures.

Most tests build the same thing twice, once with `lib = tinygrad_cnn` and once with
`lib = torch` (both spell `lib.nn.Linear`, `lib.nn.Parameter`, `lib.zeros`, ...), run the same
steps on both, and compare what the API reports: registration by attribute assignment,
parameter / buffer / child / module names and order, state_dict keys, load_state_dict
errors, train / eval, casting, containers, apply order and repr. Layers given inputs of the
wrong shape must raise tc.ShapeError naming the layer and both shapes.
"""
import copy
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from helpers import assert_close, to_numpy

LIBS = [pytest.param(tc, id="tinygrad_cnn"), pytest.param(torch, id="torch")]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    tc.manual_seed(0)


# ---------------------------------------------------------------- structures built in both libraries
def make_net(lib):
    """A custom Module holding a Sequential of Conv2d/BatchNorm2d/ReLU/MaxPool2d, a parameter
    of its own registered between two children, a named Sequential head, a ModuleList and a
    buffer. Input (N, 3, 4, 4) -> (N, 5)."""
    tnn = lib.nn

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(tnn.Conv2d(3, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                                           tnn.MaxPool2d(2))
            self.scale = tnn.Parameter(lib.ones(1))
            self.blocks = tnn.ModuleList([tnn.Conv2d(4, 4, 1, bias=False), tnn.BatchNorm2d(4, affine=False)])
            self.head = tnn.Sequential(OrderedDict([("flatten", tnn.Flatten()), ("fc", tnn.Linear(16, 5))]))
            self.register_buffer("steps", lib.zeros(()))

        def forward(self, x):
            x = self.features(x)
            for block in self.blocks:
                x = block(x)
            return self.head(x) * self.scale

    return Net()


def make_tied(lib):
    """Two Linear layers sharing one weight Parameter (tied weights)."""
    tnn = lib.nn
    m = tnn.Module()
    m.enc = tnn.Linear(3, 3)
    m.dec = tnn.Linear(3, 3)
    m.dec.weight = m.enc.weight
    return m


def make_shared_module(lib):
    """The same Linear module used twice in a Sequential, then a different one."""
    tnn = lib.nn
    shared = tnn.Linear(2, 2)
    return tnn.Sequential(shared, tnn.ReLU(), shared, tnn.Linear(2, 1))


def torch_state_as_numpy(module):
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def names(pairs):
    return [name for name, _ in pairs]


def snapshot(m):
    """Everything the registration API reports about a module, as plain names."""
    return dict(parameters=names(m.named_parameters()), buffers=names(m.named_buffers()),
                children=names(m.named_children()), state_dict=list(m.state_dict()))


# ---------------------------------------------------------------- registration
def registration_steps(lib):
    """Assign parameters, a submodule, a buffer and plain attributes; snapshot after each step."""
    tnn = lib.nn
    m = tnn.Module()
    steps = []
    m.w = tnn.Parameter(lib.ones(2))
    steps.append(("parameter", snapshot(m)))
    m.sub = tnn.Linear(2, 3)
    steps.append(("submodule", snapshot(m)))
    m.register_buffer("buf", lib.zeros(3))
    steps.append(("buffer", snapshot(m)))
    m.note, m.count, m.plain_tensor = "text", 3, lib.zeros(2)  # plain attributes: not registered
    steps.append(("plain attributes", snapshot(m)))
    m.b = tnn.Parameter(lib.zeros(1))
    steps.append(("second parameter", snapshot(m)))
    m.register_buffer("empty", None)
    steps.append(("None buffer", snapshot(m)))
    m.w = None
    steps.append(("parameter set to None", snapshot(m)))
    del m.b
    steps.append(("parameter deleted", snapshot(m)))
    m.b = tnn.Linear(1, 1)
    steps.append(("deleted parameter name reused for a module", snapshot(m)))
    del m.sub
    steps.append(("submodule deleted", snapshot(m)))
    return steps


def test_registration_by_attribute_matches_torch():
    """After every assignment step, parameter / buffer / child names and state_dict keys are torch's."""
    ours, theirs = registration_steps(tc), registration_steps(torch)
    for (label, o), (_, t) in zip(ours, theirs):
        assert o == t, f"after '{label}': ours {o} != torch {t}"


def test_registered_objects_are_returned_by_attribute_access():
    """m.name gives back exactly the registered Parameter / Module / buffer; plain attributes are plain."""
    m = nn.Module()
    p = nn.Parameter(tc.ones(2))
    sub = nn.Linear(2, 2)
    buf = tc.zeros(3)
    m.p, m.sub, m.note = p, sub, "x"
    m.register_buffer("buf", buf)
    assert m.p is p and m.sub is sub and m.buf is buf and m.note == "x"
    assert [q for q in m.parameters()] == [p, sub.weight, sub.bias]
    m.p = None
    assert m.p is None
    with pytest.raises(AttributeError):
        m.does_not_exist  # noqa: B018


def reassignment_steps(lib):
    """Re-assign existing parameters, a buffer and a submodule; snapshot after each."""
    tnn = lib.nn
    m = tnn.Module()
    m.w = tnn.Parameter(lib.ones(2))
    m.sub = tnn.Linear(2, 3)
    m.register_buffer("buf", lib.zeros(3))
    m.b = tnn.Parameter(lib.zeros(1))
    steps = []
    m.w = tnn.Parameter(lib.zeros(2))
    steps.append(("parameter reassigned", snapshot(m)))
    m.sub.weight = tnn.Parameter(lib.zeros(3, 2))
    steps.append(("Linear.weight reassigned", snapshot(m)))
    m.buf = lib.ones(3)
    steps.append(("buffer reassigned a Tensor", snapshot(m)))
    m.w = None
    m.w = tnn.Parameter(lib.ones(2))
    steps.append(("parameter set to None then to a Parameter again", snapshot(m)))
    m.sub = tnn.Linear(2, 2)
    steps.append(("submodule reassigned", snapshot(m)))
    return steps


def test_reassignment_keeps_names_and_order_like_torch():
    """Re-assigning a registered name keeps its kind and its place in the order, as in torch
    (e.g. `linear.weight = Parameter(...)` leaves state_dict keys as ['weight', 'bias'])."""
    ours, theirs = reassignment_steps(tc), reassignment_steps(torch)
    for (label, o), (_, t) in zip(ours, theirs):
        assert o == t, f"after '{label}': ours {o} != torch {t}"


def test_reassigned_buffer_holds_the_new_tensor():
    """Assigning a Tensor to a buffer name replaces the buffer (and it is saved in state_dict)."""
    m = nn.Module()
    m.register_buffer("buf", tc.zeros(3))
    new = tc.ones(3)
    m.buf = new
    assert m.buf is new
    assert dict(m.named_buffers())["buf"] is new
    np.testing.assert_array_equal(m.state_dict()["buf"], np.ones(3))


@pytest.mark.parametrize("lib", LIBS)
def test_plain_tensor_to_parameter_name_raises_type_error(lib):
    """A plain Tensor (or any non-Parameter) assigned to a parameter name is a TypeError, and the
    parameter stays registered."""
    lin = lib.nn.Linear(2, 3)
    weight = lin.weight
    with pytest.raises(TypeError):
        lin.weight = lib.zeros(3, 2)
    with pytest.raises(TypeError):
        lin.bias = 1.0
    assert lin.weight is weight
    assert names(lin.named_parameters()) == ["weight", "bias"]


@pytest.mark.parametrize("lib", LIBS)
def test_module_to_parameter_name_raises_type_error(lib):
    """torch also refuses a Module assigned to a registered parameter name (TypeError); the
    parameter stays registered."""
    lin = lib.nn.Linear(2, 3)
    with pytest.raises(TypeError):
        lin.bias = lib.nn.ReLU()
    assert names(lin.named_parameters()) == ["weight", "bias"]
    assert names(lin.named_children()) == []


@pytest.mark.parametrize("lib", LIBS)
def test_non_tensor_to_buffer_name_raises_type_error(lib):
    """Assigning something that is not a Tensor (or None) to a buffer name is a TypeError in torch;
    the buffer stays registered."""
    m = lib.nn.Module()
    m.register_buffer("buf", lib.zeros(2))
    with pytest.raises(TypeError):
        m.buf = 3
    assert names(m.named_buffers()) == ["buf"]


@pytest.mark.parametrize("lib", LIBS)
def test_register_methods_type_errors(lib):
    """register_parameter needs a Parameter, register_buffer a Tensor, add_module a Module."""
    m = lib.nn.Module()
    with pytest.raises(TypeError):
        m.register_parameter("p", lib.zeros(2))
    with pytest.raises(TypeError):
        m.register_buffer("b", [1.0, 2.0])
    with pytest.raises(TypeError):
        m.add_module("c", lib.zeros(2))


@pytest.mark.parametrize("lib", LIBS)
def test_assignment_before_init_raises_attribute_error(lib):
    """Registering a Parameter or Module before Module.__init__ ran is an AttributeError."""

    class Broken(lib.nn.Module):
        def __init__(self):
            self.fc = lib.nn.Linear(2, 2)
            super().__init__()

    with pytest.raises(AttributeError):
        Broken()


# ---------------------------------------------------------------- walking the tree
def test_named_parameters_names_order_and_shapes_match_torch():
    """named_parameters() of the nested model: same names, order and shapes as torch;
    parameters() yields the same objects; recurse=False gives only the model's own."""
    ours, theirs = make_net(tc), make_net(torch)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.parameters()) == [p for _, p in ours.named_parameters()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours.parameters())
    assert names(ours.named_parameters(recurse=False)) == names(theirs.named_parameters(recurse=False))
    assert names(ours.named_parameters(prefix="net")) == names(theirs.named_parameters(prefix="net"))


@pytest.mark.parametrize("make", [make_tied, make_shared_module], ids=["tied-weights", "shared-module"])
def test_shared_parameters_listed_once(make):
    """A Parameter reachable twice (tied weights, or a module used twice) is listed once, under
    the same name as in torch."""
    ours, theirs = make(tc), make(torch)
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert len({id(p) for p in ours.parameters()}) == len(list(ours.parameters()))


def test_named_buffers_match_torch():
    """buffers() / named_buffers() of the nested model: names and order as torch; buffers()
    yields the same objects."""
    ours, theirs = make_net(tc), make_net(torch)
    assert names(ours.named_buffers()) == names(theirs.named_buffers())
    assert list(ours.buffers()) == [b for _, b in ours.named_buffers()]
    assert names(ours.named_buffers(recurse=False)) == names(theirs.named_buffers(recurse=False)) == ["steps"]


@pytest.mark.parametrize("make", [make_net, make_tied], ids=["nested", "tied-weights"])
def test_children_and_modules_match_torch(make):
    """children(), named_children(), modules(), named_modules(): names, classes and order as torch."""
    ours, theirs = make(tc), make(torch)

    def described(pairs):
        return [(n, type(m).__name__) for n, m in pairs]

    assert described(ours.named_children()) == described(theirs.named_children())
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]
    assert described(ours.named_modules()) == described(theirs.named_modules())
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]
    assert next(iter(ours.modules())) is ours


def test_children_of_module_used_twice_listed_once():
    """A child module registered under two names is yielded once by children(), as in torch."""
    ours, theirs = make_shared_module(tc), make_shared_module(torch)
    assert names(ours.named_children()) == names(theirs.named_children())
    assert len(list(ours.children())) == len(list(theirs.children()))
    assert names(ours.named_modules()) == names(theirs.named_modules())


# ---------------------------------------------------------------- state dict
@pytest.mark.parametrize("make", [make_net, make_tied], ids=["nested", "tied-weights"])
def test_state_dict_keys_order_and_shapes_match_torch(make):
    """state_dict(): keys in torch's order (each module's parameters, then its buffers, then its
    children), same shapes and dtypes; tied weights appear under both names, as in torch."""
    ours, theirs = make(tc), make(torch)
    osd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(osd) == list(tsd)
    for key, value in tsd.items():
        assert tuple(osd[key].shape) == tuple(value.shape), key
        assert np.dtype(osd[key].dtype) == np.dtype(str(value.dtype).replace("torch.", "")), key


def test_state_dict_of_module_used_twice_has_both_prefixes():
    """A module used twice in a Sequential appears under both indices in torch's state_dict, so a
    torch state_dict of such a model must load strictly into ours."""
    ours, theirs = make_shared_module(tc), make_shared_module(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(torch_state_as_numpy(theirs))


def test_state_dict_values_share_memory_with_the_model():
    """state_dict() values are the model's own arrays (torch's share storage with the parameters)."""
    ours = make_net(tc)
    sd = ours.state_dict()
    params = dict(ours.named_parameters())
    assert np.shares_memory(to_numpy(sd["head.fc.weight"]), to_numpy(params["head.fc.weight"].array))
    theirs = make_net(torch)
    assert theirs.state_dict()["head.fc.weight"].data_ptr() == theirs.head.fc.weight.data_ptr()


def test_load_state_dict_from_torch_reproduces_torch():
    """Loading torch's (randomized) state into ours makes every entry equal and the eval forward
    equal torch's; the float32 model stays float32 even when given float64 arrays."""
    ours, theirs = make_net(tc), make_net(torch)
    with torch.no_grad():
        for t in theirs.state_dict().values():
            if t.dtype.is_floating_point:
                t.copy_(torch.rand(t.shape) + 0.5)
    state = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in torch_state_as_numpy(theirs).items()}
    result = ours.load_state_dict(state)
    assert list(result[0]) == [] and list(result[1]) == []
    for key, value in torch_state_as_numpy(theirs).items():
        assert_close(ours.state_dict()[key], value, np.float32, key)
        assert ours.state_dict()[key].dtype == value.dtype, key
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    ours.eval(), theirs.eval()
    assert_close(ours(tc.tensor(x)), theirs(torch.tensor(x)), np.float32, "eval forward after loading")


def test_load_state_dict_accepts_tensors_and_copies_in_place():
    """Values may be Tensors; loading copies into the existing Parameters (same objects, and the
    source arrays are not aliased)."""
    src, dst = make_net(tc), make_net(tc)
    for p in src.parameters():
        tc.nn.init.normal_(p)
    before = list(dst.parameters())
    dst.load_state_dict({k: tc.tensor(v.copy()) for k, v in src.state_dict().items()})
    assert list(dst.parameters()) == before
    for key, value in src.state_dict().items():
        np.testing.assert_array_equal(to_numpy(dst.state_dict()[key]), to_numpy(value))
    src.head.fc.weight.data[...] = 7.0
    assert not np.any(to_numpy(dst.head.fc.weight) == 7.0)


def _copy_state(module):
    return {k: np.array(to_numpy(v), copy=True) for k, v in module.state_dict().items()}


def _bad_state(module):
    """A state dict with two missing keys, two unexpected keys, two wrongly shaped keys and
    every other key changed (so that a partial load would show)."""
    state = {k: np.array(to_numpy(v), copy=True) + 1 for k, v in module.state_dict().items()}
    del state["features.0.bias"], state["features.1.running_var"]
    state["features.9.weight"] = np.zeros(3, np.float32)
    state["extra"] = np.zeros(1, np.float32)
    state["head.fc.weight"] = np.zeros((5, 15), np.float32)   # model: (5, 16)
    state["features.1.weight"] = np.zeros((5,), np.float32)   # model: (4,)
    return state


@pytest.mark.parametrize("lib", LIBS)
def test_load_state_dict_strict_error_names_every_problem(lib):
    """strict=True: one RuntimeError naming every missing key, every unexpected key, and every
    wrongly shaped key with both shapes."""
    model = make_net(lib)
    bad = _bad_state(model if lib is tc else make_net(tc))
    if lib is torch:
        bad = {k: torch.tensor(v) for k, v in bad.items()}
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    for key in ["features.0.bias", "features.1.running_var", "features.9.weight", "extra",
                "head.fc.weight", "features.1.weight"]:
        assert key in message, f"{key!r} not named in: {message}"
    shapes = re.findall(r"[\[(]([\d, ]+)[\])]", message)
    normalized = {s.replace(" ", "").rstrip(",") for s in shapes}
    for shape in ["5,15", "5,16", "5", "4"]:
        assert shape in normalized, f"shape ({shape}) not named in: {message}"


def test_load_state_dict_error_leaves_model_unchanged():
    """When load_state_dict raises (strict keys or shape mismatch), no entry has changed."""
    model = make_net(tc)
    before = _copy_state(model)
    for strict in (True, False):
        with pytest.raises(RuntimeError):
            model.load_state_dict(_bad_state(model), strict=strict)
        after = _copy_state(model)
        for key in before:
            np.testing.assert_array_equal(after[key], before[key], err_msg=f"{key} changed (strict={strict})")


@pytest.mark.parametrize("lib", LIBS)
def test_load_state_dict_shape_mismatch_raises_even_when_not_strict(lib):
    """A wrongly shaped key is an error with strict=False too."""
    lin = lib.nn.Linear(2, 3)
    state = {"weight": np.zeros((2, 3), np.float32), "bias": np.zeros(3, np.float32)}
    if lib is torch:
        state = {k: torch.tensor(v) for k, v in state.items()}
    with pytest.raises(RuntimeError, match="weight"):
        lin.load_state_dict(state, strict=False)


def test_load_state_dict_not_strict_returns_missing_and_unexpected_like_torch():
    """strict=False loads what matches and returns (missing_keys, unexpected_keys) equal to torch's."""
    ours, theirs = make_net(tc), make_net(torch)
    state = {k: np.array(v, copy=True) + 1 for k, v in torch_state_as_numpy(theirs).items()
             if k not in ("features.1.running_mean", "features.1.bias", "steps")}
    state["extra.weight"] = np.zeros(2, np.float32)
    state["head.other"] = np.zeros(2, np.float32)
    missing, unexpected = ours.load_state_dict(state, strict=False)
    t_result = theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert list(missing) == list(t_result.missing_keys)
    assert list(unexpected) == list(t_result.unexpected_keys)
    np.testing.assert_array_equal(to_numpy(ours.state_dict()["head.fc.weight"]), state["head.fc.weight"])


# ---------------------------------------------------------------- modes, grads, devices, dtypes
def test_train_eval_propagate_to_every_submodule():
    """eval() / train() / train(False) set `training` on every module like torch, and return self."""
    ours, theirs = make_net(tc), make_net(torch)
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]
    assert ours.eval() is ours
    theirs.eval()
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]
    assert not any(m.training for m in ours.modules())
    assert ours.train() is ours
    assert all(m.training for m in ours.modules())
    ours.head.train(False)
    theirs.train()
    theirs.head.train(False)
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]


def _backward_once(model):
    x = tc.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32))
    model(x).sum().backward()


def test_zero_grad():
    """zero_grad() sets every gradient to None (torch's default); zero_grad(set_to_none=False)
    keeps arrays of zeros of the parameter's shape."""
    model = make_net(tc)
    _backward_once(model)
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    for p in model.parameters():
        assert p.grad is not None and p.grad.shape == p.shape
        assert not np.any(to_numpy(p.grad))
    _backward_once(model)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    theirs = make_net(torch)
    theirs(torch.randn(2, 3, 4, 4)).sum().backward()
    theirs.zero_grad()
    assert all(p.grad is None for p in theirs.parameters())


def test_to_cpu_keeps_objects_and_values():
    """to("cpu") returns the model itself, keeps the same Parameter objects and values."""
    model = make_net(tc)
    params, before = list(model.parameters()), _copy_state(model)
    assert model.to("cpu") is model
    assert list(model.parameters()) == params
    assert all(p.device == "cpu" for p in model.parameters())
    assert all(b.device == "cpu" for b in model.buffers())
    for key, value in _copy_state(model).items():
        np.testing.assert_array_equal(value, before[key])


def test_double_and_float_cast_parameters_and_buffers_like_torch():
    """double() / float() cast every floating parameter and buffer (num_batches_tracked stays
    int64), keep the Parameter objects and values, and the model then computes in that dtype."""
    ours, theirs = make_net(tc), make_net(torch)
    ours.load_state_dict(torch_state_as_numpy(theirs))
    params = list(ours.parameters())
    for method, np_dtype in (("double", np.float64), ("float", np.float32)):
        assert getattr(ours, method)() is ours
        getattr(theirs, method)()
        dtypes = {k: np.dtype(v.dtype) for k, v in ours.state_dict().items()}
        expected = {k: np.dtype(str(v.dtype).replace("torch.", "")) for k, v in theirs.state_dict().items()}
        assert dtypes == expected, method
        assert list(ours.parameters()) == params
        x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np_dtype)
        ours.eval(), theirs.eval()
        out = ours(tc.tensor(x))
        assert out.dtype == np_dtype
        assert_close(out, theirs(torch.tensor(x)), np_dtype, f"forward after {method}()")


# ---------------------------------------------------------------- containers
def test_sequential_indexing_slicing_len_iteration_append():
    """Sequential: int, negative and slice indexing, item assignment, len, iteration, append and
    out-of-range errors, compared with torch's Sequential of the same modules."""

    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 4), lib.nn.Tanh())

    ours, theirs = build(tc), build(torch)
    mods = list(ours._modules.values())
    assert len(ours) == len(theirs) == 4
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert list(ours) == mods
    assert ours[0] is mods[0] and ours[-1] is mods[-1] and ours[-4] is mods[0]
    for index in (slice(1, 3), slice(None, None, 2), slice(-2, None), slice(3, 1)):
        o, t = ours[index], theirs[index]
        assert isinstance(o, nn.Sequential)
        assert names(o.named_children()) == names(t.named_children()), index
        assert list(o) == mods[index]
    for index in (4, -5):
        with pytest.raises(IndexError):
            ours[index]
        with pytest.raises(IndexError):
            theirs[index]
    ours[1], theirs[1] = nn.Identity(), torch.nn.Identity()
    ours[-1], theirs[-1] = nn.ReLU(), torch.nn.ReLU()
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs] == ["Linear", "Identity",
                                                                                        "Linear", "ReLU"]
    assert names(ours.named_children()) == names(theirs.named_children())
    for index in (4, -5):
        with pytest.raises(IndexError):
            ours[index] = nn.ReLU()
        with pytest.raises(IndexError):
            theirs[index] = torch.nn.ReLU()
    ours.append(nn.Sigmoid())
    theirs.append(torch.nn.Sigmoid())
    assert len(ours) == 5
    assert names(ours.named_children()) == names(theirs.named_children())
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_sequential_forward_is_composition():
    """Sequential(a, b, c)(x) equals c(b(a(x))) and torch's Sequential with the same weights."""

    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))

    ours, theirs = build(tc), build(torch)
    ours.load_state_dict(torch_state_as_numpy(theirs))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    xt = tc.tensor(x)
    assert_close(ours(xt), ours[2](ours[1](ours[0](xt))), np.float32)
    assert_close(ours(xt), theirs(torch.tensor(x)), np.float32)


def test_sequential_from_ordered_dict():
    """Sequential(OrderedDict(...)) uses the given names, like torch."""

    def build(lib):
        return lib.nn.Sequential(OrderedDict([("conv", lib.nn.Conv2d(1, 2, 3)), ("act", lib.nn.ReLU()),
                                              ("fc", lib.nn.Linear(2, 2))]))

    ours, theirs = build(tc), build(torch)
    assert names(ours.named_children()) == names(theirs.named_children()) == ["conv", "act", "fc"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.conv is ours[0] and ours.fc is ours[-1]


def test_module_list():
    """ModuleList: append, extend, int / negative / slice indexing, len, iteration; its modules'
    parameters are registered under torch's names."""

    def build(lib):
        ml = lib.nn.ModuleList([lib.nn.Linear(2, 2)])
        ml.append(lib.nn.ReLU())
        ml.extend([lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3)])
        holder = lib.nn.Module()
        holder.layers = ml
        return holder, ml

    (holder, ours), (t_holder, theirs) = build(tc), build(torch)
    assert len(ours) == len(theirs) == 4
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert ours[-1] is ours[3] and type(ours[1]).__name__ == "ReLU"
    assert names(holder.named_parameters()) == names(t_holder.named_parameters())
    assert list(holder.state_dict()) == list(t_holder.state_dict())
    sliced, t_sliced = ours[1:], theirs[1:]
    assert isinstance(sliced, nn.ModuleList) and len(sliced) == 3
    assert names(sliced.named_children()) == names(t_sliced.named_children())
    assert list(sliced) == list(ours)[1:]
    with pytest.raises(IndexError):
        ours[4]


def _apply_order(model):
    path = {id(m): name for name, m in model.named_modules()}
    order = []
    result = model.apply(lambda m: order.append(path[id(m)]))
    assert result is model
    return order


def test_apply_visits_modules_in_torchs_order():
    """apply(fn) calls fn on every submodule (children first, depth first) then on the model,
    in torch's order, and returns the model."""
    assert _apply_order(make_net(tc)) == _apply_order(make_net(torch))


def test_apply_visits_a_shared_module_like_torch():
    """apply(fn) on a Sequential holding one module twice calls fn as often as torch does."""
    assert _apply_order(make_shared_module(tc)) == _apply_order(make_shared_module(torch))


def test_apply_can_initialize_weights():
    """The usual `model.apply(init_fn)` pattern reaches every Conv2d and Linear."""
    model = make_net(tc)

    def init_fn(m):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.constant_(m.weight, 0.25)

    model.apply(init_fn)
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weights) == 3
    assert all(np.all(to_numpy(w) == 0.25) for w in weights)


# ---------------------------------------------------------------- repr
def repr_model(lib):
    tnn = lib.nn
    return tnn.Sequential(
        tnn.Conv2d(1, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Sequential(tnn.Conv2d(8, 16, (3, 5), stride=2, bias=False), tnn.ReLU(), tnn.AvgPool2d(2)),
        tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Dropout(0.25), tnn.Linear(16, 10))


# layers whose repr line is character for character torch's; BatchNorm2d and MaxPool2d print a
# subset of torch's fields (torch adds e.g. dilation / ceil_mode / bias=True).
SUBSET_REPR = ("BatchNorm2d", "MaxPool2d")


def _head(line):
    """Indentation, child name and class name: '  (1): BatchNorm2d(' ."""
    return re.match(r"\s*(\(\w+\): )?\w*\(?", line).group(0)


def _fields(line):
    """The comma-separated fields inside the parentheses of a repr line."""
    return [f.strip() for f in line[len(_head(line)):].rstrip(")").split(", ")]


def test_repr_matches_torch_line_by_line():
    """repr of a small model: same lines and indentation as torch's; each line is identical,
    except that BatchNorm2d / MaxPool2d lines carry a subset of torch's fields."""
    ours, theirs = repr(repr_model(tc)).splitlines(), repr(repr_model(torch)).splitlines()
    assert len(ours) == len(theirs), "\n".join(ours)
    for o, t in zip(ours, theirs):
        assert _head(o) == _head(t), f"{o!r} vs torch {t!r}"
        if any(f"{name}(" in t for name in SUBSET_REPR):
            assert set(_fields(o)) <= set(_fields(t)), f"{o!r} has fields torch's {t!r} lacks"
        else:
            assert o == t


CONV_REPRS = [
    ("Conv2d", dict(in_channels=3, out_channels=8, kernel_size=3)),
    ("Conv2d", dict(in_channels=3, out_channels=8, kernel_size=(3, 5), stride=(2, 1), padding=(1, 2))),
    ("Conv2d", dict(in_channels=4, out_channels=8, kernel_size=3, dilation=2, groups=2, bias=False)),
    ("Conv2d", dict(in_channels=3, out_channels=8, kernel_size=3, padding="same")),
    ("Conv2d", dict(in_channels=3, out_channels=8, kernel_size=3, padding="valid")),
    ("Conv1d", dict(in_channels=3, out_channels=8, kernel_size=5, stride=2, padding=2)),
    ("Linear", dict(in_features=3, out_features=8, bias=False)),
    ("LeakyReLU", dict(negative_slope=0.2)),
    ("Identity", dict()),
    ("Sigmoid", dict()),
    ("Tanh", dict()),
    ("Dropout2d", dict(p=0.1)),
    ("Flatten", dict(start_dim=2, end_dim=3)),
]


@pytest.mark.parametrize("cls,kwargs", CONV_REPRS, ids=[f"{c}-{k}" for c, k in CONV_REPRS])
def test_layer_repr_matches_torch(cls, kwargs):
    """Single-layer reprs whose format torch and we share are identical."""
    assert repr(getattr(nn, cls)(**kwargs)) == repr(getattr(torch.nn, cls)(**kwargs))


# ---------------------------------------------------------------- shape errors
def _shape_error(layer, x_shape, torch_layer=None, torch_error=RuntimeError):
    """Call `layer` on zeros of `x_shape`; return the tc.ShapeError message. When given, the
    torch layer must reject the same input too."""
    if torch_layer is not None:
        with pytest.raises(torch_error):
            torch_layer(torch.zeros(x_shape))
    with pytest.raises(tc.ShapeError) as info:
        layer(tc.zeros(x_shape))
    return str(info.value)


def test_conv2d_wrong_channels_message():
    """Conv2d(3, 32, 3) on (8, 1, 28, 28): names the layer with its arguments, the expected
    channel count and the input shape."""
    message = _shape_error(nn.Conv2d(3, 32, kernel_size=3), (8, 1, 28, 28), torch.nn.Conv2d(3, 32, 3))
    assert message.startswith("Conv2d(3, 32, kernel_size=(3, 3)"), message
    assert "expects 3 input channels" in message
    assert "got input of shape (8, 1, 28, 28)" in message


def test_conv_wrong_rank_messages():
    """Conv2d on 2-D input and Conv1d on 4-D input name the expected layout and the shape."""
    message = _shape_error(nn.Conv2d(3, 4, 3), (5, 3), torch.nn.Conv2d(3, 4, 3))
    assert message.startswith("Conv2d(3, 4") and "(N, C, H, W)" in message and "(5, 3)" in message
    message = _shape_error(nn.Conv1d(3, 4, 3), (2, 3, 5, 5), torch.nn.Conv1d(3, 4, 3))
    assert message.startswith("Conv1d(3, 4") and "(2, 3, 5, 5)" in message
    message = _shape_error(nn.Conv1d(3, 4, 3), (2, 2, 9), torch.nn.Conv1d(3, 4, 3))
    assert "3 input channels" in message and "(2, 2, 9)" in message


def test_linear_wrong_in_features_message():
    """Linear(4, 2) on (3, 5): names the layer, in_features 4 and the input shape."""
    message = _shape_error(nn.Linear(4, 2), (3, 5), torch.nn.Linear(4, 2))
    assert message.startswith("Linear(in_features=4, out_features=2"), message
    assert "4" in message.split("expects", 1)[1]
    assert "(3, 5)" in message


def test_batchnorm_wrong_channels_and_rank_messages():
    """BatchNorm2d(3) on 4 channels or on a 2-D input, and BatchNorm1d(3) on 4 channels or 4-D
    input, raise ShapeError naming the layer, what it expects and the shape (torch rejects all)."""
    message = _shape_error(nn.BatchNorm2d(3), (2, 4, 5, 5), torch.nn.BatchNorm2d(3))
    assert message.startswith("BatchNorm2d(3") and "3 channels" in message and "(2, 4, 5, 5)" in message
    message = _shape_error(nn.BatchNorm2d(3), (2, 3), torch.nn.BatchNorm2d(3), ValueError)
    assert message.startswith("BatchNorm2d(3") and "(N, C, H, W)" in message and "(2, 3)" in message
    message = _shape_error(nn.BatchNorm1d(3), (2, 4), torch.nn.BatchNorm1d(3))
    assert message.startswith("BatchNorm1d(3") and "3 channels" in message and "(2, 4)" in message
    message = _shape_error(nn.BatchNorm1d(3), (2, 3, 4, 4), torch.nn.BatchNorm1d(3), ValueError)
    assert message.startswith("BatchNorm1d(3") and "(2, 3, 4, 4)" in message


def test_shape_error_is_value_and_runtime_error():
    """tc.ShapeError can be caught as ValueError or RuntimeError (torch raises either)."""
    for error in (ValueError, RuntimeError):
        with pytest.raises(error):
            nn.Linear(4, 2)(tc.zeros((3, 5)))


def test_sequential_reports_the_failing_layer():
    """Inside a Sequential the error names the layer that got the wrong shape."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(tc.ShapeError, match=r"Linear\(in_features=10.*\(2, 64\)"):
        model(tc.zeros((2, 1, 6, 6)))


def test_deepcopy_of_a_model_in_an_optimizer_gives_independent_parameters():
    """copy.deepcopy(model) (as in PyTorch): own memory, same values and grads, and not tied to
    the original's optimizer buffers, so a new optimizer on the copy trains it alone."""
    tc.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = tc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = tc.randn(5, 3), tc.tensor([0, 1, 1, 0, 1])
    tc.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    clone = copy.deepcopy(model)
    for (name, p), (_, q) in zip(model.named_parameters(), clone.named_parameters()):
        np.testing.assert_array_equal(q.numpy(), p.numpy(), err_msg=name)
        np.testing.assert_array_equal(q.grad.numpy(), p.grad.numpy(), err_msg=name)
        assert q.requires_grad and not np.shares_memory(q.array, p.array) and not np.shares_memory(q.grad.array, p.grad.array)
    before = [p.numpy().copy() for p in model.parameters()]
    clone_opt = tc.optim.SGD(clone.parameters(), lr=0.1)
    clone_opt.zero_grad()
    tc.nn.functional.cross_entropy(clone(x), y).backward()
    clone_opt.step()
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), old)
    with pytest.raises(RuntimeError, match="only tensors created explicitly by the user"):
        copy.deepcopy(model(x))


def test_module_names_must_be_non_empty_strings_without_dots_like_torch():
    for lib in (tc, torch):
        with pytest.raises(TypeError, match="string"):
            lib.nn.ModuleDict({1: lib.nn.ReLU()})
        for bad in ("", "a.b"):
            with pytest.raises(KeyError):
                lib.nn.Module().add_module(bad, lib.nn.ReLU())
