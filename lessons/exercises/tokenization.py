"""Lesson 05's exercises (tokenization): byte-level BPE from its two helpers.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check tokenization`.
"""
from tinytx.data import OPENING
from tinytx.tokenizer import BasicTokenizer, bpe


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


def train_bpe(text, vocab_size):
    """The report's BPE listing, fixed: start from the UTF-8 bytes of `text` (ids 0..255),
    then vocab_size - 256 times merge the most frequent pair (the first seen wins a tie:
    max(stats, key=stats.get)) into the next new id 256, 257, ...
    Returns the merges {(a, b): new id} in the order they were made. Use your get_stats
    and merge."""
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check tokenization`: no need to edit below ------
def check_get_stats(get_stats):
    for ids in ([1, 2, 3, 1, 2], [5, 5, 5], [7], list(OPENING[:300].encode())):
        got, want = get_stats(ids), bpe.get_stats(ids)
        assert got == want, f"get_stats({ids[:8]}...) = {got}, expected {want}"
        assert list(got) == list(want), f"get_stats({ids}): pairs not in first-seen order"
    return "equals tinytx.tokenizer.bpe.get_stats (counts and order)"


def check_merge(merge):
    cases = [([1, 2, 3, 1, 2], (1, 2), 4), ([5, 5, 5], (5, 5), 256),
             ([5, 5, 5, 5], (5, 5), 256), ([1, 2], (2, 1), 9), ([], (1, 2), 3)]
    for ids, pair, idx in cases:
        got, want = merge(list(ids), pair, idx), bpe.merge(ids, pair, idx)
        assert list(got) == want, f"merge({ids}, {pair}, {idx}) = {got}, expected {want}"
    return "equals tinytx.tokenizer.bpe.merge, overlaps included"


def check_train_bpe(train_bpe):
    for text, vocab_size in [("aaabdaaabac", 259), (OPENING, 300)]:
        tok = BasicTokenizer()
        tok.train(text, vocab_size)
        got = train_bpe(text, vocab_size)
        assert dict(got) == tok.merges, (f"train_bpe({text[:20]!r}..., {vocab_size}): the "
                                         f"merges differ from BasicTokenizer's")
    return "the same merges as BasicTokenizer, on 'aaabdaaabac' and on the book's opening"
