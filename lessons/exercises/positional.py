"""Lesson 09's exercises (positional encoding): the sinusoidal table, and rotary position
embedding built from its rotations.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check positional` (the checks are in lessons/checks/positional.py).
"""
import numpy as np                       # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def sinusoidal_table(n_positions, n_embd):
    """The (n_positions, n_embd) NumPy table of "Attention Is All You Need" (n_embd even):
    PE(pos, 2i) = sin(pos / 10000^(2i/C)),  PE(pos, 2i+1) = cos(pos / 10000^(2i/C)).
    Hint: positions as a column, the even dimensions 2i as a row; broadcast."""
    raise NotImplementedError("your answer here")


def rope(x, base=10000.0):
    """Rotary position embedding (RoFormer, Su et al. 2021; used by Llama): instead of adding
    PE(t) to the vector of token t, rotate it by section 2's M_t (the rotation with
    PE(pos + t) = PE(pos) @ M_t, angle t·w_i on the pair of dimensions (2i, 2i+1), with
    w_i = 1 / base^(2i/C)). Return the rows x[t] @ M_t for t = 0..T-1 without building
    any (C, C) matrix: work out what @ M_t does to one pair (x_2i, x_2i+1).

    Shapes: x (T, C) NumPy, C even -> (T, C)."""
    raise NotImplementedError("your answer here")
