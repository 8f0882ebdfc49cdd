"""The `tinygrad-cnn` command: train, evaluate and visualize CNNs; the examples call into it.

    tinygrad-cnn train --model resnet --dataset cifar10 --data-dir ../shared/data/cifar10-subset --epochs 50
    tinygrad-cnn train --resume runs/cifar10_resnet/last.npz          # continue where it stopped
    tinygrad-cnn evaluate runs/cifar10_resnet/best.npz                 # test accuracy, per-class report
    tinygrad-cnn visualize runs/cifar10_resnet/best.npz                # filters, feature maps, confusion matrix
    tinygrad-cnn kernels --out runs/kernels                            # 1-D and 2-D convolution kernels

`main(argv)` returns the exit status: 0 on success, 1 when training diverged (NaN loss), 2 for
bad input (an unknown model or dataset, missing data, a resume path that is not a
checkpoint, an `--out` that is a file or cannot be created) and for output files that cannot
be written (a full disk, no permission), 130 when interrupted. Bad input is reported in one
line on stderr, without a traceback; a failed write names its file.

`train --resume` with another `--epochs` plans the step and cosine schedules (whose milestones
and period follow the number of epochs) again for the new length, as if the run had been
started with it, and says so in one line: the epochs already trained keep the lrs they had.

A training run writes into `--out`: last.npz (after every epoch) and best.npz (best
validation accuracy) — full checkpoints for `--resume`, `evaluate` and `visualize` — the
history as history.csv and history.json, the test results as metrics.json, and plots
(history.png, confusion_matrix.png, filters.png).
"""
import argparse
import functools
import inspect
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional, Tuple

import numpy as np

from . import backend, distributed, metrics, models, nn, optim, viz
from .communicator import SingleProcess
from .data import CIFAR10, MNIST, DataLoader, FashionMNIST, Shapes, Subset, random_split
from .data import transforms as T
from .data.download import DownloadError
from .errors import DeviceError
from .ops.conv import conv1d
from .ops.loss import cross_entropy
from .serialization import CheckpointError, atomic_write
from .tensor import Tensor
from .train import EarlyStopping, HistoryLogger, ModelCheckpoint, TrainingDiverged, fit, load_checkpoint, predict

__all__ = ["main", "run_example", "build_parser", "DATASETS", "CliError"]

SHARED_DATA_HINT = ("e.g. ../shared/data/cifar10-subset or ../shared/data/mnist-subset beside the project "
                    "checkout; default $TINYGRAD_CNN_DATA or ~/.cache/tinygrad_cnn")


class CliError(Exception):
    """Bad input found by a command: printed as one line, exit status 2."""


# --------------------------------------------------------------------------------- datasets
@dataclass
class DatasetSpec:
    """How the CLI loads and prepares one dataset."""

    name: str
    load: Callable  # (root, train, download, cfg) -> dataset
    channels: int
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    flip: bool            # horizontal flips are label-preserving (not for digits)
    crop_padding: int
    image_size: Optional[int] = None  # None: from cfg["image_size"] (Shapes)
    aliases: Tuple[str, ...] = field(default_factory=tuple)

    def size(self, cfg):
        return self.image_size or cfg["image_size"]

    def augmentation(self, cfg):
        """The random transforms of `--augment`: random crop with padding, and flips where allowed."""
        parts = [T.RandomCrop(self.size(cfg), padding=self.crop_padding)]
        if self.flip:
            parts.append(T.RandomHorizontalFlip())
        return parts


def _load_shapes(root, train, download, cfg):
    n = cfg["subset"] if train else cfg["test_subset"]
    default = 10000 if train else 2000
    return Shapes(n or default, train=train, seed=cfg["seed"], size=cfg["image_size"])


DATASETS = {
    "cifar10": DatasetSpec("cifar10", lambda root, train, download, cfg: CIFAR10(root, train=train, download=download),
                           3, T.CIFAR10_MEAN, T.CIFAR10_STD, flip=True, crop_padding=4, image_size=32,
                           aliases=("cifar", "cifar_10")),
    "mnist": DatasetSpec("mnist", lambda root, train, download, cfg: MNIST(root, train=train, download=download),
                         1, T.MNIST_MEAN, T.MNIST_STD, flip=False, crop_padding=2, image_size=28),
    "fashion_mnist": DatasetSpec("fashion_mnist",
                                 lambda root, train, download, cfg: FashionMNIST(root, train=train, download=download),
                                 1, T.FASHION_MNIST_MEAN, T.FASHION_MNIST_STD, flip=True, crop_padding=2,
                                 image_size=28, aliases=("fashionmnist", "fmnist")),
    "shapes": DatasetSpec("shapes", _load_shapes, 3, (0.5, 0.5, 0.5), (0.29, 0.29, 0.29), flip=True,
                          crop_padding=2),
}


def dataset_spec(name):
    """The DatasetSpec for a dataset name (case-insensitive; '-' = '_'; a few aliases)."""
    key = str(name).lower().replace("-", "_")
    for spec in DATASETS.values():
        if key == spec.name or key in spec.aliases:
            return spec
    raise CliError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")


def load_split(spec, cfg, train):
    """The training or test set of `spec` (the first --subset / --test-subset images), or CliError."""
    try:
        dataset = spec.load(cfg["data_dir"], train, cfg["download"], cfg)
    except (FileNotFoundError, DownloadError) as exc:
        raise CliError(f"{exc} (give the data folder with --data-dir, {SHARED_DATA_HINT}; "
                       "or pass --download)") from None
    except ValueError as exc:  # a damaged file
        raise CliError(str(exc)) from None
    limit = cfg["subset"] if train else cfg["test_subset"]
    if limit is not None and spec.name != "shapes" and limit < len(dataset):
        dataset = Subset(dataset, np.arange(limit))
    return dataset


# --------------------------------------------------------------------------------- models
def model_class(name):
    """The model class of a name or alias of the zoo (CliError listing the names if unknown)."""
    try:
        return models.get_class(name)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def build_model(name, num_classes, in_channels, image_size):
    """A model of the zoo by name, sized for the data (input_size only where the model takes it)."""
    cls = model_class(name)
    kwargs = {"num_classes": num_classes, "in_channels": in_channels}
    if "input_size" in inspect.signature(cls).parameters:
        kwargs["input_size"] = image_size
    return cls(**kwargs)


# --------------------------------------------------------------------------------- arguments
def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not value >= 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _fraction(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _add_data_arguments(p):
    p.add_argument("--data-dir", default=None,
                   help=f"folder holding the dataset's official files ({SHARED_DATA_HINT})")
    p.add_argument("--download", action="store_true", default=None,
                   help="download the dataset when it is missing (checksummed, resumable)")
    p.add_argument("--device", default=None, help="cpu, gpu (= cuda), cuda:N or auto (default: auto)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="batch size (default 64)")
    p.add_argument("--test-subset", type=_positive_int, default=None, help="use only the first N test images")


def build_parser():
    """The argparse parser of `tinygrad-cnn` (train / evaluate / visualize / kernels)."""
    parser = argparse.ArgumentParser(prog="tinygrad-cnn", description="Train, evaluate and visualize CNNs "
                                     "with tinygrad_cnn.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train a model", description="Train a model of the zoo on a dataset. "
                       "The test set is evaluated after every epoch (as in the reference runs) unless "
                       "--val-split holds out part of the training set for validation.")
    t.add_argument("--model", default=None, help=f"model name (default simple_cnn): {', '.join(models.names())}")
    t.add_argument("--dataset", default=None, help=f"dataset (default cifar10): {', '.join(DATASETS)}")
    _add_data_arguments(t)
    t.add_argument("--epochs", type=_non_negative_int, default=None,
                   help="epochs in total (default 50 for resnet/resnet20, else 20)")
    t.add_argument("--lr", type=_non_negative_float, default=None, help="learning rate (default 0.01 for SGD, "
                   "0.001 for Adam/AdamW)")
    t.add_argument("--momentum", type=_non_negative_float, default=None, help="SGD momentum (default 0.9)")
    t.add_argument("--weight-decay", type=_non_negative_float, default=None,
                   help="weight decay (default: SGD 1e-4, 5e-4 for resnet20; Adam 0; AdamW 0.01)")
    t.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default=None, help="default sgd")
    t.add_argument("--schedule", choices=["none", "step", "cosine", "plateau"], default=None,
                   help="lr schedule: step = x0.1 at 60%% and 80%% of the epochs (30 and 40 of 50); "
                        "plateau = x0.1 after 5 epochs without a lower validation loss "
                        "(default step for resnet/resnet20, else none)")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crop (and horizontal flip, except for digits) (default: on for cifar10)")
    t.add_argument("--early-stop", type=_non_negative_int, default=None, metavar="N",
                   help="stop after N epochs without a better validation accuracy (0: never, the default)")
    t.add_argument("--label-smoothing", type=_fraction, default=None, help="default 0")
    t.add_argument("--out", default=None, help="folder for checkpoints, history and plots "
                   "(default runs/<dataset>_<model>; with --resume: the checkpoint's folder)")
    t.add_argument("--resume", default=None, metavar="PATH",
                   help="continue a run from its checkpoint (last.npz); its saved settings are used")
    t.add_argument("--subset", type=_positive_int, default=None, help="use only the first N training images "
                   "(shapes: generate N)")
    t.add_argument("--val-split", type=_fraction, default=None,
                   help="hold out this fraction of the training images for validation (default 0: "
                        "validate on the test set)")
    t.add_argument("--image-size", type=_positive_int, default=None, help="image size of shapes (default 32)")
    t.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    t.add_argument("--no-plots", action="store_true", default=None, help="write no plots")
    t.add_argument("--quiet", action="store_true", default=None, help="no progress bars or epoch lines")
    t.add_argument("--distributed", action="store_true", default=None,
                   help="data-parallel training on the ranks of an MPI launch (mpirun -n K ...): each rank "
                        "trains on its share with --batch-size images per step; rank 0 prints and writes")
    t.add_argument("--sync-bn", action=argparse.BooleanOptionalAction, default=None,
                   help="with --distributed: batch-norm statistics over every rank's batch (default on)")
    t.add_argument("--lr-scaling", choices=["none", "linear"], default=None,
                   help="with --distributed: linear = the lr times the number of ranks (Goyal et al. 2017; "
                        "default none)")
    t.add_argument("--warmup-epochs", type=_non_negative_int, default=None, metavar="N",
                   help="raise the lr linearly from lr / ranks (or lr / 4 alone) to its value over N epochs "
                        "(default 0)")

    e = sub.add_parser("evaluate", help="test accuracy, per-class report and confusion matrix of a checkpoint")
    e.add_argument("checkpoint", help="a checkpoint written by train (best.npz or last.npz)")
    _add_data_arguments(e)
    e.add_argument("--out", default=None, help="write metrics.json and confusion_matrix.png here")

    v = sub.add_parser("visualize", help="plots of a checkpoint: filters, feature maps, confusion matrix, ...")
    v.add_argument("checkpoint", help="a checkpoint written by train (best.npz or last.npz)")
    _add_data_arguments(v)
    v.add_argument("--out", default=None, help="folder for the plots (default: <checkpoint folder>/plots)")
    v.add_argument("--image-index", type=_non_negative_int, default=0, help="test image for the feature maps")

    k = sub.add_parser("kernels", help="1-D convolution of a signal and classic 2-D kernels on an image")
    k.add_argument("--out", default="runs/kernels", help="folder for the plots (default runs/kernels)")
    k.add_argument("--seed", type=int, default=0, help="random seed of the signal's noise (default 0)")
    return parser


_TRAIN_DEFAULTS = {"model": "simple_cnn", "dataset": "cifar10", "data_dir": None, "download": False, "device": "auto",
                   "batch_size": 64, "test_subset": None, "momentum": 0.9, "early_stop": 0,
                   "label_smoothing": 0.0, "resume": None, "subset": None, "val_split": 0.0, "image_size": 32,
                   "seed": 0, "no_plots": False, "quiet": False, "optimizer": "sgd", "distributed": False,
                   "sync_bn": True, "lr_scaling": "none", "warmup_epochs": 0}
# Settings a resumed run may change; the others come from its checkpoint.
_RESUME_OVERRIDABLE = {"epochs", "data_dir", "download", "device", "out", "early_stop", "no_plots", "quiet",
                       "resume", "test_subset", "distributed"}


def resolve_train_config(args):
    """Fill the defaults a train run did not give (some depend on the model and optimizer)."""
    cfg = dict(vars(args))
    cfg.pop("command", None)
    for key, value in _TRAIN_DEFAULTS.items():
        if cfg.get(key) is None:
            cfg[key] = value
    spec = dataset_spec(cfg["dataset"])
    cfg["dataset"] = spec.name
    arch = model_class(cfg["model"]).__name__
    resnet = arch in ("SmallResNet", "ResNet20")
    if cfg["epochs"] is None:
        cfg["epochs"] = 50 if resnet else 20
    if cfg["lr"] is None:
        cfg["lr"] = 0.01 if cfg["optimizer"] == "sgd" else 0.001
    if cfg["weight_decay"] is None:
        cfg["weight_decay"] = {"sgd": 5e-4 if arch == "ResNet20" else 1e-4, "adam": 0.0, "adamw": 0.01}[cfg["optimizer"]]
    if cfg["schedule"] is None:
        cfg["schedule"] = "step" if resnet else "none"
    if cfg["augment"] is None:
        cfg["augment"] = spec.name == "cifar10"
    if cfg["out"] is None:
        cfg["out"] = os.path.join("runs", f"{spec.name}_{str(cfg['model']).lower().replace('-', '_')}")
    if spec.image_size is not None:
        cfg["image_size"] = spec.image_size
    elif cfg["image_size"] < 8:
        raise CliError(f"--image-size must be >= 8 for shapes, got {cfg['image_size']}")
    return cfg


def _merge_resumed(saved, args, path):
    """The saved configuration of a resumed run, with the settings a resume may change."""
    cfg = dict(saved)
    given = {k: v for k, v in vars(args).items() if v is not None and k != "command"}
    for key, value in given.items():
        if key in _RESUME_OVERRIDABLE:
            cfg[key] = value
        elif key in cfg and cfg[key] != value:
            print(f"note: --{key.replace('_', '-')} {value} ignored: a resumed run keeps its settings "
                  f"({key}={cfg[key]})", file=sys.stderr)
    if args.out is None:
        cfg["out"] = os.path.dirname(os.path.abspath(path))
    cfg["resume"] = path
    return cfg


# --------------------------------------------------------------------------------- building a run
def _device(name):
    try:
        return backend.parse_device(name)
    except (DeviceError, ValueError) as exc:
        raise CliError(str(exc)) from None


def _normalize(spec):
    return T.Normalize(spec.mean, spec.std)


def _make_optimizer(cfg, params):
    if cfg["optimizer"] == "sgd":
        return optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
    cls = optim.Adam if cfg["optimizer"] == "adam" else optim.AdamW
    return cls(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])


def _make_scheduler(cfg, opt, ranks=1):
    epochs, kind = cfg["epochs"], cfg["schedule"]
    schedule = None
    if kind == "step":
        milestones = sorted({max(1, round(0.6 * epochs)), max(1, round(0.8 * epochs))})
        schedule = optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    elif kind == "cosine":
        schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    elif kind == "plateau":
        schedule = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=5)
    if not cfg.get("warmup_epochs"):
        return schedule
    if kind == "plateau":
        raise CliError("--warmup-epochs cannot be combined with --schedule plateau")
    # Goyal et al.: from the one-rank lr up to the scaled one (alone: from a quarter of the lr)
    warmup = optim.lr_scheduler.LinearLR(opt, start_factor=1.0 / ranks if ranks > 1 else 0.25,
                                         total_iters=cfg["warmup_epochs"])
    return optim.lr_scheduler.ChainedScheduler([s for s in (schedule, warmup) if s is not None])


def _replan_schedule(cfg, old_epochs, state, ranks=1, say=print):
    """On a resume given another --epochs: plan the step or cosine schedule again for the new
    length, as if the run had been started with it, by rewriting the scheduler state and the
    optimizer's lrs in the checkpoint `state`; print one line saying so. The epochs already
    trained keep the lrs they had (the history records them)."""
    done, epochs = int(state["epoch"]), cfg["epochs"]
    if cfg["schedule"] not in ("step", "cosine") or epochs == old_epochs or done >= epochs:
        return
    probe = _make_optimizer(cfg, [nn.Parameter(np.zeros(1, dtype=np.float32))])
    sched = _make_scheduler(cfg, probe, ranks)
    for _ in range(done):  # where a run of `epochs` epochs stands after `done` of them
        sched.step()
    lr = probe.param_groups[0]["lr"]
    old_lr = state["optimizer"]["param_groups"][0]["lr"]
    state["scheduler"] = sched.state_dict()
    for group in state["optimizer"]["param_groups"]:
        group["lr"] = lr
    say(f"note: --epochs {epochs} re-plans the {cfg['schedule']} schedule from {old_epochs} to {epochs} "
        f"epochs: epoch {done + 1} continues with lr {lr:g} (the {old_epochs}-epoch plan had {old_lr:g})",
        file=sys.stderr)


def _model_info(cfg, spec, classes):
    return {"name": cfg["model"], "num_classes": len(classes), "in_channels": spec.channels,
            "image_size": spec.size(cfg)}


def _count_parameters(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters())


def _test_report(model, loader, classes, device):
    """(accuracy, confusion matrix, report dict, report text) of `model` on `loader`."""
    preds, targets = predict(model, loader, device)
    k = len(classes)
    cm = metrics.confusion_matrix(targets, preds, num_classes=k)
    report = metrics.classification_report(targets, preds, class_names=classes, output_dict=True)
    text = metrics.classification_report(targets, preds, class_names=classes)
    return metrics.accuracy(preds, targets), cm, report, text, len(targets)


def _write_json(path, data):
    text = json.dumps(data, indent=1) + "\n"
    atomic_write(path, lambda f: f.write(text), binary=False, op="metrics")


def _make_out_dir(path, flag="--out"):
    """Create the output folder `path` (CliError naming it when it is a file or cannot be made)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise CliError(f"{flag} {path!r} is an existing file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {flag} {path!r}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CliError(f"cannot write into the output folder {flag} {path!r}: permission denied")


def _first_conv(model):
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    return None, None


# --------------------------------------------------------------------------------- commands
def cmd_train(args):
    """Train (or resume) a run; print the epochs, the test accuracy and a per-class report.
    With --distributed every rank of an MPI launch runs this; rank 0 prints and writes."""
    state = None
    if args.resume is not None:
        state = _read_checkpoint(args.resume, "resume")
        saved = state["extra"].get("config")
        if not isinstance(saved, dict):
            raise CliError(f"cannot resume from {args.resume!r}: it was not written by `tinygrad-cnn train` "
                           "(no saved configuration)")
        cfg = _merge_resumed(saved, args, args.resume)
    else:
        cfg = resolve_train_config(args)
    world = _world(cfg)
    main = world.rank == 0
    say = print if main else (lambda *a, **k: None)
    spec = dataset_spec(cfg["dataset"])
    device = _device(cfg["device"])
    if world.size > 1 and device != "cpu":  # one GPU per rank of a node, made current (NCCL binds to it)
        device = f"cuda:{world.local_rank % backend.gpu_count()}"
        backend.use_device(device)

    backend.manual_seed(cfg["seed"])
    train_set = load_split(spec, cfg, train=True)
    test_set = load_split(spec, cfg, train=False)
    classes = list(train_set.classes)
    val_set = test_set
    if cfg["val_split"] > 0:
        n_val = max(1, int(round(cfg["val_split"] * len(train_set))))
        if n_val >= len(train_set):
            raise CliError(f"--val-split {cfg['val_split']} leaves no training images of {len(train_set)}")
        train_set, val_set = random_split(train_set, [len(train_set) - n_val, n_val], seed=cfg["seed"])
    if main:
        _make_out_dir(cfg["out"])  # once the input is known to be good: a failed start leaves no folder behind
    args.run_out = cfg["out"]  # for the interruption message

    normalize = _normalize(spec)
    train_transform = T.Compose(spec.augmentation(cfg) + [normalize]) if cfg["augment"] else normalize
    eval_batch = max(256, cfg["batch_size"])
    # several ranks: each its share (the training tail dropped so that every rank runs the same
    # number of steps; validation images each seen once, so the summed accuracy is exact)
    train_sampler = val_sampler = None
    if world.size > 1:
        train_sampler = distributed.DistributedSampler(train_set, shuffle=True, seed=cfg["seed"], drop_last=True)
        val_sampler = distributed.DistributedSampler(val_set, shuffle=False, pad=False)
    train_loader = DataLoader(train_set, batch_size=cfg["batch_size"], shuffle=train_sampler is None,
                              sampler=train_sampler, transform=train_transform, device=device)
    val_loader = DataLoader(val_set, batch_size=eval_batch, transform=normalize, device=device, sampler=val_sampler)
    test_loader = DataLoader(test_set, batch_size=eval_batch, transform=normalize, device=device)

    model = build_model(cfg["model"], len(classes), spec.channels, spec.size(cfg)).to(device)
    if world.size > 1:
        if cfg["sync_bn"]:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = distributed.DistributedDataParallel(model)
    run_cfg = dict(cfg, lr=cfg["lr"] * (world.size if cfg["lr_scaling"] == "linear" else 1))
    opt = _make_optimizer(run_cfg, model.parameters())
    sched = _make_scheduler(run_cfg, opt, world.size)
    if state is not None:
        _replan_schedule(run_cfg, saved["epochs"], state, world.size, say)
    loss_fn = cross_entropy
    if cfg["label_smoothing"] > 0:
        loss_fn = functools.partial(cross_entropy, label_smoothing=cfg["label_smoothing"])

    extra = {"config": cfg, "classes": classes, "model": _model_info(cfg, spec, classes)}
    callbacks = [ModelCheckpoint(cfg["out"], extra=extra),
                 HistoryLogger(os.path.join(cfg["out"], "history.csv")),
                 HistoryLogger(os.path.join(cfg["out"], "history.json"))]
    if cfg["early_stop"] > 0:
        callbacks.append(EarlyStopping(patience=cfg["early_stop"]))

    size = spec.size(cfg)
    val_name = "validation" if val_set is not test_set else "test"
    ranks = f", {world.size} ranks x {cfg['batch_size']} images per step" if world.size > 1 else ""
    say(f"{type(_unwrap(model)).__name__} ({_count_parameters(model):,} parameters) on {spec.name}: "
        f"{len(train_set)} training / {len(val_set)} {val_name} images of {spec.channels}x{size}x{size}, "
        f"device {device}{ranks}, {cfg['optimizer']} lr {run_cfg['lr']:g}, {cfg['epochs']} epoch(s); "
        f"writing to {cfg['out']}")
    history = fit(model, train_loader, opt, cfg["epochs"], val_loader=val_loader, scheduler=sched,
                  loss_fn=loss_fn, callbacks=callbacks, device=device, resume=state, verbose=not cfg["quiet"])
    if not main:  # the test report and the files are rank 0's
        world.barrier()
        return 0
    model = _unwrap(model)

    accuracy, cm, report, text, n = _test_report(model, test_loader, classes, device)
    print(text)
    print(f"Test accuracy: {accuracy:.4f} ({n} images, weights after epoch {history.num_epochs})")
    _write_json(os.path.join(cfg["out"], "metrics.json"),
                {"test_accuracy": accuracy, "test_images": n, "epochs": history.num_epochs,
                 "report": report, "confusion_matrix": cm.tolist(), "classes": classes})
    if not cfg["no_plots"] and history.num_epochs:
        viz.plot_history(history, os.path.join(cfg["out"], "history.png"))
        viz.plot_confusion_matrix(cm, classes, os.path.join(cfg["out"], "confusion_matrix.png"))
        name, conv = _first_conv(model)
        if conv is not None:
            viz.plot_filters(conv.weight, os.path.join(cfg["out"], "filters.png"))
        print(f"Plots: {os.path.join(cfg['out'], '')}{{history,confusion_matrix,filters}}.png")
    world.barrier()
    return 0


def _world(cfg):
    """The communicator of a --distributed run (MPI under a launcher), else one process."""
    if not cfg.get("distributed"):
        return SingleProcess()
    try:
        return distributed.init()
    except distributed.DistributedError as exc:
        raise CliError(str(exc)) from None


def _unwrap(model):
    return model.module if isinstance(model, distributed.DistributedDataParallel) else model


def _read_checkpoint(path, what):
    try:
        return load_checkpoint(path)
    except FileNotFoundError:
        raise CliError(f"cannot {what}: no checkpoint file at {path!r}") from None
    except CheckpointError as exc:
        raise CliError(f"cannot {what}: {exc}") from None


def _restore(args, what):
    """(model, cfg, spec, classes, test loader, device, checkpoint) for evaluate/visualize."""
    state = _read_checkpoint(args.checkpoint, what)
    extra = state["extra"]
    if not isinstance(extra.get("config"), dict) or not isinstance(extra.get("model"), dict):
        raise CliError(f"cannot {what} {args.checkpoint!r}: it was not written by `tinygrad-cnn train` "
                       "(no saved configuration)")
    cfg = dict(extra["config"])
    for key in ("data_dir", "download", "device", "batch_size", "test_subset"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    spec = dataset_spec(cfg["dataset"])
    device = _device(cfg["device"])
    info = extra["model"]
    model = build_model(info["name"], info["num_classes"], info["in_channels"], info["image_size"])
    model.load_state_dict(state["model"])
    model.to(device).eval()
    test_set = load_split(spec, cfg, train=False)
    loader = DataLoader(test_set, batch_size=max(256, cfg["batch_size"]), transform=_normalize(spec), device=device)
    return model, cfg, spec, list(extra["classes"]), loader, device, state


def cmd_evaluate(args):
    """Print the test accuracy and per-class report of a checkpoint; optionally write them."""
    if args.out is not None:
        _make_out_dir(args.out)
    model, cfg, spec, classes, loader, device, state = _restore(args, "evaluate")
    accuracy, cm, report, text, n = _test_report(model, loader, classes, device)
    print(f"{type(model).__name__} from {args.checkpoint} (epoch {state['epoch']}) on the {spec.name} test set")
    print(text)
    print(f"Test accuracy: {accuracy:.4f} ({n} images)")
    if args.out is not None:
        _write_json(os.path.join(args.out, "metrics.json"),
                    {"test_accuracy": accuracy, "test_images": n, "epoch": state["epoch"], "report": report,
                     "confusion_matrix": cm.tolist(), "classes": classes})
        viz.plot_confusion_matrix(cm, classes, os.path.join(args.out, "confusion_matrix.png"))
    return 0


def cmd_visualize(args):
    """Write the plots of a checkpoint: filters, feature maps, confusion matrix, history,
    augmentations and the autograd graph of one forward pass."""
    model, cfg, spec, classes, loader, device, state = _restore(args, "visualize")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "plots")
    _make_out_dir(out)
    dataset = loader.dataset
    if args.image_index >= len(dataset):
        raise CliError(f"--image-index {args.image_index} is out of range: the test set has {len(dataset)} images")
    written = []

    name, conv = _first_conv(model)
    if conv is not None:
        written.append(viz.plot_filters(conv.weight, os.path.join(out, "filters.png")))
    image, label = dataset[args.image_index]
    normalized = _normalize(spec)(np.asarray(image, dtype=np.float32))
    conv_names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    layers = conv_names[:4] if len(conv_names) <= 4 else [conv_names[i] for i in
                                                          np.linspace(0, len(conv_names) - 1, 4).astype(int)]
    if layers:
        written.append(viz.plot_feature_maps(model, normalized, layers, os.path.join(out, "feature_maps.png")))
    preds, targets = predict(model, loader, device)
    cm = metrics.confusion_matrix(targets, preds, num_classes=len(classes))
    written.append(viz.plot_confusion_matrix(cm, classes, os.path.join(out, "confusion_matrix.png")))
    if state["history"]["epoch"]:
        written.append(viz.plot_history(state["history"], os.path.join(out, "history.png")))
    images = np.stack([np.asarray(dataset[i][0], dtype=np.float32) for i in range(min(8, len(dataset)))])
    augment = T.Compose(spec.augmentation(cfg))
    written.append(viz.plot_augmentations(images, augment, os.path.join(out, "augmentations.png")))
    x = Tensor(normalized[None], device=device)
    loss = cross_entropy(model(x), Tensor(np.array([label]), device=device))
    viz.draw_graph(loss, os.path.join(out, "graph.dot"), params=dict(model.named_parameters()))
    written.append(os.path.join(out, "graph.dot"))

    print(f"{type(model).__name__} from {args.checkpoint} (epoch {state['epoch']}): test accuracy "
          f"{metrics.accuracy(preds, targets):.4f}; per-class accuracy:")
    for cls, acc in zip(classes, metrics.per_class_accuracy(targets, preds, len(classes))):
        print(f"  {cls:>16}: {'-' if math.isnan(acc) else f'{acc:.4f}'}")
    print("Wrote " + ", ".join(written))
    return 0


def cmd_kernels(args):
    """Convolution by hand-made kernels through the library's conv1d / conv2d.

    1-D: a noisy signal with a step, smoothed by a moving average and a Gaussian and
    differentiated by a central difference (F.conv1d, padding "same"); the step is found where
    the smoothed derivative peaks. 2-D: classic kernels (Sobel, blur, sharpen, Laplacian) on a
    Shapes image through F.conv2d (viz.apply_kernel).
    """
    rng = np.random.default_rng(args.seed)
    n, step_at = 400, 250
    t = np.linspace(0, 4 * np.pi, n)
    clean = np.sin(t) + (np.arange(n) >= step_at)
    noisy = (clean + 0.3 * rng.standard_normal(n)).astype(np.float32)
    gauss = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    kernels = {"moving average (9)": np.ones(9) / 9, "gaussian (sigma 2)": gauss / gauss.sum(),
               "central difference": np.array([-0.5, 0.0, 0.5])}
    weight = np.zeros((len(kernels), 1, 13), dtype=np.float32)
    for i, k in enumerate(kernels.values()):  # centre each kernel in 13 taps
        weight[i, 0, (13 - len(k)) // 2:(13 - len(k)) // 2 + len(k)] = k
    out = conv1d(Tensor(noisy[None, None]), Tensor(weight), padding="same").numpy()[0]
    inner = slice(6, n - 6)  # away from the zero padding
    print("1-D convolution (F.conv1d, padding='same') of a noisy sine with a step at sample "
          f"{step_at}:")
    print(f"  noise std before smoothing: {np.std((noisy - clean)[inner]):.3f}")
    for i, name in enumerate(list(kernels)[:2]):
        print(f"  after {name}: {np.std((out[i] - clean)[inner]):.3f}")
    smoothed_derivative = conv1d(Tensor(out[1][None, None]), Tensor(weight[2:3]), padding="same").numpy()[0, 0]
    found = int(np.argmax(np.abs(smoothed_derivative[inner]))) + inner.start
    print(f"  the derivative of the smoothed signal peaks at sample {found} (the step is at {step_at})")

    _make_out_dir(args.out)
    fig = viz.new_figure(10, 6)  # saved at viz's resolution
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(noisy, color="0.7", lw=0.8, label="noisy signal")
    for i, name in enumerate(list(kernels)[:2]):
        top.plot(out[i], lw=1.5, label=name)
    top.legend(loc="upper left", fontsize=8)
    top.set_title("conv1d: smoothing kernels")
    bottom.plot(out[2], color="0.7", lw=0.8, label="central difference of the noisy signal")
    bottom.plot(smoothed_derivative, lw=1.5, label="central difference of the gaussian-smoothed signal")
    bottom.axvline(step_at, color="k", ls="--", lw=0.8)
    bottom.legend(loc="upper left", fontsize=8)
    bottom.set_title("conv1d: derivative kernel (the step stands out once smoothed)")
    fig.tight_layout()
    path_1d = os.path.join(args.out, "conv1d.png")
    fig.savefig(path_1d)

    image, label = Shapes(1, train=False, seed=args.seed, size=64)[0]
    gray = image.mean(axis=0)
    print(f"2-D kernels (F.conv2d) on a 64x64 '{Shapes.classes[label]}' image: mean |response|")
    for name, kernel in viz.classic_kernels().items():
        print(f"  {name:>14}: {np.abs(viz.apply_kernel(gray, kernel)).mean():.4f}")
    path_2d = viz.plot_kernels_on_image(image, os.path.join(args.out, "kernels.png"))
    print(f"Wrote {path_1d}, {path_2d}")
    return 0


_COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "visualize": cmd_visualize, "kernels": cmd_kernels}


def _run(args):
    """Run the parsed command; turn the errors a user can fix into messages and exit statuses."""
    try:
        return _COMMANDS[args.command](args)
    except CliError as exc:
        print(f"tinygrad-cnn {args.command}: error: {exc}", file=sys.stderr)
        return _end_every_rank(2)
    except TrainingDiverged as exc:
        print(f"tinygrad-cnn train: {exc}", file=sys.stderr)
        return _end_every_rank(1)
    except OSError as exc:  # an output file that cannot be written: a full disk, no permission
        print(f"tinygrad-cnn {args.command}: error: {_os_error_text(exc)}", file=sys.stderr)
        return _end_every_rank(2)
    except KeyboardInterrupt:
        out = getattr(args, "run_out", None)
        hint = f"; continue with: tinygrad-cnn train --resume {os.path.join(out, 'last.npz')}" if out else ""
        print(f"\ninterrupted{hint}", file=sys.stderr)
        return 130


def _end_every_rank(status):
    """`status`, after ending every rank of a distributed run: an error caught here may have
    happened on one rank only (rank 0 alone writes files), and the others would wait in their
    next collective forever. (Errors every rank meets together end the job the same way.)"""
    if distributed.is_initialized():
        world = distributed.communicator()
        if world.size > 1:
            sys.stderr.flush()
            world.abort(status)
    return status


def _os_error_text(exc):
    """One line for an OSError, naming its file: "save: cannot write 'x': No space left on device"."""
    text = exc.strerror if exc.strerror and len(exc.args) > 1 else str(exc)
    if exc.filename is not None and os.fspath(exc.filename) not in text:
        text = f"{os.fspath(exc.filename)!r}: {text}"
    return text


def main(argv=None):
    """Run `tinygrad-cnn` with `argv` (default sys.argv[1:]); returns the exit status."""
    return _run(build_parser().parse_args(argv))


def run_example(defaults, argv=None, visualize=False):
    """`tinygrad-cnn train` with an example's default flags, which flags in `argv` (default
    sys.argv[1:]) override; with visualize=True, then `tinygrad-cnn visualize` of the best
    checkpoint into <out>/plots (unless --no-plots). Returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("-h", "--help"):
        return main(["train", "--help"])
    args = build_parser().parse_args(["train", *defaults, *argv])
    status = _run(args)
    out = getattr(args, "run_out", None)
    if status == 0 and visualize and out is not None and not args.no_plots:
        best = os.path.join(out, "best.npz")
        if os.path.exists(best):
            status = main(["visualize", best, "--out", os.path.join(out, "plots")])
    return status


if __name__ == "__main__":
    sys.exit(main())
