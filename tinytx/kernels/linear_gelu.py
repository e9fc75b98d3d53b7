"""Fused linear + GELU, the first half of the transformer's MLP: y = gelu(x @ W + b).

Introduced in lesson 08 (the MLP). The reference is the composed pair `F.linear` then
`F.gelu(approximate="tanh")`: the GELU saves its input h and tanh(u) for backward, and
the MLP's second linear saves the output, three arrays as wide as the hidden layer (4C)
per token. This kernel saves h only and recomputes tanh(u) in backward (one tanh pass over
h, cheap next to the matmuls), so the MLP holds two such arrays until backward, as
PyTorch does, instead of three.

Forward, with GPT-2's tanh form and C = √(2/π), a = 0.044715:
    h = x W + b,   u = C·(h + a·h³),   t = tanh(u),   y = ½·h·(1 + t)
Backward, given dy:
    dh = dy · (½(1 + t) + ½·h·(1 − t²)·C·(1 + 3a·h²))
    dx = dh Wᵀ,   dW = xᵀ dh,   db = Σ_rows dh
Shapes: x (..., K), W (K, M), b (M,) -> y (..., M)

    >>> import tinytx as tx
    >>> linear_gelu(tx.randn(2, 3, 4), tx.randn(4, 8), tx.zeros(8)).shape
    (2, 3, 8)
"""
from __future__ import annotations

from ..functional.activations import GELU_A as A
from ..functional.activations import GELU_C as C
from .linear import LinearFunction


def tanh_u(xp, h, out):
    """out = tanh(C·(h + a·h³)) (h·h·h, never h**3: NumPy's pow is slow)."""
    xp.multiply(h, h, out=out)
    out *= C * A
    out += C
    out *= h
    return xp.tanh(out, out=out)


def gelu_(xp, h, y):
    """y = ½·h·(1 + tanh(u)), into y."""
    tanh_u(xp, h, y)
    y += 1
    y *= h
    y *= 0.5


def gelu_backward_(xp, h, gy, g):
    """g = gy · GELU'(h) = gy · (½(1 + t) + ½·h·(1 − t²)·C·(1 + 3a·h²)), into g."""
    t = tanh_u(xp, h, xp.empty_like(h))
    xp.multiply(t, t, out=g)
    xp.subtract(1, g, out=g)                                  # 1 − t²
    g *= h
    du = xp.multiply(h, h)
    du *= 3 * A * C
    du += C                                                   # C·(1 + 3a·h²)
    g *= du
    g += 1
    g += t
    g *= 0.5                                                  # GELU'(h)
    g *= gy


class LinearGELUFunction(LinearFunction):
    """A LinearFunction whose output goes through the GELU: forward and backward wrap the
    linear layer's own. The elementwise GELU passes run piece by piece (Device.pieces), so
    that all but the first read the CPU's cache instead of main memory."""

    def forward(self, x, weight, bias=None):
        self.h = h = super().forward(x, weight, bias)             # (..., M), saved
        y = self.xp.empty_like(h)
        for hp, yp in self.device.pieces(h, y):
            gelu_(self.xp, hp, yp)
        return y

    def backward(self, gy):
        g = self.xp.empty_like(self.h)                            # dh
        for hp, gyp, gp in self.device.pieces(self.h, gy, g):
            gelu_backward_(self.xp, hp, gyp, gp)
        return super().backward(g)


def linear_gelu(x, weight, bias=None):
    """Fused gelu(x @ W + b, approximate="tanh") (bias may be None)."""
    op = LinearGELUFunction()
    return op(x, weight) if bias is None else op(x, weight, bias)
