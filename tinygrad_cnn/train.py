"""The training loop: `fit` and `evaluate`, callbacks, checkpoints and the per-epoch history.

    from tinygrad_cnn.train import fit, evaluate, EarlyStopping, ModelCheckpoint, HistoryLogger

    history = fit(model, train_loader, optimizer, epochs=20, val_loader=test_loader,
                  scheduler=sched, callbacks=[EarlyStopping(patience=5),
                                              ModelCheckpoint("runs/cifar"),
                                              HistoryLogger("runs/cifar/history.csv")])
    history["val_acc"][-1], evaluate(model, test_loader)["accuracy"]

    # after an interruption: the same objects, built the same way, then
    history = fit(model, train_loader, optimizer, epochs=20, val_loader=test_loader,
                  scheduler=sched, callbacks=[...], resume="runs/cifar/last.npz")

Each epoch trains in train mode with a tqdm bar showing the running loss and accuracy, then
evaluates `val_loader` in eval mode under `no_grad`, steps the scheduler once, prints one
summary line

    Epoch  3/50 | loss 0.8712 | train 0.6930 | val 0.7395 | lr 0.010000 | 12.3s

and runs the callbacks. Accuracy is the argmax of the logits against the labels; the train
loss and accuracy are averages over the epoch's samples as they were seen (the weights change
during the epoch), the validation ones use the weights at the end of the epoch.

A checkpoint (`ModelCheckpoint`, or `Trainer.checkpoint_state()`) holds everything a restart
needs in one `tc.save` file, written atomically: model, optimizer, scheduler, the number of
finished epochs, the history, the states of the callbacks, the library's CPU random generator
and the data loaders' private generators. Resuming from it on the CPU repeats the very same
losses and weights as a run that was never stopped (on a GPU too: the GPU generators, whose
state CuPy keeps unreadable on the device, are re-seeded at each checkpoint from a saved seed;
see `backend.get_rng_state`).

Losses and accuracies are summed on the model's device and read every `log_every` steps
(default: every step on the CPU, where reading is free; every 20 steps on a GPU, where each
read waits for all queued work, so reading every step would run the GPU one step at a time).
The read happens before that step's update. A loss that is NaN or infinite stops training
there: `fit` raises `TrainingDiverged` naming the epoch and the first bad step. With
`log_every=1` (the CPU default) that step's update is never applied; with a longer interval
the updates of the steps before the read are. Checkpoints are written only at the end of good
epochs, so the last good one is kept either way. Parameters that became non-finite during an
epoch stop training the same way, before that epoch is checkpointed.
"""
import csv
import io
import json
import math
import os
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from . import backend
from .autograd import no_grad
from .communicator import SingleProcess
from .distributed import DistributedDataParallel
from .ops.loss import cross_entropy
from .optim.lr_scheduler import ReduceLROnPlateau
from .serialization import CheckpointError, atomic_write, load, remove_stale_temporaries, save
from .tensor import Tensor

__all__ = ["fit", "evaluate", "predict", "Trainer", "History", "Callback", "EarlyStopping", "ModelCheckpoint",
           "HistoryLogger", "TrainingDiverged", "load_checkpoint", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "tinygrad_cnn.training_checkpoint"
CHECKPOINT_VERSION = 1


class TrainingDiverged(RuntimeError):
    """The loss (or a parameter) became NaN or infinite; `epoch`, `step`, `history` say where."""

    def __init__(self, message, epoch, step, history):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


# ----------------------------------------------------------------------------------- history
class History(dict):
    """Per-epoch records as a dict of equally long lists (Keras' layout), one entry per epoch:

    "epoch" (1-based), "train_loss", "train_acc", "val_loss", "val_acc" (None without a
    validation loader), "lr" (the first param group's lr during the epoch), "seconds".
    """

    KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")

    def __init__(self, data=None):
        super().__init__((key, []) for key in self.KEYS)
        if data is not None:
            missing = [key for key in self.KEYS if key not in data]
            if missing:
                raise ValueError(f"History: the saved history lacks {', '.join(missing)}")
            lengths = {len(data[key]) for key in self.KEYS}
            if len(lengths) != 1:
                raise ValueError("History: the saved lists have different lengths")
            for key in self.KEYS:
                self[key] = list(data[key])

    @property
    def num_epochs(self):
        """How many epochs are recorded."""
        return len(self["epoch"])

    def append(self, record):
        """Add one epoch's record (a dict with every key of KEYS)."""
        for key in self.KEYS:
            self[key].append(record[key])

    def records(self):
        """The epochs as a list of dicts, one per epoch."""
        return [{key: self[key][i] for key in self.KEYS} for i in range(self.num_epochs)]

    def to_csv(self):
        """The history as CSV text (a header line, then one line per epoch; empty for None)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.KEYS)
        for record in self.records():
            writer.writerow(["" if record[k] is None else record[k] for k in self.KEYS])
        return out.getvalue()

    def to_json(self):
        """The history as JSON text: {"epoch": [...], "train_loss": [...], ...} (null for None)."""
        return json.dumps({key: self[key] for key in self.KEYS}, indent=1) + "\n"


def _write_text_atomically(path, text):
    """Write `text` to `path` through a temporary file and os.replace (never half-written)."""
    atomic_write(path, lambda file: file.write(text), binary=False, op="history")


# ----------------------------------------------------------------------------------- callbacks
class Callback:
    """Base class of callbacks. Override any hook; each gets the running `Trainer`.

    Hooks: on_train_begin(trainer), on_epoch_end(trainer, record) with this epoch's history
    record, on_train_end(trainer). A callback stops training with `trainer.stop(reason)`.
    `state_dict()` / `load_state_dict()` carry its state through checkpoints. Callbacks run in
    increasing `order` (stable): checkpointing (100) runs after those with state to save, the
    history logs (110) after it, so they never list an epoch whose checkpoint failed.
    """

    order = 0

    def on_train_begin(self, trainer):
        pass

    def on_epoch_end(self, trainer, record):
        pass

    def on_train_end(self, trainer):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def _improved(value, best, mode, min_delta):
    if best is None:
        return True
    return value > best + min_delta if mode == "max" else value < best - min_delta


def _check_mode(mode):
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")


def _check_monitor(owner, monitor, trainer):
    if monitor not in History.KEYS or monitor == "epoch":
        raise ValueError(f"{owner}: unknown monitor {monitor!r}; choose one of "
                         f"{', '.join(k for k in History.KEYS if k != 'epoch')}")
    if monitor.startswith("val_") and trainer.val_loader is None:
        raise ValueError(f"{owner} monitors {monitor!r}, which needs fit(..., val_loader=...)")


class EarlyStopping(Callback):
    """Stop when `monitor` (default the validation accuracy) has not improved by more than
    `min_delta` for `patience` epochs in a row."""

    def __init__(self, patience, monitor="val_acc", mode="max", min_delta=0.0):
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be an int >= 1, got {patience!r}")
        _check_mode(mode)
        self.patience, self.monitor, self.mode, self.min_delta = patience, monitor, mode, float(min_delta)
        self.best, self.best_epoch, self.wait = None, 0, 0

    def on_train_begin(self, trainer):
        _check_monitor("EarlyStopping", self.monitor, trainer)
        if self.wait >= self.patience:  # restored from a run that had already stopped here
            trainer.stop(self._reason())

    def on_epoch_end(self, trainer, record):
        value = record[self.monitor]
        if _improved(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = value, record["epoch"], 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.stop(self._reason())

    def _reason(self):
        return (f"early stopping: {self.monitor} has not improved for {self.patience} epoch(s) "
                f"(best {self.best:.4f} at epoch {self.best_epoch})")

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = state["best"], int(state["best_epoch"]), int(state["wait"])


class ModelCheckpoint(Callback):
    """Save a full training checkpoint to `directory`/last.npz after every epoch and to
    `directory`/best.npz whenever `monitor` improves (default: "val_acc" with a validation
    loader, else "train_acc"). Each file is written atomically by `tc.save`.

    best.npz is written before last.npz, so a last.npz on disk never names a best epoch whose
    file was not written yet, whenever the process is killed. On resume (`on_train_begin` after
    the state is restored) a missing best.npz is written again from the resumed state when that
    state is the best epoch (a run killed between the two saves by an older version); when the
    best epoch lies further back its file cannot be rebuilt, so a note says so and the next
    epoch writes a new best.npz. Temporaries of both files left by killed saves are removed.

    extra: a dict stored under "extra" in every checkpoint (e.g. how to rebuild the model).
    """

    order = 100

    def __init__(self, directory, monitor=None, mode="max", save_best=True, save_last=True, extra=None,
                 last_name="last.npz", best_name="best.npz"):
        _check_mode(mode)
        self.directory = os.fspath(directory)
        self.monitor, self.mode = monitor, mode
        self.save_best, self.save_last = bool(save_best), bool(save_last)
        self.extra = dict(extra or {})
        self.last_path = os.path.join(self.directory, last_name)
        self.best_path = os.path.join(self.directory, best_name)
        self.best, self.best_epoch = None, 0

    def on_train_begin(self, trainer):
        if self.monitor is None:
            self.monitor = "val_acc" if trainer.val_loader is not None else "train_acc"
        _check_monitor("ModelCheckpoint", self.monitor, trainer)
        if not trainer.is_main:  # in a distributed run rank 0 writes the files
            return
        os.makedirs(self.directory, exist_ok=True)
        for path in (self.last_path, self.best_path):
            remove_stale_temporaries(path)
        if self.save_best and self.best_epoch > 0 and not os.path.isfile(self.best_path):
            self._restore_best(trainer)

    def _restore_best(self, trainer):
        """best.npz is missing although the restored state names a best epoch: rewrite it from
        the resumed state if that is the best epoch, else let the next epoch write a new one."""
        if self.best_epoch == trainer.epoch:
            save(trainer.checkpoint_state(self.extra), self.best_path)
            return
        print(f"note: {self.best_path} (epoch {self.best_epoch}) is missing and cannot be rebuilt; "
              f"the next epoch writes a new one", file=sys.stderr)
        self.best, self.best_epoch = None, 0

    def on_epoch_end(self, trainer, record):
        improved = _improved(record[self.monitor], self.best, self.mode, 0.0)
        if improved:
            self.best, self.best_epoch = record[self.monitor], record["epoch"]
        if not trainer.is_main:
            backend.get_rng_state()  # re-seeds the GPU generators as rank 0's snapshot does
            return
        state = trainer.checkpoint_state(self.extra)
        if self.save_best and improved:  # best first: a last.npz never names a best.npz not yet written
            save(state, self.best_path)
        if self.save_last:
            save(state, self.last_path)

    def state_dict(self):
        return {"monitor": self.monitor, "best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state):
        self.monitor, self.best, self.best_epoch = state["monitor"], state["best"], int(state["best_epoch"])


class HistoryLogger(Callback):
    """Rewrite the whole history to `path` after every epoch (atomically): CSV for a `.csv`
    path, JSON for `.json`. After a resume the file again holds every epoch. It runs after
    ModelCheckpoint, so the file never lists an epoch whose checkpoint could not be written."""

    order = 110

    def __init__(self, path):
        self.path = os.fspath(path)
        ext = os.path.splitext(self.path)[1].lower()
        if ext not in (".csv", ".json"):
            raise ValueError(f"HistoryLogger: the path must end in .csv or .json, got {self.path!r}")
        self.format = ext[1:]

    def on_train_begin(self, trainer):
        if trainer.is_main:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)

    def on_epoch_end(self, trainer, record):
        if not trainer.is_main:  # in a distributed run rank 0 writes the file
            return
        history = trainer.history
        _write_text_atomically(self.path, history.to_csv() if self.format == "csv" else history.to_json())


# ----------------------------------------------------------------------------------- helpers
def _model_device(model):
    for p in model.parameters():
        return p.device
    return "cpu"


def _on_device(t, device):
    return t if t.device == device else t.to(device)


class _Meter:
    """Per-batch losses and the number of correct predictions, kept on the device and read to
    the host together, in one transfer, when `read()` is called.

    After each read: `total_loss` (the batches' losses summed, weighted by batch size),
    `correct` and `seen` (sample counts), all host numbers (summed over ranks).
    """

    def __init__(self, world=None):
        self.world = world if world is not None else SingleProcess()
        self.total_loss, self.correct, self.seen = 0.0, 0, 0
        self._losses, self._sizes, self._correct = [], [], None

    @property
    def pending(self):
        """Batches added since the last read."""
        return len(self._sizes)

    def add(self, loss, logits, target):
        """Record one batch: its scalar loss Tensor, its logits (N, C) and its targets (N,)."""
        hits = (logits.array.argmax(axis=1) == target.array).sum()
        self._correct = hits if self._correct is None else self._correct + hits
        self._losses.append(loss.array)
        self._sizes.append(int(target.shape[0]))

    def read(self):
        """Read the pending batches from the device, summed over every rank of a distributed run
        (one collective), so every rank sees the same numbers. Returns None, or (position among
        the pending batches, loss value or None when another rank had it) of the first
        non-finite loss of any rank."""
        if not self._sizes:
            if self.world.size == 1:
                return None
            losses, correct = [], 0  # nothing of this rank's own, but the ranks read together
        else:
            xp = backend.array_module(self._correct)
            stacked = xp.stack(self._losses).astype(xp.float64)
            losses, correct = backend.to_host(stacked, self._correct)
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), -1)
        sums = np.array([sum(float(v) * n for v, n in zip(losses, self._sizes)), float(correct),
                         float(sum(self._sizes)), float(bad)])
        if self.world.size > 1:
            every = self.world.all_gather(sums)  # (ranks, 4)
            sums[:3] = every[:, :3].sum(axis=0)
            bads = every[:, 3][every[:, 3] >= 0]
            sums[3] = bads.min() if bads.size else -1
        self.total_loss += float(sums[0])
        self.correct += int(sums[1])
        self.seen += int(sums[2])
        self._losses, self._sizes, self._correct = [], [], None
        if sums[3] < 0:
            return None
        first = int(sums[3])
        return first, (float(losses[first]) if first < len(losses) and not math.isfinite(losses[first]) else None)


def _world_of(model):
    """The communicator of a DistributedDataParallel model; one process for any other model."""
    return model.world if isinstance(model, DistributedDataParallel) else SingleProcess()


def _unwrapped(model):
    """The model inside a DistributedDataParallel wrapper (checkpoints hold its keys, without the
    wrapper's "module." prefix, so one-process runs and evaluation read them)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def _set_epoch(loader, epoch):
    """Tell a loader's DistributedSampler (or any sampler with set_epoch) the epoch, as PyTorch
    users do by hand: every rank then draws the same permutation."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def _loader_length(loader):
    try:
        return len(loader)
    except TypeError:
        return None


def _first_lr(optimizer):
    return float(optimizer.param_groups[0]["lr"])


def _format_line(record, epochs):
    width = len(str(epochs))
    parts = [f"Epoch {record['epoch']:>{width}}/{epochs}", f"loss {record['train_loss']:.4f}",
             f"train {record['train_acc']:.4f}"]
    if record["val_acc"] is not None:
        parts.append(f"val {record['val_acc']:.4f}")
    parts += [f"lr {record['lr']:.6f}", f"{record['seconds']:.1f}s"]
    return " | ".join(parts)


def load_checkpoint(checkpoint, model=None, optimizer=None, scheduler=None):
    """Read a training checkpoint (a path, or the dict `tc.load` returned) and load its model,
    optimizer and scheduler states into the objects given; returns the checkpoint dict.

    Raises FileNotFoundError for a missing file and CheckpointError (a ValueError) for a file
    that is not a training checkpoint of this library.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        path = os.fspath(checkpoint)
        if not os.path.exists(path):
            raise FileNotFoundError(2, "no checkpoint file", path)
        if os.path.isdir(path):
            raise CheckpointError(f"{path!r} is a folder, not a checkpoint file "
                                  f"(a training run writes last.npz and best.npz into its folder)")
        state = load(path)
        where = repr(path)
    else:
        state, where = checkpoint, "the checkpoint"
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{where} is not a training checkpoint (no format {CHECKPOINT_FORMAT!r}; "
                              "training checkpoints are written by ModelCheckpoint)")
    if state.get("version", 0) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{where} has training-checkpoint version {state['version']}, newer than this "
                              f"library reads ({CHECKPOINT_VERSION})")
    if model is not None:
        model.load_state_dict(state["model"])
    if scheduler is not None:
        if state["scheduler"] is None:
            raise ValueError(f"{where} holds no scheduler state, but a scheduler was given")
        saved_class = state.get("scheduler_class")
        if saved_class != type(scheduler).__name__:
            raise ValueError(f"{where} holds the state of a {saved_class}, but the scheduler is a "
                             f"{type(scheduler).__name__}")
        scheduler.load_state_dict(state["scheduler"])
    if optimizer is not None:  # after the scheduler: the optimizer's groups hold the current lrs
        saved_class = state.get("optimizer_class")
        if saved_class != type(optimizer).__name__:
            raise ValueError(f"{where} holds the state of a {saved_class} optimizer, but the optimizer is a "
                             f"{type(optimizer).__name__}")
        optimizer.load_state_dict(state["optimizer"])
    return state


# ----------------------------------------------------------------------------------- trainer
class Trainer:
    """The state of one `fit` call; callbacks receive it.

    Attributes: model, optimizer, scheduler, train_loader, val_loader, loss_fn, device,
    callbacks (sorted by `order`), history (a History), epoch (the number of finished
    epochs), epochs (the total asked for), stop_reason (None while training goes on).
    """

    def __init__(self, model, train_loader, optimizer, epochs, val_loader=None, scheduler=None,
                 loss_fn=cross_entropy, callbacks=(), device=None, verbose=True, log_every=None):
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
            raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
        if log_every is not None and (not isinstance(log_every, int) or isinstance(log_every, bool)
                                      or log_every < 1):
            raise ValueError(f"fit: log_every must be an int >= 1 or None, got {log_every!r}")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_loader, self.val_loader = train_loader, val_loader
        # a DistributedDataParallel model trains on every rank: sums over ranks, rank 0 talks and writes
        self.world = _world_of(model)
        self.is_main = self.world.rank == 0
        self.loss_fn, self.epochs, self.verbose = loss_fn, epochs, verbose and self.is_main
        if device is not None:
            self.device = backend.parse_device(device)
            model.to(self.device)
        else:
            self.device = _model_device(model)
        # a read from a GPU waits for its queued work: read every few steps there, every step on the CPU
        self.log_every = log_every if log_every is not None else (1 if self.device == "cpu" else 20)
        self.callbacks = sorted(callbacks, key=lambda cb: getattr(cb, "order", 0))
        self.history = History()
        self.epoch = 0
        self.stop_reason = None

    # ------------------------------------------------------------------ control
    def stop(self, reason):
        """Ask training to stop after this epoch (the reason is printed)."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def _run_hook(self, name, *args):
        for cb in self.callbacks:
            hook = getattr(cb, name, None)
            if hook is not None:
                hook(self, *args)

    def _callback_keys(self):
        """A stable key per callback for checkpoints: its class name, numbered when repeated."""
        keys, seen = [], {}
        for cb in self.callbacks:
            name = type(cb).__name__
            seen[name] = seen.get(name, 0) + 1
            keys.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
        return list(zip(keys, self.callbacks))

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_state(self, extra=None):
        """Everything needed to resume after the current epoch, ready for `tc.save`."""
        return {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "epoch": self.epoch,
            "model": _unwrapped(self.model).state_dict(),  # loadable without DistributedDataParallel
            "optimizer": self.optimizer.state_dict(), "optimizer_class": type(self.optimizer).__name__,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scheduler_class": type(self.scheduler).__name__ if self.scheduler is not None else None,
            "history": {key: list(values) for key, values in self.history.items()},
            "rng": backend.get_rng_state(),
            "loaders": {"train": _loader_state(self.train_loader), "val": _loader_state(self.val_loader)},
            "callbacks": {key: cb.state_dict() for key, cb in self._callback_keys()
                          if hasattr(cb, "state_dict")},
            "extra": dict(extra or {}),
        }

    def load_checkpoint_state(self, checkpoint):
        """Restore a checkpoint (path or dict) written by `checkpoint_state`; returns the dict.
        In a distributed run rank 0 reads the file and sends what it read to every rank."""
        if self.world.size > 1 and isinstance(checkpoint, (str, os.PathLike)):
            checkpoint = self.world.broadcast_object(load(os.fspath(checkpoint)) if self.is_main else None)
        state = load_checkpoint(checkpoint, _unwrapped(self.model), self.optimizer, self.scheduler)
        self.history = History(state["history"])
        self.epoch = int(state["epoch"])
        backend.set_rng_state(state["rng"])
        for name, loader in (("train", self.train_loader), ("val", self.val_loader)):
            saved = state["loaders"].get(name)
            if saved is not None and hasattr(loader, "load_state_dict"):
                loader.load_state_dict(saved)
        saved_callbacks = state["callbacks"]
        for key, cb in self._callback_keys():
            if key in saved_callbacks and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(saved_callbacks[key])
        return state

    # ------------------------------------------------------------------ epochs
    def _diverged(self, what, epoch, step, steps):
        where = f"epoch {epoch}, step {step}" + (f" of {steps}" if steps else "")
        kept = [cb for cb in self.callbacks if isinstance(cb, ModelCheckpoint) and cb.save_last]
        if kept and self.epoch > 0:
            note = f"the last good checkpoint {kept[0].last_path} (epoch {self.epoch}) is kept"
        elif kept:
            note = "no epoch finished, so no checkpoint was written"
        else:
            note = f"the history holds the {self.epoch} finished epoch(s)"
        self.stop_reason = f"training stopped: {what} at {where}; {note}"
        return TrainingDiverged(self.stop_reason, epoch, step, self.history)

    def train_epoch(self, epoch):
        """One pass over the training loader; returns (mean loss, accuracy) over its samples."""
        self.model.train()
        steps = _loader_length(self.train_loader)
        batches = iter(self.train_loader)
        bar = tqdm(batches, total=steps, desc=f"Epoch {epoch}/{self.epochs}", unit="batch", leave=False,
                   dynamic_ncols=True, disable=None if self.verbose else True)
        meter = _Meter(self.world)
        step = 0
        try:
            for step, (x, y) in enumerate(bar, 1):
                x, y = _on_device(x, self.device), _on_device(y, self.device)
                logits = self.model(x)
                loss = self.loss_fn(logits, y)
                meter.add(loss, logits, y)
                if meter.pending >= self.log_every:  # read before this step's update is applied
                    self._read(meter, bar, epoch, step, steps)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
            self._read(meter, bar, epoch, step, steps)
        finally:
            bar.close()
            if hasattr(batches, "close"):
                batches.close()  # stops the loader's prefetch thread when an error ends the epoch early
        if meter.seen == 0:
            raise ValueError("fit: the training loader yielded no batches")
        self._check_parameters(epoch, step, steps)
        return meter.total_loss / meter.seen, meter.correct / meter.seen

    def _read(self, meter, bar, epoch, step, steps):
        """Read the meter's pending batches (which end at `step`); stop on a non-finite loss."""
        pending = meter.pending
        bad = meter.read()
        if bad is not None:
            position, value = bad
            what = f"the loss is {value}" if value is not None else "the loss is not finite on another rank"
            raise self._diverged(what, epoch, step - pending + 1 + position, steps)
        if meter.seen:
            bar.set_postfix(loss=f"{meter.total_loss / meter.seen:.4f}", acc=f"{meter.correct / meter.seen:.4f}",
                            refresh=False)

    def _check_parameters(self, epoch, step, steps):
        """Stop when a parameter became NaN or infinite (one read for all of them)."""
        named = list(self.model.named_parameters())
        if not named:
            return
        xp = backend.array_module(named[0][1].array)
        finite = backend.to_host(xp.stack([xp.isfinite(p.array).all() for _, p in named]))[0]
        for (name, _), ok in zip(named, finite):
            if not ok:
                raise self._diverged(f"parameter {name!r} became NaN or infinite", epoch, step, steps)

    def run(self):
        """Train epochs self.epoch + 1 .. self.epochs; returns the history."""
        self._run_hook("on_train_begin")
        if self.stop_reason is not None and self.verbose:
            print(f"Not training: {self.stop_reason}")
        if self.epoch >= self.epochs and self.verbose and self.stop_reason is None:
            print(f"Nothing to train: {self.epoch} of {self.epochs} epochs are done")
        try:
            while self.epoch < self.epochs and self.stop_reason is None:
                epoch = self.epoch + 1
                lr = _first_lr(self.optimizer)
                start = time.perf_counter()
                for loader in (self.train_loader, self.val_loader):
                    _set_epoch(loader, epoch)
                train_loss, train_acc = self.train_epoch(epoch)
                val_loss = val_acc = None
                if self.val_loader is not None:
                    result = evaluate(self.model, self.val_loader, self.loss_fn, self.device)
                    val_loss, val_acc = result["loss"], result["accuracy"]
                if isinstance(self.scheduler, ReduceLROnPlateau):
                    self.scheduler.step(val_loss if val_loss is not None else train_loss)
                elif self.scheduler is not None:
                    self.scheduler.step()
                record = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                          "val_loss": val_loss, "val_acc": val_acc, "lr": lr,
                          "seconds": time.perf_counter() - start}
                self.history.append(record)
                self.epoch = epoch
                if self.verbose:
                    print(_format_line(record, self.epochs), flush=True)
                self._run_hook("on_epoch_end", record)
                self.world.barrier()  # rank 0's files of this epoch are written before any rank goes on
                if self.stop_reason is not None and self.verbose:
                    print(self.stop_reason)
        except TrainingDiverged as exc:
            if self.verbose:
                print(str(exc), flush=True)
            self._run_hook("on_train_end")
            raise
        self._run_hook("on_train_end")
        return self.history


def _loader_state(loader):
    return loader.state_dict() if loader is not None and hasattr(loader, "state_dict") else None


def fit(model, train_loader, optimizer, epochs, val_loader=None, scheduler=None, loss_fn=cross_entropy,
        callbacks=(), device=None, resume=None, verbose=True, log_every=None):
    """Train `model` for `epochs` epochs (in total, counting those of a resumed run); return the History.

    train_loader / val_loader: DataLoaders (or any iterables of (x, y) Tensor batches).
    scheduler: stepped once per epoch, after validation (ReduceLROnPlateau gets the validation
        loss, or the training loss without a validation loader).
    loss_fn(logits, targets) -> scalar Tensor; also used for the validation loss.
    callbacks: EarlyStopping, ModelCheckpoint, HistoryLogger or any Callback.
    device: move the model there (and batches not already there); default: the model's device.
    resume: a checkpoint path (or loaded dict) from ModelCheckpoint: restores model, optimizer,
        scheduler, history, callback states and random generators, then continues with the
        next epoch. Build the objects exactly as in the interrupted run.
    verbose: show a tqdm bar per epoch and print one summary line per epoch.
    log_every: read the running loss and accuracy from the device (and check the loss) every
        this many steps; default 1 on the CPU, 20 on a GPU (see the module docstring).

    Raises TrainingDiverged (a RuntimeError) when the loss becomes NaN or infinite.
    """
    trainer = Trainer(model, train_loader, optimizer, epochs, val_loader, scheduler, loss_fn, callbacks,
                      device, verbose, log_every)
    if resume is not None:
        trainer.load_checkpoint_state(resume)
        if trainer.verbose:  # verbose and the main rank
            print(f"Resumed after epoch {trainer.epoch}")
    return trainer.run()


# ----------------------------------------------------------------------------------- evaluation
def evaluate(model, loader, loss_fn=cross_entropy, device=None):
    """Loss and accuracy of `model` on `loader`, in eval mode under no_grad (the model's mode is
    restored afterwards). Returns {"loss": mean loss per sample, "accuracy": float, "n": samples}.
    For a DistributedDataParallel model each rank evaluates its share (a DistributedSampler
    with pad=False: every sample once) and the sums are exact over all of them.
    """
    device = backend.parse_device(device) if device is not None else _model_device(model)
    was_training = getattr(model, "training", False)
    model.eval()
    meter = _Meter(_world_of(model))  # a DistributedDataParallel model: sums over every rank's share
    try:
        with no_grad():
            for x, y in loader:
                x, y = _on_device(x, device), _on_device(y, device)
                logits = model(x)
                meter.add(loss_fn(logits, y), logits, y)
        meter.read()  # one read from the device for the whole loader
    finally:
        model.train(was_training)
    if meter.seen == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return {"loss": meter.total_loss / meter.seen, "accuracy": meter.correct / meter.seen, "n": meter.seen}


def predict(model, loader, device=None):
    """(predicted labels, true labels) of every sample of `loader`, as int64 NumPy arrays."""
    device = backend.parse_device(device) if device is not None else _model_device(model)
    was_training = getattr(model, "training", False)
    model.eval()
    preds, targets = [], []
    try:
        with no_grad():
            for x, y in loader:
                logits = model(_on_device(x, device))
                preds.append(backend.to_device(logits.array.argmax(axis=1), "cpu"))
                targets.append(backend.to_device(y.array if isinstance(y, Tensor) else y, "cpu"))
    finally:
        model.train(was_training)
    if not preds:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(preds).astype(np.int64), np.concatenate(targets).astype(np.int64)
