"""T5's attention: a learned bias by relative position, and no 1/√D.

Introduced in lesson 13 with T5 (tinytx/models/t5.py, change 1 of its list; docs/
finetuning.md §6). Each attention layer adds b[h, bucket(j - i)] to its scores, looked up
by the *relative* position of key j to query i: distances go in buckets, exact up to 8 or
16, then logarithmic up to max_distance, farther the last bucket; the encoder's buckets
are bidirectional (j before and after i differ), the decoder's causal. Only layer 0 of
each stack owns a table (`relative_attention_bias`); the others reuse its bias. The bias
goes into the one attention op (`nn.fused.attention(..., bias=...)`), which gives it a
gradient.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..nn import fused
from ..function import Function
from ..nn.attention import merge_heads, split_heads
from ..tensor import Tensor


def relative_position_bucket(relative_position: np.ndarray, bidirectional: bool,
                             num_buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """T5's bucket of each relative position j - i (key minus query), in float32 like HF.

    Half the buckets (bidirectional: per direction) hold exact distances 0..max_exact-1;
    the rest cover max_exact..max_distance logarithmically; farther is the last bucket.
    Causal: keys after the query (j > i) count as distance 0 (they are masked anyway).

        >>> relative_position_bucket(np.array([-3, 0, 3, 200]), True, 32, 128).tolist()
        [3, 0, 19, 31]
    """
    rel = np.asarray(relative_position, dtype=np.int64)
    bucket = np.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        bucket += (rel > 0) * num_buckets
        rel = np.abs(rel)
    else:
        rel = -np.minimum(rel, 0)
    max_exact = num_buckets // 2
    safe = np.maximum(rel, max_exact).astype(np.float32)       # log(0) never computed
    large = max_exact + (np.log(safe / np.float32(max_exact))
                         / np.float32(math.log(max_distance / max_exact))
                         * np.float32(num_buckets - max_exact)).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return bucket + np.where(rel < max_exact, rel, large)


class RelativeBuckets(Function):
    """The buckets of every query–key pair, from the shapes of q (.., T, D) and k (.., S, D):
    the queries are the last T of S positions (S - T cached before them). An op so that a
    captured step (tinytx.capture) recomputes them at each step's S. Shapes: -> (T, S)"""

    differentiable = False

    def __init__(self, bidirectional: bool, num_buckets: int, max_distance: int):
        self.bidirectional, self.num_buckets, self.max_distance = (bidirectional, num_buckets,
                                                                   max_distance)

    def forward(self, q, k):
        T, S = q.shape[-2], k.shape[-2]
        i = np.arange(S - T, S)[:, None]                                  # (T, 1)
        j = np.arange(S)[None, :]                                         # (1, S)
        return self.device.asarray(relative_position_bucket(
            j - i, self.bidirectional, self.num_buckets, self.max_distance))


class T5Attention(nn.Module):
    """Multi-head attention with a relative position bias and no 1/√D scaling.

    scores = q kᵀ + bias (+ a large negative value where the mask says "may not attend"),
    weights = softmax(scores), out = o(weights v). Only a stack's layer 0 has
    `relative_attention_bias` (num_buckets, H); it computes the bias (1, H, T, S) and
    returns it so the later layers add the same one. `c` is the model's T5Config.
    Shapes: x (B, T, C), kv (B, S, C) or None (self-attention), mask bool broadcastable to
    (B, H, T, S) -> (B, T, C), bias (1, H, T, S) or None
    """

    def __init__(self, c, has_relative_attention_bias: bool, bidirectional: bool):
        super().__init__()
        inner, self.n_head, self.bidirectional = c.num_heads * c.d_kv, c.num_heads, \
            bidirectional
        self.num_buckets = c.relative_attention_num_buckets
        self.max_distance = c.relative_attention_max_distance
        self.q, self.k, self.v = (nn.Linear(c.d_model, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, c.d_model, bias=False)
        self.relative_attention_bias = (nn.Embedding(self.num_buckets, c.num_heads)
                                        if has_relative_attention_bias else None)
        self.dropout = c.dropout              # on the attention weights

    def position_bias(self, q: Tensor, k: Tensor) -> Tensor:
        """The bias of the T queries (the last T positions) on the S keys: (1, H, T, S)."""
        buckets = RelativeBuckets(self.bidirectional, self.num_buckets,
                                  self.max_distance)(q, k)                   # (T, S)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)[None]  # (1, H, T, S)

    def forward(self, x, kv=None, mask=None, bias=None, cache=None):
        """`cache` (a LayerCache, generation only): self-attention appends the new keys and
        values; cross-attention projects the memory once into cache.cross."""
        q = split_heads(self.q(x), self.n_head)                          # (B, H, T, D)
        if kv is None:                                                   # self-attention
            k, v = split_heads(self.k(x), self.n_head), split_heads(self.v(x), self.n_head)
            if cache is not None:
                k, v = cache.append(k, v)                                # (B, H, S, D)
        elif cache is not None and cache.cross is not None:
            k, v = cache.cross
        else:
            k, v = split_heads(self.k(kv), self.n_head), split_heads(self.v(kv), self.n_head)
            if cache is not None:
                cache.cross = (k, v)
        if bias is None and self.relative_attention_bias is not None:
            bias = self.position_bias(q, k)
        causal = kv is None and not self.bidirectional                   # decoder self-attn
        y = fused.attention(q, k, v, mask=mask, similarity="dot", bias=bias,     # no 1/√D
                            is_causal=causal, dropout_p=self.dropout, training=self.training)
        return self.o(merge_heads(y)), bias
