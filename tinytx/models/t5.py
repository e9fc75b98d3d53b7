"""T5: the text-to-text encoder-decoder of Raffel et al. (2020), with Hugging Face's names.

Introduced in lesson 13 (finetuning T5-small as in the report's §7.1; docs/finetuning.md
§6). T5 is the encoder-decoder of lesson 12 with five changes:

1. **No positional table.** Each attention layer adds a learned bias b[h, bucket(j - i)]
   to its scores, by the *relative* position of key j to query i (T5Attention, in
   tinytx/models/t5_attention.py). Only layer 0 of each stack owns a table.
2. **RMS LayerNorm** (T5LayerNorm): x / sqrt(mean(x²) + eps) · weight — no mean
   subtraction, no bias.
3. **No biases** anywhere, and **no 1/√D** inside attention (the init absorbs it).
4. Feed-forward: ReLU (T5 v1.0) or gated GELU, gelu_new(x W_0) ⊙ (x W_1) (v1.1, FLAN-T5).
5. Output: with tied embeddings (v1.0) the decoder output is scaled by d_model^-0.5
   before the shared table; untied (v1.1) checkpoints have their own lm_head and no
   rescale. (transformers 5 always ties, and keeps the rescale choice in its config's
   `scale_decoder_outputs`; T5Config has both fields.)

The decoder starts from token 0 (= pad); targets equal to pad_id are left out of the loss.
Pre-LN residual blocks throughout, a final RMS norm per stack.

Module and parameter names are Hugging Face's (`shared`, `encoder.block.0.layer.0.
SelfAttention.q`, `...relative_attention_bias`, `DenseReluDense.wi_0`, `EncDecAttention`),
so tinytx/checkpoint/t5.py maps a checkpoint by name (transposing torch's (out, in) Linear
weights into our (in, out)). T5 has the interface of tinytx.models.Seq2Seq (encode,
decode with a KV cache, forward with targets, config.n_decoder_layer/block_size/pad_id), so
generate_seq2seq and beam_search_seq2seq decode it unchanged.

    >>> import tinytx as tx
    >>> m = T5(T5Config(vocab_size=20, d_model=8, d_kv=4, d_ff=16, num_layers=1,
    ...                 num_heads=2))
    >>> m(tx.tensor([[5, 6, 1]]), tx.tensor([[0, 7]]))[0].shape
    (1, 2, 20)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import functional as F
from .. import nn
from ..nn import fused
from ..tensor import Tensor
from .seq2seq import mask_for_heads, attend_mask
from .t5_attention import T5Attention


@dataclass
class T5Config:
    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64                 # width of one head (num_heads·d_kv need not be d_model)
    d_ff: int = 2048
    num_layers: int = 6            # encoder blocks
    num_decoder_layers: int | None = None   # None: num_layers
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout: float = 0.1
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"   # "relu" (v1.0) or "gated-gelu" (v1.1, FLAN-T5)
    tie_word_embeddings: bool = True
    scale_decoder_outputs: bool | None = None   # None: the same as tie_word_embeddings
    pad_id: int = 0                # also the decoder start token
    eos_id: int = 1
    block_size: int = 512          # the longest decoder context generation keeps

    @property
    def rescale(self) -> bool:
        """Whether the decoder output is scaled by d_model^-0.5 before the LM head."""
        return (self.tie_word_embeddings if self.scale_decoder_outputs is None
                else self.scale_decoder_outputs)

    @property
    def n_decoder_layer(self) -> int:
        return self.num_decoder_layers or self.num_layers

    def to_dict(self):
        return asdict(self)


ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu,
               "gelu_new": lambda x: F.gelu(x, approximate="tanh")}


def feed_forward_kind(proj: str) -> tuple[str, bool]:
    """("relu" | "gelu" | "gelu_new", gated) from config's feed_forward_proj, as HF reads
    it: "gated-ACT" is gated, and "gated-gelu" means the tanh GELU (gelu_new)."""
    act, gated = proj.split("-")[-1], proj.startswith("gated-")
    act = "gelu_new" if proj == "gated-gelu" else act
    if act not in ACTIVATIONS or proj.count("-") > (1 if gated else 0):
        raise ValueError(f"feed_forward_proj: expected 'relu', 'gelu', 'gated-gelu' or "
                         f"'gated-relu', got {proj!r}")
    return act, gated


class T5LayerNorm(nn.Module):
    """RMS norm without mean or bias: x · (mean(x²) + eps)^-½ · weight.

    HF computes the mean square in float32 even for half-precision weights; tinytx's
    models are float32 (float64 in checks), so the input dtype is used as it is.
    Shapes: (..., C) -> (..., C)
    """

    def __init__(self, d_model: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.parameter(lambda: np.ones(d_model, dtype=np.float32), (d_model,),
                                   np.float32)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.weight, self.eps)


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """x / sqrt(mean(x², last axis) + eps) * weight, composed from F ops."""
    return x * ((x * x).mean(axis=-1, keepdims=True) + eps) ** -0.5 * weight


class T5DenseActDense(nn.Module):
    """wo(act(wi x)), or gated: wo(act(wi_0 x) ⊙ wi_1 x). Shapes: (B, T, C) -> (B, T, C)"""

    def __init__(self, c: T5Config):
        super().__init__()
        self.act, self.gated = feed_forward_kind(c.feed_forward_proj)
        if self.gated:
            self.wi_0 = nn.Linear(c.d_model, c.d_ff, bias=False)
            self.wi_1 = nn.Linear(c.d_model, c.d_ff, bias=False)
        else:
            self.wi = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wo = nn.Linear(c.d_ff, c.d_model, bias=False)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x):
        act = ACTIVATIONS[self.act]
        h = act(self.wi_0(x)) * self.wi_1(x) if self.gated else act(self.wi(x))
        return self.wo(self.dropout(h))


class T5Sublayer(nn.Module):
    """x + dropout(f(layer_norm(x))): HF's T5LayerSelfAttention, T5LayerCrossAttention and
    T5LayerFF, one class; `kind` names f's attribute (SelfAttention, EncDecAttention or
    DenseReluDense) so the parameter names are HF's."""

    def __init__(self, c: T5Config, kind: str, module: nn.Module):
        super().__init__()
        self.kind = kind
        setattr(self, kind, module)
        self.layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x, **kwargs):
        out = getattr(self, self.kind)(self.layer_norm(x), **kwargs)
        y, bias = out if isinstance(out, tuple) else (out, None)
        return x + self.dropout(y), bias


class T5Stack(nn.Module):
    """The encoder (is_decoder=False) or the decoder: blocks of sublayers, then a norm.

    Each block is `layer` = [self-attention, (cross-attention,) feed-forward].
    Shapes: x (B, T, C) -> (B, T, C)
    """

    def __init__(self, c: T5Config, is_decoder: bool):
        super().__init__()
        self.is_decoder = is_decoder
        n = c.n_decoder_layer if is_decoder else c.num_layers
        self.block = nn.ModuleList()
        for i in range(n):
            layer = [T5Sublayer(c, "SelfAttention", T5Attention(c, i == 0, not is_decoder))]
            if is_decoder:
                layer.append(T5Sublayer(c, "EncDecAttention", T5Attention(c, False, True)))
            layer.append(T5Sublayer(c, "DenseReluDense", T5DenseActDense(c)))
            block = nn.Module()
            block.layer = nn.ModuleList(layer)
            self.block.append(block)
        self.final_layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x, mask=None, memory=None, memory_mask=None, cache=None):
        x, bias = self.dropout(x), None
        for i, block in enumerate(self.block):
            kv_cache = None if cache is None else cache[i]
            attn, *rest = block.layer
            x, bias = attn(x, mask=mask, bias=bias, cache=kv_cache)
            if self.is_decoder:
                x, _ = rest[0](x, kv=memory, mask=memory_mask, cache=kv_cache)
            x, _ = rest[-1](x)
        return self.dropout(self.final_layer_norm(x))


class T5(nn.Module):
    """T5ForConditionalGeneration: shared embedding, encoder, decoder, LM head."""

    def __init__(self, config: T5Config):
        super().__init__()
        self.config = c = config
        self.shared = nn.Embedding(c.vocab_size, c.d_model)
        self.encoder = T5Stack(c, is_decoder=False)
        self.decoder = T5Stack(c, is_decoder=True)
        w = self.shared.weight
        self.lm_head = (nn.LMHead(w) if c.tie_word_embeddings else nn.LMHead(nn.parameter(
            lambda: w.numpy().copy(), w.shape, w.dtype)))

    def encode(self, src: Tensor, src_mask: Tensor | None = None) -> Tensor:
        """src (B, S), src_mask (B, S) "may attend" (True at real tokens) or None ->
        memory (B, S, C)"""
        return self.encoder(self.shared(src), mask=attend_mask(src_mask, "src_mask"))

    def decode(self, tgt_in: Tensor, memory: Tensor, src_mask=None, tgt_mask=None,
               cache=None):
        """tgt_in (B, T), memory (B, S, C) -> logits (B, T, V).

        tgt_mask is not needed (accepted for Seq2Seq's interface): the decoder is
        causal and padding sits on the right, so no real position looks at it; and it
        could not be used, since the start token 0 is also the pad id.
        `cache`: a KVCache of n_decoder_layer layers (generation under no_grad).
        """
        if cache is not None:
            cache.check(len(self.decoder.block), "T5.decode")
        x = self.decoder(self.shared(tgt_in), memory=memory,          # causal self-attention
                         memory_mask=mask_for_heads(src_mask), cache=cache)
        if self.config.rescale:
            x = x * self.config.d_model ** -0.5                          # HF's rescale
        return self.lm_head(x)

    def forward(self, src, tgt_in, src_mask=None, tgt_mask=None, targets=None):
        """Shapes: src (B, S), tgt_in (B, T) starting with token 0, src_mask (B, S) "may
        attend", targets (B, T) -> logits (B, T, V), loss (pad targets ignored)"""
        logits = self.decode(tgt_in, self.encode(src, src_mask), src_mask)
        loss = None if targets is None else fused.cross_entropy(
            logits, targets, ignore_index=self.config.pad_id)
        return logits, loss

