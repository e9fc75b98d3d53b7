"""The tokenizer's split patterns: GPT-4's is tiktoken's cl100k, GPT-2's splits like the
original release, examples of both, no merge crossing a chunk, a bad pattern named."""
import inspect

import pytest
import regex
from hypothesis import given, settings, strategies as st

from tinytx.tokenizer import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BasicTokenizer, RegexTokenizer

UNICODE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


def test_gpt4_pattern_is_tiktokens_cl100k():
    assert GPT4_SPLIT_PATTERN == (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
        r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
    openai = pytest.importorskip("tiktoken_ext.openai_public")  # no download needed
    assert GPT4_SPLIT_PATTERN in inspect.getsource(openai.cl100k_base)


@pytest.mark.parametrize("pattern, text, chunks", [
    (GPT4_SPLIT_PATTERN, "Hello've world123 how's  are you!!!?\n\n  x",
     ["Hello", "'ve", " world", "123", " how", "'s", " ", " are", " you", "!!!?\n\n", " ", " x"]),
    (GPT4_SPLIT_PATTERN, "I'LL 12345 a\r\nb  ", ["I", "'LL", " ", "123", "45", " a", "\r\n", "b",
                                                 "  "]),
    (GPT4_SPLIT_PATTERN, "¿Qué?  ok", ["¿Qué", "?", " ", " ok"]),
    (GPT2_SPLIT_PATTERN, "I'LL 12345 a\r\nb  ", ["I", "'", "LL", " 12345", " a", "\r", "\n", "b",
                                                 "  "]),
])
def test_split_examples(pattern, text, chunks):
    assert RegexTokenizer(pattern)._split(text) == chunks


GPT2_ORIGINAL = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=" \t\n\r'sdmtlvreaZ9.!é", max_size=60) | UNICODE)
def test_gpt2_pattern_splits_like_the_original_release(text):
    assert regex.findall(GPT2_SPLIT_PATTERN, text) == regex.findall(GPT2_ORIGINAL, text)


def test_no_merge_crosses_a_chunk():
    text = "dog. dog! dog? dog. dog.dog.dog."
    tok = RegexTokenizer()
    tok.train(text, 256 + 4)  # all the merges this text has
    chunks = [c.encode("utf-8") for c in tok._split(text)]
    for idx in tok.merges.values():
        assert any(tok.vocab[idx] in c for c in chunks), tok.vocab[idx]
    basic = BasicTokenizer()
    basic.train(text, 256 + 14)
    assert any(not any(basic.vocab[i] in c for c in chunks) for i in basic.merges.values())


def test_bad_pattern():
    with pytest.raises(ValueError, match="pattern: expected a valid regex"):
        RegexTokenizer("(")
