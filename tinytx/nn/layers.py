"""The basic layers: Linear, LinearGELU, LMHead, Embedding, LayerNorm, Dropout, GELU.

Linear, Embedding and Dropout are introduced in lesson 01 (the MLP language model; the
report's Q = XW_Q is a Linear without bias; lesson 07 trains word vectors in an
Embedding), LayerNorm and GELU in lesson 08 (the transformer block).
Each layer holds its parameters and calls one op of `tinytx.functional` in `forward`,
in one place, so a fused kernel can later be swapped in without touching the rest.

    >>> import tinytx as tx
    >>> from tinytx.nn import Linear
    >>> Linear(4, 3)(tx.randn(2, 4)).shape
    (2, 3)
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..backend import get_device
from ..tensor import Tensor
from . import fused
from .module import Module, Parameter, parameter


def positive_int(value, name, where):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def float_dtype(dtype, where):
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"{where}: dtype must be a floating dtype, got {dtype}")
    return dtype


def draw_parameter(draw, shape, dev, dtype):
    """A Parameter filled by the device generator (`dev.rand` or `dev.randn`); float16
    and bfloat16 are drawn in float32 and cast, as NumPy draws only float32/float64."""
    drawn = np.float64 if dtype == np.float64 else np.float32
    return parameter(lambda: draw(shape, drawn).astype(dtype, copy=False), shape, dtype, dev)


class Linear(Module):
    """y = x @ W + b, with W shaped (in_features, out_features) as in the report's XW_Q.

    Both W and b start uniform in (-1/√in_features, 1/√in_features), as in PyTorch.

    Args:
        in_features, out_features: sizes of the last axis of input and output.
        bias: whether to add the learned b (False for the report's W_Q, W_K, W_V).
        device, dtype: where the parameters live ("cpu") and their dtype (float32).
    Shapes: x (..., in_features) -> (..., out_features)

        >>> import tinytx as tx
        >>> Linear(2, 3, bias=False).weight.shape
        (2, 3)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        dev, dtype = get_device(device), float_dtype(dtype, "Linear")
        bound = 1 / math.sqrt(in_features)

        def uniform(shape, drawn):
            return dev.rand(shape, drawn) * (2 * bound) - bound

        self.weight = draw_parameter(uniform, (in_features, out_features), dev, dtype)
        self.bias = draw_parameter(uniform, (out_features,), dev, dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return fused.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class LinearGELU(Linear):
    """gelu(x @ W + b, "tanh"): a Linear whose output goes through GPT-2's GELU, run as one
    fused op (`tinytx.kernels.linear_gelu`: it keeps x @ W + b only for backward). The
    MLP's first layer, `c_fc` (lesson 08). Arguments as Linear."""

    def forward(self, x: Tensor) -> Tensor:
        return fused.linear_gelu(x, self.weight, self.bias)


class LMHead(Module):
    """logits = x @ weightᵀ, with weight the (V, C) token embedding table, shared (tied)
    with the model's input embedding: GPT-2's lm_head, the Transformer's generator.

    Shapes: x (..., C) -> (..., V)"""

    def __init__(self, weight: Parameter):
        super().__init__()
        self.weight = weight

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.transpose(0, 1)           # (B, T, C) @ (C, V) -> (B, T, V)


class Embedding(Module):
    """A table of `num_embeddings` learned vectors, looked up by integer index (token
    embeddings wte, position embeddings wpe). Starts normal(0, 1), as in PyTorch. An empty
    batch is fine, as in PyTorch: idx of shape (0, T) gives (0, T, embedding_dim) and a
    zero gradient for the table.

    Shapes: idx (...) int -> (..., embedding_dim)

        >>> import tinytx as tx
        >>> Embedding(10, 4)(tx.tensor([[1, 2, 3]])).shape
        (1, 3, 4)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", "Embedding")
        dev, dtype = get_device(device), float_dtype(dtype, "Embedding")
        self.weight = draw_parameter(dev.randn, (num_embeddings, embedding_dim), dev, dtype)

    def forward(self, idx: Tensor) -> Tensor:
        return fused.embedding(idx, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Normalise the last axis to mean 0 and variance 1, then scale by `weight` (ones)
    and shift by `bias` (zeros; bias=False leaves it out, as nanoGPT allows).

    Shapes: x (..., normalized_shape) -> the same

        >>> import tinytx as tx
        >>> y = LayerNorm(4)(tx.randn(2, 4))
        >>> (y * y).mean(axis=-1).numpy().round(3)   # unit variance per row
        array([1., 1.], dtype=float32)
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (tuple, list)) and len(normalized_shape) == 1:
            normalized_shape = normalized_shape[0]  # LayerNorm((C,)) as in PyTorch
        self.normalized_shape = positive_int(normalized_shape, "normalized_shape",
                                              "LayerNorm")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps!r}")
        self.eps = float(eps)
        dev, dtype = get_device(device), float_dtype(dtype, "LayerNorm")
        n = self.normalized_shape
        self.weight = parameter(lambda: dev.xp.ones(n, dtype=dtype), (n,), dtype, dev)
        self.bias = parameter(lambda: dev.xp.zeros(n, dtype=dtype), (n,), dtype, dev) \
            if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.normalized_shape,):
            raise ValueError(f"LayerNorm: input must end in an axis of size "
                             f"{self.normalized_shape}, got shape {x.shape}")
        return fused.layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"({self.normalized_shape},), eps={self.eps}, bias={self.bias is not None}"


class Dropout(Module):
    """Zero each element with probability p while training (scaling the others by
    1/(1-p)); the identity in eval mode (`model.eval()`).

        >>> import tinytx as tx
        >>> x = tx.ones(3)
        >>> (Dropout(0.5).eval()(x) is x)
        True
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class GELU(Module):
    """x·Φ(x); approximate="tanh" is GPT-2's tanh form, "none" the exact erf form.

        >>> import tinytx as tx
        >>> round(GELU()(tx.tensor([1.0])).item(), 4)
        0.8413
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got "
                             f"{approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"
