"""The held-out pass: the loss over every held-out token once, and bits per byte.

Introduced in lesson 11 (report chapter 7). During training the Trainer estimates the
validation loss from a few random batches (cheap, every eval_interval steps); at the end
of a run `evaluate` walks the whole held-out split in consecutive windows, so every
token after the first is predicted exactly once and the number is the split's true mean
cross-entropy. Bits per byte divides out the tokenizer: nats per token / ln 2 gives bits
per token, and / (bytes per token) bits per byte, comparable across vocabularies.

    >>> import numpy as np
    >>> from tinytx.models import GPT, GPTConfig
    >>> model = GPT(GPTConfig(block_size=8, vocab_size=16, n_layer=1, n_head=2, n_embd=8))
    >>> loss, bpb = evaluate(model, np.arange(40) % 16, 2, 8, bytes_per_token=2.0)
    >>> round(bpb, 6) == round(bits_per_byte(loss, 2.0), 6)
    True
"""
from __future__ import annotations

import math

from ..data.lm import iter_windows
from ..tensor import no_grad


def bits_per_byte(loss: float, bytes_per_token: float | None) -> float:
    """Nats per token -> bits per UTF-8 byte (NaN when bytes_per_token is unknown)."""
    return loss / math.log(2) / bytes_per_token if bytes_per_token else math.nan


def evaluate(model, ids, batch_size: int, block_size: int, *, bytes_per_token=None,
             device=None) -> tuple[float, float]:
    """(mean cross-entropy in nats per token, bits per byte) of `model` over every token
    of the held-out ids, in order, with dropout off; the model's mode is restored after.

    Args:
        model: forward(x, y) -> (logits, loss), loss a mean over y's tokens (a GPT).
        ids: the held-out token ids, 1-D.
        batch_size, block_size: windows per batch and tokens per window.
        bytes_per_token: UTF-8 bytes of the held-out text per token, for bits per byte.
        device: where the batches go (the model's device).
    """
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for x, y in iter_windows(ids, batch_size, block_size, device=device):
                total += model(x, y)[1].item() * y.size
                count += y.size
    finally:
        model.train(was_training)
    loss = total / count
    return loss, bits_per_byte(loss, bytes_per_token)
