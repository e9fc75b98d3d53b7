"""Lesson 14's exercises (data parallelism): an all-reduce in log2 W steps, the loss
weights of unequal shards under DataParallel's average, and one step of the training loop
from micro-batches.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check data_parallel` (the checks are in
lessons/checks/data_parallel.py).
"""
import numpy as np                     # noqa: F401 (for your answers)

import tinytx as tx                    # noqa: F401 (for your answers)


# -- your answers --------------------------------------------------------------------------
def recursive_doubling_allreduce(arrays):
    """All-reduce by recursive doubling, simulated in one process like section 1's naive
    and ring versions. `arrays`: a list of W equal-length float arrays, rank r's in
    arrays[r], W a power of two (raise ValueError naming W otherwise); do not change them.

    Every rank starts with its own array as its partial sum. At step s = 0, 1, ...,
    log2(W) - 1, all ranks at once send their whole partial sum to rank r XOR 2**s (`^`
    in Python) and add the one they receive to theirs. After step s a rank holds the sum
    of its block of 2**(s+1) ranks; after the last, every rank holds the sum of all W.

    Returns (results, sent): the W results (rank r's in results[r]) and the bytes each
    rank sent (an array of W numbers; an array's size in bytes is its .nbytes)."""
    raise NotImplementedError("your answer here")


def shard_weights(counts):
    """The loss weight of each rank under DataParallel. Rank r's shard of the global
    batch has counts[r] target tokens, and its loss is the mean over them; each rank
    multiplies its loss by its weight before backward, and DataParallel then averages
    the W ranks' gradients (their sum divided by W). Return the W weights (an array) that
    make that average the gradient of the mean over all the global batch's tokens.
    Raise ValueError naming counts when a count is negative or they sum to 0."""
    raise NotImplementedError("your answer here")


def train_step(model, optimizer, micro_batches, grad_clip):
    """One step of the training loop (lesson 11's section 3), from micro-batches: the
    step one process takes on the whole batch, when the batch does not fit at once.

    micro_batches: a list of (x, y) int Tensors (B_i, T), of different sizes B_i; the
    model returns (logits, loss), the loss a mean over its batch's target tokens. Clear
    the gradients, then for each micro-batch run forward and backward with its loss
    weighted so that the summed gradients are those of the mean loss over all the
    micro-batches' tokens; clip their global norm to grad_clip with
    tx.optim.clip_grad_norm(list(model.parameters()), grad_clip); take the optimizer's
    step. Returns the whole batch's mean loss, a float."""
    raise NotImplementedError("your answer here")
