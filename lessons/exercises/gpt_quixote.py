"""Lesson 11's exercises (training a GPT): the training pairs X, Y and a top-k filter.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check gpt_quixote` (the checks are in lessons/checks/gpt_quixote.py).
"""
import numpy as np                     # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def xy_batch(ids, starts, block_size):
    """The report's X and Y (eq. 1-3) as two NumPy int arrays (B, T): row b of X is the
    window ids[s : s + T] starting at s = starts[b], and Y is X shifted by one token, so
    Y[b, t] is the token that follows X[b, t]. T = block_size."""
    raise NotImplementedError("your answer here")


def top_k_filter(logits, k):
    """Keep the k largest logits of each row and set the others to -inf, so that sampling
    picks only among the k most likely tokens. logits: a NumPy array (..., V); returns a
    new array of the same shape (the input unchanged). Hint: np.sort or np.argsort."""
    raise NotImplementedError("your answer here")
