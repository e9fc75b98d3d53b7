"""Word2Vec: word vectors learned by predicting neighbours, with negative sampling.

Introduced in lesson 06 "Embeddings" (report chapter 5). A word's meaning is read off the
company it keeps: words that appear in similar contexts get similar vectors. Two tables:
`in_embed` (v, the word vectors we keep) and `out_embed` (u, the context vectors).

    skip-gram  the center predicts each neighbour:  h = v_center,        target = context
    CBOW       the neighbours' mean predicts it:    h = mean(v_context), target = center

Instead of a softmax over the whole vocabulary, negative sampling (Mikolov et al., 2013)
scores the true target against K "noise" words drawn from the unigram distribution^0.75:

    loss = -log σ(u_target·h) - Σ_k log σ(-u_k·h),   averaged over the batch

Also here: a word-level vocabulary, subsampling of frequent words, vectorised batch
makers, a small training loop and nearest-neighbour queries.

    >>> text = "the cat sat on the mat. the dog sat on the log."
    >>> model, vocab, losses = train_word2vec(text, min_count=1, n_embd=8, epochs=2,
    ...                                       subsample=0, batch_size=8)
    >>> model.vectors().shape, vocab.itos[0]
    ((7, 8), 'the')
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
import regex
from tqdm import tqdm

from .. import functional as F
from .. import nn
from ..backend import get_device
from ..optim import SGD, Adam
from ..tensor import Tensor

WORD_RE = regex.compile(r"\p{L}+")                # letters, accented ones included
SENTENCE_RE = regex.compile(r"[.!?]+|\n\s*\n")    # sentence ends and blank lines
MODES = ("skipgram", "cbow")


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


# -- the model -------------------------------------------------------------------------
@dataclass
class Word2VecConfig:
    vocab_size: int
    n_embd: int = 64           # the size of a word vector
    mode: str = "skipgram"     # "skipgram" or "cbow"
    negatives: int = 5         # K noise words per target
    window: int = 2            # context words on each side of the center (at most)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"Word2VecConfig: mode must be one of {MODES}, got "
                             f"{self.mode!r}")

    def to_dict(self):
        return asdict(self)


def log_sigmoid(x: Tensor) -> Tensor:
    """log σ(x) = -softplus(-x) = min(x, 0) - log(1 + e^-|x|), stable for any x.

    Both kinks at 0 take the branch x >= 0, so the slope there is σ(-0) = ½: a fresh
    model has out_embed = 0, every score is exactly 0, and a wrong slope at 0 (relu's
    0 on both sides) would leave every gradient zero and the model untrained.
    """
    pos = x >= 0
    return F.where(pos, 0.0, x) - F.log(1 + F.exp(-F.where(pos, x, -x)))


class Word2Vec(nn.Module):
    """Skip-gram or CBOW with negative sampling; `in_embed.weight` are the word vectors.

    Init as the original C code: in_embed uniform in ±0.5/n_embd, out_embed zeros.
    Args:
        config: a Word2VecConfig.
    Shapes: center (B,) int; context (B,) int for skip-gram, (B, 2W) int with -1 padding
        for CBOW; negatives (B, K) int -> loss a scalar (`losses`: (B,))

        >>> import tinytx as tx
        >>> m = Word2Vec(Word2VecConfig(vocab_size=10, n_embd=4))
        >>> round(m(tx.tensor([1, 2]), tx.tensor([3, 4]), tx.tensor([[5], [6]])).item(), 4)
        1.3863
    """

    def __init__(self, config: Word2VecConfig, device=None, dtype=None):
        super().__init__()
        self.config = c = config
        self.in_embed = nn.Embedding(c.vocab_size, c.n_embd, device=device, dtype=dtype)
        self.out_embed = nn.Embedding(c.vocab_size, c.n_embd, device=device, dtype=dtype)
        w = self.in_embed.weight
        w.data = ((w.device.rand(w.shape, w.dtype) - 0.5) / c.n_embd).astype(w.dtype)
        self.out_embed.weight.data[...] = 0

    def hidden(self, center: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        """The predicting vector h (B, C) and the id (B,) of the word it predicts."""
        if self.config.mode == "skipgram":
            if context.ndim != 1:
                raise ValueError(f"Word2Vec(skipgram): context must have shape (B,), got "
                                 f"{context.shape}")
            return self.in_embed(center), context
        if context.ndim != 2:
            raise ValueError(f"Word2Vec(cbow): context must have shape (B, 2W), got "
                             f"{context.shape}")
        dev, ctx = context.device, context.data
        mask = (ctx >= 0).astype(self.in_embed.weight.dtype)               # (B, 2W)
        safe = Tensor._make(dev.xp.where(ctx >= 0, ctx, 0), dev, False)
        n = Tensor._make(dev.xp.maximum(mask.sum(axis=1, keepdims=True), 1), dev, False)
        v = self.in_embed(safe) * Tensor._make(mask[..., None], dev, False)  # (B, 2W, C)
        return v.sum(axis=1) / n, center                                     # (B, C)

    def losses(self, center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
        """The loss of each example: -log σ(u_t·h) - Σ_k log σ(-u_k·h). Shape (B,)."""
        h, target = self.hidden(center, context)
        if negatives.ndim != 2 or negatives.shape[0] != h.shape[0]:
            raise ValueError(f"Word2Vec: negatives must have shape (B, K) with B="
                             f"{h.shape[0]}, got {negatives.shape}")
        xp, dev = h.device.xp, h.device
        words = xp.concatenate([target.data[:, None], negatives.data], axis=1)  # (B, 1+K)
        u = self.out_embed(Tensor._make(words, dev, False))                   # (B, 1+K, C)
        scores = (u * h.unsqueeze(1)).sum(axis=-1)                            # (B, 1+K)
        sign = xp.full(words.shape[1], -1, dtype=h.dtype)
        sign[0] = 1                                        # the true target is +, noise -
        return -log_sigmoid(scores * Tensor._make(sign, dev, False)).sum(axis=-1)

    def forward(self, center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
        return self.losses(center, context, negatives).mean()

    def vectors(self) -> np.ndarray:
        """The word vectors, a (V, C) NumPy copy of in_embed.weight."""
        return self.in_embed.weight.numpy()


# -- training --------------------------------------------------------------------------
def train_word2vec(text: str, *, mode="skipgram", n_embd=64, window=2, negatives=5,
                   min_count=5, max_size=None, subsample=1e-3, epochs=3, lr=None,
                   batch_size=1024, optimizer="adam", seed=0, device=None, progress=False):
    """Tokenize `text`, build the vocabulary and train a Word2Vec on it.

    The defaults are what gave good neighbours fastest on Don Quixote: Adam at 0.01
    beat SGD with word2vec's linearly decaying rate for the same number of steps.

    Args:
        text: the corpus; sentences end at . ! ? and blank lines (no window crosses one).
        mode, n_embd, window, negatives: as Word2VecConfig.
        min_count, max_size: as build_vocab. subsample: t of `subsample_mask` (0: off),
            drawn anew each epoch.
        epochs, batch_size: passes over the corpus; pairs (or centers) per step.
        lr: the learning rate; None: 0.01 for Adam, 0.025·batch_size for SGD (word2vec's
            rate per pair, as the loss is a mean over the batch).
        optimizer: "adam" (constant lr) or "sgd" (lr decays linearly to ~0, as word2vec).
        seed: seeds init (the device generator), subsampling, windows, order, negatives.
        device: where the model trains ("cpu").
        progress: show a progress bar.
    Returns: (model, vocab, losses), losses a list of the per-step training loss.
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"train_word2vec: optimizer must be 'adam' or 'sgd', got "
                         f"{optimizer!r}")
    dev = get_device(device)
    sentences = tokenize_sentences(text)
    vocab = build_vocab((w for s in sentences for w in s), min_count, max_size)
    ids, sent = encode_sentences(sentences, vocab)
    dev.seed(seed)
    model = Word2Vec(Word2VecConfig(len(vocab), n_embd, mode, negatives, window), dev)
    rng = np.random.default_rng(seed)
    if lr is None:
        lr = 0.01 if optimizer == "adam" else 0.025 * batch_size
    opt = (Adam if optimizer == "adam" else SGD)(model.parameters(), lr=lr)
    noise = noise_distribution(vocab.counts)
    make = skipgram_batches if mode == "skipgram" else cbow_batches
    losses, bar = [], tqdm(total=epochs, desc=f"word2vec {mode}", disable=not progress)
    for epoch in range(epochs):
        keep = subsample_mask(ids, vocab.counts, subsample, rng)
        batches = list(make(ids[keep], window, batch_size, negatives, noise, rng,
                            sent[keep]))
        if not batches:
            raise ValueError(f"text: no two known words (min_count={min_count}) share a "
                             f"sentence, so there is nothing to train on")
        for b, arrays in enumerate(batches):
            if optimizer == "sgd":  # linear decay over the whole run, floor 1e-4·lr
                done = (epoch + b / len(batches)) / epochs
                opt.param_groups[0]["lr"] = lr * max(1 - done, 1e-4)
            loss = model(*(Tensor._make(dev.asarray(a), dev, False) for a in arrays))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-len(batches):]):.3f}")
        bar.update()
    bar.close()
    return model, vocab, losses


# -- using the vectors -----------------------------------------------------------------
def _unit_vectors(model):
    v = model.vectors().astype(np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _word_id(vocab, word, where):
    if word not in vocab:
        raise KeyError(f"{where}: {word!r} is not in the vocabulary ({len(vocab)} words, "
                       f"those seen at least min_count={vocab.min_count} times)")
    return vocab.stoi[word]


def _top(vocab, scores, exclude, k):
    scores = scores.copy()
    scores[list(exclude)] = -np.inf
    best = np.argsort(-scores, kind="stable")[:k]
    return [(vocab.itos[i], float(scores[i])) for i in best if np.isfinite(scores[i])]


def most_similar(model, vocab, word: str, k: int = 10):
    """The k words whose vectors have the highest cosine similarity with `word`'s.

    Returns: [(word, cosine)], best first, `word` itself left out.
    """
    i = _word_id(vocab, word, "most_similar")
    v = _unit_vectors(model)
    return _top(vocab, v @ v[i], {i}, k)


def analogy(model, vocab, a: str, b: str, c: str, k: int = 5):
    """Words nearest to a - b + c ("king" - "man" + "woman"), a, b and c left out.

    Returns: [(word, cosine)], best first.
    """
    ia, ib, ic = (_word_id(vocab, w, "analogy") for w in (a, b, c))
    v = _unit_vectors(model)
    q = v[ia] - v[ib] + v[ic]
    return _top(vocab, v @ (q / max(np.linalg.norm(q), 1e-12)), {ia, ib, ic}, k)
