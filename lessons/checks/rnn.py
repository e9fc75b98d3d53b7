"""The checks of lesson 02's exercises (lessons/exercises/rnn.py), run by
`python -m lessons.check rnn`: each answer against nn.RNNCell and tinytx's autograd."""
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn
from lessons.check import float64_inputs, same_function, with_weights


def cell_step(x, h_prev, W, b):
    """nn.RNNCell's step with the given weights (W stacked (H+I, H), rows of h first)."""
    cell = nn.RNNCell(x.shape[1], h_prev.shape[1], dtype="float64")
    return with_weights(cell, weight=W, bias=b)(x, h_prev)


def check_rnn_step(rnn_step):
    B, I, H = 3, 4, 5

    def reference(x, h_prev, W_hh, W_xh, b):     # [h, x] W = h W_hhᵀ + x W_xhᵀ
        return cell_step(x, h_prev, F.concat([W_hh.T, W_xh.T], axis=0), b)

    same_function(rnn_step, reference, [(B, I), (B, H), (H, H), (H, I), (H,)])
    return "equals nn.RNNCell with W = [W_hhᵀ; W_xhᵀ], forward and gradients (float64)"


def check_rnn_backward(rnn_backward):
    B, T, I, H = 3, 6, 4, 5
    x, h0, W, b = float64_inputs((B, T, I), (B, H), (H + I, H), (H,), seed=1)
    h, hs = h0, []
    for t in range(T):
        h = cell_step(x[:, t], h, W, b)
        hs.append(h)
    dh_T = np.random.default_rng(2).standard_normal((B, H))
    h.backward(tx.tensor(dh_T))
    got = rnn_backward(dh_T, x.numpy(), F.stack(hs, axis=1).numpy(), h0.numpy(), W.numpy())
    assert isinstance(got, tuple) and len(got) == 4, "return (dx, dh0, dW, db)"
    for name, g, want in zip(["dx", "dh0", "dW", "db"], got, [x, h0, W, b]):
        g = np.asarray(g)
        assert g.shape == want.grad.shape, (f"{name}: shape {g.shape}, expected "
                                            f"{want.grad.shape}")
        err = np.abs(g - want.grad).max()
        assert err < 1e-10, f"{name} differs from autograd's by up to {err:.2e}"
    return f"dx, dh0, dW, db through {T} steps equal autograd's through nn.RNNCell"
