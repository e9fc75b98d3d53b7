"""The shared part of every tokenizer: training, encoding, decoding, special tokens.

Lesson 06 "Tokenization" (report chapter 4). A byte-level BPE tokenizer is
fully described by its ordered ``merges`` (pair of ids -> new id) and its
special tokens; the vocabulary (id -> bytes) follows from them. The two
tokenizers differ only in how they cut the text into chunks before BPE sees
it: ``BasicTokenizer`` keeps the whole text as one chunk, ``RegexTokenizer``
splits it with a regular expression so that no merge crosses a chunk.

The BPE steps on ids (``get_stats``, ``merge`` and the fast encoders of one
chunk) are in ``bpe.py``; encoding whole texts fast (each distinct chunk and word
once) is ``encode.py``; the fast trainer is ``train.py``; the file format is
``model_file.py``.
"""
import warnings
from collections import Counter
from collections.abc import Hashable
from itertools import islice

import regex as re
from tqdm import tqdm

from .bpe import whole_tokens
from .encode import Encoder
from .model_file import read_model, write_model, write_vocab
from .train import train_merges


class Tokenizer:
    """Base class: byte-level BPE over chunks produced by ``_split``.

    Attributes:
        merges: ``{(a, b): new_id}`` in merge order (new ids are 256, 257, ...).
        special_tokens: ``{string: id}``, e.g. ``{"<|endoftext|>": 100257}``.
        pattern: the split regex as a string ("" for ``BasicTokenizer``).
        vocab: ``{id: bytes}`` for every token, special tokens included.
        inverse_special_tokens: ``{id: string}`` (as in minbpe).
    """

    def __init__(self, pattern=""):
        self.pattern = pattern
        self.special_tokens = {}
        self._set_merges({}, trained=True)

    def _split(self, text):
        """Cut ``text`` into the chunks that BPE works on (a list of str)."""
        raise NotImplementedError

    # ------------------------------------------------------------- training
    def train(self, text, vocab_size, verbose=False, progress=False):
        """Learn ``vocab_size - 256`` merges from ``text`` (replaces old merges).

        Each round merges the most frequent adjacent pair (ties: the pair seen
        first in the text), exactly like the report's loop, but fast.

        Args:
            text: the training text (str).
            vocab_size: the number of ordinary tokens wanted, >= 256.
            verbose: print every merge.
            progress: show a tqdm progress bar.

        Example:
            >>> from tinytx.tokenizer import BasicTokenizer
            >>> tok = BasicTokenizer()
            >>> tok.train("aaabdaaabac", 256 + 3)
            >>> tok.encode("aaabdaaabac")
            [258, 100, 258, 97, 99]
        """
        _check_text(text)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256:
            raise ValueError(f"vocab_size: expected an int >= 256 (the 256 bytes come first), "
                             f"got {vocab_size!r}")
        clash = {s: i for s, i in self.special_tokens.items() if i < vocab_size}
        if clash:
            raise ValueError(f"vocab_size: {vocab_size} would give ordinary tokens the ids of the "
                             f"special tokens {clash}; pick vocab_size <= {min(clash.values())}")
        try:
            chunks = {c.encode("utf-8"): n for c, n in Counter(self._split(text)).items()}
        except UnicodeEncodeError as e:
            raise _surrogate_error(text) from e
        num_merges = vocab_size - 256
        merges, vocab = {}, {i: bytes([i]) for i in range(256)}
        bar = tqdm(total=num_merges, desc="training BPE", unit="merge", disable=not progress)
        for pair, idx, n in islice(train_merges(chunks), num_merges):
            merges[pair] = idx
            vocab[idx] = vocab[pair[0]] + vocab[pair[1]]
            if verbose:
                print(f"merge {idx - 255}/{num_merges}: {pair} -> {idx} "
                      f"({vocab[idx]!r}) had {n} occurrences")
            bar.update()
        bar.close()
        if len(merges) < num_merges:
            warnings.warn(f"vocab_size={vocab_size}: the text ran out of pairs after "
                          f"{len(merges)} merges; the vocabulary has {len(vocab)} tokens")
        self._set_merges(merges, trained=True)

    # ------------------------------------------------------------- encoding
    def encode_ordinary(self, text):
        """Encode ``text`` to ids, treating special-token strings as plain text.

        Example:
            >>> from tinytx.tokenizer import RegexTokenizer
            >>> RegexTokenizer().encode_ordinary("hi!")  # untrained: one id per byte
            [104, 105, 33]
        """
        _check_text(text)
        try:
            return self._encoder.encode(text)
        except UnicodeEncodeError as e:
            raise _surrogate_error(text) from e

    def encode(self, text, allowed_special="none_raise"):
        """Encode ``text`` to ids, with tiktoken's rules for special tokens.

        Args:
            text: the text (str). Nothing is ever added to it implicitly.
            allowed_special: which special-token strings become their id:
                ``"all"``; ``"none"`` (all are encoded as ordinary text);
                ``"none_raise"`` (the default: raise if the text contains any);
                or a set of strings (those become ids, any other special
                string in the text raises, as in tiktoken).

        Example:
            >>> from tinytx.tokenizer import RegexTokenizer
            >>> tok = RegexTokenizer()
            >>> tok.register_special_tokens({"<|end|>": 300})
            >>> tok.encode("a<|end|>", allowed_special="all")
            [97, 300]
        """
        _check_text(text)
        allowed, disallowed = self._allowed(allowed_special)
        found = [s for s in disallowed if s in text]
        if found:
            raise ValueError(f"text: contains the special token(s) {found} but "
                             f"allowed_special={allowed_special!r} does not allow them; pass "
                             f"allowed_special='all' (or a set) to encode them as special "
                             f"tokens, or 'none' to encode them as ordinary text")
        if not allowed or not any(s in text for s in allowed):
            return self.encode_ordinary(text)
        longest_first = sorted(allowed, key=len, reverse=True)
        parts = re.split("(" + "|".join(re.escape(s) for s in longest_first) + ")", text)
        ids = []
        for k, part in enumerate(parts):  # odd parts are the special tokens
            ids.extend([allowed[part]] if k % 2 else self.encode_ordinary(part))
        return ids

    def decode(self, ids):
        """Turn ids back into text (invalid UTF-8 becomes U+FFFD, as in minbpe).

        Example:
            >>> from tinytx.tokenizer import BasicTokenizer
            >>> BasicTokenizer().decode([104, 105])
            'hi'
        """
        if isinstance(ids, (str, bytes)):
            raise TypeError(f"ids: expected a sequence of int token ids, got {type(ids).__name__}")
        if not isinstance(ids, (list, tuple)):
            ids = list(ids)
        try:
            data = b"".join(map(self.vocab.__getitem__, ids))
        except (KeyError, TypeError):
            bad = next(i for i in ids if not isinstance(i, Hashable) or i not in self.vocab)
            raise ValueError(f"ids: expected token ids in the vocabulary "
                             f"(0..{self._n_ordinary - 1} or a special id), got {bad!r}") from None
        return data.decode("utf-8", errors="replace")

    # ------------------------------------------------------- special tokens
    def register_special_tokens(self, special_tokens):
        """Add special tokens ``{string: id}``; ids must not be used already.

        Example:
            >>> from tinytx.tokenizer import BasicTokenizer
            >>> tok = BasicTokenizer()
            >>> tok.register_special_tokens({"<|endoftext|>": 256})
            >>> tok.decode([104, 256])
            'h<|endoftext|>'
        """
        if not isinstance(special_tokens, dict):
            raise TypeError(f"special_tokens: expected a dict {{str: int}}, "
                            f"got {type(special_tokens).__name__}")
        taken = dict((i, s) for s, i in self.special_tokens.items())
        for s, i in special_tokens.items():
            if not isinstance(s, str) or not s or _surrogate_at(s) >= 0:
                raise ValueError(f"special_tokens: expected non-empty str keys that UTF-8 can "
                                 f"encode, got {s!r}")
            if isinstance(i, bool) or not isinstance(i, int) or i < self._n_ordinary:
                raise ValueError(f"special_tokens[{s!r}]: expected an int id >= "
                                 f"{self._n_ordinary} (after the ordinary tokens), got {i!r}")
            if taken.get(i, s) != s:
                raise ValueError(f"special_tokens[{s!r}]: id {i} is already {taken[i]!r}")
            taken[i] = s
        self.special_tokens.update(special_tokens)
        self._rebuild()

    def _allowed(self, allowed_special):
        """Split the special tokens into (allowed {str: id}, disallowed [str])."""
        specials = self.special_tokens
        if isinstance(allowed_special, str):
            if allowed_special == "all":
                return dict(specials), []
            if allowed_special == "none":
                return {}, []
            if allowed_special == "none_raise":
                return {}, list(specials)
        elif isinstance(allowed_special, (set, frozenset, list, tuple)):
            unknown = [s for s in allowed_special if s not in specials]
            if unknown:
                raise ValueError(f"allowed_special: {unknown} are not registered special "
                                 f"tokens; registered: {list(specials)}")
            allowed = {s: specials[s] for s in allowed_special}
            return allowed, [s for s in specials if s not in allowed]
        raise ValueError(f"allowed_special: expected 'all', 'none', 'none_raise' or a set of "
                         f"special-token strings, got {allowed_special!r}")

    # -------------------------------------------------------- save and load
    def save(self, file_prefix):
        """Write ``file_prefix.model`` (to load) and ``file_prefix.vocab`` (to read).

        Example:
            >>> import tempfile, os
            >>> from tinytx.tokenizer import RegexTokenizer
            >>> tok = RegexTokenizer(); tok.train("hello hello", 258)
            >>> prefix = os.path.join(tempfile.mkdtemp(), "toy")
            >>> tok.save(prefix)
            >>> RegexTokenizer().load(prefix + ".model").merges == tok.merges
            True
        """
        write_model(f"{file_prefix}.model", self.pattern, self.special_tokens, self.merges)
        write_vocab(f"{file_prefix}.vocab", self.vocab, self.merges, self.special_tokens)

    def load(self, model_file):
        """Read a ``.model`` file written by ``save`` (or by minbpe); returns self.

        Every error in the file (a pattern that is not a regex, a special token with
        an id that is taken) is a ValueError naming the file.
        """
        pattern, special_tokens, merges = read_model(model_file)
        if bool(pattern) != bool(self.pattern):
            want = "RegexTokenizer" if pattern else "BasicTokenizer"
            raise ValueError(f"model_file: {str(model_file)!r} holds a {want} model; load it "
                             f"with {want}().load(...) or tinytx.tokenizer.load(...)")
        try:
            self._set_pattern(pattern)
            self.special_tokens = {}
            self._set_merges(merges)
            self.register_special_tokens(special_tokens)
        except ValueError as e:
            raise ValueError(f"model_file: {str(model_file)!r}: {e}") from None
        return self

    def _set_pattern(self, pattern):
        self.pattern = pattern

    def _cut_at_spaces(self):
        """Whether the split allows encoding word by word (see ``encode.py``)."""
        return False

    def _set_merges(self, merges, trained=False):
        """Take new merges: the ordinary tokens, and which ones BPE gives back whole."""
        self.merges = merges
        vocab = {i: bytes([i]) for i in range(256)}
        for (a, b), idx in merges.items():
            vocab[idx] = vocab[a] + vocab[b]
        self._ordinary = vocab
        self._whole = whole_tokens(vocab, merges, trained)
        self._rebuild()

    def _rebuild(self):
        """Add the special tokens to the vocabulary; start a new encoder (empty caches)."""
        vocab = dict(self._ordinary)
        self._n_ordinary = len(vocab)
        for s, idx in self.special_tokens.items():
            vocab[idx] = s.encode("utf-8")
        self.vocab = vocab
        self.inverse_special_tokens = {idx: s for s, idx in self.special_tokens.items()}
        self._encoder = Encoder(self._split, self.merges, self._whole, self._cut_at_spaces())


def _check_text(text):
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")


def _surrogate_at(text):
    """The index of the first lone surrogate (what UTF-8 cannot encode), or -1."""
    return next((i for i, ch in enumerate(text) if "\ud800" <= ch <= "\udfff"), -1)


def _surrogate_error(text):
    """A clear error for text that UTF-8 cannot encode (lone surrogates)."""
    i = _surrogate_at(text)
    return ValueError(f"text: expected a string that UTF-8 can encode, got the lone surrogate "
                      f"{text[i]!r} at index {i} (decode bytes with errors='replace' or "
                      f"'surrogatepass' handling upstream)")

