"""The training loop: convergence on Shapes, exact resume from a checkpoint, NaN stop, early
stopping, atomic checkpoints (a save killed mid-way), history logs, evaluate and predict."""
import csv
import errno
import glob
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn, optim, serialization
from tinygrad_cnn.data import DataLoader, Shapes
from tinygrad_cnn.data import transforms as T
from tinygrad_cnn.serialization import CheckpointError
from tinygrad_cnn.train import (EarlyStopping, History, HistoryLogger, ModelCheckpoint, TrainingDiverged, evaluate,
                                fit, load_checkpoint, predict)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_cnn(dropout=0.2):
    """A small CNN for 16×16 Shapes: trains a few hundred steps in a couple of seconds."""
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(dropout), nn.Linear(32 * 4 * 4, 10))


def make_run(seed=0, n_train=320, loader_seed=None, lr=0.03, model_fn=tiny_cnn):
    """Model, optimizer, scheduler and loaders, built the same way for every run of a test."""
    tc.manual_seed(seed)
    augment = T.Compose([T.RandomCrop(16, padding=2), T.RandomHorizontalFlip()])
    train = DataLoader(Shapes(n_train, size=16), batch_size=32, shuffle=True, seed=loader_seed, transform=augment)
    val = DataLoader(Shapes(200, train=False, size=16), batch_size=100)
    model = model_fn()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return model, opt, sched, train, val


def test_converges_on_shapes_in_a_few_hundred_steps(capsys):
    tc.manual_seed(0)
    train = DataLoader(Shapes(3000, size=16), batch_size=32, shuffle=True)           # 94 steps per epoch
    val = DataLoader(Shapes(500, train=False, size=16), batch_size=250)
    model = tiny_cnn()
    opt = optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    history = fit(model, train, opt, epochs=6, val_loader=val, scheduler=sched)       # 564 steps
    assert history["epoch"] == [1, 2, 3, 4, 5, 6]
    assert history["train_loss"][-1] < 0.3 * history["train_loss"][0]
    assert history["val_acc"][-1] >= 0.85, history["val_acc"]
    assert history["lr"][0] == 0.03 and history["lr"][-1] < history["lr"][0]       # the lr used in each epoch
    assert all(s > 0 for s in history["seconds"])
    result = evaluate(model, val)
    assert result["n"] == 500
    assert result["accuracy"] == pytest.approx(history["val_acc"][-1])
    assert result["loss"] == pytest.approx(history["val_loss"][-1])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert len(lines) == 6
    fields = lines[2].split(" | ")
    assert fields[0] == "Epoch 3/6" and fields[1].startswith("loss ") and fields[2].startswith("train ")
    assert fields[3] == f"val {history['val_acc'][2]:.4f}" and fields[4] == f"lr {history['lr'][2]:.6f}"
    assert fields[5].endswith("s")


def test_summary_line_pads_the_epoch_number(capsys):
    model, opt, _, train, _ = make_run(n_train=64)
    fit(model, train, opt, epochs=10, callbacks=[_StopAfter(1)])
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("Epoch  1/10 | loss ") and " | val " not in line  # no validation loader: no val column


class _StopAfter:
    """A duck-typed callback (no Callback base class) that stops after `n` epochs."""

    def __init__(self, n):
        self.n = n

    def on_epoch_end(self, trainer, record):
        if record["epoch"] >= self.n:
            trainer.stop("enough")


@pytest.mark.parametrize("loader_seed", [None, 7], ids=["library-generator", "private-generator"])
def test_resume_continues_exactly_as_if_never_stopped(tmp_path, loader_seed):
    model, opt, sched, train, val = make_run(loader_seed=loader_seed)
    straight = fit(model, train, opt, 4, val_loader=val, scheduler=sched, verbose=False,
                   callbacks=[EarlyStopping(patience=10), ModelCheckpoint(tmp_path / "straight")])
    straight_weights = {k: v.copy() for k, v in model.state_dict().items()}

    model, opt, sched, train, val = make_run(loader_seed=loader_seed)
    log = tmp_path / "resumed" / "history.csv"
    fit(model, train, opt, 2, val_loader=val, scheduler=sched, verbose=False,
        callbacks=[EarlyStopping(patience=10), ModelCheckpoint(tmp_path / "resumed"), HistoryLogger(log)])

    # A fresh process would rebuild everything; a different seed shows the checkpoint restores all.
    model, opt, sched, train, val = make_run(seed=123, loader_seed=loader_seed)
    resumed = fit(model, train, opt, 4, val_loader=val, scheduler=sched, verbose=False,
                  callbacks=[EarlyStopping(patience=10), ModelCheckpoint(tmp_path / "resumed"), HistoryLogger(log)],
                  resume=tmp_path / "resumed" / "last.npz")

    assert resumed["epoch"] == [1, 2, 3, 4]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        assert resumed[key] == straight[key], key
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, straight_weights[key], err_msg=key)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.03 * 0.7 ** 4)
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert float(rows[3]["train_loss"]) == straight["train_loss"][3]
    a = tc.load(tmp_path / "straight" / "last.npz")
    b = tc.load(tmp_path / "resumed" / "last.npz")
    assert a["epoch"] == b["epoch"] == 4 and a["history"]["val_acc"] == b["history"]["val_acc"]


def test_checkpoint_holds_model_optimizer_scheduler_history_and_rng(tmp_path):
    model, opt, sched, train, val = make_run(n_train=64)
    fit(model, train, opt, 2, val_loader=val, scheduler=sched, verbose=False,
        callbacks=[ModelCheckpoint(tmp_path, extra={"model": "tiny"})])
    state = tc.load(tmp_path / "last.npz")
    assert state["epoch"] == 2 and state["extra"] == {"model": "tiny"}
    assert set(state["model"]) == set(model.state_dict())
    assert state["optimizer_class"] == "SGD" and state["scheduler_class"] == "StepLR"
    assert state["scheduler"]["last_epoch"] == 2
    assert state["rng"] == tc.backend.get_rng_state()
    assert len(state["history"]["train_loss"]) == 2
    best = tc.load(tmp_path / "best.npz")
    assert best["epoch"] == 1 + int(np.argmax(state["history"]["val_acc"]))  # the first epoch of the best accuracy


def test_best_checkpoint_follows_the_monitored_metric(tmp_path):
    model, opt, sched, train, val = make_run(n_train=64)
    saved = []

    class Record:
        order = 200  # after ModelCheckpoint

        def on_epoch_end(self, trainer, record):
            saved.append(tc.load(tmp_path / "best.npz")["epoch"])

    history = fit(model, train, opt, 3, val_loader=val, scheduler=sched, verbose=False,
                  callbacks=[Record(), ModelCheckpoint(tmp_path, monitor="val_loss", mode="min")])
    losses = history["val_loss"]
    expected = [1 + int(np.argmin(losses[:i + 1])) for i in range(3)]  # first epoch of the lowest loss so far
    assert saved == expected


def test_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    model, opt, sched, train, val = make_run(n_train=96)   # 3 steps per epoch
    calls = []

    def poisoned(logits, target):
        calls.append(1)
        loss = F.cross_entropy(logits, target)
        return loss * float("nan") if len(calls) == 5 else loss   # epoch 2, step 2

    snapshots = {}

    class Snapshot:
        def on_epoch_end(self, trainer, record):
            snapshots[record["epoch"]] = {k: v.copy() for k, v in trainer.model.state_dict().items()}

    with pytest.raises(TrainingDiverged, match=r"the loss is nan at epoch 2, step 2 of 3") as info:
        fit(model, train, opt, 4, scheduler=sched, loss_fn=poisoned,
            callbacks=[Snapshot(), ModelCheckpoint(tmp_path), HistoryLogger(tmp_path / "h.json")])
    assert info.value.epoch == 2 and info.value.step == 2
    assert info.value.history["epoch"] == [1]
    assert "last good checkpoint" in str(info.value) and "epoch 1" in str(info.value)
    assert "the loss is nan at epoch 2, step 2" in capsys.readouterr().out
    state = tc.load(tmp_path / "last.npz")
    assert state["epoch"] == 1
    for key, value in state["model"].items():
        np.testing.assert_array_equal(value, snapshots[1][key], err_msg=key)
    assert all(np.isfinite(p.numpy()).all() for p in model.parameters())  # the NaN loss was never applied
    assert json.loads((tmp_path / "h.json").read_text())["epoch"] == [1]


@pytest.mark.parametrize("log_every", [2, 3, 10])
def test_a_longer_read_interval_still_names_the_first_bad_step(tmp_path, log_every):
    """Read every log_every steps (as on a GPU), the loss check still names the step whose loss
    was NaN (epoch 2, step 2 of 3), and the summary numbers equal those of reading every step."""
    def poisoned_after(n):
        calls = []

        def loss_fn(logits, target):
            calls.append(1)
            loss = F.cross_entropy(logits, target)
            return loss * float("nan") if len(calls) == n else loss
        return loss_fn

    model, opt, sched, train, _ = make_run(n_train=96)
    with pytest.raises(TrainingDiverged, match=r"the loss is nan at epoch 2, step 2 of 3") as info:
        fit(model, train, opt, 4, scheduler=sched, loss_fn=poisoned_after(5), log_every=log_every, verbose=False,
            callbacks=[ModelCheckpoint(tmp_path)])
    assert (info.value.epoch, info.value.step) == (2, 2)
    assert tc.load(tmp_path / "last.npz")["epoch"] == 1
    model, opt, _, train, _ = make_run(n_train=96)
    every_step = fit(model, train, opt, 2, verbose=False)
    model, opt, _, train, _ = make_run(n_train=96)
    interval = fit(model, train, opt, 2, verbose=False, log_every=log_every)
    for key in ("train_loss", "train_acc"):
        assert interval[key] == pytest.approx(every_step[key], rel=1e-12), key


def test_log_every_must_be_a_positive_int():
    model, opt, _, train, _ = make_run(n_train=32)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="log_every"):
            fit(model, train, opt, 1, log_every=bad, verbose=False)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's overflow warnings on the way to inf
def test_a_real_divergence_stops_training():
    model, opt, _, train, _ = make_run(n_train=96, lr=1e12)
    with pytest.raises(TrainingDiverged, match=r"at epoch \d+, step \d+"):
        fit(model, train, opt, 5, verbose=False)


def linear_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 10))   # no batch-norm statistics to move


def test_early_stopping_on_validation_accuracy(tmp_path, capsys):
    # lr 0 and no running statistics: the validation accuracy never improves
    model, opt, sched, train, val = make_run(n_train=64, lr=0.0, model_fn=linear_model)
    history = fit(model, train, opt, 10, val_loader=val, callbacks=[EarlyStopping(patience=2),
                                                                     ModelCheckpoint(tmp_path)])
    assert history["epoch"] == [1, 2, 3]                             # best at 1, then 2 epochs without gain
    assert len(set(history["val_acc"])) == 1
    out = capsys.readouterr().out
    assert "early stopping: val_acc has not improved for 2 epoch(s)" in out and "at epoch 1" in out

    # Resuming that run continues exactly as if never stopped: it had stopped, so nothing trains.
    model, opt, sched, train, val = make_run(n_train=64, lr=0.0, model_fn=linear_model)
    again = fit(model, train, opt, 10, val_loader=val, callbacks=[EarlyStopping(patience=2)],
                resume=tmp_path / "last.npz")
    assert again["epoch"] == [1, 2, 3]
    assert "Not training: early stopping" in capsys.readouterr().out


def test_early_stopping_improvement_resets_patience():
    stopper = EarlyStopping(patience=2, monitor="val_loss", mode="min")

    class FakeTrainer:
        val_loader = object()
        stop_reason = None

        def stop(self, reason):
            self.stop_reason = reason

    trainer = FakeTrainer()
    stopper.on_train_begin(trainer)
    for epoch, loss in enumerate([1.0, 1.1, 0.9, 0.95, 0.97], 1):
        assert trainer.stop_reason is None
        stopper.on_epoch_end(trainer, {"epoch": epoch, "val_loss": loss})
    assert stopper.best == 0.9 and stopper.best_epoch == 3 and trainer.stop_reason is not None


def test_callback_argument_errors():
    model, opt, _, train, _ = make_run(n_train=32)
    with pytest.raises(ValueError, match="needs fit\\(..., val_loader=...\\)"):
        fit(model, train, opt, 1, callbacks=[EarlyStopping(patience=3)], verbose=False)
    with pytest.raises(ValueError, match="unknown monitor 'val_accuracy'"):
        fit(model, train, opt, 1, callbacks=[ModelCheckpoint("unused", monitor="val_accuracy")], verbose=False)
    with pytest.raises(ValueError, match="patience must be an int >= 1"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="must end in .csv or .json"):
        HistoryLogger("history.txt")
    with pytest.raises(ValueError, match="epochs must be an int >= 0"):
        fit(model, train, opt, -1)


def test_checkpoint_save_killed_midway_leaves_the_previous_checkpoint_loadable(tmp_path):
    """A process killed (SIGKILL) while writing a checkpoint: the previous one still loads and resumes."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {REPO!r}); sys.path.insert(0, {os.path.join(REPO, "tests")!r})
        import numpy as np
        from test_train import make_run
        from tinygrad_cnn.train import fit, ModelCheckpoint
        out = sys.argv[1]
        model, opt, sched, train, val = make_run(n_train=64)
        fit(model, train, opt, 1, val_loader=val, scheduler=sched, callbacks=[ModelCheckpoint(out)], verbose=False)
        real_write, written = np.lib.format.write_array, []
        def dying_write(member, array, *args, **kwargs):
            written.append(1)
            if len(written) == 3:                 # the third array of the next checkpoint
                member.write(b"partial")
                os.kill(os.getpid(), signal.SIGKILL)
            return real_write(member, array, *args, **kwargs)
        np.lib.format.write_array = dying_write
        fit(model, train, opt, 2, val_loader=val, scheduler=sched, callbacks=[ModelCheckpoint(out)],
            resume=os.path.join(out, "last.npz"), verbose=False)
        print("the save was not killed")
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    assert glob.glob(str(tmp_path / ".*.npz.*.tmp")), "the kill should have hit a save in progress"
    state = load_checkpoint(tmp_path / "last.npz")
    assert state["epoch"] == 1
    model, opt, sched, train, val = make_run(n_train=64)
    history = fit(model, train, opt, 2, val_loader=val, scheduler=sched, resume=tmp_path / "last.npz", verbose=False)
    assert history["epoch"] == [1, 2] and all(math.isfinite(v) for v in history["train_loss"])


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.npz")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable tinygrad_cnn checkpoint"):
        load_checkpoint(tmp_path / "junk.npz")
    tc.save({"weights": np.zeros(3)}, tmp_path / "plain.npz")
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "plain.npz")

    model, opt, sched, train, _ = make_run(n_train=32)
    fit(model, train, opt, 1, callbacks=[ModelCheckpoint(tmp_path / "run")], verbose=False)
    adam = optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="SGD optimizer, but the optimizer is a Adam"):
        load_checkpoint(tmp_path / "run" / "last.npz", model, adam)
    with pytest.raises(ValueError, match="no scheduler state"):
        load_checkpoint(tmp_path / "run" / "last.npz", model, opt, sched)


def test_history_logger_writes_csv_and_json(tmp_path):
    model, opt, sched, train, val = make_run(n_train=64)
    history = fit(model, train, opt, 2, val_loader=val, verbose=False,
                  callbacks=[HistoryLogger(tmp_path / "h.csv"), HistoryLogger(tmp_path / "logs" / "h.json")])
    data = json.loads((tmp_path / "logs" / "h.json").read_text())
    assert data == dict(history)
    with open(tmp_path / "h.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(History.KEYS)
    assert [float(v) for v in rows[2][1:]] == [history[k][1] for k in History.KEYS[1:]]


def test_history_without_validation_has_empty_val_columns():
    history = History()
    history.append({"epoch": 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": None, "val_acc": None,
                    "lr": 0.1, "seconds": 1.0})
    assert history.to_csv().splitlines()[1] == "1,0.5,0.8,,,0.1,1.0"
    assert json.loads(history.to_json())["val_acc"] == [None]
    assert History(dict(history)).records() == history.records()
    with pytest.raises(ValueError, match="lacks"):
        History({"epoch": [1]})


def test_evaluate_and_predict_use_eval_mode_and_restore_it():
    model, _, _, _, val = make_run()
    model.train()
    result = evaluate(model, val)
    assert model.training                                        # mode restored
    preds, targets = predict(model, val)
    assert preds.shape == targets.shape == (200,) and preds.dtype == np.int64
    assert result["accuracy"] == pytest.approx(float((preds == targets).mean()))
    model.eval()
    with tc.no_grad():
        logits = model(tc.tensor(Shapes(200, train=False, size=16).data.astype(np.float32) / 255))
    np.testing.assert_array_equal(preds, logits.numpy().argmax(axis=1))   # eval mode: no dropout, running stats
    assert not model.training


# ----------------------------------------------------------------------------------- kills, full disks
_KILLED_BETWEEN_SAVES = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r}); sys.path.insert(0, {tests!r})
    from test_train import make_run
    from tinygrad_cnn import train
    from tinygrad_cnn.train import fit, ModelCheckpoint
    real_save, saves = train.save, []
    def save_then_die(obj, path):
        real_save(obj, path)
        saves.append(os.path.basename(path))
        if len(saves) == int(sys.argv[2]):       # SIGKILL right after this file is in place
            print(saves, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    train.save = save_then_die
    model, opt, sched, train_loader, val = make_run(n_train=64)
    fit(model, train_loader, opt, 3, val_loader=val, scheduler=sched, callbacks=[ModelCheckpoint(sys.argv[1])],
        verbose=False)
""")


@pytest.mark.parametrize("kill_after", [1, 2])
def test_a_kill_between_the_two_saves_never_leaves_last_naming_a_missing_best(tmp_path, kill_after):
    """SIGKILL after the first or second checkpoint file of epoch 1: whatever is on disk, a
    last.npz that names a best epoch comes with its best.npz."""
    script = _KILLED_BETWEEN_SAVES.format(repo=REPO, tests=os.path.join(REPO, "tests"))
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(kill_after)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    assert "best.npz" in proc.stdout                     # epoch 1 always improves: best.npz is one of the saves
    if (tmp_path / "last.npz").exists():
        state = load_checkpoint(tmp_path / "last.npz")
        assert state["callbacks"]["ModelCheckpoint"]["best_epoch"] == 1
        assert load_checkpoint(tmp_path / "best.npz")["epoch"] == 1
    assert (tmp_path / "best.npz").exists()


def test_resume_writes_a_missing_best_checkpoint_again(tmp_path, capsys):
    """A run killed between the saves by an older version (last.npz written, best.npz not):
    the resume writes best.npz from the resumed state when that state is the best epoch."""
    model, opt, sched, train, val = make_run(n_train=64)
    fit(model, train, opt, 1, val_loader=val, scheduler=sched, callbacks=[ModelCheckpoint(tmp_path)], verbose=False)
    expected = tc.load(tmp_path / "best.npz")["model"]
    os.remove(tmp_path / "best.npz")
    model, opt, sched, train, val = make_run(n_train=64)
    fit(model, train, opt, 1, val_loader=val, scheduler=sched, callbacks=[ModelCheckpoint(tmp_path)],
        resume=tmp_path / "last.npz", verbose=False)                   # nothing left to train
    restored = load_checkpoint(tmp_path / "best.npz")
    assert restored["epoch"] == 1
    for key, value in expected.items():
        np.testing.assert_array_equal(restored["model"][key], value, err_msg=key)

    # a best epoch further back cannot be rebuilt: said so, and the next epoch writes a new best.npz
    model, opt, sched, train, val = make_run(n_train=64)
    fit(model, train, opt, 2, val_loader=val, scheduler=sched, callbacks=[ModelCheckpoint(tmp_path)],
        resume=tmp_path / "last.npz", verbose=False)
    os.remove(tmp_path / "best.npz")
    state = tc.load(tmp_path / "last.npz")
    state["callbacks"]["ModelCheckpoint"]["best_epoch"] = 1                # best at epoch 1, last at epoch 2
    tc.save(state, tmp_path / "last.npz")
    capsys.readouterr()
    model, opt, sched, train, val = make_run(n_train=64)
    fit(model, train, opt, 3, val_loader=val, scheduler=sched, callbacks=[ModelCheckpoint(tmp_path)],
        resume=tmp_path / "last.npz", verbose=False)
    assert "best.npz (epoch 1) is missing and cannot be rebuilt; the next epoch writes a new one" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "best.npz")["epoch"] == 3


@pytest.mark.skipif(importlib.util.find_spec("fcntl") is None, reason="no flock here: stale temporaries are kept")
def test_resume_removes_the_temporaries_of_killed_checkpoint_saves(tmp_path):
    model, opt, sched, train, val = make_run(n_train=32)
    fit(model, train, opt, 1, callbacks=[ModelCheckpoint(tmp_path)], verbose=False)
    orphans = [tmp_path / ".last.npz.k1ll3d00.tmp", tmp_path / ".best.npz.k1ll3d01.tmp"]
    then = time.time() - 60
    for orphan in orphans:
        orphan.write_bytes(b"PK\x03\x04 partial checkpoint")
        os.utime(orphan, (then, then))
    model, opt, sched, train, val = make_run(n_train=32)
    fit(model, train, opt, 1, callbacks=[ModelCheckpoint(tmp_path)], resume=tmp_path / "last.npz", verbose=False)
    assert not any(orphan.exists() for orphan in orphans)


def test_history_never_lists_an_epoch_whose_checkpoint_failed(tmp_path, monkeypatch):
    """A full disk in epoch 2: the error names the file, history.csv and last.npz both end at epoch 1."""
    real_write, calls = serialization._write_npz, []

    def disk_full_from_epoch_2(file, entries):
        calls.append(1)
        if len(calls) > 2:                                 # epoch 1 wrote best.npz and last.npz
            file.write(b"PK\x03\x04 partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(file, entries)

    monkeypatch.setattr(serialization, "_write_npz", disk_full_from_epoch_2)
    model, opt, sched, train, val = make_run(n_train=64)
    log = tmp_path / "history.csv"
    with pytest.raises(OSError, match=r"save: cannot write '.*(best|last)\.npz': No space left on device") as info:
        fit(model, train, opt, 3, val_loader=val, scheduler=sched, verbose=False,
            callbacks=[HistoryLogger(log), ModelCheckpoint(tmp_path)])
    assert info.value.errno == errno.ENOSPC
    with open(log, newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1]
    assert load_checkpoint(tmp_path / "last.npz")["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "history.csv", "last.npz"]   # no temporary file left
