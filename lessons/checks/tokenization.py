"""The checks of lesson 06's exercises (lessons/exercises/tokenization.py), run by
`python -m lessons.check tokenization`: each answer against tinytx.tokenizer (bpe's
helpers, and BasicTokenizer's encode with the merges it learned)."""
from collections import Counter

import regex

from tinytx.data import OPENING
from tinytx.tokenizer import GPT4_SPLIT_PATTERN, BasicTokenizer, bpe


def counted_one_copy_at_a_time(chunks):
    """Every chunk written out as often as it occurs, each copy counted by bpe.get_stats."""
    counts = {}
    for chunk, n in chunks.items():
        for _ in range(n):
            bpe.get_stats(list(chunk), counts)
    return counts


def check_pair_counts(pair_counts):
    opening = Counter(tuple(c.encode()) for c in regex.findall(GPT4_SPLIT_PATTERN,
                                                                   OPENING[:600]))
    for chunks in ({(1, 2, 3): 2, (3, 1): 1}, {(5, 5, 5): 3}, {(7,): 4, (7, 7): 1}, {},
                   dict(opening)):
        got, want = pair_counts(dict(chunks)), counted_one_copy_at_a_time(chunks)
        assert got == want, f"pair_counts({str(chunks)[:60]}...) = {got}, expected {want}"
        assert list(got) == list(want), f"pair_counts({chunks}): not in first-seen order"
    return ("equals tinytx.tokenizer.bpe.get_stats run over every copy of every chunk "
            "(counts and order)")


def check_merge(merge):
    cases = [([1, 2, 3, 1, 2], (1, 2), 4), ([5, 5, 5], (5, 5), 256),
             ([5, 5, 5, 5], (5, 5), 256), ([1, 2], (2, 1), 9), ([], (1, 2), 3)]
    for ids, pair, idx in cases:
        got, want = merge(list(ids), pair, idx), bpe.merge(ids, pair, idx)
        assert list(got) == want, f"merge({ids}, {pair}, {idx}) = {got}, expected {want}"
    return "equals tinytx.tokenizer.bpe.merge, overlaps included"


ENCODE_CASES = [  # (training text, vocab_size, texts to encode)
    ("aaabdaaabac", 259, ["aaabdaaabac", "aabaab", "abaaab", "ab", "x", ""]),
    (OPENING, 300, [OPENING[:400], "the rest of it went in a doublet of fine cloth",
                    "Señor, ¿qué hora es? 12:30"])]


def check_encode(encode):
    for train_text, vocab_size, texts in ENCODE_CASES:
        tok = BasicTokenizer()
        tok.train(train_text, vocab_size)
        for text in texts:
            got, want = encode(text, dict(tok.merges)), tok.encode(text)
            assert list(got) == want, (f"encode({text[:30]!r}) with {vocab_size - 256} merges "
                                       f"learned from {train_text[:20]!r}...: {list(got)[:12]}"
                                       f"..., BasicTokenizer gives {want[:12]}...")
    return ("equals BasicTokenizer.encode with the merges it learned, on its training text "
            "and on new text")
