"""Fused linear layer: y = x @ W + b as one op.

Introduced in lesson 01 (the MLP language model's layers; the report's Q = XW_Q is a
Linear without bias). The reference is the composed `F.linear` (matmul, then a broadcast add that allocates a second output and,
in backward, sums the bias gradient with a reduction). This kernel folds x's batch axes
into rows, adds b in place into the product, and sums the bias gradient as ones @ rows.

Forward:  Y = X W + b                 (X: N rows of the flattened batch)
Backward: dX = dY Wᵀ,  dW = Xᵀ dY,  db = Σ_rows dY
Shapes: x (..., K), W (K, M), b (M,) -> (..., M)
"""
from __future__ import annotations

from ..function import Function


class LinearFunction(Function):
    def forward(self, x, weight, bias=None):
        K = weight.shape[0]
        if x.shape[-1] != K:
            raise ValueError(f"linear: input of shape {x.shape} does not match weight of "
                             f"shape {weight.shape} (expected last axis {K})")
        self.x, self.weight = x, weight
        y = x.reshape(-1, K) @ weight                          # (..., K) -> (N, K) @ (K, M)
        if bias is not None:
            y += bias
        return y.reshape(*x.shape[:-1], weight.shape[1])      # (N, M) -> (..., M)

    def backward(self, gy):
        x, w, need = self.x, self.weight, self.needs_input_grad
        g = gy.reshape(-1, w.shape[1])                         # (..., M) -> (N, M)
        gx = (g @ w.T).reshape(x.shape) if need[0] else None
        gw = x.reshape(-1, w.shape[0]).T @ g if need[1] else None    # (K, N) @ (N, M)
        gb = self.device.sum_rows(g) if len(need) > 2 and need[2] else None
        return (gx, gw, gb)[:len(need)]


def linear(x, weight, bias=None):
    """Fused y = x @ W + b (bias may be None)."""
    return LinearFunction()(x, weight) if bias is None else LinearFunction()(x, weight, bias)
