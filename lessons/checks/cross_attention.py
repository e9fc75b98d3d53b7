"""The checks of lesson 10's exercises (lessons/exercises/cross_attention.py), run by
`python -m lessons.check cross_attention`: each answer against
F.padding_mask and F.combine_masks."""
import numpy as np

import tinytx.functional as F


def same_mask(got, want, what):
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == bool, (
        f"{what}: expected bool {want.shape}, got {got.dtype} {got.shape}")
    assert (got == want).all(), f"{what} differs from tinytx's:\n{got.astype(int)}"


def check_padding_mask(padding_mask):
    for lengths, S in [([2, 3], 4), ([1], 1), ([5, 1, 3], 5)]:
        want = F.padding_mask(np.array(lengths), S).numpy()[:, 0, 0]  # (B, 1, 1, S) -> (B, S)
        same_mask(padding_mask(lengths, S), want, f"padding_mask({lengths}, {S})")
    return "equals F.padding_mask"


def check_decoder_mask(decoder_mask):
    for lengths, T in [([2, 4], 4), ([3, 1, 5], 6)]:
        both = F.combine_masks(F.causal_mask(T), F.padding_mask(np.array(lengths), T))
        want = both.numpy()[:, 0]                           # (B, 1, T, T) -> (B, T, T)
        same_mask(decoder_mask(lengths, T), want, f"decoder_mask({lengths}, {T})")
    return "equals F.combine_masks(F.causal_mask, F.padding_mask)"
