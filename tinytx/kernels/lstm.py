"""Fused LSTM cell: one op with a hand-derived backward, in place of thirteen.

Introduced in lesson 03 (the LSTM, report chapter 2). The reference is the composed
`tinytx.functional.recurrent.lstm_cell` (concat, matmul, add, split, three sigmoids, two tanhs,
three products and a sum, each saving its inputs); this kernel computes the same thing as
one op and saves only [h_{t-1}, x_t], W, C_{t-1}, the four activated gates and tanh(C_t).
Tests pin the two together on every device, forward and backward. The derivation is
written out in docs/lstm.md.

Forward, with the fused weight W (H+I, 4H) whose columns hold the gates in the order
(forget Γ_f, update Γ_u, output Γ_o, candidate C̃) — the three sigmoid gates side by side,
so one σ covers them:
    z = [h_{t-1}, x_t] W + b,          z = [z_f, z_u, z_o, z_c]     (B, 4H)
    Γ_f, Γ_u, Γ_o = σ(z_f), σ(z_u), σ(z_o),     C̃_t = tanh(z_c)
    C_t = Γ_f ⊗ C_{t-1} + Γ_u ⊗ C̃_t,           h_t = Γ_o ⊗ tanh(C_t)
Backward, given dh (for h_t) and dc (for C_t, from the next step):
    dC = dh ⊗ Γ_o ⊗ (1 − tanh²C_t) + dc
    dΓ_o = dh ⊗ tanh C_t,   dΓ_f = dC ⊗ C_{t-1},   dΓ_u = dC ⊗ C̃_t,   dC̃ = dC ⊗ Γ_u
    dC_{t-1} = dC ⊗ Γ_f
    dz_{f,u,o} = dΓ ⊗ Γ(1 − Γ),   dz_c = dC̃ ⊗ (1 − C̃²)
    dW = [h_{t-1}, x_t]ᵀ dz,   db = Σ_batch dz,   d[h_{t-1}, x_t] = dz Wᵀ
Shapes: x (B, I), h_prev (B, H), c_prev (B, H), W (H+I, 4H), b (4H,) -> h (B, H), c (B, H)

`LSTMStep` is the same cell for a whole sequence: there x_t's part of z, x_t W_x + b, was
computed for every t in one matmul before the loop, so each step only adds h_{t-1} W_h.

    >>> import tinytx as tx
    >>> from tinytx.kernels.lstm import lstm_cell
    >>> x, h, c = tx.randn(2, 3), tx.zeros(2, 4), tx.zeros(2, 4)
    >>> h, c = lstm_cell(x, h, c, tx.randn(4 + 3, 16), tx.zeros(16))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
"""
from __future__ import annotations

from ..function import Function
from ..functional.recurrent import check_cell_shapes


def gates_forward(xp, z, c_prev):
    """z (B, 4H) -> h, c and what backward needs: the activated gates (B, 4H), tanh(C)."""
    H = c_prev.shape[-1]
    g = xp.empty_like(z)
    g[:, :3 * H] = 0.5 * (1 + xp.tanh(0.5 * z[:, :3 * H]))   # σ, as F.sigmoid computes it
    g[:, 3 * H:] = xp.tanh(z[:, 3 * H:])
    f, u, o, cand = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
    c = f * c_prev + u * cand
    tc = xp.tanh(c)
    return o * tc, c, g, tc


def gates_backward(xp, dh, dc, g, tc, c_prev):
    """dh, dc (B, H) -> dz (B, 4H) and dC_{t-1}, by the formulas of the module docstring."""
    H = c_prev.shape[-1]
    f, u, o, cand = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
    dC = dh * o * (1 - tc * tc) + dc
    dz = xp.empty_like(g)
    dz[:, :H] = dC * c_prev                                   # dΓ_f
    dz[:, H:2 * H] = dC * cand                                # dΓ_u
    dz[:, 2 * H:3 * H] = dh * tc                              # dΓ_o
    dz[:, :3 * H] *= g[:, :3 * H] * (1 - g[:, :3 * H])        # through σ' = σ(1 − σ)
    dz[:, 3 * H:] = dC * u * (1 - cand * cand)                # dC̃ through tanh'
    return dz, dC * f


class LSTMCellFunction(Function):
    """(x, h_prev, c_prev, W[, b]) -> (h, c): one LSTM step (formulas in the module doc)."""

    gates_forward = staticmethod(gates_forward)      # kernels/cuda/lstm.py swaps these two
    gates_backward = staticmethod(gates_backward)

    def forward(self, x, h_prev, c_prev, W, b=None):
        self.hx = self.xp.concatenate([h_prev, x], axis=1)   # [h_{t-1}, x_t]: (B, H+I)
        z = self.hx @ W                                      # (B, H+I) @ (H+I, 4H)
        if b is not None:
            z += b
        h, c, self.g, self.tc = self.gates_forward(self.xp, z, c_prev)
        self.W, self.c_prev = W, c_prev
        return h, c

    def backward(self, dh, dc):
        need = self.needs_input_grad
        dz, dc_prev = self.gates_backward(self.xp, dh, dc, self.g, self.tc, self.c_prev)
        H = self.c_prev.shape[-1]
        dhx = dz @ self.W.T if need[0] or need[1] else None  # (B, 4H) @ (4H, H+I)
        dx = dhx[:, H:] if need[0] else None
        dh_prev = dhx[:, :H] if need[1] else None
        dW = self.hx.T @ dz if need[3] else None             # (H+I, B) @ (B, 4H)
        db = dz.sum(axis=0) if len(need) > 4 and need[4] else None
        return (dx, dh_prev, dc_prev if need[2] else None, dW, db)[:len(need)]


class LSTMStep(Function):
    """(xw, h_prev, c_prev, W_h) -> (h, c) with z = xw + h_prev W_h: one step of a
    sequence whose input part xw = x_t W_x + b was computed before the loop."""

    gates_forward = staticmethod(gates_forward)
    gates_backward = staticmethod(gates_backward)

    def forward(self, xw, h_prev, c_prev, W_h):
        z = xw + h_prev @ W_h                                # (B, 4H) + (B, H) @ (H, 4H)
        h, c, self.g, self.tc = self.gates_forward(self.xp, z, c_prev)
        self.h_prev, self.W_h, self.c_prev = h_prev, W_h, c_prev
        return h, c

    def backward(self, dh, dc):
        need = self.needs_input_grad
        dz, dc_prev = self.gates_backward(self.xp, dh, dc, self.g, self.tc, self.c_prev)
        dh_prev = dz @ self.W_h.T if need[1] else None       # (B, 4H) @ (4H, H)
        dW_h = self.h_prev.T @ dz if need[3] else None       # (H, B) @ (B, 4H)
        return dz, dh_prev, dc_prev if need[2] else None, dW_h


def lstm_cell(x, h_prev, c_prev, W, b=None):
    """One fused LSTM step; returns (h, c). Shapes as in the module docstring."""
    check_cell_shapes("lstm_cell", x, h_prev, c_prev, W, b)
    inputs = (x, h_prev, c_prev, W) if b is None else (x, h_prev, c_prev, W, b)
    return LSTMCellFunction()(*inputs)


def lstm_step(xw, h_prev, c_prev, W_h):
    """One fused LSTM step of a sequence, x_t's part `xw` (B, 4H) precomputed; (h, c)."""
    return LSTMStep()(xw, h_prev, c_prev, W_h)
