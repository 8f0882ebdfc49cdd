"""Data-parallel training on several processes: MPI (mpi4py with Open MPI or MPICH) between
processes and machines, NCCL (through CuPy) between GPUs. Never a communication layer of our own.

    mpirun -n 2 python train.py                 # each process runs the same script

    from tinygrad_cnn import distributed as dist
    dist.init()                                  # reads the launcher's environment
    model = dist.DistributedDataParallel(model)  # rank 0's weights everywhere; gradients averaged
    sampler = dist.DistributedSampler(len(train_set), shuffle=True, seed=0, drop_last=True)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)                 # the same permutation on every rank, split by stride
        ...

Without a launcher (`python train.py`), `init()` returns a one-process communicator and imports
no MPI, so the same script runs alone unchanged. A launched process without mpi4py gets one
clear error naming the extra to install (`pip install -e '.[mpi]'`).

Everything here uses the buffer interface of mpi4py (`Allreduce`, `Bcast`, `Allgather` on
arrays; never the pickling lowercase calls, which are 15-40x slower for gradients), except the
one-time broadcast of a loaded checkpoint.
"""
import contextlib

import numpy as np

from . import backend
from .autograd import is_grad_enabled, queue_callback
from . import communicator as _communicator
from .communicator import (MPI_EXTRA_HINT, DistributedError, MPICommunicator, SingleProcess,  # noqa: F401
                           communicator, init, is_initialized, launcher_environment)
from .nn.module import Module
from .optim.flat import flat_buffers
from .tensor import Tensor

__all__ = ["init", "is_initialized", "rank", "world_size", "local_rank", "is_main", "barrier", "broadcast",
           "all_reduce", "DistributedDataParallel", "DistributedSampler", "DistributedError",
           "init_process_group", "get_rank", "get_world_size", "destroy_process_group", "communicator"]

def rank():
    return communicator().rank


def world_size():
    return communicator().size


def local_rank():
    return communicator().local_rank


def is_main():
    """True on rank 0 (the rank that prints and writes files)."""
    return communicator().rank == 0


def barrier():
    communicator().barrier()


def _array_of(value):
    return value.array if isinstance(value, Tensor) else value


def broadcast(tensor, src=0):
    """Make `tensor` (a Tensor or array) hold rank `src`'s values, in place; returns it."""
    communicator().broadcast_(_array_of(tensor), root=src)
    return tensor


def all_reduce(tensor, op="sum"):
    """Sum `tensor` (a Tensor or array) over the ranks in place ("sum", or "mean"); returns it."""
    if op not in ("sum", "mean"):
        raise ValueError(f"all_reduce: op must be 'sum' or 'mean', got {op!r}")
    world = communicator()
    array = _array_of(tensor)
    world.all_reduce_(array)
    if op == "mean" and world.size > 1:
        array /= world.size
    return tensor


# PyTorch's spellings (torch.distributed)
def init_process_group(backend_name=None, **kwargs):
    """torch.distributed.init_process_group: `init()` (the launcher's environment decides)."""
    return init()


get_rank, get_world_size = rank, world_size


def destroy_process_group():
    """Forget the communicator (MPI itself is finalized when the process ends)."""
    _communicator.reset()


# ---------------------------------------------------------------- the model wrapper
class DistributedDataParallel(Module):
    """torch.nn.parallel.DistributedDataParallel: train `module` with the same weights on every
    rank, each on its own share of the data.

    - at construction, rank 0's parameters and buffers are copied to every rank;
    - after each backward, the gradients are averaged over the ranks with one all-reduce per
      flat gradient buffer (optim/flat.py; one buffer per dtype and device, split in
      `bucket_cap_mb` buckets), in the same order on every rank; a parameter without a
      gradient counts as zero;
    - `no_sync()` skips the averaging (gradient accumulation: the next synced backward
      averages the sum);
    - with `broadcast_buffers` (default), rank 0's buffers (batch-norm running statistics)
      are copied to every rank before each training forward, in one collective.
    The optimizer built on `ddp.parameters()` shares the flat buffers. state_dict keys carry
    PyTorch's "module." prefix. `world` is the communicator.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False, gradient_as_bucket_view=False,
                 static_graph=False):
        # PyTorch's signature. device_ids / output_device: the module's one device (one process
        # per GPU), nothing to do; unused parameters always count as zero, gradients always
        # live in the flat buffer (gradient_as_bucket_view), the graph may change (static_graph).
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError(f"DistributedDataParallel: one device per process, got device_ids={device_ids}")
        if dim != 0:
            raise NotImplementedError(f"DistributedDataParallel: the batch is split along dim 0, got dim={dim}")
        if process_group is not None:
            raise NotImplementedError("DistributedDataParallel: process groups are not provided; "
                                      "every collective spans MPI's world")
        super().__init__()
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_values = int(bucket_cap_mb * 2 ** 20)
        self.world = communicator()
        self._sync = True
        self._queued = False
        self._flat = flat_buffers(list(module.parameters()))
        for buffer in self._flat:
            self.world.broadcast_(buffer.data)
        if self.broadcast_buffers:
            self._broadcast_module_buffers()

    def forward(self, *inputs, **kwargs):
        if self.training and self.broadcast_buffers:
            self._broadcast_module_buffers()
        out = self.module(*inputs, **kwargs)
        if self.world.size > 1 and self._sync and is_grad_enabled():
            for tensor in _tensors_in(out):
                if tensor.requires_grad:
                    tensor.register_hook(self._queue_averaging)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside the block, backward passes keep their gradients local (accumulated)."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    def _queue_averaging(self, grad):
        if not self._queued:  # once per backward pass, whichever output's gradient comes first
            self._queued = True
            queue_callback(self._average_gradients)
        return None

    def _average_gradients(self):
        self._queued = False
        params = list(self.module.parameters())
        if not all(buffer.intact() for buffer in self._flat) or \
                sorted(id(p) for b in self._flat for p in b.params) != sorted(id(p) for p in params):
            self._flat = flat_buffers(params)
        for buffer in self._flat:
            for p, slot in zip(buffer.params, buffer.grad_views):
                if p.grad is None:  # counts as zero, and then holds the average like the others
                    slot[...] = 0
                    p.grad = Tensor._wrap(slot, buffer.device)
            buffer.gather_grads()
            step = max(1, self.bucket_values // buffer.grad.itemsize)
            for start in range(0, buffer.size, step):
                self.world.all_reduce_(buffer.grad[start:start + step])
            buffer.grad /= self.world.size

    def _broadcast_module_buffers(self):
        if self.world.size == 1:
            return
        buffers = [b for b in self.module.buffers() if b is not None]
        if not buffers:
            return
        # one collective for all of them: their values side by side as float64 (exact for the
        # float32 statistics and the int64 batch counts a training run reaches)
        xp = backend.array_module(buffers[0].array)
        packed = xp.concatenate([b.array.reshape(-1).astype(xp.float64) for b in buffers])
        self.world.broadcast_(packed)
        start = 0
        for b in buffers:
            b.array[...] = packed[start:start + b.numel()].reshape(b.shape).astype(b.dtype)
            start += b.numel()


def _tensors_in(value):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item)


# ---------------------------------------------------------------- which samples each rank sees
class DistributedSampler:
    """The indices of this rank's share of a dataset, as torch.utils.data.DistributedSampler:
    a permutation drawn from (seed, epoch), identical on every rank, split by stride
    (rank r takes positions r, r + size, ...). `set_epoch(e)` before each epoch.

    drop_last=True: the uneven tail is dropped, so every rank gets len(dataset) // size indices
    (training: unequal step counts would leave a rank waiting in an all-reduce). drop_last=False:
    as PyTorch, the permutation is padded by repeating its start so the split is even; pass
    pad=False instead for evaluation, where every index must be seen exactly once (ranks may
    then get one index more or less).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False, pad=True):
        world = communicator() if num_replicas is None or rank is None else None
        self.num_replicas = int(num_replicas if num_replicas is not None else world.size)
        self.rank = int(rank if rank is not None else world.rank)
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is not in [0, {self.num_replicas})")
        self.length = dataset if isinstance(dataset, int) else len(dataset)
        self.shuffle, self.seed, self.drop_last, self.pad = bool(shuffle), int(seed), bool(drop_last), bool(pad)
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def _all_indices(self):
        if self.shuffle:
            return np.random.default_rng([self.seed, self.epoch]).permutation(self.length).astype(np.int64)
        return np.arange(self.length, dtype=np.int64)

    def indices(self):
        """This rank's indices for the current epoch (an int64 array)."""
        order = self._all_indices()
        if self.drop_last:
            order = order[:(self.length // self.num_replicas) * self.num_replicas]
        elif self.pad and self.length % self.num_replicas:
            total = -(-self.length // self.num_replicas) * self.num_replicas
            order = np.concatenate([order, np.resize(order, total - self.length)])
        return order[self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        if self.drop_last:
            return self.length // self.num_replicas
        if self.pad:
            return -(-self.length // self.num_replicas)
        return len(range(self.rank, self.length, self.num_replicas))
