"""Positional encodings: the report's sinusoidal table (§6.1) and learned positions.

Learned positions are introduced in lesson 04 (one attention head solves the recall task
with them and fails without), the sinusoidal table in lesson 09. Attention treats its
input as a set; adding a position vector to each token embedding lets the model know
where each token is.

    PE(pos, 2i)   = sin(pos / 10000^(2i/C))
    PE(pos, 2i+1) = cos(pos / 10000^(2i/C))

    >>> sinusoidal_table(4, 6).shape
    (4, 6)
"""
from __future__ import annotations

import numpy as np

from ..backend import get_device
from ..functional.layers import embedding
from ..tensor import Tensor, arange
from .layers import Embedding
from .module import Module, building_abstract, placeholder


def sinusoidal_table(n_positions: int, n_embd: int, base: float = 10000.0) -> np.ndarray:
    """The (n_positions, n_embd) table: sin on even dimensions, cos on odd ones."""
    pos = np.arange(n_positions)[:, None]                       # (T, 1)
    i2 = np.arange(0, n_embd, 2)                                # the even dimensions 2i
    angle = pos / base ** (i2 / n_embd)                         # (T, ceil(C/2))
    table = np.zeros((n_positions, n_embd))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : n_embd // 2])
    return table


class SinusoidalPositionalEncoding(Module):
    """Adds the fixed sinusoidal table to x (a buffer: moved by to(), not trained).

    Shapes: x (B, T, C) -> (B, T, C), T <= max_len
    """

    def __init__(self, n_embd: int, max_len: int = 5000, device=None, dtype="float32"):
        super().__init__()
        self.max_len = max_len
        if building_abstract():
            dev, table = get_device("cpu"), placeholder((max_len, n_embd), dtype)
        else:
            dev = get_device(device)
            table = dev.asarray(sinusoidal_table(max_len, n_embd), dtype=dtype)
        self.register_buffer("pe", Tensor._make(table, dev, False), persistent=False)

    def forward(self, x: Tensor, start: int | Tensor = 0) -> Tensor:
        """`start`: the first position, or the positions (T,) themselves as a Tensor made
        by an op (a KV cache's `positions`, so that a captured step recomputes them)."""
        if isinstance(start, Tensor):
            return x + embedding(start, self.pe)                 # (B, T, C) + (T, C)
        T = x.shape[1]
        if start + T > self.max_len:
            raise ValueError(f"SinusoidalPositionalEncoding: positions up to {start + T} "
                             f"asked for, but max_len is {self.max_len}")
        return x + self.pe[start:start + T]


class LearnedPositionalEmbedding(Embedding):
    """One learned vector per position (GPT's wpe). forward(T) -> (T, C)."""

    def forward(self, T: int, start: int | Tensor = 0) -> Tensor:
        """`start`: the first position, or the positions (T,) as a Tensor (see
        SinusoidalPositionalEncoding.forward)."""
        if isinstance(start, Tensor):
            return super().forward(start)
        if start + T > self.num_embeddings:
            raise ValueError(f"position {start + T - 1} is past the {self.num_embeddings} "
                             f"learned positions (block_size)")
        return super().forward(arange(start, start + T, device=self.weight.device))
