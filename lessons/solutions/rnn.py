"""Our answers to lesson 02's exercises (lessons/exercises/rnn.py)."""
import numpy as np

import tinytx.functional as F


def rnn_step(x, h_prev, W_hh, W_xh, b):
    # a row vector times Wᵀ is the column form W h, transposed: (B, H) @ (H, H) -> (B, H)
    return F.tanh(h_prev @ W_hh.T + x @ W_xh.T + b)


def rnn_backward(dh_T, x, hs, h0, W):
    B, T, H = hs.shape
    dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros(H)
    dh = dh_T                                           # dL/dh_t, from t = T down
    for t in reversed(range(T)):
        h_prev = hs[:, t - 1] if t else h0
        dz = dh * (1 - hs[:, t] ** 2)                   # through tanh: (B, H)
        dW += np.concatenate([h_prev, x[:, t]], axis=1).T @ dz   # (H+I, B) @ (B, H)
        db += dz.sum(axis=0)
        dhx = dz @ W.T                                  # (B, H) @ (H, H+I) -> (B, H+I)
        dh, dx[:, t] = dhx[:, :H], dhx[:, H:]
    return dx, dh, dW, db
