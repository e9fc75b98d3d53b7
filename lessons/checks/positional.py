"""The checks of lesson 09's exercises (lessons/exercises/positional.py), run by
`python -m lessons.check positional`: the table against tinytx's, rope against the
rows x[t] @ M_t with the lesson's own `rotation` matrices."""
import numpy as np

from tinytx.nn import positional
from lessons.check import lesson_module


def check_sinusoidal_table(sinusoidal_table):
    for T, C in [(1, 2), (16, 8), (50, 64)]:
        got = np.asarray(sinusoidal_table(T, C))
        want = positional.sinusoidal_table(T, C)
        assert got.shape == want.shape, f"({T}, {C}): shape {got.shape}, expected {want.shape}"
        err = np.abs(got - want).max()
        assert err < 1e-12, f"({T}, {C}): differs from tinytx's table by up to {err:.1e}"
    return "equals tinytx.nn.positional.sinusoidal_table"


def check_rope(rope):
    rotation = lesson_module("positional").rotation          # M_k, a (C, C) matrix
    rng = np.random.default_rng(0)
    for T, C, base in [(12, 8, 10000.0), (40, 16, 10000.0), (5, 4, 100.0)]:
        x = rng.standard_normal((T, C))
        before = x.copy()
        got = np.asarray(rope(x, base))
        want = np.stack([x[t] @ rotation(t, C, base) for t in range(T)])   # (T, C)
        assert got.shape == want.shape, f"({T}, {C}): shape {got.shape}, expected {want.shape}"
        assert np.array_equal(x, before), "rope changed its input"
        err = np.abs(got - want).max()
        assert err < 1e-10, (f"T={T}, C={C}, base={base:g}: differs from x[t] @ M_t by up "
                             f"to {err:.1e}")
    return "row t equals x[t] @ M_t (the lesson's rotation) for every t, three sizes and bases"
