"""Our answers to lesson 14's exercises (lessons/exercises/data_parallel.py)."""
import numpy as np

import tinytx as tx


def recursive_doubling_allreduce(arrays):
    W = len(arrays)
    if W < 1 or W & (W - 1):
        raise ValueError(f"arrays: recursive doubling needs a power of two of ranks, got "
                         f"W = {W}")
    partial, sent = [a.copy() for a in arrays], np.zeros(W)
    for s in range(W.bit_length() - 1):                     # log2(W) steps
        received = [partial[r ^ 2 ** s] for r in range(W)]  # all send at once
        for r in range(W):
            sent[r] += partial[r].nbytes
        partial = [partial[r] + received[r] for r in range(W)]
    return partial, sent


def shard_weights(counts):
    counts = np.asarray(counts, dtype=np.float64)
    if (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(f"counts: expected non-negative token counts with a positive "
                         f"sum, got {counts.tolist()}")
    # rank r's share of the tokens is counts[r] / Σ counts; DataParallel divides by W
    return len(counts) * counts / counts.sum()


def train_step(model, optimizer, micro_batches, grad_clip):
    optimizer.zero_grad()
    tokens = sum(y.size for _, y in micro_batches)
    total = 0.0
    for x, y in micro_batches:
        _, loss = model(x, y)
        share = y.size / tokens                     # this micro-batch's share of tokens
        (loss * share).backward()                   # gradients add up over micro-batches
        total += loss.item() * share
    tx.optim.clip_grad_norm(list(model.parameters()), grad_clip)
    optimizer.step()
    return total
