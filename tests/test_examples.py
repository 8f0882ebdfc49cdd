"""The examples and the `tinygrad-cnn` command in smoke mode (a small --subset, one epoch):
they run, print a test accuracy, write checkpoints, history and plots; a CLI run resumed after
an interruption repeats the uninterrupted one; bad input gives one clear line and status 2.

CIFAR-10 and MNIST runs use ../shared/data beside the checkout and Fashion-MNIST the Debian
package's folder; each is skipped when its data is absent.
"""
import ast
import errno
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import tinygrad_cnn as tc
from tinygrad_cnn import cli
from tinygrad_cnn import train as train_module
from helpers import DEVICES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")
CIFAR_DIR = os.path.join(SHARED_DATA, "cifar10-subset")
MNIST_DIR = os.path.join(SHARED_DATA, "mnist-subset")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
SMOKE = ["--subset", "128", "--test-subset", "128", "--epochs", "1", "--batch-size", "32"]

needs_cifar = pytest.mark.skipif(not os.path.isdir(os.path.join(CIFAR_DIR, "cifar-10-batches-py")),
                                 reason="../shared/data/cifar10-subset is absent")
needs_mnist = pytest.mark.skipif(not os.path.isdir(MNIST_DIR), reason="../shared/data/mnist-subset is absent")
needs_fashion = pytest.mark.skipif(not os.path.isdir(FASHION_DIR), reason=f"{FASHION_DIR} is absent")


def run_script(name, *args, cwd=None):
    """Run examples/<name> in a fresh interpreter with the checkout on the path; returns the result."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def check_run(proc, out):
    """A finished training run: status 0, a test accuracy printed, checkpoints/history/metrics written."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Epoch 1/1 | loss " in proc.stdout and "Test accuracy: " in proc.stdout
    for name in ("last.npz", "best.npz", "history.csv", "history.json", "metrics.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    result = json.loads(open(os.path.join(out, "metrics.json")).read())
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["test_images"] == 128
    assert f"Test accuracy: {result['test_accuracy']:.4f}" in proc.stdout
    return result


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    """examples/quickstart.py in smoke mode (its plots included); (process result, out folder)."""
    out = str(tmp_path_factory.mktemp("quickstart"))
    proc = run_script("quickstart.py", *SMOKE, "--out", out)
    return proc, out


def test_quickstart_smoke_writes_checkpoints_history_and_plots(quickstart_run):
    proc, out = quickstart_run
    check_run(proc, out)
    assert "SimpleCNN" in proc.stdout and "on shapes" in proc.stdout
    for name in ("history.png", "confusion_matrix.png", "filters.png", "plots/feature_maps.png",
                 "plots/confusion_matrix.png", "plots/augmentations.png", "plots/filters.png", "plots/graph.dot"):
        path = os.path.join(out, name)
        assert os.path.isfile(path) and os.path.getsize(path) > 0, name
    with open(os.path.join(out, "plots", "history.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_visualize_example_on_a_saved_checkpoint(quickstart_run, tmp_path):
    _, out = quickstart_run
    proc = run_script("visualize.py", os.path.join(out, "best.npz"), "--out", str(tmp_path), "--image-index", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "per-class accuracy" in proc.stdout and "circle" in proc.stdout
    for name in ("filters.png", "feature_maps.png", "confusion_matrix.png", "history.png", "augmentations.png"):
        assert os.path.getsize(tmp_path / name) > 0, name


def test_conv_kernels_example(tmp_path):
    proc = run_script("conv_kernels.py", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1-D convolution" in proc.stdout and "sobel_x" in proc.stdout
    found = int(proc.stdout.split("peaks at sample ")[1].split()[0])
    assert abs(found - 250) <= 3                      # the smoothed derivative finds the step
    assert os.path.getsize(tmp_path / "conv1d.png") > 0 and os.path.getsize(tmp_path / "kernels.png") > 0


@needs_cifar
@pytest.mark.parametrize("script,extra,model", [("cifar_simple.py", [], "SimpleCNN"),
                                                ("cifar_resnet.py", [], "SmallResNet"),
                                                ("cifar_resnet.py", ["--model", "resnet20"], "ResNet20")])
def test_cifar_examples_smoke(tmp_path, script, extra, model):
    proc = run_script(script, "--data-dir", CIFAR_DIR, *SMOKE, *extra, "--out", str(tmp_path), "--no-plots")
    check_run(proc, str(tmp_path))
    assert f"{model} (" in proc.stdout and "on cifar10" in proc.stdout
    config = tc.load(tmp_path / "last.npz")["extra"]["config"]
    assert config["augment"] is True and config["optimizer"] == "sgd" and config["momentum"] == 0.9
    assert config["weight_decay"] == (5e-4 if model == "ResNet20" else 1e-4)
    assert config["schedule"] == ("none" if model == "SimpleCNN" else "step")


@needs_mnist
def test_mnist_lenet_example_smoke(tmp_path):
    proc = run_script("mnist_lenet.py", "--data-dir", MNIST_DIR, *SMOKE, "--out", str(tmp_path), "--no-plots")
    check_run(proc, str(tmp_path))
    assert "LeNet5 (" in proc.stdout and "1x28x28" in proc.stdout


@needs_fashion
def test_fashion_mnist_example_smoke(tmp_path):
    proc = run_script("fashion_mnist.py", *SMOKE, "--out", str(tmp_path))
    check_run(proc, str(tmp_path))
    assert "Ankle boot" in proc.stdout and os.path.getsize(tmp_path / "history.png") > 0


def test_pytorch_style_resnet18_runs_with_shapes_when_cifar_is_absent(tmp_path):
    proc = run_script("pytorch_style_resnet18.py", "--subset", "8", "--batch-size", "8", "--epochs", "1",
                      "--data-dir", str(tmp_path / "no-cifar"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "training on the built-in Shapes images" in proc.stdout
    assert "ResNet-18 (11,173,962 parameters) on cpu, 8 training / 8 test images" in proc.stdout
    accuracy = float(proc.stdout.split("Test accuracy: ")[1].split()[0])
    assert accuracy in [k / 8 for k in range(9)]


def test_pytorch_style_resnet18_model_code_gives_torchs_numbers_under_real_torch():
    """The example's model classes, executed once with tinygrad_cnn and once with real PyTorch
    bound to the names torch/nn/F, compute the same loss, logits, gradients and running stats
    from the same weights: the port really is the import swap."""
    source = open(os.path.join(EXAMPLES, "pytorch_style_resnet18.py")).read()
    model_code = [node for node in ast.parse(source).body
                  if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in ("BasicBlock", "ResNet")]
    module = ast.Module(body=model_code, type_ignores=[])
    ours_ns = {"torch": tc, "nn": tc.nn, "F": tc.nn.functional}
    torch_ns = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    for namespace in (ours_ns, torch_ns):
        exec(compile(module, "pytorch_style_resnet18.py", "exec"), namespace)

    tc.manual_seed(0)
    ours = ours_ns["ResNet"](ours_ns["BasicBlock"], [1, 1, 1, 1], num_classes=10)
    theirs = torch_ns["ResNet"](torch_ns["BasicBlock"], [1, 1, 1, 1], num_classes=10)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})

    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    y = np.array([0, 3, 9, 3])
    ours_out = ours(tc.tensor(x))
    ours_loss = tc.nn.CrossEntropyLoss()(ours_out, tc.tensor(y))
    ours_loss.backward()
    theirs_out = theirs(torch.from_numpy(x))
    theirs_loss = torch.nn.CrossEntropyLoss()(theirs_out, torch.from_numpy(y))
    theirs_loss.backward()

    np.testing.assert_allclose(ours_out.numpy(), theirs_out.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours_loss.item(), theirs_loss.item(), rtol=1e-5)
    ours_params, theirs_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    for name in ("conv1.weight", "layer1.0.conv2.weight", "layer4.0.shortcut.0.weight", "fc.weight", "fc.bias"):
        np.testing.assert_allclose(ours_params[name].grad.numpy(), theirs_params[name].grad.numpy(),
                                   rtol=1e-3, atol=1e-5, err_msg=name)
    theirs_state = theirs.state_dict()
    for name in ("bn1.running_mean", "layer2.0.bn2.running_var", "layer3.0.bn1.num_batches_tracked"):
        np.testing.assert_allclose(np.array(ours.state_dict()[name]), theirs_state[name].numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)


def test_console_module_runs_train_and_evaluate(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    base = [sys.executable, "-m", "tinygrad_cnn.cli"]
    proc = subprocess.run(base + ["train", "--dataset", "shapes", "--image-size", "16", *SMOKE, "--out",
                                  str(tmp_path), "--no-plots"], capture_output=True, text=True, env=env, timeout=300)
    result = check_run(proc, str(tmp_path))
    proc = subprocess.run(base + ["evaluate", str(tmp_path / "last.npz"), "--out", str(tmp_path / "eval")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"Test accuracy: {result['test_accuracy']:.4f} (128 images)" in proc.stdout
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["test_accuracy"] == result["test_accuracy"]
    assert os.path.getsize(tmp_path / "eval" / "confusion_matrix.png") > 0


def shapes_run(out, *extra):
    return ["train", "--dataset", "shapes", "--image-size", "16", "--subset", "96", "--test-subset", "64",
            "--batch-size", "32", "--epochs", "4", "--augment", "--schedule", "step", "--lr", "0.05",
            "--no-plots", "--quiet", "--out", str(out), *extra]


@pytest.mark.parametrize("device", DEVICES)
def test_cli_resume_after_an_interruption_repeats_the_uninterrupted_run(tmp_path, monkeypatch, capsys, device):
    """Also on a GPU, where dropout draws from CuPy's generator: the checkpoint holds its seed."""
    gpu = [] if device == "cpu" else ["--device", "gpu"]
    assert cli.main(shapes_run(tmp_path / "straight", *gpu)) == 0

    real_train_epoch = train_module.Trainer.train_epoch
    trained, interrupt_at = [], [3]

    def interruptible(self, epoch):
        if epoch in interrupt_at:
            raise KeyboardInterrupt  # Ctrl-C during the third epoch
        trained.append(epoch)
        return real_train_epoch(self, epoch)

    monkeypatch.setattr(train_module.Trainer, "train_epoch", interruptible)
    assert cli.main(shapes_run(tmp_path / "resumed", *gpu)) == 130
    err = capsys.readouterr().err
    assert "interrupted; continue with: tinygrad-cnn train --resume " in err
    assert tc.load(tmp_path / "resumed" / "last.npz")["epoch"] == 2

    trained.clear()
    interrupt_at.clear()
    assert cli.main(["train", "--resume", str(tmp_path / "resumed" / "last.npz"), "--lr", "0.5"]) == 0
    assert trained == [3, 4]                                      # only the missing epochs ran
    assert "--lr 0.5 ignored: a resumed run keeps its settings (lr=0.05)" in capsys.readouterr().err
    straight = json.loads((tmp_path / "straight" / "history.json").read_text())
    resumed = json.loads((tmp_path / "resumed" / "history.json").read_text())
    for key in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        assert resumed[key] == straight[key], key
    a = tc.load(tmp_path / "straight" / "last.npz")["model"]
    b = tc.load(tmp_path / "resumed" / "last.npz")["model"]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_cli_options_reach_the_run(tmp_path):
    assert cli.main(shapes_run(tmp_path, "--optimizer", "adamw", "--schedule", "cosine", "--label-smoothing", "0.1",
                               "--val-split", "0.25", "--early-stop", "1", "--epochs", "2")) == 0
    state = tc.load(tmp_path / "last.npz")
    config = state["extra"]["config"]
    assert state["optimizer_class"] == "AdamW" and state["scheduler_class"] == "CosineAnnealingLR"
    assert config["lr"] == 0.05 and config["weight_decay"] == 0.01 and config["label_smoothing"] == 0.1
    assert state["history"]["lr"][0] == 0.05
    assert "EarlyStopping" in state["callbacks"]
    assert json.loads((tmp_path / "metrics.json").read_text())["test_images"] == 64


@pytest.mark.parametrize("argv,message", [
    (["train", "--model", "alexnet", "--dataset", "shapes"], "unknown model 'alexnet'; choose one of: "),
    (["train", "--dataset", "imagenet"], "unknown dataset 'imagenet'; choose one of: cifar10, mnist"),
    (["train", "--dataset", "cifar10", "--data-dir", "/nonexistent/data"], "the root folder /nonexistent/data does not exist"),
    (["train", "--resume", "/nonexistent/last.npz"], "cannot resume: no checkpoint file at '/nonexistent/last.npz'"),
    (["evaluate", "/nonexistent/best.npz"], "cannot evaluate: no checkpoint file"),
])
def test_bad_input_gives_one_clear_line_and_status_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_data_mentions_data_dir_and_download(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not found in" in err and "--data-dir" in err and "--download" in err


def test_resume_from_a_file_that_is_not_a_training_checkpoint(tmp_path, capsys):
    (tmp_path / "notes.npz").write_text("hello")
    assert cli.main(["train", "--resume", str(tmp_path / "notes.npz")]) == 2
    assert "is not a readable tinygrad_cnn checkpoint" in capsys.readouterr().err
    tc.save({"weights": np.ones(2)}, tmp_path / "weights.npz")
    assert cli.main(["train", "--resume", str(tmp_path / "weights.npz")]) == 2
    assert "not a training checkpoint" in capsys.readouterr().err


def test_argument_errors_exit_with_status_2(capsys):
    for argv in (["train", "--subset", "0"], ["train", "--optimizer", "rmsprop"], ["train", "--label-smoothing", "1"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
    assert "must be an integer >= 1" in capsys.readouterr().err


# --------------------------------------------------------------------------------- kills, resumes, disks
def cli_env():
    return dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_cli_killed_as_soon_as_last_npz_exists_still_has_its_best_checkpoint(tmp_path, capsys):
    """The issue's reproduction: SIGKILL the moment last.npz appears, resume, evaluate best.npz."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_cnn.cli", "train", "--dataset", "shapes", "--subset",
                             "64", "--test-subset", "32", "--batch-size", "32", "--epochs", "50", "--quiet",
                             "--no-plots", "--out", str(out)], env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "last.npz").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.kill()                                         # SIGKILL
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL and (out / "last.npz").exists()
    assert (out / "best.npz").exists()                      # written before last.npz
    assert cli.main(["train", "--resume", str(out / "last.npz"), "--epochs", "3", "--quiet", "--no-plots"]) == 0
    assert cli.main(["evaluate", str(out / "best.npz")]) == 0
    assert "Test accuracy: " in capsys.readouterr().out


def cosine_lr(base_lr, t, t_max):
    """CosineAnnealingLR's closed form (eta_min 0): the lr of the epoch after t steps."""
    return base_lr * (1 + math.cos(math.pi * t / t_max)) / 2


def test_cli_resume_with_more_epochs_replans_the_cosine_schedule(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(shapes_run(out, "--schedule", "cosine", "--epochs", "2")) == 0
    assert tc.load(out / "last.npz")["history"]["lr"] == [0.05, pytest.approx(0.025)]
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(out / "last.npz"), "--epochs", "4"]) == 0
    err = capsys.readouterr().err
    assert ("note: --epochs 4 re-plans the cosine schedule from 2 to 4 epochs: epoch 3 continues with lr 0.025 "
            "(the 2-epoch plan had 0)") in err
    lrs = tc.load(out / "last.npz")["history"]["lr"]
    # epochs 1-2 ran on the 2-epoch plan; epochs 3-4 follow the 4-epoch plan, as torch's scheduler would
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    torch_lrs = []
    for _ in range(4):
        torch_lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[2:] == pytest.approx(torch_lrs[2:], rel=1e-12)
    assert lrs == pytest.approx([cosine_lr(0.05, 0, 2), cosine_lr(0.05, 1, 2), cosine_lr(0.05, 2, 4),
                                 cosine_lr(0.05, 3, 4)], rel=1e-12)
    assert tc.load(out / "last.npz")["scheduler"]["T_max"] == 4

    assert cli.main(["train", "--resume", str(out / "last.npz"), "--epochs", "4"]) == 0      # same length: no note
    assert "re-plans" not in capsys.readouterr().err


def test_cli_resume_with_more_epochs_replans_the_step_schedule(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(shapes_run(out, "--epochs", "3")) == 0        # step: x0.1 after epochs 2 and 2 (60%, 80% of 3)
    assert tc.load(out / "last.npz")["history"]["lr"] == pytest.approx([0.05, 0.05, 0.005])
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(out / "last.npz"), "--epochs", "5"]) == 0   # milestones 3 and 4
    assert "re-plans the step schedule from 3 to 5 epochs: epoch 4 continues with lr 0.005" in capsys.readouterr().err
    assert tc.load(out / "last.npz")["history"]["lr"] == pytest.approx([0.05, 0.05, 0.005, 0.005, 0.0005])


@pytest.mark.parametrize("make_out, message", [
    (lambda tmp: (tmp / "a_file").write_text("x") and tmp / "a_file", "--out '{out}' is an existing file, not a folder"),
    (lambda tmp: (tmp / "a_file").write_text("x") and tmp / "a_file" / "run",
     "cannot create the output folder --out '{out}': Not a directory"),
    (lambda tmp: "", "cannot create the output folder --out '': No such file or directory"),
], ids=["out-is-a-file", "out-below-a-file", "empty-out"])
def test_cli_unusable_out_gives_one_line_and_status_2(tmp_path, capsys, make_out, message):
    out = make_out(tmp_path)
    assert cli.main(shapes_run(out, "--epochs", "1")) == 2
    err = capsys.readouterr().err
    assert err == f"tinygrad-cnn train: error: {message.format(out=out)}\n"
    assert sorted(os.listdir(tmp_path)) == (["a_file"] if out else [])


def test_cli_full_disk_gives_one_line_naming_the_file_and_status_2(tmp_path, capsys, monkeypatch):
    from tinygrad_cnn import serialization  # noqa: PLC0415 (only this test patches it)
    real_write, calls = serialization._write_npz, []

    def disk_full_from_epoch_2(file, entries):
        calls.append(1)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(file, entries)

    monkeypatch.setattr(serialization, "_write_npz", disk_full_from_epoch_2)
    assert cli.main(shapes_run(tmp_path, "--epochs", "3")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"tinygrad-cnn train: error: save: cannot write '{tmp_path}{os.sep}")
    assert err.endswith(".npz': No space left on device\n")
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["epoch"] == [1] == list(range(1, tc.load(tmp_path / "last.npz")["epoch"] + 1))
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "history.csv", "history.json", "last.npz"]


def _can_mount_tmpfs():
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount a tmpfs in a user namespace here")
def test_cli_on_a_really_full_disk(tmp_path):
    """A real tmpfs with room for one epoch's two checkpoints: epoch 2 fills it."""
    probe = tmp_path / "probe"
    assert cli.main(shapes_run(probe, "--epochs", "1")) == 0
    checkpoint = os.path.getsize(probe / "last.npz")
    disk, results = tmp_path / "disk", tmp_path / "results"
    disk.mkdir()
    results.mkdir()
    argv = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "tinygrad_cnn.cli", *shapes_run(disk, "--epochs", "3")])
    script = (f"mount -t tmpfs -o size={checkpoint * 5 // 2} tmpfs {shlex.quote(str(disk))} || exit 99; "
              f"{argv} 2> {shlex.quote(str(results / 'stderr'))}; status=$?; "
              f"ls -a {shlex.quote(str(disk))} > {shlex.quote(str(results / 'listing'))}; "
              f"cp {shlex.quote(str(disk / 'history.json'))} {shlex.quote(str(disk / 'last.npz'))} "
              f"{shlex.quote(str(results))}; exit $status")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=cli_env(), capture_output=True, text=True,
                          timeout=300)
    err = (results / "stderr").read_text()
    assert proc.returncode == 2, proc.stdout[-2000:] + err[-2000:]
    assert err.startswith(f"tinygrad-cnn train: error: save: cannot write '{disk}{os.sep}") and err.count("\n") == 1
    assert err.endswith(".npz': No space left on device\n")
    listing = (results / "listing").read_text().split()
    assert sorted(listing) == [".", "..", "best.npz", "history.csv", "history.json", "last.npz"]   # no temporaries
    assert json.loads((results / "history.json").read_text())["epoch"] == [1]
    assert tc.load(results / "last.npz")["epoch"] == 1
