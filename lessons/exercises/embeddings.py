"""Lesson 07's exercises (embeddings): skip-gram's training pairs and its noise words.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check embeddings` (the checks are in lessons/checks/embeddings.py).
"""
import numpy as np                     # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def skipgram_pairs(ids, window):
    """Every (center, context) pair of word ids with the context at most `window` places
    before or after the center, inside the text: for ids [a, b, c] and window 1 that is
    (a, b), (b, a), (b, c), (c, b). Returns a list of (int, int) tuples, in any order."""
    raise NotImplementedError("your answer here")


def noise_distribution(counts, power=0.75):
    """word2vec's distribution for negative samples: each word's count to the power
    `power`, normalised to sum to 1. counts: a sequence of ints -> a float64 array."""
    raise NotImplementedError("your answer here")
