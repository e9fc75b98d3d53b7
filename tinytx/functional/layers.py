"""Neural-network ops: embedding, dropout, layer_norm, cross_entropy, one_hot, linear.

embedding and cross_entropy are introduced in lesson 01, layer_norm in lesson 08.
layer_norm and cross_entropy are *composed* from the primitive ops: they are the readable
reference that the fused kernels in `tinytx.kernels` are tested against.
"""
from __future__ import annotations

from ..function import Function
from ..tensor import Tensor, arange
from .activations import gelu, log_softmax
from .arithmetic import matmul, sqrt
from .convert import astype, upcast_dtype


class EmbeddingFunction(Function):
    """weight[idx]: a lookup of rows. Backward scatter-adds each row's gradient back
    (a token that appears twice gets both gradients). An empty idx gives an empty output
    and a zero gradient, as in PyTorch.
    Shapes: idx (...) int, weight (V, C) -> (..., C)"""

    def forward(self, idx, weight):
        if idx.dtype.kind not in "iu":
            raise TypeError(f"embedding: idx must be an integer tensor, got {idx.dtype}")
        self.idx, self.weight_shape = idx, weight.shape
        return weight[idx]

    def backward(self, gy):
        gw = self.xp.zeros(self.weight_shape, dtype=gy.dtype)
        C = self.weight_shape[-1]
        if self.idx.size:       # an empty batch adds nothing; NumPy's run-sum needs a row
            self.device.scatter_add(gw, self.idx.reshape(-1), gy.reshape(-1, C))  # (N, C) rows
        return None, gw


class DropoutFunction(Function):
    """Zero each element with probability p and scale the rest by 1/(1-p)."""

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        keep = self.device.rand(x.shape, x.dtype) >= self.p
        self.scale = keep * x.dtype.type(1 / (1 - self.p))
        return x * self.scale

    def backward(self, gy):
        return gy * self.scale


class OneHot(Function):
    def __init__(self, num_classes, dtype):
        self.num_classes, self.dtype = num_classes, dtype

    def forward(self, idx):
        return (idx[..., None] == self.xp.arange(self.num_classes)).astype(self.dtype)


def embedding(idx, weight):
    """Rows of `weight` picked by the integer tensor `idx`: (...) -> (..., C)."""
    return EmbeddingFunction()(idx, weight)


def dropout(x, p=0.1, training=True):
    """Inverted dropout; the identity when not training or p == 0."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    return DropoutFunction(p)(x) if training and p > 0 else x


def one_hot(idx, num_classes, dtype="float32"):
    """(...) int -> (..., num_classes) with a 1 at each index (no gradient)."""
    return OneHot(num_classes, dtype)(idx)


def linear(x, weight, bias=None):
    """y = x @ W + b with W shaped (in_features, out_features), like the report's XW_Q."""
    y = matmul(x, weight)
    return y if bias is None else y + bias


def linear_gelu(x, weight, bias=None):
    """gelu(x @ W + b, "tanh"), the MLP's first half composed from two ops: the reference
    of the fused kernel `tinytx.kernels.linear_gelu`."""
    return gelu(linear(x, weight, bias), approximate="tanh")


def layer_norm(x, weight=None, bias=None, eps=1e-5):
    """Normalise the last axis to zero mean and unit variance, then scale and shift.

    Composed from primitive ops (the reference for the fused kernel):
        x̂ = (x - mean) / sqrt(var + eps),  y = x̂·weight + bias
    """
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    y = xc / sqrt(var + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def cross_entropy(logits, targets, ignore_index=-100):
    """Mean negative log-likelihood of `targets` under softmax(logits).

    Targets equal to `ignore_index` (e.g. padding) are left out of the mean; if no target
    is counted (every one ignored, or an empty batch) the loss is 0 and the gradient 0
    (PyTorch gives NaN there). Composed from log_softmax and indexing.

    float16 (and bfloat16) logits are cast to float32 first, as PyTorch's autocast does:
    the log-sum-exp and the loss are float32, and the gradient comes back in the logits'
    dtype, rounded once. In float16 itself the log-sum-exp of logits near 1e3 is off by up
    to 0.25 and near 3e4 by up to 8. float32 and float64 logits are computed as they are.
    Shapes: logits (..., V), targets (...) int -> a scalar (float32 for float16 logits)

        >>> import tinytx as tx
        >>> z = tx.tensor([[1000.0] * 5], dtype="float16")
        >>> round(cross_entropy(z, tx.tensor([2])).item(), 4)      # ln 5
        1.6094
    """
    V = logits.shape[-1]
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets of shape {targets.shape} do not match "
                         f"logits of shape {logits.shape} (expected {logits.shape[:-1]})")
    if upcast_dtype(logits.dtype) != logits.dtype:
        logits = astype(logits, upcast_dtype(logits.dtype))    # float16 -> float32
    xp, t = logits.device.xp, targets.data.reshape(-1)       # (N,)
    valid = t != ignore_index
    if bool(((t < 0) | (t >= V))[valid].any()):
        raise IndexError(f"cross_entropy: targets must lie in [0, {V}) or equal "
                         f"ignore_index={ignore_index}")
    logp = log_softmax(logits.reshape(-1, V), axis=-1)        # (..., V) -> (N, V)
    safe_t = Tensor._make(xp.where(valid, t, 0), logits.device, False)
    picked = logp[arange(t.shape[0], device=logits.device), safe_t]    # (N,)
    weight = valid.astype(logits.dtype) / xp.maximum(valid.sum(), 1).astype(logits.dtype)
    return -(picked * Tensor._make(weight, logits.device, False)).sum()
