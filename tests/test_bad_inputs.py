"""Bad input, one row each: the call, the exception it must raise (PyTorch's type where PyTorch
has the same mistake, checked against torch itself), fragments its message must contain (the
op or file and the offending argument and value) and that nothing is left half-done.

A row is `Bad(id, call, error, fragments, torch=None, prepare=None, absent=())`:

- `call(case)` makes the mistake; `case.tmp` is a fresh folder, and `prepare(tmp)` may put
  more objects on `case` (a model, an optimizer, files). For a command-line row, `error` is the
  exit status `call` must return, and the message is its one line on stderr.
- Nothing half-done: every Module, optimizer, Tensor and the whole tmp folder (file names and
  bytes) on `case` are the same after the error as before it.
- `torch`: the same mistake made with PyTorch, which must raise `error` too.
- `absent`: fragments the message must not contain (a temporary file, a wrong diagnosis).
"""
import copy
import io
import json
import tarfile
import types
import zipfile
from typing import Callable, NamedTuple, Optional, Tuple

import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import cli, nn, optim
from tinygrad_cnn.data import MNIST, DataLoader, Shapes, extract_tar, random_split
from tinygrad_cnn.data import transforms as T
from tinygrad_cnn.optim.optimizer import Optimizer
from tinygrad_cnn.serialization import CheckpointError
from tinygrad_cnn.train import EarlyStopping, HistoryLogger, ModelCheckpoint, fit, load_checkpoint


class Bad(NamedTuple):
    id: str
    call: Callable
    error: object                      # an exception type, or a CLI exit status (int)
    fragments: Tuple[str, ...]
    torch: Optional[Callable] = None
    prepare: Optional[Callable] = None
    absent: Tuple[str, ...] = ()


# ------------------------------------------------------------------------------ helpers for rows
class _Items:
    """A dataset of (image, label) items whose images (or labels) differ in shape at index 1."""

    def __init__(self, what):
        self.what = what

    def __len__(self):
        return 2

    def __getitem__(self, i):
        image = np.zeros((3, 4) if i == 0 or self.what == "labels" else (3, 5), np.float32)
        label = 0 if i == 0 or self.what == "images" else np.zeros(2, np.int64)
        return image, label


def _first_batch(dataset, **kwargs):
    return next(iter(DataLoader(dataset, batch_size=2, **kwargs)))


def _torch_items():
    items = [(torch.zeros(3, 4), 0), (torch.zeros(3, 5), 1)]
    return next(iter(torch.utils.data.DataLoader(items, batch_size=2)))


def _model(tmp):
    tc.manual_seed(0)
    return {"model": nn.Linear(2, 3)}


def _model_and_optimizer(tmp):
    tc.manual_seed(0)
    model = nn.Linear(2, 3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(tc.ones(4, 2)).sum().backward()
    opt.step()
    return {"model": model, "opt": opt}


def _old_checkpoint(tmp):
    tc.save({"old": np.arange(4.0)}, tmp / "ckpt.npz")
    (tmp / "run").mkdir()
    return {}


def _npy(array, shape):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": array.dtype.str, "fortran_order": False, "shape": shape})
    return out.getvalue() + array.tobytes()


def _crafted(tmp, entry, compression, shape):
    """A checkpoint naming array 'w' of `shape`, its entry holding `entry` bytes."""
    structure = json.dumps({"format": "tinygrad_cnn.checkpoint", "version": 1,
                            "root": {"dict": [["w", {"array": "w", "dtype": "<f8", "shape": list(shape)}]]}})
    with zipfile.ZipFile(tmp / "crafted.npz", "w") as archive:
        with archive.open("__tinygrad_cnn__.npy", "w") as member:
            np.lib.format.write_array(member, np.frombuffer(structure.encode(), np.uint8))
        info = zipfile.ZipInfo("w.npy")
        info.compress_type = compression
        archive.writestr(info, entry)
    return {}


def _training_run(tmp):
    """A one-epoch training checkpoint written by fit, and the objects that wrote it."""
    tc.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, DataLoader(Shapes(16, size=8), batch_size=8), opt, 1, callbacks=[ModelCheckpoint(tmp / "run")],
        verbose=False)
    return {"model": model, "opt": opt}


def _cli_run(tmp):
    """A one-epoch run of `tinygrad-cnn train` into tmp/run."""
    assert _shapes_train("--out", "{tmp}/run")(types.SimpleNamespace(tmp=tmp)) == 0
    return {}


def _tar_over_a_file(tmp):
    (tmp / "out" / "MNIST").mkdir(parents=True)
    (tmp / "out" / "MNIST" / "raw").write_bytes(b"precious")
    with tarfile.open(tmp / "a.tar", "w") as tar:
        for name in ("MNIST/readme.txt", "MNIST/raw/train.gz"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"data"))
    return {}


def _a_file(tmp):
    (tmp / "a_file").write_text("x")
    return {}


def _cli(*argv):
    """A CLI row's call: run `tinygrad-cnn argv` ('{tmp}' stands for the row's folder); the status."""
    return lambda case: cli.main([a.format(tmp=case.tmp) for a in argv])


def _shapes_train(*extra):
    return _cli("train", "--dataset", "shapes", "--image-size", "8", "--subset", "16", "--test-subset", "8",
                "--epochs", "1", "--quiet", "--no-plots", *extra)


def _params():
    return [nn.Parameter(np.zeros(2, np.float32))]


def _torch_params():
    return [torch.zeros(2, requires_grad=True)]


X4 = np.zeros((1, 1, 3, 3), np.float32)

# ------------------------------------------------------------------------------ the table
ROWS = [
    # ---- issue 13, item 7: unclear errors and a silent acceptance
    Bad("conv2d-numpy-input", lambda c: F.conv2d(X4, tc.zeros(1, 1, 2, 2)), TypeError,
        ("conv2d", "argument 'x' (position 1)", "must be a Tensor, not numpy.ndarray"),
        torch=lambda: torch.nn.functional.conv2d(X4, torch.zeros(1, 1, 2, 2)), absent=("requires_grad",)),
    Bad("linear-negative-in-features", lambda c: nn.Linear(-1, 5), RuntimeError, ("Linear", "in_features", "-1"),
        torch=lambda: torch.nn.Linear(-1, 5), absent=("negative dimensions are not allowed",)),
    Bad("randn-negative-size", lambda c: tc.randn(-1, 3), RuntimeError, ("randn", "-1", "(-1, 3)"),
        torch=lambda: torch.randn(-1, 3)),
    Bad("load-state-dict-list", lambda c: c.model.load_state_dict([1, 2, 3]), TypeError,
        ("load_state_dict", "dict-like", "list"), torch=lambda: torch.nn.Linear(2, 3).load_state_dict([1, 2, 3]),
        prepare=_model),
    Bad("load-state-dict-str-value", lambda c: c.model.load_state_dict({"weight": "abc", "bias": np.zeros(3)}),
        RuntimeError, ("Linear", "weight", "str", "'abc'"), prepare=_model, absent=("size mismatch",),
        torch=lambda: torch.nn.Linear(2, 3).load_state_dict({"weight": "abc", "bias": torch.zeros(3)})),
    Bad("dataloader-images-of-different-shapes", lambda c: _first_batch(_Items("images")), RuntimeError,
        ("DataLoader", "images differ in shape", "item 0 has (3, 4)", "item 1 has (3, 5)"),
        torch=_torch_items),
    Bad("tensor-ragged-list", lambda c: tc.tensor([[1, 2], [3]]), ValueError,
        ("tensor", "expected a sequence of length 2 at dim 1 (got 1)"), torch=lambda: torch.tensor([[1, 2], [3]]),
        absent=("inhomogeneous",)),
    Bad("manual-seed-str", lambda c: tc.manual_seed("abc"), ValueError, ("manual_seed", "'abc'"),
        torch=lambda: torch.manual_seed("abc")),
    Bad("save-to-a-folder", lambda c: tc.save({"v": 1}, c.tmp / "run"), IsADirectoryError,
        ("save: cannot write", "run'", "it is a folder"), prepare=_old_checkpoint, absent=(".tmp",)),
    Bad("dataloader-fractional-batch-size", lambda c: DataLoader(Shapes(4), batch_size=2.7), ValueError,
        ("DataLoader", "batch_size=2.7"), torch=lambda: torch.utils.data.DataLoader(list(range(4)), batch_size=2.7)),
    # ---- issue 13: the neighbours of those, and the other items' bad files and folders
    Bad("dataloader-bool-batch-size", lambda c: DataLoader(Shapes(4), batch_size=True), ValueError,
        ("batch_size=True",), torch=lambda: torch.utils.data.DataLoader(list(range(4)), batch_size=True)),
    Bad("dataloader-labels-of-different-shapes", lambda c: _first_batch(_Items("labels")), RuntimeError,
        ("DataLoader", "labels differ in shape", "item 0 has ()", "item 1 has (2,)")),
    Bad("dataloader-zero-batch-size", lambda c: DataLoader(Shapes(4), batch_size=0), ValueError, ("batch_size=0",),
        torch=lambda: torch.utils.data.DataLoader(list(range(4)), batch_size=0)),
    Bad("cli-missing-data", _cli("train", "--dataset", "mnist", "--data-dir", "{tmp}", "--out", "{tmp}/run"), 2,
        ("--data-dir", "--download")),  # one line, no empty run folder
    Bad("zeros-float-size", lambda c: tc.zeros(2.5), TypeError, ("zeros", "float", "2.5"),
        torch=lambda: torch.zeros(2.5)),
    Bad("ones-negative-size-in-a-tuple", lambda c: tc.ones((2, -2)), RuntimeError, ("ones", "-2", "(2, -2)"),
        torch=lambda: torch.ones((2, -2))),
    Bad("linear-float-out-features", lambda c: nn.Linear(2, 2.5), TypeError, ("Linear", "out_features", "2.5"),
        torch=lambda: torch.nn.Linear(2, 2.5)),
    Bad("conv2d-negative-in-channels", lambda c: nn.Conv2d(-3, 4, 3), RuntimeError, ("Conv2d", "in_channels", "-3"),
        torch=lambda: torch.nn.Conv2d(-3, 4, 3)),
    Bad("conv2d-zero-groups", lambda c: nn.Conv2d(3, 3, 3, groups=0), ValueError, ("Conv2d", "groups", "0"),
        torch=lambda: torch.nn.Conv2d(3, 3, 3, groups=0)),
    Bad("batchnorm-negative-features", lambda c: nn.BatchNorm2d(-1), RuntimeError,
        ("BatchNorm2d", "num_features", "-1"), torch=lambda: torch.nn.BatchNorm2d(-1)),
    Bad("load-state-dict-str-array", lambda c: c.model.load_state_dict(
        {"weight": np.array([["a", "b"]] * 3), "bias": np.zeros(3)}), RuntimeError, ("weight", "dtype <U1"),
        prepare=_model),
    Bad("tensor-list-mixing-sequences-and-numbers", lambda c: tc.tensor([[1, 2], 3]), ValueError,
        ("tensor", "dim 1", "mix of sequences and scalars")),
    Bad("load-a-compressed-checkpoint",
        lambda c: tc.load(c.tmp / "crafted.npz"), CheckpointError, ("crafted.npz", "'w' is compressed (DEFLATE)"),
        prepare=lambda tmp: _crafted(tmp, _npy(np.zeros(1000), (1000,)), zipfile.ZIP_DEFLATED, (1000,))),
    Bad("load-an-npy-header-declaring-a-huge-shape",
        lambda c: tc.load(c.tmp / "crafted.npz"), CheckpointError, ("crafted.npz", "declares shape (1073741824,)"),
        prepare=lambda tmp: _crafted(tmp, _npy(np.zeros(2), (2 ** 30,)), zipfile.ZIP_STORED, (2 ** 30,))),
    Bad("extract-tar-over-a-file", lambda c: extract_tar(c.tmp / "a.tar", c.tmp / "out"), ValueError,
        ("a.tar", "'MNIST/raw/train.gz'", "is a file", "move it away first"), prepare=_tar_over_a_file),
    Bad("cli-out-is-a-file", _shapes_train("--out", "{tmp}/a_file"), 2,
        ("--out '", "a_file' is an existing file, not a folder"), prepare=_a_file),
    Bad("cli-out-below-a-file", _shapes_train("--out", "{tmp}/a_file/run"), 2,
        ("cannot create the output folder --out", "a_file/run'", "Not a directory"), prepare=_a_file),
    Bad("cli-empty-out", _shapes_train("--out", ""), 2, ("--out ''", "No such file or directory")),
    Bad("cli-evaluate-out-is-a-file", _cli("evaluate", "{tmp}/run/last.npz", "--out", "{tmp}/a_file"), 2,
        ("a_file' is an existing file",), prepare=lambda tmp: {**_a_file(tmp), **_cli_run(tmp)}),

    # ---- tensors (these already held up)
    Bad("tensor-from-str", lambda c: tc.tensor("abc"), TypeError, ("tensor", "str")),
    Bad("int-tensor-requires-grad", lambda c: tc.tensor([1, 2]).requires_grad_(), RuntimeError,
        ("floating-point", "int64"), torch=lambda: torch.tensor([1, 2]).requires_grad_()),
    Bad("bool-of-a-vector", lambda c: bool(tc.zeros(2)), RuntimeError, ("ambiguous", "(2,)"),
        torch=lambda: bool(torch.zeros(2))),
    Bad("reshape-wrong-size", lambda c: tc.zeros(2, 3).reshape(4), RuntimeError, ("reshape", "(4,)", "(2, 3)"),
        torch=lambda: torch.zeros(2, 3).reshape(4)),
    Bad("add-shapes-that-do-not-broadcast", lambda c: tc.zeros(2, 3) + tc.zeros(4), RuntimeError,
        ("(2, 3)", "(4,)", "broadcast"), torch=lambda: torch.zeros(2, 3) + torch.zeros(4)),
    Bad("matmul-inner-sizes", lambda c: tc.zeros(2, 3) @ tc.zeros(4, 5), RuntimeError, ("matmul", "(2, 3)", "(4, 5)"),
        torch=lambda: torch.zeros(2, 3) @ torch.zeros(4, 5)),
    Bad("sum-dim-out-of-range", lambda c: tc.zeros(2, 3).sum(dim=5), IndexError, ("sum", "dimension 5"),
        torch=lambda: torch.zeros(2, 3).sum(dim=5)),
    Bad("index-out-of-range", lambda c: tc.zeros(3)[5], IndexError, ("index 5", "size 3"),
        torch=lambda: torch.zeros(3)[5]),
    Bad("backward-without-grad", lambda c: tc.zeros(1).sum().backward(), RuntimeError,
        ("backward", "does not require grad"), torch=lambda: torch.zeros(1).sum().backward()),
    Bad("backward-of-a-vector", lambda c: tc.zeros(2, requires_grad=True).exp().backward(), RuntimeError,
        ("backward", "scalar outputs", "(2,)"), torch=lambda: torch.zeros(2, requires_grad=True).exp().backward()),
    Bad("unknown-dtype", lambda c: tc.zeros(2, dtype="float33"), TypeError, ("float33",),
        torch=lambda: torch.zeros(2, dtype="float33")),
    Bad("unknown-device", lambda c: tc.zeros(2, device="tpu"), RuntimeError, ("unknown device 'tpu'",),
        torch=lambda: torch.zeros(2, device="tpu")),
    Bad("cat-of-nothing", lambda c: tc.cat([]), ValueError, ("cat", "non-empty"), torch=lambda: torch.cat([])),
    Bad("flatten-dim-out-of-range", lambda c: tc.zeros(2, 3).flatten(3), IndexError, ("flatten", "dimension 3"),
        torch=lambda: torch.zeros(2, 3).flatten(3)),
    Bad("log-softmax-dim-out-of-range", lambda c: tc.zeros(2, 3).log_softmax(dim=3), IndexError,
        ("log_softmax", "dimension 3"), torch=lambda: torch.zeros(2, 3).log_softmax(dim=3)),
    # ---- ops
    Bad("conv2d-channels", lambda c: F.conv2d(tc.zeros(1, 2, 4, 4), tc.zeros(1, 3, 2, 2)), RuntimeError,
        ("conv2d", "(1, 2, 4, 4)", "(1, 3, 2, 2)"), torch=lambda: torch.nn.functional.conv2d(
            torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 2, 2))),
    Bad("conv2d-zero-stride", lambda c: F.conv2d(tc.zeros(1, 1, 4, 4), tc.zeros(1, 1, 2, 2), stride=0), ValueError,
        ("conv2d", "stride (0, 0)")),
    Bad("conv2d-unknown-padding", lambda c: F.conv2d(tc.zeros(1, 1, 4, 4), tc.zeros(1, 1, 2, 2), padding="full"),
        ValueError, ("conv2d", "padding", "'full'")),
    Bad("conv2d-dtypes-differ", lambda c: F.conv2d(tc.zeros(1, 1, 4, 4, dtype="float64"), tc.zeros(1, 1, 2, 2)),
        TypeError, ("conv2d", "float32", "float64")),
    Bad("dropout-probability", lambda c: F.dropout(tc.zeros(2), p=1.5), ValueError, ("1.5",),
        torch=lambda: torch.nn.functional.dropout(torch.zeros(2), p=1.5)),
    Bad("cross-entropy-target-out-of-range", lambda c: F.cross_entropy(tc.zeros(2, 10), tc.tensor([1, 10])),
        IndexError, ("cross_entropy", "target value 10", "10 classes"),
        torch=lambda: torch.nn.functional.cross_entropy(torch.zeros(2, 10), torch.tensor([1, 10]))),
    Bad("item-of-several-elements", lambda c: tc.zeros(2).item(), RuntimeError, ("item()", "(2,)"),
        torch=lambda: torch.zeros(2).item()),
    Bad("nll-loss-float-target", lambda c: F.nll_loss(tc.zeros(2, 3), tc.tensor([0.5, 1.0])), TypeError,
        ("nll_loss", "float32")),
    Bad("max-pool-zero-kernel", lambda c: F.max_pool2d(tc.zeros(1, 1, 4, 4), 0), ValueError, ("max_pool2d", "(0, 0)")),
    # ---- layers and modules
    Bad("conv2d-layer-groups", lambda c: nn.Conv2d(3, 4, 3, groups=2), ValueError, ("Conv2d", "groups 2"),
        torch=lambda: torch.nn.Conv2d(3, 4, 3, groups=2)),
    Bad("conv2d-layer-input-channels", lambda c: nn.Conv2d(3, 8, 3)(tc.zeros(1, 1, 8, 8)), RuntimeError,
        ("Conv2d(3, 8", "3 input channels", "(1, 1, 8, 8)"),
        torch=lambda: torch.nn.Conv2d(3, 8, 3)(torch.zeros(1, 1, 8, 8))),
    Bad("linear-layer-input", lambda c: nn.Linear(4, 2)(tc.zeros(3, 5)), RuntimeError, ("Linear", "(3, 5)"),
        torch=lambda: torch.nn.Linear(4, 2)(torch.zeros(3, 5))),
    Bad("batchnorm-channels", lambda c: nn.BatchNorm2d(3)(tc.zeros(2, 4, 2, 2)), RuntimeError,
        ("BatchNorm2d(3", "3 channels", "(2, 4, 2, 2)"), torch=lambda: torch.nn.BatchNorm2d(3)(torch.zeros(2, 4, 2, 2))),
    Bad("dropout-layer-probability", lambda c: nn.Dropout(1.5), ValueError, ("Dropout", "1.5"),
        torch=lambda: torch.nn.Dropout(1.5)),
    Bad("assign-int-as-parameter", lambda c: setattr(c.model, "weight", 3), TypeError, ("int", "'weight'", "Linear"),
        prepare=_model, torch=lambda: setattr(torch.nn.Linear(2, 3), "weight", 3)),
    Bad("register-int-buffer", lambda c: c.model.register_buffer("x", 3), TypeError, ("register_buffer", "'x'", "int"),
        prepare=_model, torch=lambda: torch.nn.Linear(2, 3).register_buffer("x", 3)),
    Bad("sequential-of-a-number", lambda c: nn.Sequential(nn.Linear(2, 3), 5), TypeError, ("int", "Module"),
        torch=lambda: torch.nn.Sequential(torch.nn.Linear(2, 3), 5)),
    Bad("load-state-dict-size-mismatch", lambda c: c.model.load_state_dict({"weight": np.zeros((3, 3)),
                                                                          "bias": np.ones(3)}),
        RuntimeError, ("size mismatch for weight", "(3, 3)", "(3, 2)"), prepare=_model,
        torch=lambda: torch.nn.Linear(2, 3).load_state_dict({"weight": torch.zeros(3, 3), "bias": torch.ones(3)})),
    Bad("load-state-dict-missing-key", lambda c: c.model.load_state_dict({"weight": np.ones((3, 2))}), RuntimeError,
        ("missing key(s): bias",), prepare=_model,
        torch=lambda: torch.nn.Linear(2, 3).load_state_dict({"weight": torch.ones(3, 2)})),
    Bad("unknown-attribute", lambda c: c.model.nonexistent, AttributeError, ("Linear", "'nonexistent'"),
        prepare=_model, torch=lambda: torch.nn.Linear(2, 3).nonexistent),
    # ---- optimizers and schedulers
    Bad("sgd-negative-lr", lambda c: optim.SGD(_params(), lr=-1), ValueError, ("-1",),
        torch=lambda: torch.optim.SGD(_torch_params(), lr=-1)),
    Bad("sgd-negative-momentum", lambda c: optim.SGD(_params(), lr=0.1, momentum=-0.5), ValueError, ("-0.5",),
        torch=lambda: torch.optim.SGD(_torch_params(), lr=0.1, momentum=-0.5)),
    Bad("sgd-nesterov-without-momentum", lambda c: optim.SGD(_params(), lr=0.1, nesterov=True), ValueError,
        ("Nesterov", "momentum=0"), torch=lambda: torch.optim.SGD(_torch_params(), lr=0.1, nesterov=True)),
    Bad("sgd-no-parameters", lambda c: optim.SGD([], lr=0.1), ValueError, ("empty parameter list",),
        torch=lambda: torch.optim.SGD([], lr=0.1)),
    Bad("adam-beta", lambda c: optim.Adam(_params(), betas=(1.5, 0.9)), ValueError, ("beta", "1.5"),
        torch=lambda: torch.optim.Adam(_torch_params(), betas=(1.5, 0.9))),
    Bad("optimizer-load-state-dict-groups", lambda c: c.opt.load_state_dict({"state": {}, "param_groups": []}),
        ValueError, ("0 parameter group(s)", "has 1"), prepare=_model_and_optimizer,
        torch=lambda: torch.optim.SGD(_torch_params(), lr=0.1).load_state_dict({"state": {}, "param_groups": []})),
    Bad("scheduler-of-a-non-optimizer", lambda c: optim.lr_scheduler.StepLR("sgd", 1), TypeError,
        ("str", "not an Optimizer"), torch=lambda: torch.optim.lr_scheduler.StepLR("sgd", 1)),
    Bad("plateau-mode", lambda c: optim.lr_scheduler.ReduceLROnPlateau(c.opt, mode="avg"), ValueError,
        ("'avg'", "'min' or 'max'"), prepare=_model_and_optimizer,
        torch=lambda: torch.optim.lr_scheduler.ReduceLROnPlateau(torch.optim.SGD(_torch_params()), mode="avg")),
    Bad("step-lr-zero-step-size", lambda c: optim.lr_scheduler.StepLR(c.opt, step_size=0), ValueError,
        ("step_size", "0"), prepare=_model_and_optimizer),
    Bad("cosine-zero-t-max", lambda c: optim.lr_scheduler.CosineAnnealingLR(c.opt, T_max=0), ValueError,
        ("T_max", "0"), prepare=_model_and_optimizer),
    # ---- data
    Bad("dataloader-of-a-number", lambda c: DataLoader(3), TypeError, ("DataLoader", "int")),
    Bad("dataloader-inputs-and-targets-differ", lambda c: DataLoader((np.zeros((5, 2)), np.zeros(4))), ValueError,
        ("5 inputs", "4 targets")),
    Bad("dataloader-transform-not-callable", lambda c: DataLoader(Shapes(4), transform=3), TypeError,
        ("transform", "int")),
    Bad("random-split-fractions", lambda c: random_split(Shapes(10), [0.5, 0.6]), ValueError, ("[0.5, 0.6]",),
        torch=lambda: torch.utils.data.random_split(list(range(10)), [0.5, 0.6])),
    Bad("normalize-zero-std", lambda c: T.Normalize(mean=[0.5], std=[0]), ValueError, ("Normalize", "std")),
    Bad("random-crop-larger-than-the-image", lambda c: T.RandomCrop(40)(np.zeros((2, 3, 32, 32), np.float32)),
        ValueError, ("RandomCrop", "(40, 40)", "(32, 32)")),
    Bad("mnist-missing-root", lambda c: MNIST(c.tmp / "nowhere"), FileNotFoundError, ("MNIST", "nowhere")),
    # ---- checkpoints and training
    Bad("load-missing-file", lambda c: tc.load(c.tmp / "absent.npz"), FileNotFoundError, ("absent.npz",),
        torch=lambda: torch.load("/nonexistent/absent.pt")),
    Bad("load-junk", lambda c: tc.load(c.tmp / "junk.npz"), CheckpointError, ("junk.npz", "not an .npz archive"),
        prepare=lambda tmp: (tmp / "junk.npz").write_bytes(b"junk" * 10) and {}),
    Bad("save-a-set", lambda c: tc.save({"a": {1, 2}}, c.tmp / "ckpt.npz"), TypeError, ("set", "'a'"),
        prepare=_old_checkpoint),
    Bad("save-into-a-missing-folder", lambda c: tc.save({"v": 1}, c.tmp / "nope" / "c.npz"), FileNotFoundError,
        ("nope", "does not exist")),
    Bad("load-checkpoint-of-plain-arrays", lambda c: load_checkpoint(c.tmp / "ckpt.npz"), CheckpointError,
        ("ckpt.npz", "not a training checkpoint"), prepare=_old_checkpoint),
    Bad("load-checkpoint-into-another-optimizer", lambda c: load_checkpoint(
        c.tmp / "run" / "last.npz", c.model, optim.Adam(c.model.parameters())), ValueError,
        ("SGD optimizer", "Adam"), prepare=_training_run),
    Bad("model-checkpoint-mode", lambda c: ModelCheckpoint(c.tmp, mode="best"), ValueError, ("'best'",)),
    Bad("history-logger-extension", lambda c: HistoryLogger(c.tmp / "history.txt"), ValueError,
        (".csv or .json", "history.txt")),
    Bad("early-stopping-patience", lambda c: EarlyStopping(patience=0), ValueError, ("patience", "0")),
    Bad("fit-negative-epochs", lambda c: fit(c.model, DataLoader(Shapes(4)), optim.SGD(c.model.parameters(), 0.1), -1),
        ValueError, ("epochs", "-1"), prepare=_model),
    # ---- the command line: one line on stderr, status 2
    Bad("cli-unknown-model", _cli("train", "--model", "alexnet", "--dataset", "shapes", "--out", "{tmp}/run"), 2,
        ("unknown model 'alexnet'",)),
    Bad("cli-unknown-dataset", _cli("train", "--dataset", "imagenet", "--out", "{tmp}/run"), 2,
        ("unknown dataset 'imagenet'",)),
    Bad("cli-resume-missing-file", _cli("train", "--resume", "{tmp}/last.npz"), 2,
        ("cannot resume: no checkpoint file at", "last.npz")),
    Bad("cli-resume-plain-arrays", _cli("train", "--resume", "{tmp}/ckpt.npz"), 2,
        ("not a training checkpoint",), prepare=_old_checkpoint),
    Bad("cli-evaluate-missing-file", _cli("evaluate", "{tmp}/best.npz"), 2, ("cannot evaluate: no checkpoint file",)),
]


# ------------------------------------------------------------------------------ the checks
def _frozen(value):
    """A comparable snapshot of `value`: arrays as (dtype, shape, bytes), containers recursively."""
    if isinstance(value, tc.Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return tuple((repr(k), _frozen(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return repr(value)


def _snapshot(case):
    """Everything a bad call must leave as it was: the tmp folder's files, the models, optimizers
    and tensors on `case`."""
    files = {str(p.relative_to(case.tmp)): (p.read_bytes() if p.is_file() else None)
             for p in sorted(case.tmp.rglob("*"))}
    objects = {}
    for name, value in vars(case).items():
        if isinstance(value, nn.Module):
            objects[name] = _frozen(dict(value.state_dict())), repr(value)
        elif isinstance(value, Optimizer):
            objects[name] = _frozen(copy.deepcopy(value.state_dict()))
        elif isinstance(value, tc.Tensor):
            objects[name] = _frozen(value)
    return files, objects


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in ROWS])
def test_bad_input(row, tmp_path, capsys):
    case = types.SimpleNamespace(tmp=tmp_path, **(row.prepare(tmp_path) if row.prepare else {}))
    capsys.readouterr()
    before = _snapshot(case)
    if isinstance(row.error, int):
        assert row.call(case) == row.error
        message = capsys.readouterr().err
        assert message.count("\n") == 1 and message.startswith("tinygrad-cnn "), message
        assert "Traceback" not in message
    else:
        with pytest.raises(row.error) as info:
            row.call(case)
        message = str(info.value)
    for fragment in row.fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    for fragment in row.absent:
        assert fragment not in message, f"{fragment!r} in {message!r}"
    assert _snapshot(case) == before, "the failed call changed something"


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in ROWS if row.torch is not None])
def test_pytorch_raises_the_same_type(row):
    with pytest.raises(row.error):
        row.torch()


def test_the_table_is_large_enough():
    assert len(ROWS) >= 27 + 30
    assert len({row.id for row in ROWS}) == len(ROWS)
