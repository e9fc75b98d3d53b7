"""Our answers to lesson 07's exercises (lessons/exercises/embeddings.py)."""
import numpy as np


def skipgram_pairs(ids, window):
    pairs = []
    for i, center in enumerate(ids):
        for j in range(max(0, i - window), min(len(ids), i + window + 1)):
            if j != i:
                pairs.append((center, ids[j]))
    return pairs


def noise_distribution(counts, power=0.75):
    p = np.asarray(counts, dtype=np.float64) ** power
    return p / p.sum()
