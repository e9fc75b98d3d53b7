"""BasicTokenizer: byte-level BPE over the raw text, with no splitting.

Lesson 06 "Tokenization" (report chapter 4). This is the report's first
algorithm exactly: the text becomes its UTF-8 bytes and merges may join any
two neighbours, even across spaces and punctuation ("dog." and "dog!" end up
as unrelated tokens). ``RegexTokenizer`` differs only by splitting first.

Training treats the whole text as one chunk, so every merge walks only its own
occurrences (fast), but the first step touches every byte of the text: it is
meant for small texts and for teaching; use ``RegexTokenizer`` for a book.
"""
from .base import Tokenizer


class BasicTokenizer(Tokenizer):
    """Byte-level BPE on the whole text as a single chunk (no split pattern).

    Example:
        >>> tok = BasicTokenizer()
        >>> tok.train("aaabdaaabac", 256 + 3)
        >>> tok.encode("aaabdaaabac")
        [258, 100, 258, 97, 99]
        >>> tok.decode([258, 100, 258, 97, 99])
        'aaabdaaabac'
    """

    def __init__(self):
        super().__init__(pattern="")

    def _split(self, text):
        return [text] if text else []
