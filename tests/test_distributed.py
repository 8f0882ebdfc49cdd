"""Data-parallel training over MPI: every test that needs several processes runs the script
on 2 ranks with `mpiexec` (loopback only, bounded by a timeout). What is proven:

- DistributedDataParallel's averaged gradients equal one process on the concatenated batch
  (float64), and parameters stay identical on every rank;
- nn.SyncBatchNorm on 2 ranks equals BatchNorm on the concatenated batch (outputs, every
  gradient, running statistics);
- a rank that raises, or is killed, ends the whole job with a non-zero status within 10 s;
- the one-process path (no launcher: no MPI import) and a launched process without mpi4py;
- DistributedSampler's shards (no MPI needed).
"""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import distributed as dist
from tinygrad_cnn import nn
from mpi_run import MPIEXEC, mpi_env, needs_mpi, run_script

MODEL_SOURCE = '''
def build(batch_norm):
    tc.manual_seed(0)
    layers = [tc.nn.Conv2d(2, 4, 3, padding=1)]
    if batch_norm:
        layers.append(tc.nn.BatchNorm2d(4))
    layers += [tc.nn.ReLU(), tc.nn.Flatten(), tc.nn.Linear(4 * 5 * 5, 3)]
    return tc.nn.Sequential(*layers).double()


def batch(n=8):
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 2, 5, 5)), rng.integers(0, 3, n)
'''


def build(batch_norm):
    namespace = {"tc": tc, "np": np}
    exec(MODEL_SOURCE, namespace)  # the very definitions the ranks run
    return namespace["build"](batch_norm), namespace["batch"]()


@needs_mpi
def test_ddp_gradients_equal_one_process_on_the_concatenated_batch(tmp_path):
    ranks = run_script(2, MODEL_SOURCE + '''
model = build(batch_norm=False)
x, y = batch()
half = slice(4 * WORLD.rank, 4 * WORLD.rank + 4)            # this rank's half of the batch
ddp = dist.DistributedDataParallel(model)
loss = tc.nn.functional.cross_entropy(ddp(tc.tensor(x[half])), tc.tensor(y[half]))
loss.backward()
report(**{name: p.grad.numpy() for name, p in model.named_parameters()})
''', tmp_path)
    model, (x, y) = build(batch_norm=False)
    F.cross_entropy(model(tc.tensor(x)), tc.tensor(y)).backward()
    for name, p in model.named_parameters():
        for r, got in enumerate(ranks):
            np.testing.assert_allclose(got[name], p.grad.numpy(), rtol=1e-12, atol=1e-14, err_msg=f"rank {r} {name}")


@needs_mpi
def test_sync_batchnorm_equals_batchnorm_on_the_concatenated_batch(tmp_path):
    ranks = run_script(2, MODEL_SOURCE + '''
model = tc.nn.SyncBatchNorm.convert_sync_batchnorm(build(batch_norm=True))
x, y = batch()
half = slice(4 * WORLD.rank, 4 * WORLD.rank + 4)
ddp = dist.DistributedDataParallel(model)
logits = ddp(tc.tensor(x[half]))
tc.nn.functional.cross_entropy(logits, tc.tensor(y[half])).backward()
report(logits=logits.numpy(), **{name: p.grad.numpy() for name, p in model.named_parameters()},
       **{name: b.numpy() for name, b in model.named_buffers()})
''', tmp_path)
    model, (x, y) = build(batch_norm=True)
    logits = model(tc.tensor(x))
    F.cross_entropy(logits, tc.tensor(y)).backward()
    np.testing.assert_allclose(ranks[0]["logits"] + ranks[1]["logits"], logits.numpy(), rtol=1e-12)
    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        expected = p.grad.numpy() if p.requires_grad else p.numpy()
        for r, got in enumerate(ranks):
            np.testing.assert_allclose(got[name], expected, rtol=1e-11, atol=1e-13, err_msg=f"rank {r} {name}")


@needs_mpi
def test_parameters_stay_identical_on_every_rank(tmp_path):
    """Different seeds on the two ranks: DDP starts both from rank 0's weights, and the averaged
    gradients keep them equal step after step (SGD with momentum, a SyncBatchNorm model)."""
    ranks = run_script(2, MODEL_SOURCE + '''
model = build(batch_norm=True)
tc.manual_seed(WORLD.rank)                                  # a different start on each rank
for p in model.parameters():
    p.data.normal_()
model = dist.DistributedDataParallel(tc.nn.SyncBatchNorm.convert_sync_batchnorm(model))
opt = tc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
rng = np.random.default_rng(10 + WORLD.rank)                # and different data
for _ in range(5):
    x, y = rng.standard_normal((4, 2, 5, 5)), rng.integers(0, 3, 4)
    loss = tc.nn.functional.cross_entropy(model(tc.tensor(x)), tc.tensor(y))
    opt.zero_grad()
    loss.backward()
    opt.step()
report(**{name: v for name, v in model.state_dict().items()})
''', tmp_path)
    for name in ranks[0]:
        np.testing.assert_array_equal(ranks[0][name], ranks[1][name], err_msg=name)
    assert any(key.startswith("module.") for key in ranks[0])


@needs_mpi
@pytest.mark.parametrize("how", ["raises", "killed"])
def test_a_failing_rank_ends_the_whole_job_quickly(tmp_path, how):
    """Rank 1 raises (or kills itself) while rank 0 waits in an all-reduce: without the abort
    hook, rank 0 would wait forever; the job must end non-zero within 10 s."""
    script = tmp_path / "fail.py"
    script.write_text(f'''
import os, signal, time
import numpy as np
from tinygrad_cnn import distributed as dist
world = dist.init()
if world.rank == 1:
    time.sleep(0.5)
    if {how!r} == "raises":
        raise ValueError("rank 1 fails on purpose")
    os.kill(os.getpid(), signal.SIGKILL)
world.all_reduce_(np.ones(4))                               # rank 0 waits here for rank 1
time.sleep(60)
''')
    start = time.monotonic()
    proc = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", sys.executable, str(script)], cwd=tmp_path,
                          env=mpi_env(), capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert elapsed < 10, f"the job took {elapsed:.1f} s to end"
    if how == "raises":
        assert "rank 1 fails on purpose" in proc.stderr and "stopping every rank" in proc.stderr


def test_one_process_without_a_launcher_imports_no_mpi():
    code = ("import sys\nfrom tinygrad_cnn import distributed as dist\nw = dist.init()\n"
            "assert w.size == 1 and w.rank == 0 and dist.is_main() and 'mpi4py' not in sys.modules\n"
            "import numpy as np\na = np.arange(3.0)\nassert dist.all_reduce(a) is a and a.tolist() == [0, 1, 2]\n"
            "print('ok')")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI", "PMIX"))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_a_launched_process_without_mpi4py_names_the_extra():
    code = ("import sys\nsys.modules['mpi4py'] = None\nfrom tinygrad_cnn import distributed as dist\n"
            "try:\n    dist.init()\nexcept dist.DistributedError as e:\n    print(e)\n")
    env = dict(os.environ, OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "mpi4py is not installed" in out.stdout and "pip install -e '.[mpi]'" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("length, replicas", [(10, 3), (9, 3), (7, 2), (2, 4)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_sampler_shards(length, replicas, shuffle):
    """drop_last: every rank the same count, disjoint, the tail dropped; pad=False: disjoint and
    complete (evaluation); default (PyTorch's): an even split padded by repetition. The same
    shards for the same (seed, epoch) — after a resume too — and new ones for a new epoch."""
    def shards(**kwargs):
        out = []
        for r in range(replicas):
            sampler = dist.DistributedSampler(length, num_replicas=replicas, rank=r, shuffle=shuffle, seed=5, **kwargs)
            sampler.set_epoch(3)
            out.append(list(sampler))
            assert len(out[-1]) == len(sampler)
        return out

    dropped = shards(drop_last=True)
    assert {len(s) for s in dropped} == {length // replicas}
    flat = [i for s in dropped for i in s]
    assert len(set(flat)) == len(flat)
    exact = shards(pad=False)
    assert sorted(i for s in exact for i in s) == list(range(length))
    padded = shards()
    assert len({len(s) for s in padded}) == 1 and set(i for s in padded for i in s) == set(range(length))
    assert shards(drop_last=True) == dropped                  # the same (seed, epoch): the same shards
    if shuffle and length > 3:
        other = dist.DistributedSampler(length, num_replicas=replicas, rank=0, seed=5, drop_last=True)
        other.set_epoch(4)
        assert list(other) != dropped[0] or length // replicas < 2


def test_sampler_rejects_a_rank_outside_the_world():
    with pytest.raises(ValueError, match="rank 3"):
        dist.DistributedSampler(10, num_replicas=2, rank=3)


def test_one_process_ddp_and_sync_batchnorm_are_the_plain_model():
    model, (x, y) = build(batch_norm=True)
    twin, _ = build(batch_norm=True)
    ddp = dist.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(model))
    np.testing.assert_array_equal(ddp(tc.tensor(x)).numpy(), twin(tc.tensor(x)).numpy())
    with ddp.no_sync():
        F.cross_entropy(ddp(tc.tensor(x)), tc.tensor(y)).backward()
    assert all(p.grad is not None for p in model.parameters())


@needs_mpi
def test_ddp_averages_a_model_whose_parameter_dtypes_alternate(tmp_path):
    """The flat buffers group parameters by dtype, so their order differs from parameters():
    the averaging must still find every gradient (it used to compare Tensors with ==)."""
    ranks = run_script(2, '''
class Mixed(tc.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = tc.nn.Linear(4, 3).double(), tc.nn.Linear(4, 3), tc.nn.Linear(3, 2).double()

    def forward(self, x):
        return self.c(self.a(x) + self.b(x.float()).double())


tc.manual_seed(0)
model = Mixed()
ddp = dist.DistributedDataParallel(model)
x = tc.tensor(np.full((2, 4), WORLD.rank + 1.0))
ddp(x).sum().backward()
report(**{name: p.grad.numpy() for name, p in model.named_parameters()})
''', tmp_path)
    assert set(ranks[0]) == {"a.weight", "a.bias", "b.weight", "b.bias", "c.weight", "c.bias"}
    for name in ranks[0]:
        np.testing.assert_array_equal(ranks[0][name], ranks[1][name], err_msg=name)


def test_convert_sync_batchnorm_leaves_instance_norm_alone():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.InstanceNorm2d(4), nn.BatchNorm2d(4), nn.BatchNorm1d(4))
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert [type(m).__name__ for m in converted] == ["Conv2d", "InstanceNorm2d", "SyncBatchNorm", "SyncBatchNorm"]


def test_ddp_takes_pytorchs_arguments():
    model, (x, _) = build(batch_norm=True)
    ddp = dist.DistributedDataParallel(model, device_ids=None, output_device=None, broadcast_buffers=False,
                                       find_unused_parameters=True)
    np.testing.assert_array_equal(ddp(tc.tensor(x)).numpy(), model(tc.tensor(x)).numpy())
    with pytest.raises(ValueError, match="one device per process"):
        dist.DistributedDataParallel(model, device_ids=[0, 1])
    with pytest.raises(NotImplementedError, match="process groups"):
        dist.DistributedDataParallel(model, process_group=object())
