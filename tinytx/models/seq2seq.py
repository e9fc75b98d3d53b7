"""Seq2Seq: the encoder-decoder transformer of the report's Figure 3.

Introduced in lesson 11 (next-sentence prediction on Don Quixote; translation). The
encoder reads the source with self-attention over all of it; the decoder reads the target
so far with causal self-attention and looks at the encoder's output through
encoder-decoder (cross) attention; a generator maps to vocabulary logits.

    src (B, S) -> embed·√C + PE -> N x EncoderLayer -> memory (B, S, C)
    tgt_in (B, T) -> embed·√C + PE -> M x DecoderLayer(memory) -> generator -> (B, T, V)

Padding masks are True at padding positions (`src == pad_id`); inside, attention takes
"may attend" masks, so they are inverted and reshaped to (B, 1, 1, S).

    >>> import tinytx as tx
    >>> m = Seq2Seq(Seq2SeqConfig(vocab_size=12, n_embd=8, n_head=2, n_encoder_layer=1,
    ...                           n_decoder_layer=1))
    >>> src, tgt = tx.tensor([[3, 4, 0]]), tx.tensor([[1, 5]])
    >>> m(src, tgt, src_pad_mask=src == 0)[0].shape
    (1, 2, 12)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .. import nn
from ..nn import fused
from ..nn.positional import SinusoidalPositionalEncoding
from ..nn.transformer import DecoderLayer, EncoderLayer
from ..tensor import Tensor
from .gpt import LMHead


@dataclass
class Seq2SeqConfig:
    vocab_size: int = 512          # the source vocabulary (and the target's if shared)
    tgt_vocab_size: int | None = None   # None: same as vocab_size
    n_embd: int = 128
    n_head: int = 4
    n_encoder_layer: int = 2
    n_decoder_layer: int = 2
    n_inner: int | None = None     # the MLP's hidden width (None: 4 * n_embd)
    dropout: float = 0.1
    bias: bool = True
    norm_first: bool = True        # pre-LN (True) or post-LN (False, the original paper)
    share_embeddings: bool = True  # one embedding table for source and target
    tie_generator: bool = False    # logits = x @ tgt_embᵀ (Press & Wolf 2017), no separate head
    max_len: int = 512
    pad_id: int = 0                # targets equal to pad_id are left out of the loss

    def to_dict(self):
        return asdict(self)


class Seq2Seq(nn.Module):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = c = config
        tgt_vocab = c.tgt_vocab_size or c.vocab_size
        if c.share_embeddings and tgt_vocab != c.vocab_size:
            raise ValueError("Seq2SeqConfig: share_embeddings needs tgt_vocab_size == "
                             f"vocab_size, got {tgt_vocab} and {c.vocab_size}")
        self.src_emb = nn.Embedding(c.vocab_size, c.n_embd)
        self.tgt_emb = self.src_emb if c.share_embeddings else nn.Embedding(tgt_vocab,
                                                                            c.n_embd)
        self.pos = SinusoidalPositionalEncoding(c.n_embd, c.max_len)
        self.drop = nn.Dropout(c.dropout)
        args = (c.n_embd, c.n_head, c.dropout, c.bias, c.norm_first, c.n_inner)
        self.encoder = nn.ModuleList([EncoderLayer(*args) for _ in range(c.n_encoder_layer)])
        self.decoder = nn.ModuleList([DecoderLayer(*args) for _ in range(c.n_decoder_layer)])
        # pre-LN stacks end with a LayerNorm (their residual stream is never normalised)
        self.ln_enc = nn.LayerNorm(c.n_embd, bias=c.bias) if c.norm_first else None
        self.ln_dec = nn.LayerNorm(c.n_embd, bias=c.bias) if c.norm_first else None
        # tied: the output layer reuses the target embedding table, as in "Attention Is All
        # You Need"; with little data this lets rare words share what the embedding learned
        self.generator = (LMHead(self.tgt_emb.weight) if c.tie_generator
                          else nn.Linear(c.n_embd, tgt_vocab, bias=c.bias))
        for p in (self.src_emb.weight, self.tgt_emb.weight):
            p.data = p.device.randn(p.shape, p.dtype) * p.dtype.type(c.n_embd ** -0.5)

    def _embed(self, emb, ids, start=0):
        x = emb(ids) * math.sqrt(self.config.n_embd)          # (B, T, C)
        return self.drop(self.pos(x, start))

    def encode(self, src: Tensor, src_pad_mask: Tensor | None = None) -> Tensor:
        """src (B, S) -> memory (B, S, C)"""
        mask = _may_attend(src_pad_mask)
        x = self._embed(self.src_emb, src)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.ln_enc(x) if self.ln_enc is not None else x

    def decode(self, tgt_in: Tensor, memory: Tensor, src_pad_mask=None, tgt_pad_mask=None,
               cache=None):
        """tgt_in (B, T), memory (B, S, C) -> logits (B, T, V)

        `cache` (a tinytx.nn.kv_cache.KVCache with n_decoder_layer layers, generation
        under no_grad only): tgt_in holds the new tokens, at positions cache.length on;
        the memory's cross-attention keys/values are computed once and kept in it.
        """
        start = 0 if cache is None else cache.length
        if cache is not None:
            cache.check(len(self.decoder), "Seq2Seq.decode")
        x = self._embed(self.tgt_emb, tgt_in, start)
        self_mask, memory_mask = _may_attend(tgt_pad_mask), _may_attend(src_pad_mask)
        for i, layer in enumerate(self.decoder):
            x = (layer(x, memory, self_mask, memory_mask) if cache is None
                 else layer(x, memory, self_mask, memory_mask, cache=cache[i]))
        x = self.ln_dec(x) if self.ln_dec is not None else x
        return self.generator(x)

    def forward(self, src, tgt_in, src_pad_mask=None, tgt_pad_mask=None, targets=None):
        """Shapes: src (B, S), tgt_in (B, T), pad masks (B, S)/(B, T) bool True at padding,
        targets (B, T) -> logits (B, T, V), loss (padding targets ignored)"""
        memory = self.encode(src, src_pad_mask)
        logits = self.decode(tgt_in, memory, src_pad_mask, tgt_pad_mask)
        loss = None if targets is None else fused.cross_entropy(
            logits, targets, ignore_index=self.config.pad_id)
        return logits, loss


def _may_attend(pad_mask):
    """(B, S) True-at-padding -> (B, 1, 1, S) "may attend" (or None)."""
    if pad_mask is None:
        return None
    B, S = pad_mask.shape
    return Tensor._make(~pad_mask.data.reshape(B, 1, 1, S), pad_mask.device, False)
