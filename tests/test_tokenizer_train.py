"""The fast BPE trainer and encoder are pinned to the report's naive algorithm."""
import random
import warnings
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings, strategies as st

from tinytx.tokenizer import (GPT2_SPLIT_PATTERN, BasicTokenizer, RegexTokenizer, get_stats,
                              merge)
from tinytx.tokenizer.bpe import bpe_long, bpe_short

QUIXOTE = Path(__file__).resolve().parents[1].parent / "shared/data/quixote.txt"


# ---------------------------------------------------------------- reference
def naive_train(chunks, vocab_size):
    """The report's loop, written independently of the package: every round
    count all adjacent pairs over all chunks in text order, take the most
    frequent (ties: first seen, which is what max() over an insertion-ordered
    dict returns), merge it left to right everywhere."""
    ids = [list(c.encode("utf-8")) for c in chunks]
    merges = {}
    for idx in range(256, vocab_size):
        counts = {}
        for seq in ids:
            for pair in zip(seq, seq[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        pair = max(counts, key=counts.get)
        merges[pair] = idx
        ids = [naive_merge(seq, pair, idx) for seq in ids]
    return merges


def naive_merge(seq, pair, idx):
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and (seq[i], seq[i + 1]) == pair:
            out.append(idx)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


def naive_encode(text, merges, pattern):
    """minbpe's encoder: per chunk, merge the lowest-rank pair until none is left."""
    chunks = regex.findall(pattern, text) if pattern else [text]
    out = []
    for chunk in chunks:
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
            if pair not in merges:
                break
            ids = naive_merge(ids, pair, merges[pair])
        out.extend(ids)
    return out


def assert_same_as_naive(tok, text, vocab_size):
    with warnings.catch_warnings():  # running out of pairs warns; tested elsewhere
        warnings.simplefilter("ignore")
        tok.train(text, vocab_size)
    chunks = tok._split(text)
    assert list(tok.merges.items()) == list(naive_train(chunks, vocab_size).items())
    assert tok.encode_ordinary(text) == naive_encode(text, tok.merges, tok.pattern)


# ------------------------------------------------------------------ helpers
def test_get_stats_counts_overlapping_pairs_in_first_seen_order():
    assert get_stats([97, 97, 97]) == {(97, 97): 2}
    assert list(get_stats([3, 1, 2, 3, 1])) == [(3, 1), (1, 2), (2, 3)]
    counts = get_stats([1, 2])
    assert get_stats([1, 2, 5], counts) == {(1, 2): 2, (2, 5): 1}


def test_merge_goes_left_to_right_without_overlap():
    assert merge([5, 5, 5], (5, 5), 9) == [9, 5]
    assert merge([5, 5, 5, 5], (5, 5), 9) == [9, 9]
    assert merge([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]
    assert merge([], (1, 2), 4) == []


def test_wikipedia_example():
    tok = BasicTokenizer()
    tok.train("aaabdaaabac", 256 + 3)
    # aa is the most frequent pair (4 overlapping occurrences); then (aa, a)
    # and (a, b) tie at 2 and (aa, a) is seen first; then (aaa, b)
    assert tok.merges == {(97, 97): 256, (256, 97): 257, (257, 98): 258}
    assert tok.vocab[258] == b"aaab"
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.decode([258, 100, 258, 97, 99]) == "aaabdaaabac"


# ------------------------------------------------------ fast == naive, fixed
TIE_TEXTS = [
    "aaabdaaabac",
    "a" * 50,  # one long run: overlapping pairs everywhere
    "ab" * 20 + "ba" * 20,
    "abcdefghijklmnopqrstuvwxyz",  # every pair counts once: all tie
    "zyx wvu zyx wvu tsr tsr abc",
    "the cat sat on the mat; the mat sat on the cat\n\n  tabs\tand\r\nlines  ",
    "aa aaa aaaa aaaaa aaaaaa ab ba aab abb",
    "héllo wörld ☃☃ 😀😀😀 日本語の日本 éé",
    "123456789 1234 12 0000000 3.14159 2024-01-01",
    "I'm you're he'LL we've THEY'RE it's 'tis",
]


@pytest.mark.parametrize("text", TIE_TEXTS)
@pytest.mark.parametrize("cls", [BasicTokenizer, RegexTokenizer])
def test_fast_training_matches_naive(cls, text):
    assert_same_as_naive(cls(), text, 256 + 60)


def test_fast_training_matches_naive_on_random_texts_with_many_ties():
    rng = random.Random(0)
    for trial in range(20):
        alphabet = rng.choice(["ab", "abc ", "ab \n", "aé😀 ", "xyz.,"])
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400)))
        for tok in (BasicTokenizer(), RegexTokenizer(), RegexTokenizer(GPT2_SPLIT_PATTERN)):
            assert_same_as_naive(tok, text, 256 + rng.randint(1, 80))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="ab c\nd'é😀", max_size=120), extra=st.integers(0, 40),
       basic=st.booleans())
def test_fast_training_matches_naive_property(text, extra, basic):
    assert_same_as_naive(BasicTokenizer() if basic else RegexTokenizer(), text, 256 + extra)


@pytest.mark.skipif(not QUIXOTE.is_file(), reason="Don Quixote is not in ../shared/data")
@pytest.mark.parametrize("vocab_size", [256, 300, 500])
def test_fast_training_matches_naive_on_quixote(vocab_size):
    text = QUIXOTE.read_text(encoding="utf-8-sig")[20_000:60_000]
    assert_same_as_naive(RegexTokenizer(), text, vocab_size)


@pytest.mark.skipif(not QUIXOTE.is_file(), reason="Don Quixote is not in ../shared/data")
@pytest.mark.parametrize("cls", [BasicTokenizer, RegexTokenizer])
def test_fast_training_matches_naive_until_no_pair_is_left(cls):
    # the late merges have counts of 1 or 2, where nearly every pair ties
    text = QUIXOTE.read_text(encoding="utf-8-sig")[30_000:31_200]
    assert_same_as_naive(cls(), text, 256 + 2000)


def test_running_out_of_pairs_warns_and_stops():
    tok = RegexTokenizer()
    with pytest.warns(UserWarning, match="ran out of pairs"):
        tok.train("ab ab", 1000)
    assert list(tok.merges) == [(97, 98), (32, 256)]


def test_verbose_prints_each_merge(capsys):
    BasicTokenizer().train("aaabdaaabac", 256 + 3, verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3
    assert out[0].startswith("merge 1/3: (97, 97) -> 256") and "4 occurrences" in out[0]


# ------------------------------------------------------------ fast encoding
@pytest.fixture(scope="module")
def trained():
    rng = random.Random(1)
    words = ["aa", "ab", "ba", "a", "b", "é", "😀", "aab", "abba"]
    text = " ".join(rng.choice(words) for _ in range(3000)) + "a" * 300
    tok = BasicTokenizer()
    tok.train(text, 256 + 150)
    return tok


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="ab é😀", max_size=400))
def test_heap_encoder_matches_minbpe_loop(trained, text):
    data = text.encode("utf-8")
    expected = naive_encode(text, trained.merges, "")
    assert bpe_short(data, trained.merges) == expected
    assert bpe_long(data, trained.merges) == expected
