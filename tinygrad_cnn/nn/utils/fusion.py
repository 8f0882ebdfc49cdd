"""Folding an eval-mode batch norm into the convolution or linear layer before it, as
torch.nn.utils.fusion: an inference tool (one layer fewer to run, same outputs up to rounding).

In eval mode batch norm is the per-channel affine map y = (z - mean) * s + beta with
s = gamma / sqrt(var + eps). Applied to z = W x + b it gives (W * s) x + ((b - mean) * s + beta):
a convolution with scaled weights and a new bias.
"""
import copy

from ... import backend
from ..parameter import Parameter


def _check_eval(op, layer, bn):
    if layer.training or bn.training:
        raise RuntimeError(f"{op}: fusion only for eval (call .eval() on both modules)")
    if bn.running_mean is None or bn.running_var is None:
        raise RuntimeError(f"{op}: the batch norm keeps no running statistics (track_running_stats=False): "
                           "it normalizes with each batch's own, which no fixed weights can fold")


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """The (weight, bias) Parameters of a convolution followed by an eval-mode batch norm.

    conv_w: (O, C/groups, kh, kw), or (C, O/groups, kh, kw) for a transposed convolution;
    conv_b, bn_rm, bn_rv, bn_w, bn_b: (O,) Tensors (conv_b, bn_w, bn_b may be None: 0, 1, 0).
    """
    xp = backend.array_module(conv_w.array)
    dtype = conv_w.dtype
    out_channels = bn_rm.shape[0]
    with backend.device_context(conv_w.device):  # new arrays on the weights' device
        gamma = xp.ones(out_channels, dtype) if bn_w is None else bn_w.array
        beta = xp.zeros(out_channels, dtype) if bn_b is None else bn_b.array
        bias = xp.zeros(out_channels, dtype) if conv_b is None else conv_b.array
    scale = gamma / xp.sqrt(bn_rv.array + dtype.type(bn_eps))                   # (O,)
    # the output channels are axis 0 of a convolution's weight, axis 1 of a transposed one's
    shape = (1, -1) + (1,) * (conv_w.ndim - 2) if transpose else (-1,) + (1,) * (conv_w.ndim - 1)
    fused_w = (conv_w.array * scale.reshape(shape)).astype(dtype, copy=False)
    fused_b = ((bias - bn_rm.array) * scale + beta).astype(dtype, copy=False)
    # as PyTorch's: each takes its layer parameter's requires_grad (an absent bias: a new constant)
    bias_grad = conv_b is not None and conv_b.requires_grad
    return Parameter(fused_w, requires_grad=conv_w.requires_grad), Parameter(fused_b, requires_grad=bias_grad)


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of `conv` (Conv1d/Conv2d/ConvTranspose2d, eval mode) with the eval-mode batch norm
    `bn` folded in: fused(x) equals bn(conv(x)) up to rounding. Both must be in eval mode."""
    _check_eval("fuse_conv_bn_eval", conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """The (weight, bias) Parameters of a linear layer (weight (O, I)) followed by an eval-mode BatchNorm1d."""
    return fuse_conv_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b)


def fuse_linear_bn_eval(linear, bn):
    """A copy of `linear` (eval mode) with the eval-mode BatchNorm1d `bn` after it folded in."""
    _check_eval("fuse_linear_bn_eval", linear, bn)
    if linear.out_features != bn.num_features:
        raise ValueError(f"fuse_linear_bn_eval: the linear layer's {linear.out_features} outputs do not match "
                         f"the batch norm's {bn.num_features} features")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
