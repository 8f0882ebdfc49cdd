"""Batch norm whose statistics cover the batches of every rank (nn.SyncBatchNorm's op).

Forward: each rank computes per-channel (count, mean, M2 = sum of squared deviations) of its
batch; one all-gather brings every rank's triple, combined exactly (Chan et al.'s pairwise
formula, no E[x^2] - E[x]^2 cancellation):

    N = sum n_r,  mean = sum n_r mean_r / N,  M2 = sum M2_r + sum n_r (mean_r - mean)^2,  var = M2 / N

then x is normalized with the global mean and (biased) variance; the running statistics use
the unbiased M2 / (N - 1), as BatchNorm's.

Backward: with g the gradient of this rank's output, xhat the normalized input,

    d(loss)/dx = weight * invstd * (g - sum(g) / N - xhat * sum(g * xhat) / N)

where the sums run over every rank's batch: one all-reduce of the per-channel (sum g,
sum g * xhat). The weight and bias gradients are this rank's own sums; DistributedDataParallel
then averages them with the other parameters. With every rank's loss a mean over its batch,
this gives the single-process gradients of the concatenated batch, after that averaging.
"""
from ..autograd import Function
from ..backend import array_module
from .common import require_float, same_dtype


class SyncBatchNorm(Function):
    name = "sync_batch_norm"

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps, world):
        xp = array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))             # every axis but the channels
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)      # a per-channel vector, broadcastable
        count = x.size // x.shape[1]
        local_mean = x.mean(axis=axes)
        local_m2 = ((x - local_mean.reshape(shape)) ** 2).sum(axis=axes)
        mine = xp.concatenate([xp.asarray([count], dtype=x.dtype), local_mean, local_m2])
        everyone = xp.asarray(world.all_gather(mine), dtype=x.dtype)   # (ranks, 1 + 2C)
        counts, means, m2s = everyone[:, :1], everyone[:, 1:1 + x.shape[1]], everyone[:, 1 + x.shape[1]:]
        total = counts.sum()
        mean = (counts * means).sum(axis=0) / total
        m2 = m2s.sum(axis=0) + (counts * (means - mean) ** 2).sum(axis=0)
        invstd = 1 / xp.sqrt(m2 / total + x.dtype.type(eps))
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * (m2 / (total - 1))
        xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
        out = xhat if weight is None else xhat * weight.reshape(shape)
        if bias is not None:
            out = out + bias.reshape(shape)
        ctx.meta = (axes, shape, total, world)
        ctx.save_for_backward(xhat, invstd, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, weight = ctx.saved_tensors
        axes, shape, total, world = ctx.meta
        xp = array_module(g)
        grad_b = g.sum(axis=axes)                     # this rank's sums: DDP averages them
        grad_w = (g * xhat).sum(axis=axes)
        grad_x = None
        if ctx.needs_input_grad[0]:
            sums = world.all_reduce_(xp.concatenate([grad_b, grad_w]))  # over every rank's batch
            c = grad_b.shape[0]
            scale = invstd if weight is None else invstd * weight
            grad_x = scale.reshape(shape) * (g - sums[:c].reshape(shape) / total
                                             - xhat * (sums[c:].reshape(shape) / total))
        return (grad_x,
                grad_w if ctx.needs_input_grad[1] else None,
                grad_b if ctx.needs_input_grad[2] else None)


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, world):  # noqa: A002
    """Training-mode batch norm over (N, C, *) with statistics of every rank's batch (`world`:
    a communicator from tinygrad_cnn.distributed). Running statistics updated in place."""
    require_float("sync_batch_norm", input, weight, bias)
    same_dtype("sync_batch_norm", input, weight, bias, running_mean, running_var)
    return SyncBatchNorm.apply(input, weight, bias,
                               running_mean=None if running_mean is None else running_mean.array,
                               running_var=None if running_var is None else running_var.array,
                               momentum=float(momentum), eps=float(eps), world=world)
