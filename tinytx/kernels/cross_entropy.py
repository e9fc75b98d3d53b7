"""Fused cross-entropy: log-softmax and the negative log-likelihood in one op.

Introduced in lesson 01 (the loss; this fused kernel runs it from there on). The reference
is the composed `F.cross_entropy` (log_softmax, indexing, weighting, sum); this kernel
computes the same loss in one pass and saves only the log-sum-exp of each row: backward
recomputes the softmax from the logits (which the graph keeps anyway) instead of holding a
second (N, V) array — at a vocabulary of 4096 that is the largest array of a small GPT's
step. Tests pin the two together, forward and backward.

Forward, for rows i with a target t_i that is not `ignore_index` (n of them):
    loss = (1/n) Σ_i [ logsumexp(z_i) - z_i[t_i] ]
Backward:
    gz_i = gy · (softmax(z_i) - onehot(t_i)) / n   for counted rows, 0 for ignored ones
float16 (and bfloat16) logits are worked in float32, like the composed reference and
PyTorch's autocast: the log-sum-exp, the loss and each piece of the backward are float32,
and the gradient is rounded to the logits' dtype once, at the end. float32 and float64 run
as they always did.
Shapes: logits (..., V), targets (...) int -> a scalar (float32 for float16 logits)
"""
from __future__ import annotations

from ..function import Function
from ..functional.convert import upcast_dtype


class CrossEntropy(Function):
    def __init__(self, ignore_index=-100):
        self.ignore_index = ignore_index

    def forward(self, logits, targets):
        xp, V = self.xp, logits.shape[-1]
        z = logits.reshape(-1, V)                                   # (..., V) -> (N, V)
        t = targets.reshape(-1)                                     # (...) -> (N,)
        valid = t != self.ignore_index
        if bool(((t < 0) | (t >= V))[valid].any()):
            raise IndexError(f"cross_entropy: targets must lie in [0, {V}) or equal "
                             f"ignore_index={self.ignore_index}")
        self.t = xp.where(valid, t, 0)
        self.rows = xp.arange(z.shape[0])
        ct = upcast_dtype(z.dtype)                                  # float16 -> float32
        self.lse = xp.empty((z.shape[0], 1), ct)                    # logsumexp, (N, 1)
        for rows in self.device.row_pieces(*z.shape):               # cache-sized pieces
            zr = z[rows].astype(ct, copy=False)                     # float32/64: no copy
            m = self.device.max_last(zr)
            e = zr - m
            xp.exp(e, out=e)
            self.lse[rows] = xp.log(self.device.sum_last(e)) + m
        self.z, self.shape = z, logits.shape
        self.weight = valid.astype(ct) / xp.maximum(valid.sum(), 1).astype(ct)  # no read
        return ((self.lse[:, 0] - z[self.rows, self.t]) * self.weight).sum()

    def backward(self, gy):
        xp, g = self.xp, self.xp.empty_like(self.z)
        scale = (self.weight * gy)[:, None]                         # (N, 1)
        low = g.dtype != self.lse.dtype                             # float16: work in float32
        for rows in self.device.row_pieces(*g.shape):              # cache-sized pieces
            gp = xp.empty(g[rows].shape, self.lse.dtype) if low else g[rows]  # (n, V)
            xp.subtract(self.z[rows], self.lse[rows], out=gp)
            xp.exp(gp, out=gp)                                      # softmax, recomputed
            gp[self.rows[:gp.shape[0]], self.t[rows]] -= 1          # - onehot(t)
            gp *= scale[rows]
            if low:
                g[rows] = gp                                        # rounded once
        return g.reshape(self.shape), None


def cross_entropy(logits, targets, ignore_index=-100):
    """Fused mean cross-entropy of integer `targets` under softmax(`logits`)."""
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets of shape {targets.shape} do not match "
                         f"logits of shape {logits.shape} (expected {logits.shape[:-1]})")
    return CrossEntropy(ignore_index)(logits, targets)
