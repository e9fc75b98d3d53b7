"""Sentence pairs for the encoder-decoder: sentences, pairs, TSV files, padded batches.

Introduced in lesson 12 (report §3.4: next-sentence prediction on Don Quixote, and
translation). A pair is (source, target): the encoder reads the source, the decoder
learns to write the target. The decoder's input is the target after [BOS] and its
labels are the target followed by [EOS] (teacher forcing, one position ahead):

    target      "Sancho laughed."  ->  ids  t1 t2 t3
    tgt_in      [BOS] t1 t2 t3           the decoder reads this (causally)
    tgt_out     t1 t2 t3 [EOS]           and predicts this

Sequences of a batch have different lengths, so they are padded with [PAD] to the longest;
the masks are "may attend" masks, as everywhere in tinytx (True at real tokens, False at
padding), so attention stays off the padding, and the loss skips labels equal to pad_id,
exactly as `tinytx.models.Seq2Seq.forward` expects. Hold out the last
10% of the pairs with `tinytx.data.train_val_split(pairs)` (it slices any sequence).

    >>> from tinytx.tokenizer import RegexTokenizer
    >>> tok = RegexTokenizer()                      # untrained: one token per byte
    >>> ids = add_special_tokens(tok); ids
    {'[PAD]': 256, '[BOS]': 257, '[EOS]': 258}
    >>> enc = encode_pairs(tok, [("Hi.", "Ho!"), ("Go.", "Yes.")], max_len=8)
    >>> b = next(pair_batches(enc, batch_size=2, pad_id=ids["[PAD]"]))
    >>> b.src.shape, b.tgt_in.shape, b.tgt_mask.tolist()[0]
    ((2, 3), (2, 5), [True, True, True, True, False])
"""
from __future__ import annotations

import re
from collections import namedtuple
from pathlib import Path

import numpy as np

from ..files import read_text
from ..tensor import tensor

# The special tokens, with their offsets after the tokenizer's vocabulary:
# [PAD] gets the first free id, [BOS] the next, [EOS] the one after.
SPECIALS = {"[PAD]": 0, "[BOS]": 1, "[EOS]": 2}

# Words that end in "." without ending a sentence (compared lower-case, without the dot).
ABBREVIATIONS = frozenset("mr mrs ms dr st sr sra jr prof rev gen col capt messrs mme mlle "
                          "vs viz cf e.g i.e no vol ch".split())

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# A sentence end: a run of . ! ? with any closing quotes/brackets, then whitespace
# (the text has already been collapsed to single spaces) or the end.
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?= |$)")


def split_sentences(text: str) -> list[str]:
    """Cut a text into sentences, with a simple, documented rule.

    The rule:
      * a blank line (paragraph break) always ends a sentence (headings have no period);
      * inside a paragraph, a sentence ends after a run of `.`, `!` or `?` (plus any
        closing quotes or brackets) that is followed by whitespace and then not by a
        lower-case letter ("“Hark ye!” said he" stays one sentence);
      * except after a common abbreviation (Mr. Mrs. Dr. St. Sr. e.g. ..., see
        ABBREVIATIONS) or a single-capital initial (J. W. Clark; but "I." ends one);
      * newlines and runs of whitespace inside a sentence become one space; empty
        sentences are dropped.

    >>> split_sentences("Mr. Quixote rode on.  “Hark!” said he. Did\\nSancho follow?"
    ...                 "\\n\\nCHAPTER II")
    ['Mr. Quixote rode on.', '“Hark!” said he.', 'Did Sancho follow?', 'CHAPTER II']
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    sentences = []
    for paragraph in _PARAGRAPH.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        paragraph = " ".join(paragraph.split())
        start = 0
        for m in _END.finditer(paragraph):
            if _continues(paragraph, m):
                continue
            sentences.append(paragraph[start:m.end()].strip())
            start = m.end()
        sentences.append(paragraph[start:].strip())
    return [s for s in sentences if s]


def _continues(paragraph, m):
    """Whether the sentence goes on after the terminator match `m`."""
    after = paragraph[m.end() + 1:m.end() + 2]
    if after.islower():
        return True
    if m.group() != ".":
        return False
    word = paragraph[:m.start()].rpartition(" ")[2].lstrip("\"'“‘([")
    is_initial = len(word) == 1 and word.isupper() and word != "I"
    return is_initial or word.lower() in ABBREVIATIONS


def sentence_pairs(sentences) -> list[tuple[str, str]]:
    """Consecutive pairs (sentence_i, sentence_{i+1}): next-sentence prediction data.

    >>> sentence_pairs(["A.", "B.", "C."])
    [('A.', 'B.'), ('B.', 'C.')]
    """
    sentences = list(sentences)
    return list(zip(sentences, sentences[1:]))


def read_tsv_pairs(path) -> list[tuple[str, str]]:
    """Read translation pairs, one `source<TAB>target` per line (UTF-8).

    Blank lines are skipped; a BOM and `\\r\\n` are fine; columns after the second are
    ignored (the Tatoeba/Anki files put an attribution there). A line without a tab, or
    with an empty source or target, raises ValueError naming the file and line number;
    so does a byte that is not UTF-8 (naming its offset).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "en-es.tsv")
    >>> _ = open(p, "w", encoding="utf-8").write("Go.\\tVe.\\n\\nHi.\\tHola.\\n")
    >>> read_tsv_pairs(p)
    [('Go.', 'Ve.'), ('Hi.', 'Hola.')]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a TSV file of pairs, but {str(path)!r} "
                                f"does not exist")
    text = read_text(path, "a TSV file of pairs")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # as open() reads
    pairs = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(f"{path}: line {lineno}: expected 'source<TAB>target' with "
                             f"both non-empty, got {line[:80]!r}")
        pairs.append((fields[0].strip(), fields[1].strip()))
    return pairs


# ---------------------------------------------------------------------------------------
# Special tokens and encoding
# ---------------------------------------------------------------------------------------

def add_special_tokens(tokenizer) -> dict[str, int]:
    """Register [PAD] [BOS] [EOS] in `tokenizer` right after its vocabulary; returns their ids.

    Idempotent: tokens already registered keep their ids. The model then needs
    `vocab_size = max(tokenizer.vocab) + 1` and `pad_id = ids["[PAD]"]`.
    """
    missing = [s for s in SPECIALS if s not in tokenizer.special_tokens]
    if missing:
        first_free = max(tokenizer.vocab) + 1
        tokenizer.register_special_tokens({s: first_free + k for k, s in enumerate(missing)})
    return special_ids(tokenizer)


def special_ids(tokenizer) -> dict[str, int]:
    """`{"[PAD]": id, "[BOS]": id, "[EOS]": id}` of a tokenizer (after add_special_tokens)."""
    missing = [s for s in SPECIALS if s not in tokenizer.special_tokens]
    if missing:
        raise ValueError(f"tokenizer: expected the special tokens {list(SPECIALS)}, got none "
                         f"for {missing}; call add_special_tokens(tokenizer) first")
    return {s: tokenizer.special_tokens[s] for s in SPECIALS}


def encode_pairs(tokenizer, pairs, max_len: int) -> list[tuple[list[int], list[int]]]:
    """Encode (source, target) text pairs: source ids, and [BOS] target ids [EOS].

    The texts are encoded as ordinary text (a literal "[PAD]" in a sentence stays text).
    Sources are cut to max_len tokens; targets to max_len - 2 tokens so that with [BOS] and
    [EOS] they have at most max_len (a cut target still ends with [EOS]).

    Args:
        tokenizer: a tokenizer with the SPECIALS registered (add_special_tokens).
        pairs: (source, target) strings.
        max_len: at least 3.
    Returns:
        a list of (src_ids, tgt_ids) with tgt_ids = [BOS, ..., EOS].
    """
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 3:
        raise ValueError(f"max_len: expected an int >= 3 ([BOS], a token, [EOS]), "
                         f"got {max_len!r}")
    ids = special_ids(tokenizer)
    bos, eos = ids["[BOS]"], ids["[EOS]"]
    encoded = []
    for k, pair in enumerate(pairs):
        if len(pair) != 2 or not all(isinstance(s, str) for s in pair):
            raise ValueError(f"pairs[{k}]: expected a (source, target) pair of str, "
                             f"got {pair!r}")
        src = tokenizer.encode_ordinary(pair[0])[:max_len]
        tgt = tokenizer.encode_ordinary(pair[1])[:max_len - 2]
        encoded.append((src, [bos, *tgt, eos]))
    return encoded


# ---------------------------------------------------------------------------------------
# Padding and batches
# ---------------------------------------------------------------------------------------

def pad_batch(seqs, pad_id: int, length: int | None = None):
    """Pad id sequences to one length: (ids (B, L) int64, mask (B, L) bool), the mask a
    "may attend" mask: True at the sequence's tokens, False at padding.

    Args:
        seqs: B sequences of ints (lists or arrays).
        pad_id: the id written into the padding.
        length: L (default: the longest sequence); shorter than a sequence is an error.

    >>> ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [8, 0, 0]], [[True, True, True], [True, False, False]])
    """
    seqs = [np.asarray(s, dtype=np.int64).reshape(-1) for s in seqs]
    if not seqs:
        raise ValueError("seqs: expected at least one sequence, got none")
    longest = max(len(s) for s in seqs)
    length = longest if length is None else length
    if length < longest:
        raise ValueError(f"length: expected at least the longest sequence, {longest}, "
                         f"got {length}")
    ids = np.full((len(seqs), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), length), dtype=bool)
    for row, s in enumerate(seqs):
        ids[row, :len(s)] = s
        mask[row, :len(s)] = True
    return ids, mask


PairBatch = namedtuple("PairBatch", "src tgt_in tgt_out src_mask tgt_mask")
PairBatch.__doc__ = """One batch for Seq2Seq, as tensors:
    src (B, S) int64, tgt_in (B, T) int64, tgt_out (B, T) int64 (padding = pad_id),
    src_mask (B, S) bool, tgt_mask (B, T) bool ("may attend": True at real tokens).
Use: model(b.src, b.tgt_in, b.src_mask, b.tgt_mask, targets=b.tgt_out)."""


def collate_pairs(encoded, pad_id: int, device=None) -> PairBatch:
    """Pad a list of (src_ids, [BOS] tgt [EOS]) pairs into one PairBatch on `device`."""
    src, src_mask = pad_batch([s for s, _ in encoded], pad_id)
    tgt_in, tgt_mask = pad_batch([t[:-1] for _, t in encoded], pad_id)  # [BOS] tgt
    tgt_out, _ = pad_batch([t[1:] for _, t in encoded], pad_id)         # tgt [EOS]
    return PairBatch(*(tensor(a, device=device)
                       for a in (src, tgt_in, tgt_out, src_mask, tgt_mask)))


def pair_batches(encoded_pairs, batch_size: int, rng: np.random.Generator | None = None,
                 device=None, *, pad_id: int):
    """One epoch of padded batches (PairBatch tuples) over encoded pairs.

    Args:
        encoded_pairs: the output of `encode_pairs`.
        batch_size: pairs per batch (the last batch may be smaller).
        rng: a numpy Generator to shuffle the pairs (one permutation per epoch);
            None keeps their order (for evaluation).
        device: where the tensors go.
        pad_id: the [PAD] id (`special_ids(tokenizer)["[PAD]"]`, = Seq2SeqConfig.pad_id).
    Yields:
        PairBatch(src, tgt_in, tgt_out, src_mask, tgt_mask).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator or None, "
                        f"got {type(rng).__name__}")
    n = len(encoded_pairs)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for first in range(0, n, batch_size):
        chunk = [encoded_pairs[i] for i in order[first:first + batch_size]]
        yield collate_pairs(chunk, pad_id, device)
