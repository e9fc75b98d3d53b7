"""The checks of lesson 04's exercises (lessons/exercises/attention.py), run by
`python -m lessons.check attention`: each answer against tinytx's causal_mask and
scaled_dot_product_attention, the sliding window's mask built key by key here."""
import numpy as np

import tinytx as tx
import tinytx.functional as F
from lessons.check import same_function


def check_causal_mask(causal_mask):
    for T in (1, 4, 7):
        got = np.asarray(causal_mask(T))
        want = F.causal_mask(T).numpy()
        assert got.shape == want.shape and got.dtype == bool, (
            f"causal_mask({T}): expected bool {want.shape}, got {got.dtype} {got.shape}")
        assert (got == want).all(), f"causal_mask({T}) differs:\n{got.astype(int)}"
    return "equals F.causal_mask for T = 1, 4, 7"


def window_mask(T, window):
    """May query i see key j? A loop over every pair: j in i - window + 1 .. i."""
    mask = np.zeros((T, T), dtype=bool)
    for i in range(T):
        for j in range(T):
            mask[i, j] = window is None or i - window < j <= i
    return mask


def reference(q, k, v, window):
    return F.scaled_dot_product_attention(q, k, v, mask=tx.tensor(window_mask(q.shape[1],
                                                                              window)))


def check_attention(attention):
    T = 6
    for window in (None, 1, 3, T):
        same_function(attention, reference, [(2, T, 4), (2, T, 4), (2, T, 3)], window,
                      what=f"attention(window={window})")
    return ("equals F.scaled_dot_product_attention with every key, and with sliding "
            "windows of 1, 3 and all T keys (causal), forward and gradients")
