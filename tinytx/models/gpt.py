"""GPT: the decoder-only transformer of GPT-2 and nanoGPT, with GPT-2's parameter names.

Introduced in lesson 11 (training a GPT on Don Quixote, report chapter 7). Reads top to
bottom: config -> model. The blocks (attention, MLP, Block) live in tinytx.nn.

    token ids (B, T) -> wte + wpe -> dropout -> n_layer x Block -> ln_f -> lm_head -> logits

`lm_head` shares its weight with `wte` (weight tying): one array used twice, so its
gradient is the sum of both uses, and it is counted and saved once.

    >>> import tinytx as tx
    >>> model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    >>> logits, loss = model(tx.tensor([[1, 2, 3]]), tx.tensor([[2, 3, 4]]))
    >>> logits.shape
    (1, 3, 11)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .. import nn
from ..nn import fused
from ..nn.positional import LearnedPositionalEmbedding
from ..nn.transformer import Block
from ..tensor import Tensor


@dataclass
class GPTConfig:
    block_size: int = 256      # the longest context, in tokens
    vocab_size: int = 512
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True          # biases in Linear and LayerNorm (GPT-2 has them)

    def to_dict(self):
        return asdict(self)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = c = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            wpe=LearnedPositionalEmbedding(c.block_size, c.n_embd),
            drop=nn.Dropout(c.dropout),
            h=nn.ModuleList([Block(c.n_embd, c.n_head, c.dropout, c.bias)
                             for _ in range(c.n_layer)]),
            ln_f=nn.LayerNorm(c.n_embd, bias=c.bias),
        ))
        self.lm_head = nn.LMHead(self.transformer.wte.weight)
        self._init_weights()

    def _init_weights(self):
        """GPT-2's init: normal(0, 0.02) for matrices and embeddings, zero biases, and the
        projections into the residual stream scaled by 1/sqrt(2·n_layer)."""
        if nn.building_abstract():          # placeholders (nn.abstract_init): no values
            return
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                p.data[...] = 0
            elif p.ndim == 2:
                std = 0.02 / math.sqrt(2 * self.config.n_layer) if name.endswith(
                    "c_proj.weight") else 0.02
                p.data = p.device.randn(p.shape, p.dtype) * p.dtype.type(std)

    def forward(self, idx: Tensor, targets: Tensor | None = None, cache=None,
                last_only: bool = False):
        """Shapes: idx (B, T) int, targets (B, T) int -> logits (B, T, V), loss scalar
        (an empty batch, B = 0, gives logits (0, T, V), loss 0 and zero gradients)

        `cache` (a tinytx.nn.kv_cache.KVCache, generation under no_grad only): idx holds
        the new tokens, at positions cache.length .. cache.length + T - 1.
        `last_only`: logits of the last position only, (B, 1, V) (generation needs no
        more; without targets).
        """
        B, T = idx.shape
        start = 0 if cache is None else cache.length
        if start + T > self.config.block_size:
            cached = "" if cache is None else f" (after {start} cached positions)"
            raise ValueError(f"GPT: sequence of length {T}{cached} is longer than "
                             f"block_size {self.config.block_size}")
        if cache is not None:
            cache.check(len(self.transformer.h), "GPT")
        tr = self.transformer
        pos = 0 if cache is None else cache.positions(idx)   # an op: replays per step
        x = tr.drop(tr.wte(idx) + tr.wpe(T, pos))         # (B, T, C) + (T, C)
        for i, block in enumerate(tr.h):
            x = block(x) if cache is None else block(x, cache=cache[i])
        if last_only:
            if targets is not None:
                raise ValueError("GPT: last_only=True gives no logits for the loss; pass "
                                 "targets=None")
            x = x[:, -1:]                                  # (B, T, C) -> (B, 1, C)
        logits = self.lm_head(tr.ln_f(x))                  # (B, T, V)
        loss = None if targets is None else fused.cross_entropy(logits, targets)
        return logits, loss

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameters, tied weights counted once (without wpe if non_embedding)."""
        n = super().num_parameters()
        return n - self.transformer.wpe.weight.size if non_embedding else n
