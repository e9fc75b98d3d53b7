"""word2vec's data: words, the vocabulary, subsampling, negatives and the pair batches.

Introduced in lesson 07 "Embeddings" (report chapter 5); the model is
`tinytx.models.word2vec`, the training loop `tinytx.tasks.word2vec`. A text becomes
lowercased words grouped by sentence, the words become ids of a `Vocab` (most frequent
first), and the ids become shuffled training batches: skip-gram pairs (center, context)
or CBOW rows (center, its 2W context slots), each with K negative (noise) words drawn
from the unigram distribution^0.75. No window crosses a sentence.

    >>> vocab = build_vocab(tokenize_words("the cat sat on the mat"), min_count=1)
    >>> vocab.itos[0], vocab.encode(["the", "dog", "cat"]).tolist()
    ('the', [0, 1])
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import regex

WORD_RE = regex.compile(r"\p{L}+")                # letters, accented ones included
SENTENCE_RE = regex.compile(r"[.!?]+|\n\s*\n")    # sentence ends and blank lines


# -- words and the vocabulary ----------------------------------------------------------
def tokenize_words(text: str) -> list[str]:
    """Lowercased runs of letters: punctuation, digits and apostrophes split words.

    >>> tokenize_words("Dulcinea del Toboso! Rocinante, señor.")
    ['dulcinea', 'del', 'toboso', 'rocinante', 'señor']
    """
    return WORD_RE.findall(text.lower())


def tokenize_sentences(text: str) -> list[list[str]]:
    """The words of each sentence (split at . ! ? and blank lines); empty ones dropped.

    >>> tokenize_sentences("In a village. Of La Mancha!")
    [['in', 'a', 'village'], ['of', 'la', 'mancha']]
    """
    return [w for w in (tokenize_words(s) for s in SENTENCE_RE.split(text)) if w]


@dataclass
class Vocab:
    """Words and their ids, most frequent first (ties alphabetical).

    itos: id -> word; counts: occurrences of each word (int64, aligned with itos);
    stoi: word -> id; min_count: the threshold it was built with.
    """
    itos: list
    counts: np.ndarray
    min_count: int = 1
    stoi: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def __contains__(self, word):
        return word in self.stoi

    def encode(self, words) -> np.ndarray:
        """The ids of the known words (unknown ones are dropped, as in word2vec)."""
        return np.array([self.stoi[w] for w in words if w in self.stoi], dtype=np.int64)


def build_vocab(words, min_count: int = 5, max_size: int | None = None) -> Vocab:
    """Count `words`, keep those seen at least `min_count` times (at most `max_size`).

    >>> v = build_vocab("a b a c a b".split(), min_count=2)
    >>> v.itos, v.counts.tolist(), v.stoi["b"]
    (['a', 'b'], [3, 2], 1)
    """
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"build_vocab: min_count must be an int >= 1, got {min_count!r}")
    if max_size is not None and (not isinstance(max_size, int) or max_size < 1):
        raise ValueError(f"build_vocab: max_size must be None or an int >= 1, got "
                         f"{max_size!r}")
    ranked = sorted(Counter(words).items(), key=lambda wc: (-wc[1], wc[0]))
    kept = [(w, c) for w, c in ranked if c >= min_count][:max_size]
    if not kept:
        raise ValueError(f"build_vocab: no word occurs min_count={min_count} times (got "
                         f"{len(ranked)} distinct words, the most frequent "
                         f"{ranked[0][1] if ranked else 0} times)")
    return Vocab([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64),
                 min_count)


def encode_sentences(sentences, vocab: Vocab):
    """Flatten tokenized sentences to (ids, sentence index of each id), unknowns dropped.

    Shapes: -> ids (N,) int64, sent (N,) int64
    """
    ids = [vocab.encode(s) for s in sentences]
    sent = [np.full(len(x), i, dtype=np.int64) for i, x in enumerate(ids)]
    empty = np.zeros(0, dtype=np.int64)
    return np.concatenate(ids or [empty]), np.concatenate(sent or [empty])


# -- sampling --------------------------------------------------------------------------
def subsample_mask(ids, counts, t: float = 1e-4, rng=None) -> np.ndarray:
    """Which tokens to keep: word w is dropped with probability 1 - sqrt(t / f(w)), f its
    frequency (Mikolov et al.), so "the" and "and" stop crowding every window. t <= 0
    keeps everything. Shapes: ids (N,) -> (N,) bool"""
    if t <= 0:
        return np.ones(len(ids), dtype=bool)
    f = counts / counts.sum()
    keep = np.minimum(1.0, np.sqrt(t / f))           # (V,)
    return np.random.default_rng(rng).random(len(ids)) < keep[ids]


def noise_distribution(counts, power: float = 0.75) -> np.ndarray:
    """The negative-sampling distribution: unigram counts^power, normalised (float64).

    >>> noise_distribution(np.array([16, 1])).round(3).tolist()
    [0.889, 0.111]
    """
    p = np.asarray(counts, dtype=np.float64) ** power
    return p / p.sum()


def sample_negatives(noise_probs, shape, rng) -> np.ndarray:
    """Word ids drawn from `noise_probs` (inverse CDF: one searchsorted, no Python loop)."""
    cdf = np.cumsum(noise_probs)
    u = rng.random(shape) * cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1).astype(np.int64)


def _windows(n, window, rng, sentences):
    """For every position i and offset d in ±1..window: may (i, i+d) pair up? word2vec's
    dynamic window: each center draws b in 1..window and looks only b words each way.
    Shapes: -> offsets (2W,), valid (n, 2W) bool, idx (n, 2W) positions clipped in range"""
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")
    offsets = np.array([d for d in range(-window, window + 1) if d], dtype=np.int64)
    b = rng.integers(1, window + 1, size=n)
    pos = np.arange(n)[:, None] + offsets             # (n, 2W)
    valid = (pos >= 0) & (pos < n) & (np.abs(offsets) <= b[:, None])
    idx = np.clip(pos, 0, max(n - 1, 0))
    if sentences is not None:
        valid &= sentences[idx] == sentences[:, None]
    return offsets, valid, idx


def _batched(arrays, batch_size, negatives, noise_probs, rng):
    """Shuffle rows of `arrays` together and yield batches with K negatives each."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    order = rng.permutation(len(arrays[0]))
    for s in range(0, len(order), batch_size):
        rows = order[s:s + batch_size]
        yield (*(a[rows] for a in arrays),
               sample_negatives(noise_probs, (len(rows), negatives), rng))


def skipgram_batches(ids, window, batch_size, negatives, noise_probs, rng, sentences=None):
    """Shuffled (center, context, negatives) batches of every skip-gram pair of `ids`.

    Args:
        ids: (N,) word ids; sentences: optional (N,) sentence index (no pair crosses one).
        window: the largest offset |d| of a context word (dynamic: each center draws b).
        batch_size, negatives: B and K. noise_probs: (V,) from `noise_distribution`.
        rng: a numpy Generator.
    Shapes: yields center (B,), context (B,), negatives (B, K), all int64
    """
    ids = np.asarray(ids, dtype=np.int64)
    _, valid, idx = _windows(len(ids), window, rng, sentences)
    rows, cols = np.nonzero(valid)                    # one (center, context) pair each
    pairs = (ids[rows], ids[idx[rows, cols]])
    yield from _batched(pairs, batch_size, negatives, noise_probs, rng)


def cbow_batches(ids, window, batch_size, negatives, noise_probs, rng, sentences=None):
    """Shuffled (center, context, negatives) CBOW batches: every center with its 2W context
    slots, -1 where a slot is outside the (dynamic) window, the text or the sentence.
    Centers without any context are left out. Args as `skipgram_batches`.

    Shapes: yields center (B,), context (B, 2W) with -1 padding, negatives (B, K)
    """
    ids = np.asarray(ids, dtype=np.int64)
    _, valid, idx = _windows(len(ids), window, rng, sentences)
    context = np.where(valid, ids[idx], -1)           # (N, 2W)
    has = valid.any(axis=1)
    yield from _batched((ids[has], context[has]), batch_size, negatives, noise_probs, rng)
