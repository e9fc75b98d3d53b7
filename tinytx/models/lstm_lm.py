"""LSTMLM: a character/token language model built on the LSTM (report chapter 2).

Introduced in lesson 03; lesson 11 trains it beside the GPT on the same Don Quixote
windows, so the two can be compared loss for loss. Reads top to bottom: config -> model.

    token ids (B, T) -> wte -> dropout -> LSTM (num_layers) -> dropout -> lm_head -> logits

It has the GPT's interface, `logits, loss = model(idx, targets)`, plus what only a
recurrent model has: a state (h, c) that summarises everything read so far. `run` returns
it, `forward` takes it back (`state=`), and `generate` uses it to read each new token in
one step instead of re-reading the whole context.

    >>> import tinytx as tx
    >>> model = LSTMLM(LSTMConfig(vocab_size=11, n_embd=8, hidden_size=16, num_layers=1))
    >>> logits, loss = model(tx.tensor([[1, 2, 3]]), tx.tensor([[2, 3, 4]]))
    >>> logits.shape
    (1, 3, 11)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import functional as F
from .. import nn
from ..nn import fused
from ..nn.recurrent import LSTM
from ..tensor import Tensor, no_grad


@dataclass
class LSTMConfig:
    vocab_size: int = 512
    n_embd: int = 128          # the size of a token embedding: the LSTM's input_size
    hidden_size: int = 256     # H, the size of h_t and C_t
    num_layers: int = 2
    dropout: float = 0.0       # after the embedding, between LSTM layers, before lm_head

    def to_dict(self):
        return asdict(self)


class LSTMLM(nn.Module):
    """Embedding -> LSTM -> Linear to the vocabulary.

    Args:
        config: an LSTMConfig.
    Shapes: idx (B, T) int, targets (B, T) int, state (h, c) each (num_layers, B, H)
        -> logits (B, T, V), loss a scalar (None without targets)
    """

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.lstm = LSTM(c.n_embd, c.hidden_size, c.num_layers, dropout=c.dropout)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size)

    def run(self, idx: Tensor, state=None):
        """Logits (B, T, V) and the final state (h_T, c_T), each (num_layers, B, H)."""
        if not isinstance(idx, Tensor) or idx.ndim != 2 or idx.dtype.kind not in "iu":
            got = (f"shape {idx.shape}, dtype {idx.dtype}" if isinstance(idx, Tensor)
                   else type(idx).__name__)
            raise ValueError(f"LSTMLM: idx must be an integer tensor of shape (B, T), "
                             f"got {got}")
        x = self.drop(self.wte(idx))                        # (B, T) -> (B, T, n_embd)
        hs, state = self.lstm(x, state)                     # (B, T, H)
        return self.lm_head(self.drop(hs)), state           # (B, T, V)

    def forward(self, idx: Tensor, targets: Tensor | None = None, state=None):
        logits, _ = self.run(idx, state)
        loss = None if targets is None else fused.cross_entropy(logits, targets)
        return logits, loss

    @no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0):
        """Continue each row of idx (B, T) by max_new_tokens sampled tokens (greedy when
        temperature is 0), carrying the LSTM state instead of re-reading the context.
        Call `model.eval()` first if the model has dropout."""
        logits, state = self.run(idx)
        out = [idx]
        for _ in range(max_new_tokens):
            last = logits.data[:, -1]                        # (B, V)
            nxt = self._pick(last, temperature)              # (B, 1)
            out.append(nxt)
            logits, state = self.run(nxt, state)
        return F.concat(out, axis=1)                         # (B, T + max_new_tokens)

    def _pick(self, last, temperature):
        """The next token ids (B, 1) from the last logits (B, V) of a raw array."""
        dev, xp = self.lm_head.weight.device, self.lm_head.weight.device.xp
        if temperature == 0:
            return Tensor._make(xp.argmax(last, axis=-1)[:, None], dev, False)
        z = (last - last.max(axis=-1, keepdims=True)) / temperature
        p = xp.exp(z)
        cdf = xp.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)  # (B, V)
        u = dev.rand((last.shape[0], 1), cdf.dtype)
        ids = xp.minimum((cdf < u).sum(axis=-1), last.shape[-1] - 1)  # inverse CDF
        return Tensor._make(ids[:, None].astype(xp.int64), dev, False)
