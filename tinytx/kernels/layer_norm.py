"""Fused layer normalisation: one op with a hand-derived backward.

Introduced in lesson 08. The reference is the composed `F.layer_norm` (mean, subtract,
variance, divide, scale, shift: six ops, each saving its inputs); this kernel does the
same in one op and saves only μ and 1/σ (x itself is kept by the graph anyway): x̂ is
recomputed in backward, two cheap passes, instead of holding a second (..., C) array per
LayerNorm until backward. Tests pin the two together, forward and backward.

Forward, over the last axis of size C:
    μ = mean(x),  σ = sqrt(mean((x-μ)²) + eps),  x̂ = (x-μ)/σ,  y = x̂·w + b
Backward, with ĝ = gy·w (the two means are matrix-vector products with w):
    gw = Σ_rows gy·x̂,   gb = Σ_rows gy,   gx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)) / σ
    mean(ĝ) = (gy @ w) / C,   mean(ĝ·x̂) = ((gy·x̂) @ w) / C
Shapes: x (..., C), w (C,), b (C,) -> y (..., C)
"""
from __future__ import annotations

from ..function import Function


class LayerNormFunction(Function):
    """Rows go in pieces of about Device.PIECE values (`Device.row_pieces`), so that each
    piece's several passes read the CPU's cache instead of main memory."""

    def __init__(self, eps=1e-5):
        self.eps = eps

    def forward(self, x, weight, bias=None):
        xp, C = self.xp, x.shape[-1]
        self.x, self.weight = x, weight
        if x.size == C:                       # one row (a decode step): on the (C,) vector
            y, self.mu, self.rstd = self._normalize(x.reshape(C), weight, bias)
            return y.reshape(x.shape)                               # (C,) -> (..., C)
        x2 = x.reshape(-1, C)                                       # (..., C) -> (N, C)
        pieces = self.device.row_pieces(*x2.shape)
        if len(pieces) == 1:                                        # few rows
            y, self.mu, self.rstd = self._normalize(x2, weight, bias)
            return y.reshape(x.shape)                               # (N, C) -> (..., C)
        y = xp.empty_like(x2)
        self.mu = xp.empty((x2.shape[0], 1), x.dtype)
        self.rstd = xp.empty_like(self.mu)
        for rows in pieces:
            _, self.mu[rows], self.rstd[rows] = self._normalize(x2[rows], weight, bias,
                                                                y[rows])
        return y.reshape(x.shape)                                   # (N, C) -> (..., C)

    def _normalize(self, x, weight, bias, y=None):
        """y = LN(x) of these rows (N, C), into y (a new array if None) -> (y, μ, 1/σ),
        μ and 1/σ shaped (N, 1). One row x (C,) (a decode step) is worked as a vector: its
        mean and variance are dot products with a (C,) vector of 1/C, and μ, 1/σ are
        scalars, which skips NumPy's broadcasting, costlier than the arithmetic at one
        row (as out= is on tiny arrays)."""
        xp, dev, eps = self.xp, self.device, x.dtype.type(self.eps)
        if x.ndim == 1:
            means = dev.means(x.shape[0], x.dtype)                  # (C,) of 1/C
            mu = x @ means                                          # μ
            y = x - mu
            rstd = 1 / xp.sqrt((y * y) @ means + eps)               # 1/σ
        else:
            inv_c = x.dtype.type(1 / x.shape[-1])
            mu = dev.sum_last(x) * inv_c                            # μ
            y = xp.subtract(x, mu, out=y)                           # x - μ
            rstd = 1 / xp.sqrt(dev.sum_last(y * y) * inv_c + eps)  # 1/σ
        y *= rstd                                                   # x̂, in place
        y *= weight
        if bias is not None:
            y += bias
        return y, mu, rstd

    def backward(self, gy):
        xp, C = self.xp, self.x.shape[-1]
        x, gy2 = self.x.reshape(-1, C), gy.reshape(-1, C)          # (..., C) -> (N, C)
        mu, rstd = self.mu.reshape(-1, 1), self.rstd.reshape(-1, 1)  # (N, 1) or () -> (N, 1)
        gx = xp.empty_like(x)
        gw = xp.zeros_like(self.weight)
        gb = xp.zeros_like(self.weight) if len(self.needs_input_grad) > 2 else None
        for rows in self.device.row_pieces(*x.shape):
            self._backward_rows(x[rows], gy2[rows], gx[rows], mu[rows], rstd[rows], gw, gb)
        return (gx.reshape(gy.shape), gw, gb)[:len(self.needs_input_grad)]

    def _backward_rows(self, x, gy, gx, mu, rstd, gw, gb):
        """gx of these rows, into gx; their share of gw and gb, added."""
        xp, dev, w = self.xp, self.device, self.weight
        inv_c = gy.dtype.type(1 / gy.shape[-1])
        xhat = x - mu
        xhat *= rstd                                                # x̂, recomputed
        gyx = gy * xhat
        gw += dev.sum_rows(gyx)                                     # Σ over rows: (C,)
        if gb is not None:
            gb += dev.sum_rows(gy)
        # with ĝ = gy·w: mean(ĝ) = (gy @ w)/C and mean(ĝ·x̂) = ((gy·x̂) @ w)/C
        mean_g = (gy @ w)[:, None] * inv_c                          # (rows, 1)
        mean_gx = (gyx @ w)[:, None] * inv_c
        xp.multiply(gy, w, out=gx)                                  # ĝ
        gx -= mean_g
        xhat *= mean_gx
        gx -= xhat
        gx *= rstd


def layer_norm(x, weight, bias=None, eps=1e-5):
    """Fused LayerNorm over the last axis (bias may be None, as in nanoGPT's bias=False)."""
    op = LayerNormFunction(eps)
    return op(x, weight) if bias is None else op(x, weight, bias)
