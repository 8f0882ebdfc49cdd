"""Utilities of torch.nn.utils: gradient clipping, folding batch norm into the layer before it."""
from . import fusion
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights

__all__ = ["clip_grad_norm_", "clip_grad_value_", "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights", "fusion"]
