"""The checks of lesson 07's exercises (lessons/exercises/embeddings.py), run by
`python -m lessons.check embeddings`: each answer against tinytx.data.word2vec."""
from collections import Counter

import numpy as np

from tinytx.data import word2vec


def tinytx_pairs(ids, window, seeds=1):
    """The pairs tinytx's skipgram_batches yields, counted, over `seeds` random draws
    (its dynamic window draws a size in 1..window per center; with window 1 it is 1)."""
    noise = np.ones(max(ids) + 1) / (max(ids) + 1)
    pairs = Counter()
    for seed in range(seeds):
        batches = word2vec.skipgram_batches(ids, window, 10_000, 1, noise,
                                            np.random.default_rng(seed))
        pairs |= Counter((int(c), int(o)) for center, context, _ in batches
                         for c, o in zip(center, context))
    return pairs


def check_skipgram_pairs(skipgram_pairs):
    for ids, window, seeds in [([3, 1, 4, 1, 5, 9, 2, 6], 1, 1),
                               ([3, 1, 4, 0, 5, 9, 2, 6], 2, 30),
                               ([3, 1, 4, 0, 5, 9, 2, 6], 3, 30)]:
        got = Counter(tuple(map(int, p)) for p in skipgram_pairs(ids, window))
        want = tinytx_pairs(ids, window, seeds)  # window > 1: all sizes drawn over 30 seeds
        assert got == want, (f"{ids}, window {window}: your pairs differ from tinytx's "
                             f"skipgram_batches: extra {dict(got - want)}, missing "
                             f"{dict(want - got)}")
    return "equals tinytx's skipgram_batches for windows 1, 2 and 3"


def check_noise_distribution(noise_distribution):
    counts = [16, 1, 81, 5]
    for power in (0.75, 1.0, 0.0):
        got = np.asarray(noise_distribution(counts, power))
        want = word2vec.noise_distribution(np.array(counts), power)
        assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
        err = np.abs(got - want).max()
        assert err < 1e-12, f"power {power}: differs from tinytx's by {err:.1e}"
    return "equals tinytx.data.word2vec.noise_distribution for powers 0.75, 1 and 0"
