"""Lesson 02's exercises (the RNN): the step in the column-vector form, and the backward
through a whole sequence by hand.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check rnn` (the checks are in lessons/checks/rnn.py).
"""
import numpy as np                       # noqa: F401 (for your answer)

import tinytx.functional as F            # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def rnn_step(x, h_prev, W_hh, W_xh, b):
    """One RNN step written as papers write it, with column vectors and two matrices:
    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b). The lesson's step, tanh([h_{t-1}, x_t] W + b),
    works on row vectors (a batch of them) with one stacked matrix W: write this form for
    a batch of row vectors with tinytx ops.

    Shapes: x (B, I), h_prev (B, H), W_hh (H, H), W_xh (H, I), b (H,) -> h_t (B, H).
    """
    raise NotImplementedError("your answer here")


def rnn_backward(dh_T, x, hs, h0, W):
    """Backpropagation through time over a whole sequence, by hand in NumPy, for the
    lesson's step h_t = tanh([h_{t-1}, x_t] W + b) run for t = 1..T from h0, with the loss
    depending on h_T only (dL/dh_T = dh_T). Section 3 walks dL/dh and dL/dW back; also
    give every step's dL/dx_t, dL/db and the gradient that reaches h0.

    Shapes: dh_T (B, H), x (B, T, I), hs (B, T, H) (hs[:, t] is h_{t+1}), h0 (B, H),
    W (H+I, H) -> dx (B, T, I), dh0 (B, H), dW (H+I, H), db (H,): a tuple in that order.
    """
    raise NotImplementedError("your answer here")
