"""Fused layer normalisation: one op with a hand-derived backward.

Introduced in lesson 07. The reference is the composed `F.layer_norm` (mean, subtract,
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


class LayerNormFunction(Function):
    def __init__(self, eps=1e-5):
        self.eps = eps

    def forward(self, x, weight, bias=None):
        xp, dev, inv_c = self.xp, self.device, x.dtype.type(1 / x.shape[-1])
        xc = x - dev.sum_last(x) * inv_c                            # x - μ
        var = dev.sum_last(xc * xc) * inv_c
        self.rstd = 1 / xp.sqrt(var + x.dtype.type(self.eps))      # (..., 1)
        xc *= self.rstd                                             # x̂, in place
        self.xhat, self.weight = xc, weight
        y = xc * weight
        if bias is not None:
            y += bias
        return y

    def backward(self, gy):
        xhat, dev = self.xhat, self.device
        inv_c = xhat.dtype.type(1 / xhat.shape[-1])
        gw = dev.sum_rows(gy * xhat)                                # Σ over rows: (C,)
        gb = dev.sum_rows(gy) if len(self.needs_input_grad) > 2 else None
        g = gy * self.weight                                        # ĝ
        gx = g - dev.sum_last(g) * inv_c
        gx -= xhat * (dev.sum_last(g * xhat) * inv_c)
        gx *= self.rstd
        return (gx, gw, gb)[:len(self.needs_input_grad)]


def layer_norm(x, weight, bias=None, eps=1e-5):
    """Fused LayerNorm over the last axis (bias may be None, as in nanoGPT's bias=False)."""
    op = LayerNormFunction(eps)
    return op(x, weight) if bias is None else op(x, weight, bias)
