"""RegexTokenizer: split the text with a regex first, then BPE each chunk.

Lesson 06 "Tokenization" (report chapter 4). Splitting keeps merges inside
words, numbers, punctuation runs and whitespace runs, so " dog" is one token
whatever follows it. The default is GPT-4's pattern (tiktoken's
``cl100k_base``); GPT-2's is here too. ``docs/tokenization.md`` explains the
pattern alternative by alternative. The ``regex`` package is needed (not
``re``) for ``\\p{L}``, possessive quantifiers and atomic matching.

A pattern can be hostile: ``(a|a)+$`` on "aaa...ab" backtracks through 2^n ways
before it fails, and a ``.model`` file or a checkpoint may hold any pattern. The
patterns tinytx defines (``KNOWN_PATTERNS``) run as they are; any other runs under
the ``regex`` package's ``timeout=``, and a split that runs out of time raises a
ValueError naming the pattern. The timer is not free (a split with it takes about
2.5 times as long), which is why the known patterns go without.
"""
import regex

from .base import Tokenizer

# GPT-2 (tiktoken's r50k_base): the same split as the original GPT-2 release
# r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
# written with possessive quantifiers so it runs faster.
GPT2_SPLIT_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
)

# GPT-4 (tiktoken's cl100k_base), character for character.
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

# The patterns tinytx defines: no nested repetition, so the time they take grows
# linearly with the text. They need no time limit.
KNOWN_PATTERNS = frozenset({GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN})

# Any other pattern gets TIMEOUT_SECONDS for the whole split, plus TIMEOUT_PER_CHAR per
# character of the text (the GPT-4 pattern needs about 0.4 microseconds per character
# with the timer on, 25 times less); past that, the split is given up.
TIMEOUT_SECONDS = 1.0
TIMEOUT_PER_CHAR = 1e-5


class RegexTokenizer(Tokenizer):
    """Byte-level BPE inside the chunks of a split regex (GPT-4's by default).

    Unlike ``BasicTokenizer``, no merge crosses a chunk boundary, and the text
    may contain special tokens (see ``register_special_tokens``/``encode``).

    Args:
        pattern: the split regex as a string; ``None`` means GPT-4's.

    Example:
        >>> tok = RegexTokenizer()
        >>> tok.train("the cat, the hat, the bat", 256 + 3)
        >>> [tok.vocab[i] for i in tok.merges.values()]
        [b'th', b'the', b'at']
        >>> [tok.decode([i]) for i in tok.encode("the hat")]
        ['the', ' ', 'h', 'at']
    """

    def __init__(self, pattern=None):
        super().__init__()
        self._set_pattern(GPT4_SPLIT_PATTERN if pattern is None else pattern)

    def _set_pattern(self, pattern):
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"pattern: expected a non-empty regex string, got {pattern!r}")
        try:
            self._compiled = regex.compile(pattern)
        except regex.error as e:
            raise ValueError(f"pattern: expected a valid regex, got {pattern!r} ({e})") from None
        self.pattern = pattern
        self._known = pattern in KNOWN_PATTERNS
        self._rebuild()  # a new split: a new encoder

    def _cut_at_spaces(self):
        # proved for the known patterns in encode.py; any other pattern goes chunk by chunk
        return self.pattern in KNOWN_PATTERNS

    def _split(self, text):
        if self._known:  # no groups, no time limit: the fast path
            return self._compiled.findall(text)
        limit = TIMEOUT_SECONDS + TIMEOUT_PER_CHAR * len(text)
        try:
            if self._compiled.groups:  # findall would return the groups, not the matches
                return [m.group() for m in self._compiled.finditer(text, timeout=limit)]
            return self._compiled.findall(text, timeout=limit)
        except TimeoutError:
            raise ValueError(
                f"pattern: the split regex {self.pattern!r} ran out of time ({limit:.1f} s) "
                f"on a text of {len(text):,} characters: it backtracks too much (nested "
                f"repetition such as (a|a)+); use GPT4_SPLIT_PATTERN or GPT2_SPLIT_PATTERN, "
                f"or a pattern whose repetitions cannot match the same text two ways"
            ) from None
