"""Gradient accumulation: micro-batches whose summed gradients equal one big batch's.

Introduced in lesson 11 with the Trainer (tinytx/train/trainer.py), which runs it once
per optimizer step; lesson 14 weighs unequal shards with its `counts`; data-parallel
training (docs/distributed.md) runs it on each rank's shard.
"""
from __future__ import annotations

import contextlib


def lm_loss(model, batch):
    """The default loss function: a batch is the model's forward arguments, e.g. (x, y)
    for a GPT, and forward returns (logits, loss)."""
    return model(*batch)[1]


def accumulate_gradients(model, batches, counts=None, loss_fn=lm_loss, parallel=None):
    """Forward and backward over micro-batches so that the summed gradients equal those
    of one big batch holding them all. Returns the loss of that big batch.

    Each loss is a mean over its batch's target tokens. With `counts` (the number of
    target tokens of each micro-batch) loss i is weighted by counts[i] / Σ counts: every
    token counts the same, however the batches were padded. Without, each gets 1/k
    (right when all micro-batches have the same number of tokens, as LM windows do).
    The loss comes back as a float64 0-d array on the model's device (float() reads it,
    which waits for the device: the Trainer does so only at its log interval).

    With `parallel` (a tinytx.distributed.DataParallel; the batches are this rank's
    shards) every micro-step but the last runs in `no_sync()`, and `parallel.finish()`
    leaves the gradients of the whole global batch, averaged over the ranks.
    """
    weighted, counts = counts is not None, [1] * len(batches) if counts is None else counts
    if len(counts) != len(batches) or min(counts, default=1) < 0 or sum(counts) <= 0:
        raise ValueError(f"counts: expected one non-negative token count per micro-batch "
                         f"with a positive sum, got {counts} for {len(batches)} batches")
    # with ranks, every token of the global batch counts the same: divide by the mean of
    # the ranks' totals, since the ranks' gradients are then averaged
    tokens = parallel.mean(sum(counts)) if parallel and weighted else sum(counts)
    total = 0.0
    for i, (batch, n) in enumerate(zip(batches, counts)):  # (x, y); a PairBatch
        last = i == len(batches) - 1
        with parallel.no_sync() if parallel and not last else contextlib.nullcontext():
            loss = loss_fn(model, batch)
            weight = n / tokens
            (loss * weight).backward()
        total = total + loss.data.astype("float64") * weight   # on the device: no wait
    if parallel:
        parallel.finish()
    return total
