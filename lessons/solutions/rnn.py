"""Our answers to lesson 01's exercises (lessons/exercises/rnn.py)."""
import numpy as np

import tinytx.functional as F


def rnn_step(x, h_prev, W, b):
    hx = F.concat([h_prev, x], axis=1)          # [h_{t-1}, x_t]: (B, H+I)
    return F.tanh(hx @ W + b)                   # (B, H+I) @ (H+I, H) -> (B, H)


def rnn_step_backward(dh, x, h_prev, W, h):
    H = h.shape[1]
    dz = dh * (1 - h ** 2)                      # through tanh: (B, H)
    hx = np.concatenate([h_prev, x], axis=1)    # (B, H+I)
    dhx = dz @ W.T                              # (B, H) @ (H, H+I) -> (B, H+I)
    return dhx[:, H:], dhx[:, :H], hx.T @ dz, dz.sum(axis=0)
