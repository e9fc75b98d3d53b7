"""Differentiable operations, imported as F (`import tinytx.functional as F`).

Every op is a small Function class (forward/backward on raw arrays) with a lowercase
wrapper. The composed ones (layer_norm, cross_entropy, attention in later lessons) are
the readable references that the fused kernels are pinned to by tests. Importing this
package also gives Tensor its operators (`x + y` calls `add`; see tensor_methods.py).
"""
from .activations import gelu, log_softmax, logsumexp, relu, sigmoid, softmax, tanh
from .attention import (causal_mask, combine_masks, padding_mask,
                        scaled_dot_product_attention)
from .arithmetic import (add, div, exp, log, masked_fill, matmul, mul, neg, pow, sqrt, sub,
                         where)
from .convert import astype, to_device
from .layers import (cross_entropy, dropout, embedding, layer_norm, linear, linear_gelu,
                     one_hot)
from .recurrent import lstm_cell, lstm_step
from .reductions import max, mean, sum, var
from .shape import (broadcast_to, concat, getitem, permute, reshape, split, squeeze, stack,
                    transpose, unsqueeze)
from . import tensor_methods  # noqa: F401  (x + y, x.sum(), x.T, x.to() call the ops above)

# The public ops; tests check that each differentiable one has a gradient check.
OPS = ("add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "tanh", "sigmoid",
       "relu", "gelu", "sum", "mean", "max", "var", "reshape", "transpose", "permute",
       "broadcast_to", "squeeze", "unsqueeze", "getitem", "concat", "stack", "split",
       "matmul", "where", "masked_fill", "softmax", "log_softmax", "logsumexp",
       "cross_entropy", "layer_norm", "dropout", "embedding", "linear", "one_hot",
       "scaled_dot_product_attention", "astype", "to_device")
NOT_DIFFERENTIABLE = ("one_hot",)
