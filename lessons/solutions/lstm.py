"""Our answers to lesson 02's exercises (lessons/exercises/lstm.py)."""
import tinytx.functional as F


def lstm_cell(x, h_prev, c_prev, W, b):
    H = h_prev.shape[1]
    z = F.concat([h_prev, x], axis=1) @ W + b                   # (B, H+I) @ (H+I, 4H)
    z_f, z_u, z_o, z_c = F.split(z, H, axis=-1)                 # (B, 4H) -> 4 × (B, H)
    forget, update, output = F.sigmoid(z_f), F.sigmoid(z_u), F.sigmoid(z_o)
    c = forget * c_prev + update * F.tanh(z_c)
    return output * F.tanh(c), c
