"""Our answers to lesson 09's exercises (lessons/exercises/positional.py)."""
import numpy as np


def sinusoidal_table(n_positions, n_embd):
    pos = np.arange(n_positions)[:, None]                   # (T, 1)
    i2 = np.arange(0, n_embd, 2)[None, :]                   # (1, C/2): the dimensions 2i
    angle = pos / 10000 ** (i2 / n_embd)                    # (T, C/2)
    table = np.zeros((n_positions, n_embd))
    table[:, 0::2], table[:, 1::2] = np.sin(angle), np.cos(angle)
    return table


def rope(x, base=10000.0):
    T, C = x.shape
    w = 1.0 / base ** (np.arange(0, C, 2) / C)              # (C/2,): w_i
    angle = np.arange(T)[:, None] * w[None, :]              # (T, C/2): t·w_i
    cos, sin = np.cos(angle), np.sin(angle)
    a, b = x[:, 0::2], x[:, 1::2]                           # the pairs (x_2i, x_2i+1)
    out = np.empty_like(x, dtype=np.float64)
    # (a, b) @ [[cos, -sin], [sin, cos]] = (a cos + b sin, b cos - a sin)
    out[:, 0::2], out[:, 1::2] = a * cos + b * sin, b * cos - a * sin
    return out
