"""The fast whole-text encoder (encode.py) gives exactly the ids of BPE chunk by chunk."""
import random
import sys
import warnings
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings, strategies as st

import tinytx.tokenizer.encode as E
from tinytx.tokenizer import (GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BasicTokenizer,
                              RegexTokenizer)
from tinytx.tokenizer.bpe import encode_bytes, whole_tokens

QUIXOTE = Path(__file__).resolve().parents[1].parent / "shared/data/quixote.txt"
SAMPLE = ("In a village of La Mancha, the name of which I have no desire to call to mind,\n"
          "there lived not long since one of those gentlemen that keep a lance in the\r\n"
          "lance-rack, an old buckler... 1605!  ¿Qué? Ñandú — naïve café 😀😀 "
          "日本語\t\ttabs  and   spaces\n\n   indented 12345678 it's I'LL we've\n") * 30

# pieces that stress the word cuts: whitespace of every kind next to spaces,
# punctuation before newlines, emoji, CJK, digits, contractions, lone combining marks
ATOMS = [" ", "  ", "\n", "\n\n", "\r\n", "\r", "\t", "\x0b", "\x0c", "\x1c", "\x85",
         "\u00a0", "\u2028", "\u3000", "a", "Ab", "the", "don", "'s", "'LL", "'", "1",
         "123", "12345", "😀", "👩‍👩‍👧", "日本語", "!", "...", ",", ".\n", "é", "e\u0301",
         "\u0301", "¿", "—", "\x00", "<|end|>"]
TEXTS = st.lists(st.sampled_from(ATOMS), max_size=40).map("".join) | st.text(max_size=120)


def chunk_by_chunk(tok, text):
    """The reference: split, then BPE every chunk from its bytes (no cache, no shortcut)."""
    return [i for chunk in tok._split(text) for i in encode_bytes(chunk.encode(), tok.merges)]


@pytest.fixture(scope="module", params=["gpt4", "gpt2", "custom", "trailing", "basic"])
def tok(request):
    pattern = {"gpt4": GPT4_SPLIT_PATTERN, "gpt2": GPT2_SPLIT_PATTERN,
               "custom": r"\w+|\s+|[^\w\s]+",
               "trailing": r"\S+\s?|\s"}.get(request.param)  # "word " is one chunk
    t = BasicTokenizer() if pattern is None else RegexTokenizer(pattern)
    with warnings.catch_warnings():  # short chunks may run out of pairs: fine here
        warnings.simplefilter("ignore")
        t.train(SAMPLE, 256 + 300)
    t.register_special_tokens({"<|end|>": 1000})
    return t


@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_encode_equals_bpe_chunk_by_chunk(tok, text):
    expected = chunk_by_chunk(tok, text)
    assert tok.encode_ordinary(text) == expected
    assert tok.encode_ordinary(text) == expected  # again, now from the caches
    if tok._encoder.cut_at_spaces:  # word by word, whatever the text's length and spaces
        assert tok._encoder._encode_words(text.split(" ")) == expected
        assert tok._encoder._encode_words(text.split(" ")) == expected


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(TEXTS, min_size=2, max_size=5))
def test_special_tokens_between_parts(tok, texts):
    texts = [t.replace("<|end|>", "") for t in texts]
    text = "<|end|>".join(texts)
    expected = []
    for k, part in enumerate(texts):
        expected += ([1000] if k else []) + chunk_by_chunk(tok, part)
    assert tok.encode(text, allowed_special="all") == expected


@pytest.mark.parametrize("text", ["", " ", "   ", "a", " a", "a ", "\n", " \n ", "a\n b", "a \nb",
                                  "x" * 100 + " " + "y" * 100, " " * 1000 + "z", "z" + "\t " * 50])
def test_edge_texts(tok, text):
    assert tok.encode_ordinary(text) == chunk_by_chunk(tok, text)
    if tok._encoder.cut_at_spaces:
        assert tok._encoder._encode_words(text.split(" ")) == chunk_by_chunk(tok, text)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, pattern=st.sampled_from([GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN]))
def test_a_space_after_non_whitespace_cuts_the_split(text, pattern):
    """Properties 1 and 2 of encode.py: cut there, split the pieces, same chunks."""
    words = text.split(" ")
    pieces, piece = [], words[0]
    for word in words[1:]:
        if E.closes(piece):
            pieces.append(piece)
            piece = " " + word
        else:
            piece += " " + word
    pieces.append(piece)
    assert [c for p in pieces for c in regex.findall(pattern, p)] == regex.findall(pattern, text)


def test_closes_is_never_wrong_about_whitespace():
    everything = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    assert all(ch.isspace() for ch in regex.findall(r"\s", everything))


# ------------------------------------------------------ whole-token shortcut
def trained_on(text, vocab_size, cls=RegexTokenizer):
    t = cls()
    t.train(text, vocab_size)
    return t


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), basic=st.booleans())
def test_trained_tokens_are_their_own_bpe(seed, basic):
    """Why train() may skip the check in whole_tokens: every trained token qualifies."""
    rng = random.Random(seed)
    text = "".join(rng.choice(["a", "b", "ab", "ba", " ", "aa", "é", "\n"]) for _ in range(300))
    t = trained_on(text, 256 + 60, BasicTokenizer if basic else RegexTokenizer)
    assert len(whole_tokens(t._ordinary, t.merges)) == len(t._ordinary)


@pytest.mark.skipif(not QUIXOTE.is_file(), reason="needs ../shared/data/quixote.txt")
def test_trained_tokens_are_their_own_bpe_on_quixote():
    t = trained_on(QUIXOTE.read_text(encoding="utf-8-sig")[:300_000], 4096)
    assert len(whole_tokens(t._ordinary, t.merges)) == len(t._ordinary)


def test_a_token_that_bpe_never_reaches_is_no_shortcut(tmp_path):
    """Merges ab, bc, a+bc make the token abc, but BPE of "abc" merges ab first."""
    (tmp_path / "odd.model").write_text("tinytx-bpe v1\n\n0\n97 98\n98 99\n97 257\n")
    t = BasicTokenizer().load(tmp_path / "odd.model")
    assert t.vocab[258] == b"abc"
    assert t.encode("abc") == [256, 99] == encode_bytes(b"abc", t.merges)


# -------------------------------------------------------------- the caches
def test_words_and_chunks_are_remembered_and_bounded(monkeypatch):
    t = trained_on(SAMPLE, 256 + 50)
    text = "the knight, " * 10  # long enough to go word by word
    first = t.encode(text)
    assert t._encoder.words["knight,"] == tuple(t.encode_ordinary(" knight,"))
    assert t.encode(text) == first
    monkeypatch.setattr(E, "CACHE_SIZE", 3)
    t.encode("a b c d e f g h i j k l")
    assert len(t._encoder.words) + len(t._encoder.chunks) <= 3
    monkeypatch.setattr(E, "CACHE_SIZE", 100)
    monkeypatch.setattr(E, "CACHE_CHARS", 50)
    t.encode("x" * 60)
    assert t._encoder.chars == 0 and not t._encoder.chunks
    t.encode(" knight")
    t.train(SAMPLE, 256 + 60)  # new merges: the caches start over
    assert t._encoder.words == {} and t._encoder.chunks == {}


# ------------------------------------------------------------- whole books
@pytest.fixture(scope="module")
def book():
    if not QUIXOTE.is_file():
        pytest.skip("needs ../shared/data/quixote.txt")
    return QUIXOTE.read_text(encoding="utf-8-sig")[:400_000]


def test_book_equals_bpe_chunk_by_chunk(book):
    t = trained_on(book, 2048)
    assert t.encode_ordinary(book) == chunk_by_chunk(t, book)


def test_book_equals_tiktoken_with_the_same_merges(book):
    tiktoken = pytest.importorskip("tiktoken")
    t = trained_on(book, 2048)
    ranks = {data: idx for idx, data in t._ordinary.items()}
    enc = tiktoken.Encoding("quixote", pat_str=GPT4_SPLIT_PATTERN, mergeable_ranks=ranks,
                            special_tokens={})
    assert t.encode_ordinary(book) == enc.encode_ordinary(book)
