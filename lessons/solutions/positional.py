"""Our answers to lesson 07's exercises (lessons/exercises/positional.py)."""
import numpy as np


def sinusoidal_table(n_positions, n_embd):
    pos = np.arange(n_positions)[:, None]                   # (T, 1)
    i2 = np.arange(0, n_embd, 2)[None, :]                   # (1, C/2): the dimensions 2i
    angle = pos / 10000 ** (i2 / n_embd)                    # (T, C/2)
    table = np.zeros((n_positions, n_embd))
    table[:, 0::2], table[:, 1::2] = np.sin(angle), np.cos(angle)
    return table


def shift_matrix(k, n_embd):
    # [sin(a+b), cos(a+b)] = [sin a, cos a] @ [[cos b, -sin b], [sin b, cos b]]
    M = np.zeros((n_embd, n_embd))
    for i2 in range(0, n_embd, 2):
        b = k / 10000 ** (i2 / n_embd)
        M[i2:i2 + 2, i2:i2 + 2] = [[np.cos(b), -np.sin(b)], [np.sin(b), np.cos(b)]]
    return M
