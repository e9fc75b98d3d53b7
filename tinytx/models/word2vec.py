"""Word2Vec: word vectors learned by predicting neighbours, with negative sampling.

Introduced in lesson 07 "Embeddings" (report chapter 5). A word's meaning is read off the
company it keeps: words that appear in similar contexts get similar vectors. Two tables:
`in_embed` (v, the word vectors we keep) and `out_embed` (u, the context vectors).

    skip-gram  the center predicts each neighbour:  h = v_center,        target = context
    CBOW       the neighbours' mean predicts it:    h = mean(v_context), target = center

Instead of a softmax over the whole vocabulary, negative sampling (Mikolov et al., 2013)
scores the true target against K "noise" words drawn from the unigram distribution^0.75:

    loss = -log σ(u_target·h) - Σ_k log σ(-u_k·h),   averaged over the batch

Also here: nearest-neighbour and analogy queries on the learned vectors. The words,
vocabulary and batches are `tinytx.data.word2vec`; the training loop is
`tinytx.tasks.word2vec.train_word2vec`.

    >>> from tinytx.tasks.word2vec import train_word2vec
    >>> text = "the cat sat on the mat. the dog sat on the log."
    >>> model, vocab, losses = train_word2vec(text, min_count=1, n_embd=8, epochs=2,
    ...                                       subsample=0, batch_size=8)
    >>> model.vectors().shape, vocab.itos[0]
    ((7, 8), 'the')
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import functional as F
from .. import nn
from ..tensor import Tensor

MODES = ("skipgram", "cbow")


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
