"""The LSTM cell composed from F ops: the readable reference of the fused LSTM kernels.

Introduced in lesson 03 (the LSTM, report chapter 2). One step, with the weight W
(H+I, 4H) applied to the concatenation [h_{t-1}, x_t] and its columns holding the gates in
the order (forget Γ_f, update Γ_u, output Γ_o, candidate C̃):

    z = [h_{t-1}, x_t] W + b,   Γ_f, Γ_u, Γ_o = σ(z_f), σ(z_u), σ(z_o),   C̃_t = tanh(z_c)
    C_t = Γ_f ⊗ C_{t-1} + Γ_u ⊗ C̃_t,   h_t = Γ_o ⊗ tanh(C_t)

`tinytx.nn.LSTM` runs these (`with fused(False):`) or the fused kernels of
`tinytx.kernels.lstm` pinned to them by tests.
"""
from __future__ import annotations

from .activations import sigmoid, tanh
from .layers import linear
from .shape import concat, split


def check_cell_shapes(where, x, h_prev, c_prev, W, b=None):
    """Raise ValueError naming the expected and actual shapes unless x (B, I),
    h_prev (B, H), c_prev (B, H), W (H+I, 4H) and b (4H,) fit together."""
    if W.ndim != 2 or W.shape[1] % 4:
        raise ValueError(f"{where}: W must have shape (H+I, 4H), got {W.shape}")
    H = W.shape[1] // 4
    I = W.shape[0] - H
    B = x.shape[0] if x.ndim == 2 else "B"
    for name, t, want in [("x", x, (B, I)), ("h_prev", h_prev, (B, H)),
                          ("c_prev", c_prev, (B, H)), ("b", b, (4 * H,))]:
        if t is not None and t.shape != want:
            raise ValueError(f"{where}: {name} must have shape {want} (W is {W.shape}: "
                             f"H={H}, I={I}), got {t.shape}")


def lstm_gates(z, c_prev):
    """The gates from the pre-activations z = [z_f, z_u, z_o, z_c] (B, 4H); (h, c)."""
    z_f, z_u, z_o, z_c = split(z, c_prev.shape[-1], axis=-1)      # (B, 4H) -> 4 × (B, H)
    forget, update, output = sigmoid(z_f), sigmoid(z_u), sigmoid(z_o)  # Γ_f, Γ_u, Γ_o
    candidate = tanh(z_c)                                          # C̃_t
    c = forget * c_prev + update * candidate
    return output * tanh(c), c


def lstm_cell(x, h_prev, c_prev, weight, bias=None):
    """One LSTM step composed from F ops; returns (h, c).

    Shapes: x (B, I), h_prev (B, H), c_prev (B, H), weight (H+I, 4H), bias (4H,)

        >>> import tinytx as tx
        >>> x, h0, c0 = tx.randn(2, 3), tx.zeros(2, 4), tx.zeros(2, 4)
        >>> h, c = lstm_cell(x, h0, c0, tx.randn(3 + 4, 16))
        >>> h.shape
        (2, 4)
    """
    check_cell_shapes("lstm_cell", x, h_prev, c_prev, weight, bias)
    z = linear(concat([h_prev, x], axis=1), weight, bias)     # (B, H+I) @ (H+I, 4H)
    return lstm_gates(z, c_prev)


def lstm_step(xw, h_prev, c_prev, W_h):
    """One composed step of a sequence whose input part xw (B, 4H) was precomputed."""
    return lstm_gates(xw + h_prev @ W_h, c_prev)                     # (B, H) @ (H, 4H)
