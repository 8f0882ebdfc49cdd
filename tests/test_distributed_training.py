"""`fit` and `tinygrad-cnn train --distributed` on 2 MPI ranks (loopback, with timeouts):
exact evaluation over uneven shards, rank 0 alone writes files, and a 2-rank run resumed from
its checkpoint repeats the uninterrupted 2-rank run, and an error on one rank ends them all."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.data import DataLoader
from tinygrad_cnn.train import evaluate
from mpi_run import MPIEXEC, mpi_env, needs_mpi, run_script

SHAPES_RUN = ["-m", "tinygrad_cnn.cli", "train", "--dataset", "shapes", "--image-size", "16", "--subset", "96",
              "--test-subset", "40", "--batch-size", "16", "--no-plots", "--quiet", "--distributed"]


def run_cli(tmp_path, *args, ranks=2, per_rank_args=None, timeout=240):
    """`tinygrad-cnn train` on `ranks` ranks; per_rank_args: extra arguments for each rank (MPMD)."""
    if per_rank_args is None:
        command = [MPIEXEC, "-n", str(ranks), "--oversubscribe", sys.executable, *SHAPES_RUN, *args]
    else:
        command = [MPIEXEC, "--oversubscribe"]
        for r, extra in enumerate(per_rank_args):
            command += ([":"] if r else []) + ["-n", "1", sys.executable, *SHAPES_RUN, *args, *extra]
    proc = subprocess.run(command, cwd=tmp_path, env=mpi_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@needs_mpi
def test_evaluation_over_uneven_shards_is_exact(tmp_path):
    """7 images on 2 ranks (4 and 3, each seen once): the summed loss and accuracy equal one
    process on all 7."""
    ranks = run_script(2, '''
from tinygrad_cnn.data import DataLoader
from tinygrad_cnn.train import evaluate
tc.manual_seed(0)
model = dist.DistributedDataParallel(tc.nn.Sequential(tc.nn.Flatten(), tc.nn.Linear(12, 3)))
rng = np.random.default_rng(3)
x, y = rng.standard_normal((7, 3, 2, 2)), rng.integers(0, 3, 7)
sampler = dist.DistributedSampler(7, shuffle=False, pad=False)
result = evaluate(model, DataLoader((x, y), batch_size=2, sampler=sampler))
report(shard=list(sampler), **result)
''', tmp_path)
    assert sorted(ranks[0]["shard"] + ranks[1]["shard"]) == list(range(7))
    tc.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((7, 3, 2, 2)), rng.integers(0, 3, 7)
    expected = evaluate(model, DataLoader((x.astype(np.float32), y), batch_size=7))
    for r in ranks:
        assert r["n"] == 7
        assert r["accuracy"] == pytest.approx(expected["accuracy"])
        assert r["loss"] == pytest.approx(expected["loss"], rel=1e-6)


@needs_mpi
def test_only_rank_0_writes_files(tmp_path):
    """Rank 1 is given another --out: it must not even create it."""
    run_cli(tmp_path, "--epochs", "1", per_rank_args=[["--out", "rank0"], ["--out", "rank1"]])
    written = sorted(p.name for p in (tmp_path / "rank0").iterdir())
    assert written == ["best.npz", "history.csv", "history.json", "last.npz", "metrics.json"]
    assert not (tmp_path / "rank1").exists()
    state = tc.load(tmp_path / "rank0" / "last.npz")
    assert not any(key.startswith("module.") for key in state["model"])  # loadable without the wrapper


@needs_mpi
def test_a_resumed_two_rank_run_repeats_the_uninterrupted_one(tmp_path):
    run_cli(tmp_path, "--epochs", "3", "--out", "straight", "--augment")
    run_cli(tmp_path, "--epochs", "1", "--out", "resumed", "--augment")
    run_cli(tmp_path, "--resume", "resumed/last.npz", "--epochs", "3")
    straight = json.loads((tmp_path / "straight" / "history.json").read_text())
    resumed = json.loads((tmp_path / "resumed" / "history.json").read_text())
    for key in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        assert resumed[key] == straight[key], key
    a, b = tc.load(tmp_path / "straight" / "last.npz")["model"], tc.load(tmp_path / "resumed" / "last.npz")["model"]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@needs_mpi
def test_linear_lr_scaling_and_warmup_reach_the_run(tmp_path):
    proc = run_cli(tmp_path, "--epochs", "3", "--out", "run", "--lr", "0.02", "--lr-scaling", "linear",
                   "--warmup-epochs", "2", "--schedule", "none")
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    # Goyal et al.: from the one-rank lr (0.02) up to 2 ranks x 0.02 = 0.04 over 2 epochs
    assert history["lr"] == pytest.approx([0.02, 0.03, 0.04])
    assert "2 ranks x 16 images per step" in proc.stdout and proc.stdout.count("Test accuracy") == 1


@needs_mpi
def test_an_error_on_rank_0_alone_ends_every_rank(tmp_path):
    """--out names an existing file: only rank 0 creates the output folder, so only rank 0 meets
    the error while rank 1 goes on to its next collective. The CLI must end the whole job
    (before, rank 1 waited forever), with the one clear line and a non-zero status."""
    (tmp_path / "taken").write_text("not a folder")
    command = [MPIEXEC, "-n", "2", "--oversubscribe", sys.executable, *SHAPES_RUN, "--epochs", "1", "--out", "taken"]
    start = time.monotonic()
    proc = subprocess.run(command, cwd=tmp_path, env=mpi_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "taken" in proc.stderr and "error" in proc.stderr, proc.stderr[-2000:]
    assert time.monotonic() - start < 30
