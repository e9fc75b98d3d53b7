"""Lesson 01's exercises (the RNN): one step forward, and that step's backward by hand.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check rnn`.
"""
import numpy as np

import tinytx as tx
import tinytx.functional as F            # noqa: F401 (for your answer)
from tinytx import nn
from lessons.check import same_function, with_weights


# -- your answers --------------------------------------------------------------------------
def rnn_step(x, h_prev, W, b):
    """One RNN step with tinytx ops, h_t = tanh([h_{t-1}, x_t] W + b).

    Shapes: x (B, I), h_prev (B, H), W (H+I, H), b (H,) -> h_t (B, H); all Tensors.
    Hint: F.concat([...], axis=1), the matmul operator @ and F.tanh.
    """
    raise NotImplementedError("your answer here")


def rnn_step_backward(dh, x, h_prev, W, h):
    """The backward of rnn_step by hand, in NumPy: given dL/dh_t, return
    (dL/dx, dL/dh_prev, dL/dW, dL/db). h is the step's output h_t (tanh' = 1 - h_t²).

    Shapes: dh (B, H), x (B, I), h_prev (B, H), W (H+I, H), h (B, H), all NumPy arrays
    -> dx (B, I), dh_prev (B, H), dW (H+I, H), db (H,)
    """
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check rnn`: no need to edit below ---------------
def cell_step(x, h_prev, W, b):
    """nn.RNNCell's step with the given weights: tinytx's answer."""
    cell = nn.RNNCell(x.shape[1], h_prev.shape[1], dtype="float64")
    return with_weights(cell, weight=W, bias=b)(x, h_prev)


def check_rnn_step(rnn_step):
    B, I, H = 3, 4, 5
    same_function(rnn_step, cell_step, [(B, I), (B, H), (H + I, H), (H,)])
    return "equals nn.RNNCell, forward and gradients (float64)"


def check_rnn_step_backward(rnn_step_backward):
    B, I, H = 3, 4, 5
    rng = np.random.default_rng(1)
    x, h_prev, W, b = (tx.tensor(rng.standard_normal(s), dtype="float64", requires_grad=True)
                       for s in [(B, I), (B, H), (H + I, H), (H,)])
    h = cell_step(x, h_prev, W, b)
    dh = rng.standard_normal((B, H))
    h.backward(tx.tensor(dh))
    got = rnn_step_backward(dh, x.numpy(), h_prev.numpy(), W.numpy(), h.numpy())
    assert isinstance(got, tuple) and len(got) == 4, "return (dx, dh_prev, dW, db)"
    for name, g, want in zip(["dx", "dh_prev", "dW", "db"], got, [x, h_prev, W, b]):
        g = np.asarray(g)
        assert g.shape == want.grad.shape, (f"{name}: shape {g.shape}, expected "
                                            f"{want.grad.shape}")
        err = np.abs(g - want.grad).max()
        assert err < 1e-10, f"{name} differs from autograd's by up to {err:.2e}"
    return "dx, dh_prev, dW, db equal autograd's"
