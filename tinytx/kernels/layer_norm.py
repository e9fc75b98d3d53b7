"""Fused layer normalisation: one op with a hand-derived backward.

Introduced in lesson 09. The reference is the composed `F.layer_norm` (mean, subtract,
variance, divide, scale, shift: six ops, each saving its inputs); this kernel does the
same in one op and saves only x̂ and 1/σ. Tests pin the two together, forward and backward.

Forward, over the last axis of size C:
    μ = mean(x),  σ = sqrt(mean((x-μ)²) + eps),  x̂ = (x-μ)/σ,  y = x̂·w + b
Backward, with ĝ = gy·w:
    gw = Σ_rows gy·x̂,   gb = Σ_rows gy,   gx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)) / σ
Shapes: x (..., C), w (C,), b (C,) -> y (..., C)
"""
from __future__ import annotations

from ..function import Function


class LayerNorm(Function):
    def __init__(self, eps=1e-5):
        self.eps = eps

    def forward(self, x, weight, bias=None):
        xp = self.xp
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        var = xp.mean(xc * xc, axis=-1, keepdims=True)
        self.rstd = 1 / xp.sqrt(var + x.dtype.type(self.eps))      # (..., 1)
        xc *= self.rstd                                             # x̂, in place
        self.xhat, self.weight = xc, weight
        y = xc * weight
        if bias is not None:
            y += bias
        return y

    def backward(self, gy):
        xhat, C = self.xhat, self.xhat.shape[-1]
        rows = gy.reshape(-1, C)                                    # (..., C) -> (N, C)
        gw = (rows * xhat.reshape(-1, C)).sum(axis=0)
        gb = rows.sum(axis=0) if len(self.needs_input_grad) > 2 else None
        g = gy * self.weight                                        # ĝ
        gx = g - g.mean(axis=-1, keepdims=True)
        gx -= xhat * (g * xhat).mean(axis=-1, keepdims=True)
        gx *= self.rstd
        return (gx, gw, gb)[:len(self.needs_input_grad)]


def layer_norm(x, weight, bias=None, eps=1e-5):
    """Fused LayerNorm over the last axis (bias may be None, as in nanoGPT's bias=False)."""
    return LayerNorm(eps)(x, weight) if bias is None else LayerNorm(eps)(x, weight, bias)
