"""`nn.parallel`: PyTorch's wrappers for training on several devices.

`DataParallel` / `data_parallel` run the module on one device (the one its parameters are
on): PyTorch's single-process multi-GPU splitting is not provided; for several GPUs or
machines use one process per device (the library's distributed training). The wrapper keeps
PyTorch's "module." prefix in state_dict keys, so checkpoints move between the two.
"""
from .module import Module

__all__ = ["DataParallel", "data_parallel"]  # and DistributedDataParallel, from ..distributed


class DataParallel(Module):
    """torch.nn.DataParallel(module, device_ids=None, output_device=None, dim=0) over one device."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if device_ids is not None and len(list(device_ids)) > 1:
            raise NotImplementedError("DataParallel splits batches over one device only here; for several GPUs "
                                      "run one process per GPU (distributed data parallel training)")
        self.module = module
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """torch.nn.parallel.data_parallel over one device: module(*inputs, **module_kwargs)."""
    if device_ids is not None and len(list(device_ids)) > 1:
        raise NotImplementedError("data_parallel runs on one device only here; for several GPUs run one process "
                                  "per GPU (distributed data parallel training)")
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))


def __getattr__(name):  # DistributedDataParallel lives with the rest of the distributed API
    if name == "DistributedDataParallel":
        from ..distributed import DistributedDataParallel  # noqa: PLC0415 (distributed.py imports nn)
        return DistributedDataParallel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
