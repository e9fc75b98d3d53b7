"""Lesson 05's exercises (tokenization): BPE's two helpers, and encoding new text with
learned merges.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check tokenization` (the checks are in
lessons/checks/tokenization.py).
"""


# -- your answers --------------------------------------------------------------------------
def get_stats(ids):
    """Count adjacent pairs: {(a, b): how often b follows a}. Overlapping pairs count
    ("aaa" has the pair (a, a) twice); pairs enter the dict in the order first seen.
    Example: get_stats([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}"""
    raise NotImplementedError("your answer here")


def merge(ids, pair, idx):
    """Replace each occurrence of `pair` in the list `ids` by `idx`, left to right, without
    overlaps: merge([5, 5, 5], (5, 5), 256) == [256, 5]."""
    raise NotImplementedError("your answer here")


def encode(text, merges):
    """The ids of `text` under learned merges {(a, b): new id} (as training made them, new
    ids 256, 257, ... in the order learned): start from the UTF-8 bytes of `text` and
    replay the merges on it, so that it is cut as training would have cut it. Which pair
    must be merged first, when several pairs of the text are merges? Use your get_stats
    and merge. Returns a list of ints."""
    raise NotImplementedError("your answer here")
