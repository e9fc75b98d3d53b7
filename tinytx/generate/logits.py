"""Logits processors: pure functions on host (NumPy) arrays of next-token logits.

Introduced in lesson 11 (sampling the GPT trained on Don Quixote: temperature and top-k,
as in the report's results; docs/generation.md). One step of sampling:

    logits of the last position (B, V) -> /temperature -> top-k -> top-p
        -> softmax -> draw one token per row (or argmax: greedy)

Each processor is a small function of a (..., V) array, so each can be tested on
hand-built logits; the generation loop (`sampling.py`) and beam search (`beam.py`) call
them on the one (B, V) row per step that is copied to the host. The argument checks used
by both loops live here too.

    >>> sample_next(np.array([[0.0, 5.0, 1.0]]), greedy=True).tolist()
    [1]
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """logits / temperature: below 1 sharpens the distribution, above 1 flattens it.

    Args:
        temperature: > 0. (0 is not a temperature: `generate` reads temperature=0 as
            greedy decoding, the limit T -> 0; here it is an error, like T < 0.)
    Shapes: (..., V) -> (..., V)

        >>> apply_temperature(np.array([2.0, 4.0]), 2.0).tolist()
        [1.0, 2.0]
    """
    check_temperature(temperature)
    if temperature == 0:
        raise ValueError("temperature: 0 means greedy decoding (argmax); apply_temperature "
                         "needs a temperature > 0")
    return logits / temperature


def top_k_filter(logits: np.ndarray, k: int | None) -> np.ndarray:
    """Keep exactly the k largest logits of each row; the others become -inf.

    Ties at the k-th place go to the lower token id, so exactly k survive (nanoGPT keeps
    every token tied with the k-th, which can be more). k larger than the vocabulary is
    clamped to it (nothing is removed); None keeps everything.
    Shapes: (..., V) -> (..., V)

        >>> top_k_filter(np.array([1.0, 3.0, 2.0, 3.0]), 2).tolist()
        [-inf, 3.0, -inf, 3.0]
    """
    if k is None:
        return logits.copy()
    check_top_k(k)
    if k >= logits.shape[-1]:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")        # best first, ties by id
    drop = np.ones(logits.shape, dtype=bool)
    np.put_along_axis(drop, order[..., :k], False, axis=-1)
    return np.where(drop, -np.inf, logits)


def top_p_filter(logits: np.ndarray, p: float | None) -> np.ndarray:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probabilities
    sum to at least p; the others become -inf. The most likely token is always kept.

    A token is kept when the probability of the tokens ranked above it is below p. Ties
    are ranked by token id (lower first); p = 1 (or None) keeps everything.
    Args:
        p: in (0, 1]; anything else is a ValueError.
    Shapes: (..., V) -> (..., V)

        >>> top_p_filter(np.log(np.array([0.5, 0.2, 0.3])), 0.7).round(2).tolist()
        [-0.69, -inf, -1.2]
    """
    if p is None:
        return logits.copy()
    check_top_p(p)
    if p == 1:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")
    probs = np.take_along_axis(probabilities(logits), order, axis=-1)   # sorted, best first
    above = np.cumsum(probs, axis=-1) - probs                  # mass ranked above each
    drop = np.empty(logits.shape, dtype=bool)
    np.put_along_axis(drop, order, above >= p, axis=-1)
    return np.where(drop, -np.inf, logits)


def no_repeat_ngram_mask(ids: np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    """Which next tokens would repeat an n-gram already in the sequence (prompt included).

    The next token t is banned for row b when (last n-1 tokens of b, t) occurs in b.
    n = 0 bans nothing; n = 1 bans every token already present.
    Shapes: ids (B, T) int -> bool (B, V), True = banned

        >>> no_repeat_ngram_mask(np.array([[1, 2, 3, 1]]), 2, 5)[0].astype(int).tolist()
        [0, 0, 1, 0, 0]
    """
    B, T = ids.shape
    banned = np.zeros((B, vocab_size), dtype=bool)
    if n <= 0 or T < n:
        return banned
    grams = np.lib.stride_tricks.sliding_window_view(ids, n, axis=1)   # (B, T-n+1, n)
    prefix = ids[:, T - n + 1:]                                        # (B, n-1)
    hit = (grams[:, :, :n - 1] == prefix[:, None, :]).all(axis=-1)     # (B, T-n+1)
    rows, at = np.nonzero(hit)
    banned[rows, grams[rows, at, n - 1]] = True
    return banned


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of host logits (NumPy arrays, for sampling; the differentiable
    op is F.softmax); -inf entries get probability 0."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def log_probabilities(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of host logits (NumPy arrays, for beam search; the
    differentiable op is F.log_softmax)."""
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))


def sample_next(logits: np.ndarray, rng: np.random.Generator | None = None, *,
                temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, greedy: bool = False) -> np.ndarray:
    """One token per row: argmax if greedy (or temperature == 0), else a draw from
    softmax(top_p(top_k(logits / temperature))) by inverse CDF with one uniform per row.

    Shapes: logits (B, V) -> int64 (B,)

        >>> sample_next(np.array([[0.0, 5.0, 1.0]]), greedy=True).tolist()
        [1]
    """
    if not np.isfinite(logits.max(axis=-1)).all():
        raise ValueError("logits: a row has no finite logit (every token banned or NaN)")
    if greedy or temperature == 0:
        return logits.argmax(axis=-1).astype(np.int64)
    z = top_p_filter(top_k_filter(apply_temperature(logits, temperature), top_k), top_p)
    probs = probabilities(z)
    cdf = np.cumsum(probs, axis=-1)
    u = make_rng(rng).random(len(probs)) * cdf[:, -1]          # uniform in [0, total)
    ids = (cdf <= u[:, None]).sum(axis=-1)                     # tokens whose cdf <= u
    last = probs.shape[-1] - 1 - (probs[:, ::-1] > 0).argmax(axis=-1)   # last kept id
    return np.minimum(ids, last).astype(np.int64)


# -- argument checks ----------------------------------------------------------------------

def check_temperature(temperature):
    if not isinstance(temperature, numbers.Real) or math.isnan(temperature) or temperature < 0:
        raise ValueError(f"temperature: expected a number >= 0 (0 = greedy), got "
                         f"{temperature!r}")


def check_top_k(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k: expected an int >= 1 or None, got {k!r}")


def check_top_p(p):
    if not isinstance(p, numbers.Real) or not 0 < p <= 1:
        raise ValueError(f"top_p: expected a number in (0, 1] or None, got {p!r}")


def check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {value!r}")


def make_rng(rng) -> np.random.Generator:
    """A Generator from a Generator (used as is), an int seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng: expected a numpy.random.Generator, an int seed or None, got "
                    f"{type(rng).__name__}")
