"""Multi-head self-attention and encoder-decoder (cross) attention modules.

Introduced in lessons 03–04 (report §3): Q, K and V are linear maps of the input
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


def split_heads(x: Tensor, n_head: int) -> Tensor:
    B, T, C = x.shape
    return x.reshape(B, T, n_head, C // n_head).transpose(1, 2)  # (B, T, C) -> (B, H, T, D)


def merge_heads(y: Tensor) -> Tensor:
    B, H, T, D = y.shape
    return y.transpose(1, 2).reshape(B, T, H * D)                # (B, H, T, D) -> (B, T, C)


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
        q, k, v = self.c_attn(x).split(self.n_embd, axis=2)     # 3 x (B, T, C)
        q, k, v = (split_heads(t, self.n_head) for t in (q, k, v))
        if cache is not None:
            k, v = cache.append(k, v)                            # (B, H, T_cached + T, D)
        y = fused.attention(q, k, v, mask=mask, is_causal=self.causal,
                            similarity=self.similarity, dropout_p=self.dropout,
                            training=self.training)
        return self.resid_dropout(self.c_proj(merge_heads(y)))

    def weights(self, x: Tensor, mask=None) -> Tensor:
        """The attention weights P this layer puts on x, recomputed from q and k with the
        composed op and no dropout (for pictures: lessons 04 and 10 draw them).
        Shapes: x (B, T, C) -> P (B, H, T, T), each row sums to 1 (0 where all masked)."""
        q, k, _ = self.c_attn(x).split(self.n_embd, axis=2)      # 2 x (B, T, C)
        q, k = (split_heads(t, self.n_head) for t in (q, k))     # (B, H, T, D)
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
            k, v = self.c_kv(memory).split(self.n_embd, axis=2)    # 2 x (B, S, C)
            k, v = split_heads(k, self.n_head), split_heads(v, self.n_head)
            if cache is not None:
                cache.cross = (k, v)                               # 2 x (B, H, S, D)
        y = fused.attention(q, k, v, mask=mask, similarity=self.similarity,
                            dropout_p=self.dropout, training=self.training)
        return self.resid_dropout(self.c_proj(merge_heads(y)))
