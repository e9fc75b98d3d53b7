"""Lesson 06's exercises (tokenization): counting pairs over chunks, merging, and encoding
new text with learned merges.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check tokenization` (the checks are in
lessons/checks/tokenization.py).
"""


# -- your answers --------------------------------------------------------------------------
def pair_counts(chunks):
    """Count adjacent pairs over a text cut into chunks, given as {chunk: how often it
    occurs}, each chunk a tuple of ids: {(a, b): total count}. A chunk that occurs n
    times counts its pairs n times (so each distinct chunk is read once); no pair spans
    two chunks; overlapping pairs count ("aaa" has the pair (a, a) twice); pairs enter
    the dict in the order first seen.
    Example: pair_counts({(1, 2, 3): 2, (3, 1): 1}) == {(1, 2): 2, (2, 3): 2, (3, 1): 1}"""
    raise NotImplementedError("your answer here")


def merge(ids, pair, idx):
    """Replace each occurrence of `pair` in the list `ids` by `idx`, left to right, without
    overlaps: merge([5, 5, 5], (5, 5), 256) == [256, 5]."""
    raise NotImplementedError("your answer here")


def encode(text, merges):
    """The ids of `text` under learned merges {(a, b): new id} (as training made them, new
    ids 256, 257, ... in the order learned): start from the UTF-8 bytes of `text` and
    replay the merges on it, so that it is cut as training would have cut it. Which pair
    must be merged first, when several pairs of the text are merges? Use your merge and
    pair_counts({tuple(ids): 1}). Returns a list of ints."""
    raise NotImplementedError("your answer here")
