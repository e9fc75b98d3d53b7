"""The transformer's building blocks: MLP, the pre-LN GPT Block, and the encoder and
decoder layers of the encoder-decoder model.

Introduced in lessons 08 (MLP, Block, the post-LN EncoderLayer) and 10 (the encoder and
decoder layers, cross-attention). Each sub-layer is wrapped in a residual connection and a
LayerNorm. Pre-LN (GPT-2, the report's listing) normalises the sub-layer's input:
    x = x + sublayer(ln(x))
Post-LN (the original paper, PyTorch's nn.Transformer default) normalises the sum:
    x = ln(x + sublayer(x))
Pre-LN keeps a clean residual path from the output to the input, which is why deep
pre-LN stacks train without warmup tricks (lesson 08 measures the gradient flow).

    >>> import tinytx as tx
    >>> Block(n_embd=8, n_head=2)(tx.randn(1, 4, 8)).shape
    (1, 4, 8)
"""
from __future__ import annotations

from ..tensor import Tensor
from .attention import CrossAttention, MultiHeadAttention
from .layers import Dropout, LayerNorm, Linear, LinearGELU
from .module import Module


class MLP(Module):
    """c_fc (C -> 4C) -> GELU (GPT-2's tanh form) -> c_proj (4C -> C) -> dropout.

    n_inner (GPT-2's name) sets the hidden width instead of 4C (the report's translation
    model has C = 512 and a feed-forward width of 512)."""

    def __init__(self, n_embd, dropout=0.0, bias=True, n_inner=None):
        super().__init__()
        hidden = n_inner or 4 * n_embd
        self.c_fc = LinearGELU(n_embd, hidden, bias=bias)
        self.c_proj = Linear(hidden, n_embd, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.c_fc(x)))


class Block(Module):
    """The pre-LN decoder block of GPT-2 and the report's listing:
        x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
    Shapes: x (B, T, C) -> (B, T, C)
    """

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, causal=True):
        super().__init__()
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.attn = MultiHeadAttention(n_embd, n_head, dropout, bias, causal=causal)
        self.ln_2 = LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x: Tensor, mask=None, cache=None) -> Tensor:
        """`cache`: this block's LayerCache when generating with a KV cache, else None."""
        x = x + self.attn(self.ln_1(x), mask, cache=cache)
        return x + self.mlp(self.ln_2(x))


def _residual(x, sublayer, ln, norm_first):
    """One sub-layer with its residual connection, pre-LN or post-LN."""
    return x + sublayer(ln(x)) if norm_first else ln(x + sublayer(x))


class EncoderLayer(Module):
    """Self-attention over the whole source, then the MLP.

    Args: n_embd, n_head, dropout, bias; norm_first=True for pre-LN, False for post-LN;
    n_inner: the MLP's hidden width (default 4 * n_embd).
    Shapes: x (B, S, C), mask "may attend" broadcastable to (B, H, S, S) -> (B, S, C)
    """

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, norm_first=True,
                 n_inner=None):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(n_embd, n_head, dropout, bias)
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias, n_inner)
        self.ln_2 = LayerNorm(n_embd, bias=bias)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        x = _residual(x, lambda h: self.self_attn(h, mask), self.ln_1, self.norm_first)
        return _residual(x, self.mlp, self.ln_2, self.norm_first)


class DecoderLayer(Module):
    """Masked (causal) self-attention, encoder-decoder attention, then the MLP.

    Shapes: x (B, T, C), memory (B, S, C); self_mask broadcastable to (B, H, T, T) (the
    causal mask is added inside), memory_mask to (B, H, T, S) -> (B, T, C)
    """

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, norm_first=True,
                 n_inner=None):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(n_embd, n_head, dropout, bias, causal=True)
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.cross_attn = CrossAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias, n_inner)
        self.ln_3 = LayerNorm(n_embd, bias=bias)

    def forward(self, x: Tensor, memory: Tensor, self_mask=None, memory_mask=None,
                cache=None):
        """`cache`: this layer's LayerCache when generating (self-attention keys/values
        and the memory's cross-attention keys/values), else None."""
        x = _residual(x, lambda h: self.self_attn(h, self_mask, cache=cache), self.ln_1,
                      self.norm_first)
        x = _residual(x, lambda h: self.cross_attn(h, memory, memory_mask, cache=cache),
                      self.ln_2, self.norm_first)
        return _residual(x, self.mlp, self.ln_3, self.norm_first)
