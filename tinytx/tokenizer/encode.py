"""Encoding a whole text fast: BPE each distinct piece once, then look the pieces up.

Lesson 06 "Tokenization" (report chapter 4). A book repeats itself: Don Quixote's
519 000 chunks are 24 000 distinct strings, and its 392 000 space-separated words
54 000. So ``Encoder`` never runs BPE (or even the split regex) twice on the same
string; the work per occurrence is a dictionary lookup, done by C loops (``map``,
``itertools.chain``), not by a Python loop. What it has seen stays remembered for
the next call (up to ``CACHE_SIZE`` strings and ``CACHE_CHARS`` characters, then it
starts over); a new tokenizer state (training, loading, new special tokens) starts
a new ``Encoder``.

**Chunks.** The general way, for any split: split the text, BPE each *distinct* chunk
(``chunk_ids``), then map every chunk to its ids. A chunk whose bytes are a token is
that token (``bpe.whole_tokens``), so most distinct chunks never reach the BPE loop.

**Words.** The regex split itself costs more than all the rest, so for the GPT-2 and
GPT-4 patterns the text is first cut with ``str.split(" ")``, which is ten times
faster, and the regex only sees each distinct word once. This is exact because
both patterns have two properties (check them alternative by alternative):

1. No chunk holds a non-whitespace character followed by a space: every alternative
   that can match a space either matches whitespace only or has the space as its
   optional first character (``" ?"``, ``[^\\r\\n\\p{L}\\p{N}]?``).
2. What matches at a position depends only on the text from there on: no
   lookbehind, no ``^`` or ``\\b``; the lookaheads (``(?!\\S)``, ``$``) only follow
   whitespace, so they never look past a non-whitespace character.

So at a space that follows a non-whitespace character, one chunk ends (1) and the
chunks before and after it are those of the two sides split apart (2). Call a word
of ``text.split(" ")`` *closing* when it ends in a non-whitespace character (see
``closes``): the ids of the text are the ids of the first word, then, for each later
word, the ids of ``" " + word``, when the word before it closes. A run of words
that do not close ("", "\\n", "the\\t") is encoded together with the closing word
after it, as one piece ``" " + " ".join(run)``; so are words longer than
``LONG_WORD``. Short texts and texts that are mostly runs of spaces (indented code)
go chunk by chunk instead, where the word lookups would not pay.
"""
from itertools import chain

from .bpe import encode_bytes

CACHE_SIZE = 100_000  # most chunks and words remembered between calls (then start over)
CACHE_CHARS = 2_000_000  # and most characters in them
LONG_WORD = 64  # longer words are encoded where they occur, never remembered
SHORT_TEXT = 64  # shorter texts go chunk by chunk: too few words to repeat


def closes(word):
    """True if a space after ``word`` starts a new chunk: ``word`` ends in non-whitespace.

    ``str.isspace`` is true for every character the regex's ``\\s`` matches (and for
    four more control characters), so "closes" is never claimed wrongly; a test
    checks this over all of Unicode.

        >>> closes("knight,"), closes("knight\\n"), closes("")
        (True, False, False)
    """
    return bool(word) and not word[-1].isspace()


class Encoder:
    """Text -> ids for one tokenizer state (split, merges); remembers chunks and words.

    Args:
        split: the tokenizer's split, ``str -> list[str]`` of chunks.
        merges: ``{(a, b): new_id}``.
        whole: ``{bytes: (id,)}``, the tokens that are their own BPE (``whole_tokens``).
        cut_at_spaces: whether the split has properties 1 and 2 above (GPT-2 and
            GPT-4 patterns), so that words can be encoded one distinct word at a time.
    """

    def __init__(self, split, merges, whole, cut_at_spaces=False):
        self.split, self.merges, self.whole = split, merges, whole
        self.cut_at_spaces = cut_at_spaces
        self.chunks = {}  # chunk -> its ids (a tuple)
        self.words = {}  # closing word w -> the ids of " " + w (a tuple)
        self.chars = 0  # characters in the keys of both

    def encode(self, text):
        """The ids of ``text`` (a list)."""
        words = text.split(" ") if self.cut_at_spaces and len(text) > SHORT_TEXT else None
        if words and words.count("") <= len(words) // 8:  # not mostly runs of spaces
            ids = self._encode_words(words)
        else:
            ids = self._encode_piece(text)
        if len(self.chunks) + len(self.words) > CACHE_SIZE or self.chars > CACHE_CHARS:
            self.chunks, self.words, self.chars = {}, {}, 0  # simplest bound: start over
        return ids

    def chunk_ids(self, chunks):
        """Add the ids of the new distinct ``chunks`` to ``self.chunks``; returns it.

        A chunk whose bytes are a token is that token; BPE runs on the others.
        """
        cache = self.chunks
        new = list(set(chunks).difference(cache))
        ids = list(map(self.whole.get, map(str.encode, new)))  # (id,) or None
        for k, found in enumerate(ids):
            if found is None:
                ids[k] = tuple(encode_bytes(new[k].encode("utf-8"), self.merges))
        cache.update(zip(new, ids))
        self.chars += sum(map(len, new))
        return cache

    def _encode_piece(self, text):
        """The ids of ``text`` through the split, each distinct chunk BPE'd once."""
        chunks = self.split(text)
        try:
            return list(chain.from_iterable(map(self.chunks.__getitem__, chunks)))
        except KeyError:  # new chunks: BPE them first
            ids_of = self.chunk_ids(chunks)
            return list(chain.from_iterable(map(ids_of.__getitem__, chunks)))

    def _encode_words(self, words):
        """The ids of ``" ".join(words)``: every word but the first had a space before it."""
        cache = self.words
        self._learn([w for w in set(words).difference(cache)  # closes(w), inlined
                     if 0 < len(w) <= LONG_WORD and not w[-1].isspace()])
        per_word = list(map(cache.get, words))  # the ids of " " + word, or None
        per_word[0] = None  # the first word has no space before it
        n, k = len(words), _find(per_word, None, 0)
        while k < n:  # encode words k..end as one piece, up to a closing word
            end = k
            while end + 1 < n and not closes(words[end]):
                end += 1
            piece = " ".join(words[k:end + 1])
            ids = self._encode_piece(" " + piece if k else piece)
            per_word[k:end + 1] = [ids] + [()] * (end - k)
            k = _find(per_word, None, end + 1)
        return list(chain.from_iterable(per_word))

    def _learn(self, words):
        """Remember the ids of ``" " + w`` for closing words ``w``, with one split.

        All of them are split at once, as ``" w0 w1 w2 ..."``: since every word
        closes, the chunks of each ``" " + w`` come out one after the other, and a
        chunk starts with a space exactly where a word starts.
        """
        if not words:
            return
        chunks = self.split(" " + " ".join(words))
        ids_of = self.chunk_ids(chunks)
        word_ids = []
        for chunk in chunks:
            if chunk[0] == " ":
                word_ids.append(ids_of[chunk])
            else:
                word_ids[-1] += ids_of[chunk]
        self.words.update(zip(words, word_ids))
        self.chars += sum(map(len, words))


def _find(items, item, start):
    """The index of the first ``item`` in ``items[start:]`` (a C loop), or ``len(items)``."""
    try:
        return items.index(item, start)
    except ValueError:
        return len(items)
