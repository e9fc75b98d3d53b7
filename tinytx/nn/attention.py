"""Multi-head self-attention and encoder-decoder (cross) attention modules.

Introduced in lessons 04–05 (report §3): Q, K and V are linear maps of the input
(eq. 5: Q = XW_Q, K = XW_K, V = XW_V), fused here into one projection `c_attn` whose
output is split in three, as in the report's listing and GPT-2. Each of the H heads
attends over D = C/H dimensions; the heads are concatenated and mixed by `c_proj`.

    >>> import tinytx as tx
    >>> attn = MultiHeadAttention(n_embd=8, n_head=2, causal=True)
    >>> attn(tx.randn(1, 5, 8)).shape
    (1, 5, 8)
"""
from __future__ import annotations

from ..functional.attention import (causal_mask, combine_masks,
                                   scaled_dot_product_attention)
from ..function import Function
from ..tensor import Tensor
from . import fused
from .layers import Dropout, Linear
from .module import Module

SIMILARITIES = ("scaled_dot", "dot", "cosine")


def _check(n_embd, n_head, similarity):
    if n_embd % n_head:
        raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")


class SplitHeads(Function):
    """x (B, T, P·C) -> P tensors (B, H, T, D), D = C/H: the output of P projections fused
    into one Linear (c_attn's q, k, v: P = 3) cut into heads in one op, as views."""

    def __init__(self, n_head: int, parts: int):
        self.n_head, self.parts = n_head, parts

    def forward(self, x):
        B, T, PC = x.shape
        self.x_shape = x.shape
        heads = x.reshape(B, T, self.parts, self.n_head, PC // (self.parts * self.n_head))
        ys = tuple(heads.transpose(2, 0, 3, 1, 4))    # (B, T, P, H, D) -> P x (B, H, T, D)
        return ys if self.parts > 1 else ys[0]

    def backward(self, *gys):
        g = self.xp.stack([gy.transpose(0, 2, 1, 3) for gy in gys], axis=2)  # (B, T, P, H, D)
        return g.reshape(self.x_shape)                                       # -> (B, T, P·C)


class MergeHeads(Function):
    """y (B, H, T, D) -> (B, T, H·D): the heads side by side again, in one op."""

    def forward(self, y):
        B, H, T, D = self.y_shape = y.shape
        return y.transpose(0, 2, 1, 3).reshape(B, T, H * D)      # (B, H, T, D) -> (B, T, C)

    def backward(self, g):
        B, H, T, D = self.y_shape
        return g.reshape(B, T, H, D).transpose(0, 2, 1, 3)       # (B, T, C) -> (B, H, T, D)


def split_heads(x: Tensor, n_head: int, parts: int = 1):
    """(B, T, P·C) -> P tensors (B, H, T, D) (one when parts is 1)."""
    return SplitHeads(n_head, parts)(x)


def merge_heads(y: Tensor) -> Tensor:
    """(B, H, T, D) -> (B, T, C)."""
    return MergeHeads()(y)


class MultiHeadAttention(Module):
    """Self-attention: queries, keys and values all come from x.

    Args:
        n_embd, n_head: model width C and number of heads H (C divisible by H).
        dropout: on the attention weights and on the output (residual) projection.
        bias: biases in c_attn and c_proj.
        causal: each position attends only to itself and earlier ones (a decoder).
        similarity: "scaled_dot" (QKᵀ/√D), "dot" (QKᵀ) or "cosine" (report §3.6.1).
    Shapes: x (B, T, C), mask bool broadcastable to (B, H, T, T) "may attend" -> (B, T, C)
    """

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, causal=False,
                 similarity="scaled_dot"):
        super().__init__()
        _check(n_embd, n_head, similarity)
        self.n_embd, self.n_head, self.causal, self.similarity = (n_embd, n_head, causal,
                                                                  similarity)
        self.dropout = dropout
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = Dropout(dropout)

    def forward(self, x: Tensor, mask=None, cache=None) -> Tensor:
        """`cache` (a LayerCache, generation under no_grad only): x holds the new tokens;
        the cache stores their keys and values and gives back all of them, and the
        queries attend to every cached key (causally: the queries are the last T
        positions; `mask`, if given, must cover (T, T_cached + T))."""
        q, k, v = split_heads(self.c_attn(x), self.n_head, parts=3)   # 3 x (B, H, T, D)
        if cache is not None:
            k, v = cache.append(k, v)                            # (B, H, T_cached + T, D)
        y = fused.attention(q, k, v, mask=mask, is_causal=self.causal,
                            similarity=self.similarity, dropout_p=self.dropout,
                            training=self.training)
        return self.resid_dropout(self.c_proj(merge_heads(y)))

    def weights(self, x: Tensor, mask=None) -> Tensor:
        """The attention weights P this layer puts on x, recomputed from q and k with the
        composed op and no dropout (for pictures: lessons 05 and 11 draw them).
        Shapes: x (B, T, C) -> P (B, H, T, T), each row sums to 1 (0 where all masked)."""
        q, k, _ = split_heads(self.c_attn(x), self.n_head, parts=3)   # (B, H, T, D)
        if self.causal:
            mask = combine_masks(mask, causal_mask(x.shape[1], x.device))
        return scaled_dot_product_attention(q, k, k, mask=mask, similarity=self.similarity,
                                            return_weights=True)[1]

    def extra_repr(self):
        return f"n_head={self.n_head}, causal={self.causal}, similarity={self.similarity!r}"


class CrossAttention(Module):
    """Encoder-decoder attention: queries from the decoder state x, keys and values from
    the encoder output `memory` (report Figure 3).

    Shapes: x (B, T, C), memory (B, S, C), mask bool broadcastable to (B, H, T, S)
    -> (B, T, C)
    """

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, similarity="scaled_dot"):
        super().__init__()
        _check(n_embd, n_head, similarity)
        self.n_embd, self.n_head, self.similarity = n_embd, n_head, similarity
        self.dropout = dropout
        self.c_q = Linear(n_embd, n_embd, bias=bias)
        self.c_kv = Linear(n_embd, 2 * n_embd, bias=bias)
        self.c_proj = Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, mask=None, cache=None) -> Tensor:
        """`cache` (a LayerCache): the memory's keys and values are projected on the first
        call and reused from `cache.cross` after that (the memory must not change)."""
        q = split_heads(self.c_q(x), self.n_head)                  # (B, H, T, D)
        if cache is not None and cache.cross is not None:
            k, v = cache.cross
        else:
            k, v = split_heads(self.c_kv(memory), self.n_head, parts=2)   # (B, H, S, D)
            if cache is not None:
                cache.cross = (k, v)                               # 2 x (B, H, S, D)
        y = fused.attention(q, k, v, mask=mask, similarity=self.similarity,
                            dropout_p=self.dropout, training=self.training)
        return self.resid_dropout(self.c_proj(merge_heads(y)))
