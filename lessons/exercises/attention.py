"""Lesson 04's exercises (attention): a causal mask, and attention over a sliding window.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check attention` (the checks are in lessons/checks/attention.py).
"""
import numpy as np                        # noqa: F401 (for your answer)

import tinytx as tx                       # noqa: F401 (for your answer)
import tinytx.functional as F             # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def causal_mask(T):
    """The "may attend" mask of a decoder as a NumPy bool array (T, T): query i may see
    keys 0..i."""
    raise NotImplementedError("your answer here")


def attention(q, k, v, window):
    """O = softmax(Q Kᵀ / √D) V with tinytx ops (report chapter 3), where query i sees
    only the `window` most recent keys, i - window + 1 .. i (a sliding window, as in
    Longformer and Mistral); window=None: every key. Give the scores of the keys it may
    not see a large negative number (-1e9) before the softmax, e.g. with
    F.where(mask, scores, -1e9) on a bool mask Tensor (T, T).

    Shapes: q (B, T, D), k (B, T, D), v (B, T, Dv) -> (B, T, Dv); Tensors.
    """
    raise NotImplementedError("your answer here")
