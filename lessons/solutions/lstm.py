"""Our answers to lesson 03's exercises (lessons/exercises/lstm.py)."""
import tinytx.functional as F


def cifg_cell(x, h_prev, c_prev, W, b):
    H = h_prev.shape[1]
    z = F.concat([h_prev, x], axis=1) @ W + b                   # (B, H+I) @ (H+I, 3H)
    z_f, z_o, z_c = F.split(z, H, axis=-1)                      # (B, 3H) -> 3 × (B, H)
    forget = F.sigmoid(z_f)
    c = forget * c_prev + (1 - forget) * F.tanh(z_c)            # write what was forgotten
    return F.sigmoid(z_o) * F.tanh(c), c
