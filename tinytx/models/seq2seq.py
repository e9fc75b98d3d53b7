"""Seq2Seq: the encoder-decoder transformer of the report's Figure 3.

Introduced in lesson 12 (next-sentence prediction on Don Quixote; translation). The
encoder reads the source with self-attention over all of it; the decoder reads the target
so far with causal self-attention and looks at the encoder's output through
encoder-decoder (cross) attention; a generator maps to vocabulary logits.

    src (B, S) -> embed·√C + PE -> N x EncoderLayer -> memory (B, S, C)
    tgt_in (B, T) -> embed·√C + PE -> M x DecoderLayer(memory) -> generator -> (B, T, V)

Masks are "may attend" masks, as everywhere in tinytx: src_mask (B, S) is True at the
source's tokens and False at its padding (`src != pad_id`; `tinytx.data.pad_batch` gives
it), and is reshaped to (B, 1, 1, S) for attention. A row that may attend nothing is an
error: that is what a padding mask (True at padding) passed by mistake looks like, since
the longest sequence of a batch has no padding.

    >>> import tinytx as tx
    >>> m = Seq2Seq(Seq2SeqConfig(vocab_size=12, n_embd=8, n_head=2, n_encoder_layer=1,
    ...                           n_decoder_layer=1))
    >>> src, tgt = tx.tensor([[3, 4, 0]]), tx.tensor([[1, 5]])
    >>> m(src, tgt, src_mask=src != 0)[0].shape
    (1, 2, 12)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .. import nn
from ..function import Function
from ..nn import fused
from ..nn.positional import SinusoidalPositionalEncoding
from ..nn.transformer import DecoderLayer, EncoderLayer
from ..tensor import Tensor


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
    block_size: int = 512          # the longest source or target, in tokens (the positional table)
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
        self.pos = SinusoidalPositionalEncoding(c.n_embd, c.block_size)
        self.drop = nn.Dropout(c.dropout)
        args = (c.n_embd, c.n_head, c.dropout, c.bias, c.norm_first, c.n_inner)
        self.encoder = nn.ModuleList([EncoderLayer(*args) for _ in range(c.n_encoder_layer)])
        self.decoder = nn.ModuleList([DecoderLayer(*args) for _ in range(c.n_decoder_layer)])
        # pre-LN stacks end with a LayerNorm (their residual stream is never normalised)
        self.ln_enc = nn.LayerNorm(c.n_embd, bias=c.bias) if c.norm_first else None
        self.ln_dec = nn.LayerNorm(c.n_embd, bias=c.bias) if c.norm_first else None
        # tied: the output layer reuses the target embedding table, as in "Attention Is All
        # You Need"; with little data this lets rare words share what the embedding learned
        self.generator = (nn.LMHead(self.tgt_emb.weight) if c.tie_generator
                          else nn.Linear(c.n_embd, tgt_vocab, bias=c.bias))
        if not nn.building_abstract():      # placeholders (nn.abstract_init): no values
            for p in (self.src_emb.weight, self.tgt_emb.weight):
                p.data = p.device.randn(p.shape, p.dtype) * p.dtype.type(c.n_embd ** -0.5)

    def _embed(self, emb, ids, start=0):
        x = emb(ids) * math.sqrt(self.config.n_embd)          # (B, T, C)
        return self.drop(self.pos(x, start))

    def encode(self, src: Tensor, src_mask: Tensor | None = None) -> Tensor:
        """src (B, S), src_mask (B, S) bool True at real tokens (or None) -> memory (B, S, C)"""
        mask = attend_mask(src_mask, "src_mask")
        x = self._embed(self.src_emb, src)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.ln_enc(x) if self.ln_enc is not None else x

    def decode(self, tgt_in: Tensor, memory: Tensor, src_mask=None, tgt_mask=None,
               cache=None):
        """tgt_in (B, T), memory (B, S, C) -> logits (B, T, V)

        `cache` (a tinytx.nn.kv_cache.KVCache with n_decoder_layer layers, generation
        under no_grad only): tgt_in holds the new tokens, at positions cache.length on;
        the memory's cross-attention keys/values are computed once and kept in it.
        """
        if cache is not None:
            cache.check(len(self.decoder), "Seq2Seq.decode")
        pos = 0 if cache is None else cache.positions(tgt_in)   # an op: replays per step
        x = self._embed(self.tgt_emb, tgt_in, pos)
        self_mask, memory_mask = mask_for_heads(tgt_mask), mask_for_heads(src_mask)   # checked by forward
        for i, layer in enumerate(self.decoder):
            x = (layer(x, memory, self_mask, memory_mask) if cache is None
                 else layer(x, memory, self_mask, memory_mask, cache=cache[i]))
        x = self.ln_dec(x) if self.ln_dec is not None else x
        return self.generator(x)

    def forward(self, src, tgt_in, src_mask=None, tgt_mask=None, targets=None):
        """Shapes: src (B, S), tgt_in (B, T), masks (B, S)/(B, T) bool "may attend" (True
        at real tokens), targets (B, T) -> logits (B, T, V), loss (padding targets ignored)"""
        attend_mask(tgt_mask, "tgt_mask")
        memory = self.encode(src, src_mask)
        logits = self.decode(tgt_in, memory, src_mask, tgt_mask)
        loss = None if targets is None else fused.cross_entropy(
            logits, targets, ignore_index=self.config.pad_id)
        return logits, loss


def attend_mask(mask, name: str):
    """Check a (B, L) "may attend" mask and reshape it to (B, 1, 1, L) for attention (None
    stays None). A row with no True is a ValueError: no real token to attend to, which is
    what a padding mask (True at padding) looks like in its longest row."""
    if mask is None:
        return None
    if mask.dtype != bool or mask.ndim != 2:
        raise ValueError(f"{name}: expected a bool (B, L) \"may attend\" mask, got dtype "
                         f"{mask.dtype} and shape {mask.shape}")
    return AttendMask(name)(mask)


class AttendMask(Function):
    """`attend_mask`'s check and reshape as an op, so that a captured evaluation step
    (tinytx.capture) checks and reshapes each batch's mask. Shapes: (B, L) -> (B, 1, 1, L)"""

    differentiable = False

    def __init__(self, name: str):
        self.name = name

    def forward(self, mask):
        empty = ~self.device.to_host(mask.any(axis=1))                   # (B,)
        if empty.any():
            raise ValueError(f"{self.name}: row {int(empty.argmax())} may attend no "
                             f"position. Masks are \"may attend\" (True at real tokens, as "
                             f"tinytx.data.pad_batch gives them); a padding mask (True at "
                             f"padding) must be inverted: ~pad_mask")
        B, L = mask.shape
        return mask.reshape(B, 1, 1, L)


def mask_for_heads(mask):
    """(B, L) -> (B, 1, 1, L): one mask row for every head and query position."""
    if mask is None:
        return None
    B, L = mask.shape
    return mask.reshape(B, 1, 1, L)                      # an op: a capture replays it
