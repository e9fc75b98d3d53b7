"""Lesson 07's exercises (positional encoding): the sinusoidal table and its rotations.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check positional`.
"""
import numpy as np

from tinytx.nn import positional


# -- your answers --------------------------------------------------------------------------
def sinusoidal_table(n_positions, n_embd):
    """The (n_positions, n_embd) NumPy table of "Attention Is All You Need" (n_embd even):
    PE(pos, 2i) = sin(pos / 10000^(2i/C)),  PE(pos, 2i+1) = cos(pos / 10000^(2i/C)).
    Hint: positions as a column, the even dimensions 2i as a row; broadcast."""
    raise NotImplementedError("your answer here")


def shift_matrix(k, n_embd):
    """The (C, C) matrix M_k with PE(pos + k) = PE(pos) @ M_k for every pos: block-diagonal,
    one 2x2 rotation by the angle k·w_i for each pair of dimensions (2i, 2i+1), where
    w_i = 1 / 10000^(2i/C). Work out the 2x2 block from sin(a+b) and cos(a+b)."""
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check positional`: no need to edit below --------
def check_sinusoidal_table(sinusoidal_table):
    for T, C in [(1, 2), (16, 8), (50, 64)]:
        got = np.asarray(sinusoidal_table(T, C))
        want = positional.sinusoidal_table(T, C)
        assert got.shape == want.shape, f"({T}, {C}): shape {got.shape}, expected {want.shape}"
        err = np.abs(got - want).max()
        assert err < 1e-12, f"({T}, {C}): differs from tinytx's table by up to {err:.1e}"
    return "equals tinytx.nn.positional.sinusoidal_table"


def check_shift_matrix(shift_matrix):
    C = 16
    table = positional.sinusoidal_table(100, C)           # tinytx's table, (100, C)
    for k in (1, 5, 30):
        M = np.asarray(shift_matrix(k, C))
        assert M.shape == (C, C), f"shift_matrix({k}, {C}): shape {M.shape}, expected {(C, C)}"
        err = np.abs(table[:-k] @ M - table[k:]).max()    # every pos at once
        assert err < 1e-9, f"k = {k}: PE(pos) @ M_k misses PE(pos + k) by up to {err:.1e}"
        assert np.allclose(M @ M.T, np.eye(C)), (
            f"k = {k}: M_k is not a rotation (M Mᵀ ≠ I)")
    return "PE(pos) @ M_k = PE(pos + k) on tinytx's table for k = 1, 5, 30; M_k orthogonal"
