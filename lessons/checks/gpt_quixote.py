"""The checks of lesson 11's exercises (lessons/exercises/gpt_quixote.py), run by
`python -m lessons.check gpt_quixote`: each answer against
tinytx.data.get_batch and tinytx.generate.logits.top_k_filter."""
import numpy as np

from tinytx.data import get_batch
from tinytx.generate.logits import top_k_filter as tinytx_top_k_filter


def check_xy_batch(xy_batch):
    ids = np.random.default_rng(0).integers(0, 50, size=200)
    B, T = 4, 8
    starts = np.random.default_rng(1).integers(0, len(ids) - T, size=B)   # as get_batch draws
    x, y = get_batch(ids, B, T, np.random.default_rng(1))
    X, Y = (np.asarray(a) for a in xy_batch(ids, starts, T))
    for name, got, want in [("X", X, x.numpy()), ("Y", Y, y.numpy())]:
        assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
        assert (got == want).all(), f"{name} differs from tinytx.data.get_batch's"
    return "X and Y equal tinytx.data.get_batch's for the same windows"


def check_top_k_filter(top_k_filter):
    logits = np.random.default_rng(0).standard_normal((3, 10))       # no ties
    before = logits.copy()
    for k in (1, 3, 10):
        got = np.asarray(top_k_filter(logits, k))
        want = tinytx_top_k_filter(logits, k)
        assert got.shape == want.shape, f"k = {k}: shape {got.shape}, expected {want.shape}"
        assert np.array_equal(got, want), f"k = {k}: differs from tinytx's top_k_filter"
        assert np.array_equal(logits, before), "top_k_filter changed its input"
    return "equals tinytx.generate.logits.top_k_filter for k = 1, 3, 10"
