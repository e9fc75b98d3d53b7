"""Lesson 03's exercises (attention): scaled dot-product attention with a causal mask.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check attention`.
"""
import numpy as np

import tinytx as tx                       # noqa: F401 (for your answer)
import tinytx.functional as F
from lessons.check import same_function


# -- your answers --------------------------------------------------------------------------
def causal_mask(T):
    """The "may attend" mask of a decoder as a NumPy bool array (T, T): query i may see
    keys 0..i. Hint: np.tril."""
    raise NotImplementedError("your answer here")


def attention(q, k, v, causal):
    """O = softmax(Q Kᵀ / √D) V with tinytx ops (report chapter 3); with causal=True query i
    sees keys 0..i only: give the other scores a large negative number (-1e9) before the
    softmax, e.g. with F.where(mask, scores, -1e9) on a mask Tensor.

    Shapes: q (B, T, D), k (B, T, D), v (B, T, Dv) -> (B, T, Dv); Tensors.
    Hint: k.transpose(-2, -1), @, F.softmax(s, axis=-1), tx.tensor(your causal_mask(T)).
    """
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check attention`: no need to edit below ---------
def check_causal_mask(causal_mask):
    for T in (1, 4, 7):
        got = np.asarray(causal_mask(T))
        want = F.causal_mask(T).numpy()
        assert got.shape == want.shape and got.dtype == bool, (
            f"causal_mask({T}): expected bool {want.shape}, got {got.dtype} {got.shape}")
        assert (got == want).all(), f"causal_mask({T}) differs:\n{got.astype(int)}"
    return "equals F.causal_mask for T = 1, 4, 7"


def reference(q, k, v, causal):
    mask = F.causal_mask(q.shape[1]) if causal else None
    return F.scaled_dot_product_attention(q, k, v, mask=mask)


def check_attention(attention):
    for causal in (False, True):
        same_function(attention, reference, [(2, 5, 4), (2, 5, 4), (2, 5, 3)], causal,
                      what=f"attention(causal={causal})")
    return "equals F.scaled_dot_product_attention with and without the causal mask"
