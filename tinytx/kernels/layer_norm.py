"""Fused layer normalisation: one op with a hand-derived backward.

Introduced in lesson 07. The reference is the composed `F.layer_norm` (mean, subtract,
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
    def __init__(self, eps=1e-5):
        self.eps = eps

    def forward(self, x, weight, bias=None):
        xp, dev, inv_c = self.xp, self.device, x.dtype.type(1 / x.shape[-1])
        self.mu = dev.sum_last(x) * inv_c                           # (..., 1)
        y = x - self.mu                                             # x - μ
        var = dev.sum_last(y * y) * inv_c
        self.rstd = 1 / xp.sqrt(var + x.dtype.type(self.eps))      # (..., 1)
        y *= self.rstd                                              # x̂, in place
        y *= weight
        if bias is not None:
            y += bias
        self.x, self.weight = x, weight
        return y

    def backward(self, gy):
        dev, w = self.device, self.weight
        inv_c = gy.dtype.type(1 / gy.shape[-1])
        xhat = self.x - self.mu
        xhat *= self.rstd                                           # x̂, recomputed
        gyx = gy * xhat
        gw = dev.sum_rows(gyx)                                      # Σ over rows: (C,)
        gb = dev.sum_rows(gy) if len(self.needs_input_grad) > 2 else None
        # with ĝ = gy·w: mean(ĝ) = (gy @ w)/C and mean(ĝ·x̂) = ((gy·x̂) @ w)/C
        mean_g = (gy @ w)[..., None] * inv_c                        # (..., 1)
        mean_gx = (gyx @ w)[..., None] * inv_c
        gx = gy * w                                                 # ĝ
        gx -= mean_g
        xhat *= mean_gx
        gx -= xhat
        gx *= self.rstd
        return (gx, gw, gb)[:len(self.needs_input_grad)]


def layer_norm(x, weight, bias=None, eps=1e-5):
    """Fused LayerNorm over the last axis (bias may be None, as in nanoGPT's bias=False)."""
    op = LayerNormFunction(eps)
    return op(x, weight) if bias is None else op(x, weight, bias)
