"""The communicator between the processes of a data-parallel run: MPI through mpi4py (Open MPI
or MPICH, started by `mpirun`/`mpiexec`) and, for GPU arrays, NCCL through CuPy; a one-process
stand-in when no launcher started this process. `tinygrad_cnn.distributed` builds the training
API on it; `nn.SyncBatchNorm` uses it directly (so it sits below `nn`).
"""
import os
import sys
import traceback

import numpy as np

from . import backend

MPI_EXTRA_HINT = "pip install -e '.[mpi]' (mpi4py, Open MPI as wheels, threadpoolctl)"


class DistributedError(RuntimeError):
    """The distributed setup cannot work as asked (a missing package, a rank that failed)."""


def launcher_environment(environ=None):
    """(world size, rank, local rank, local size) from the variables an MPI launcher sets, or
    None when the process was not started by one. Open MPI: OMPI_COMM_WORLD_*, PMIX_RANK;
    MPICH (hydra): PMI_SIZE, PMI_RANK, MPI_LOCALRANKID, MPI_LOCALNRANKS."""
    env = os.environ if environ is None else environ
    if "OMPI_COMM_WORLD_SIZE" in env:
        size = int(env["OMPI_COMM_WORLD_SIZE"])
        rank = int(env.get("OMPI_COMM_WORLD_RANK", env.get("PMIX_RANK", 0)))
        return size, rank, int(env.get("OMPI_COMM_WORLD_LOCAL_RANK", rank)), int(env.get("OMPI_COMM_WORLD_LOCAL_SIZE",
                                                                                          size))
    if "PMI_SIZE" in env:
        size, rank = int(env["PMI_SIZE"]), int(env.get("PMI_RANK", 0))
        return size, rank, int(env.get("MPI_LOCALRANKID", rank)), int(env.get("MPI_LOCALNRANKS", size))
    return None


class SingleProcess:
    """The communicator of a process that runs alone: every collective leaves its data as it is."""

    rank, size, local_rank, local_size = 0, 1, 0, 1

    def all_reduce_(self, array):
        return array

    def broadcast_(self, array, root=0):
        return array

    def all_gather(self, array):
        return array[None]

    def broadcast_object(self, obj, root=0):
        return obj

    def barrier(self):
        pass

    def abort(self, code=1):
        sys.exit(code)


class MPICommunicator:
    """MPI's COMM_WORLD through mpi4py. Collectives work in place on NumPy or CuPy arrays: CuPy
    arrays go through NCCL when CuPy has it, else through host memory (a copy each way)."""

    def __init__(self, local_rank, local_size):
        from mpi4py import MPI  # noqa: PLC0415 (optional extra, imported only under a launcher)
        self.MPI, self.comm = MPI, MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.local_rank, self.local_size = local_rank, local_size
        self._nccl = None  # the NCCL communicator, made on the first GPU collective (or False)

    def all_reduce_(self, array):
        """array = the sum of every rank's array, in place."""
        if backend.is_gpu_array(array):
            if not array.flags.c_contiguous:  # NCCL reads `size` values from the pointer on
                raise ValueError(f"all_reduce_: the GPU array of shape {array.shape} must be contiguous")
            with backend.device_context(backend.device_of(array)):  # NCCL is bound to this GPU
                nccl = self._nccl_communicator()
                if nccl is not None:
                    cp = backend.cupy_module()
                    nccl.allReduce(array.data.ptr, array.data.ptr, array.size, _nccl_type(array.dtype), 0,
                                   cp.cuda.get_current_stream().ptr)  # 0: ncclSum
                    return array
            host = backend.to_host(array)[0].copy()
            self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM)
            array[...] = backend.to_device(host, backend.device_of(array))
            return array
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)
        return array

    def broadcast_(self, array, root=0):
        """array = root's array, in place."""
        if backend.is_gpu_array(array):
            host = backend.to_host(array)[0].copy()
            self.comm.Bcast(host, root=root)
            array[...] = backend.to_device(host, backend.device_of(array))
            return array
        self.comm.Bcast(array, root=root)
        return array

    def all_gather(self, array):
        """(size, *array.shape): every rank's array, in rank order (a host array)."""
        host = np.ascontiguousarray(backend.to_host(array)[0])
        out = np.empty((self.size,) + host.shape, dtype=host.dtype)
        self.comm.Allgather(host, out)
        return out

    def broadcast_object(self, obj, root=0):
        """root's picklable object on every rank (a loaded checkpoint: once per run, not per step)."""
        return self.comm.bcast(obj, root=root)

    def barrier(self):
        self.comm.Barrier()

    def abort(self, code=1):
        self.comm.Abort(code)

    def _nccl_communicator(self):
        if self._nccl is None:
            self._nccl = False
            try:
                from cupy.cuda import nccl  # noqa: PLC0415 (only with GPUs)
                if not getattr(nccl, "available", True):
                    raise ImportError("CuPy was built without NCCL")
                uid = nccl.get_unique_id() if self.rank == 0 else None
                self._nccl = nccl.NcclCommunicator(self.size, self.comm.bcast(uid, root=0), self.rank)
            except Exception as exc:  # noqa: BLE001 (any failure: fall back to host memory, said once)
                if self.rank == 0:
                    print(f"tinygrad_cnn.distributed: NCCL unavailable ({type(exc).__name__}: {exc}); "
                          "GPU gradients are all-reduced through host memory", file=sys.stderr)
        return self._nccl or None


def _nccl_type(dtype):
    codes = {"float16": 6, "float32": 7, "float64": 8, "int32": 2, "int64": 4}  # ncclDataType_t
    name = np.dtype(dtype).name
    if name not in codes:
        raise TypeError(f"all_reduce_: NCCL collectives take {', '.join(codes)} arrays, got {name}")
    return codes[name]


_world = None


def init(set_blas_threads=True):
    """Set up the communicator for this process and return it (once; later calls return it).

    Under an MPI launcher: MPI's world (mpi4py is imported here, and only here), an except
    hook that aborts every rank when an exception ends one (otherwise the others would wait
    forever in their next collective; code that catches an error on one rank must end the job
    itself, as the CLI does with `world.abort`), and, unless OMP_NUM_THREADS / OPENBLAS_NUM_THREADS are set, BLAS
    threads per rank = cores / local ranks (threadpoolctl). Without a launcher: one process.
    """
    global _world
    if _world is not None:
        return _world
    launched = launcher_environment()
    if launched is None or launched[0] == 1:
        _world = SingleProcess()
        return _world
    try:
        import mpi4py  # noqa: F401, PLC0415 (optional extra)
    except ImportError:
        raise DistributedError(f"this process was started by an MPI launcher ({launched[0]} ranks), but mpi4py "
                               f"is not installed: {MPI_EXTRA_HINT}") from None
    _world = MPICommunicator(launched[2], launched[3])
    _install_abort_hook(_world)
    if set_blas_threads:
        _share_cores(_world)
    return _world


def communicator():
    """The communicator (`init()` first if it was not called: one process without a launcher)."""
    return init()


def is_initialized():
    return _world is not None


def reset():
    """Forget the communicator, so that the next `init()` makes a new one."""
    global _world
    _world = None


def _install_abort_hook(world):
    previous = sys.excepthook

    def abort_all(kind, value, tb):
        print(f"rank {world.rank} of {world.size} failed; stopping every rank", file=sys.stderr)
        traceback.print_exception(kind, value, tb)
        sys.stderr.flush()
        world.abort(1)
        previous(kind, value, tb)

    sys.excepthook = abort_all


def _share_cores(world):
    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("OPENBLAS_NUM_THREADS"):
        return
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 (part of the mpi extra)
    except ImportError:
        return
    threads = max(1, (os.cpu_count() or 1) // max(1, world.local_size))
    world._blas_limits = threadpool_limits(threads, user_api="blas")  # kept for the process's life
