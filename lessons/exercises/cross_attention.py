"""Lesson 10's exercises (encoder, decoder, cross-attention): the masks of a padded batch.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check cross_attention` (the checks are in
lessons/checks/cross_attention.py).
"""
import numpy as np                     # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def padding_mask(lengths, S):
    """The "may attend" mask of a padded batch as a NumPy bool array (B, S): row b is True
    at its lengths[b] real tokens and False at the padding after them.
    Example: padding_mask([2, 3], 4) -> [[T, T, F, F], [T, T, T, F]]. Hint: np.arange."""
    raise NotImplementedError("your answer here")


def decoder_mask(lengths, T):
    """The decoder's self-attention mask (B, T, T), NumPy bool: query i of row b may see
    key j when j <= i (causal) and j is a real token of row b (not padding)."""
    raise NotImplementedError("your answer here")
