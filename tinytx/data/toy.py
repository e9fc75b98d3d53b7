"""Toy sequence tasks for the lessons on memory: the recall task (lessons 03 and 04).

Report §2.2 (the LSTM) and §3 (attention). A model reads a sequence of random tokens and,
after the last one, must say what the *first* one was. The answer lies `distance` steps
back, so the task measures how far back a model can carry information: a plain RNN's
gradient (and memory) fades geometrically with the distance, an LSTM's cell can keep it,
and attention looks it up directly, whatever the distance.

    >>> import numpy as np
    >>> x, y = recall_task(3, distance=4, vocab=8, rng=np.random.default_rng(0))
    >>> x.shape, y.shape
    ((3, 5), (3,))
    >>> bool((y == x[:, 0]).all())
    True
"""
from __future__ import annotations

import numbers

import numpy as np


def recall_task(n_samples: int, distance: int, vocab: int, rng):
    """`n_samples` sequences whose first token must be recalled `distance` steps later.

    x[:, 0] is the token to remember, x[:, 1:] are `distance` distractors drawn from the
    same vocabulary (so the model cannot tell the answer by its value, only by its
    position), and y = x[:, 0]. Every token is uniform in [0, vocab), so guessing is
    right with probability 1/vocab.

    Args:
        n_samples: how many sequences (>= 1).
        distance: how many tokens follow the one to remember (>= 0); the sequences have
            length distance + 1.
        vocab: the number of different tokens (>= 2).
        rng: a `numpy.random.Generator` (or an int seed for one).
    Shapes: -> x (n_samples, distance + 1) int64, y (n_samples,) int64

        >>> x, y = recall_task(2, 3, 5, rng=0)
        >>> x.shape, y.tolist() == x[:, 0].tolist()
        ((2, 4), True)
    """
    _check_int("n_samples", n_samples, 1)
    _check_int("distance", distance, 0)
    _check_int("vocab", vocab, 2)
    if isinstance(rng, numbers.Integral):
        rng = np.random.default_rng(rng)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"recall_task: rng must be a numpy.random.Generator or an int seed, "
                        f"got {type(rng).__name__}")
    x = rng.integers(0, vocab, size=(n_samples, distance + 1), dtype=np.int64)
    return x, x[:, 0].copy()


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"recall_task: {name} must be an int >= {minimum}, got {value!r}")
