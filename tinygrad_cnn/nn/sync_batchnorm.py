"""nn.SyncBatchNorm: batch norm whose statistics, in training, cover the batches of every rank
of a data-parallel run (ops/sync_batch_norm.py); plain BatchNorm alone or in eval."""
from ..communicator import communicator
from ..ops.sync_batch_norm import sync_batch_norm
from .layers import BatchNorm1d, BatchNorm2d, _BatchNorm
from .module import shape_error


class SyncBatchNorm(_BatchNorm):
    """torch.nn.SyncBatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, process_group=None) over (N, C, *) input.

    With several ranks in training, the mean and variance are those of all ranks' batches
    together (each rank still normalizes only its own); otherwise it is BatchNorm exactly.
    `process_group` is accepted for PyTorch's signature; the group is always every rank.
    """

    _input_dims = (2, 3, 4, 5)
    _shape_text = "(N, C, *)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, x):
        world = communicator()
        if not self.training or world.size == 1:
            return super().forward(x)
        if x.ndim not in self._input_dims:
            raise shape_error(self, f"input of shape {self._shape_text}", x)
        if x.shape[1] != self.num_features:
            raise shape_error(self, f"{self.num_features} channels", x)
        track = self.track_running_stats
        momentum = self.momentum
        if track and momentum is None:  # cumulative moving average, as PyTorch
            momentum = 1.0 / (float(self.num_batches_tracked.item()) + 1)
        out = sync_batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                              self.weight, self.bias, 0.0 if momentum is None else momentum, self.eps, world)
        if track:
            self.num_batches_tracked.array += 1
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every BatchNorm1d/2d inside `module` by a SyncBatchNorm sharing its
        parameters and buffers (the same Tensor objects); returns `module`, or the new layer
        when `module` itself is a batch norm (as PyTorch's)."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)) and not isinstance(module, SyncBatchNorm):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            for name in ("weight", "bias"):
                setattr(sync, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                sync.register_buffer(name, getattr(module, name))
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                setattr(module, name, converted)
        return module
