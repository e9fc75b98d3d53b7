"""Blocked softmax attention with the online softmax (FlashAttention's algorithm, on xp).

Introduced in lesson 05, after the fused kernel (report §3; docs/attention.md derives the
recurrences). The fused kernel keeps P, a (Tq × Tk) array per head, for backward; this
one never builds it. Queries are taken `block_q` rows at a time and keys `block_k` at a
time, so the largest temporary is a (block_q × block_k) tile per (B, H), and backward
gets only O and the log-sum-exp L of each query (O(T) extra memory).

Forward, for one block of queries, over the key blocks j (running max m, denominator l,
accumulator A; S_j = c·Q K_jᵀ with masked scores set to `mask_fill_value`):
    m' = max(m, rowmax S_j),   α = exp(m − m'),   P̃_j = exp(S_j − m')
    l  = α·l + rowsum P̃_j,     A = α·A + P̃_j V_j,  m = m'
    O = r·A / l,   L = m + log l          (r_i = 0 for a query with no allowed key)
Backward (recomputing P block by block from L; δ = rowsum(dO ⊙ O)):
    P_j = exp(S_j − L),  dV_j += P_jᵀ dO,  dP_j = dO V_jᵀ,  dS_j = P_j ⊙ (dP_j − δ),
    dQ += c·dS_j K_j,    dK_j += c·dS_jᵀ Q
A query with no allowed key stores L = +inf, so its recomputed P row is exp(−inf) = 0.
With the causal mask (is_causal=True) key blocks that lie wholly in a query block's
future are skipped, which halves the work. Shapes as `attention`.

Dropout is not supported here: its mask would have to be stored (O(T²), what this kernel
avoids) or regenerated per tile in backward by a counter-based generator, which tinytx
does not have yet. Use the fused kernel when training with attention dropout.

    >>> import tinytx as tx
    >>> from tinytx.kernels.flash_attention import flash_attention
    >>> q = k = v = tx.randn(1, 2, 100, 8)
    >>> flash_attention(q, k, v, is_causal=True, block_size=32).shape
    (1, 2, 100, 8)
"""
from __future__ import annotations

import numpy as np

from ..function import Function, unbroadcast
from ..functional.attention import mask_fill_value
from .softmax_attention import mask_tile, prepare


class FlashAttention(Function):
    """Blocked attention: forward by online softmax, backward recomputing P from L."""

    def __init__(self, scale, block_q=128, block_k=128, causal=False):
        self.scale, self.bq, self.bk, self.causal = scale, block_q, block_k, causal

    def forward(self, q, k, v, mask=None):
        xp, Tq = self.xp, q.shape[-2]
        self.qs, self.k, self.v, self.mask = q * q.dtype.type(self.scale), k, v, mask
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        self.o = xp.empty(batch + (Tq, v.shape[-1]), dtype=q.dtype)
        self.lse = xp.empty(batch + (Tq, 1), dtype=q.dtype)      # L, one per query
        for i0, i1 in _blocks(Tq, self.bq):
            self.o[..., i0:i1, :], self.lse[..., i0:i1, :] = self._rows(i0, i1)
        return self.o

    def backward(self, do):
        qs, k, v, o, xp = self.qs, self.k, self.v, self.o, self.xp
        delta = (do * o).sum(axis=-1, keepdims=True)             # δ: (B, H, Tq, 1)
        dq = xp.zeros(o.shape[:-1] + qs.shape[-1:], dtype=o.dtype)
        dk = xp.zeros(o.shape[:-2] + k.shape[-2:], dtype=o.dtype)
        dv = xp.zeros(o.shape[:-2] + v.shape[-2:], dtype=o.dtype)
        for i0, i1 in _blocks(qs.shape[-2], self.bq):
            r, dob = slice(i0, i1), do[..., i0:i1, :]
            for j0, j1, p, _ in self._tiles(i0, i1):
                c = slice(j0, j1)
                p -= self.lse[..., r, :]
                xp.exp(p, out=p)                                 # P = exp(S − L)
                dv[..., c, :] += xp.matmul(xp.swapaxes(p, -1, -2), dob)
                ds = xp.matmul(dob, xp.swapaxes(v[..., c, :], -1, -2))   # dP: (.., bq, bk)
                ds -= delta[..., r, :]
                ds *= p                                          # dS = P ⊙ (dP − δ)
                dq[..., r, :] += xp.matmul(ds, k[..., c, :])
                dk[..., c, :] += xp.matmul(xp.swapaxes(ds, -1, -2), qs[..., r, :])
        dq *= o.dtype.type(self.scale)
        return (unbroadcast(dq, qs.shape), unbroadcast(dk, k.shape),
                unbroadcast(dv, v.shape), None)[:len(self.needs_input_grad)]

    def _rows(self, i0, i1):
        """Online softmax over the key blocks for queries i0:i1 -> (O, L) of those rows."""
        xp, m, has_key = self.xp, None, False
        for j0, j1, s, blocked in self._tiles(i0, i1):
            m_new = s.max(axis=-1, keepdims=True)
            m_new = m_new if m is None else xp.maximum(m, m_new)
            s -= m_new
            xp.exp(s, out=s)                                     # P̃_j = exp(S_j − m')
            pv = xp.matmul(s, self.v[..., j0:j1, :])             # (.., bq, bk) @ (.., bk, Dv)
            if m is None:
                acc, l = pv, s.sum(axis=-1, keepdims=True)
            else:
                alpha = xp.exp(m - m_new)                        # rescale the earlier blocks
                acc *= alpha
                acc += pv
                l = l * alpha + s.sum(axis=-1, keepdims=True)
            m = m_new
            if blocked is None:
                has_key = True
            elif has_key is not True:
                has_key = has_key | (~blocked).any(axis=-1, keepdims=True)
        if m is None:                                            # every key block skipped
            return 0, float("inf")
        if has_key is True:
            return acc / l, m + xp.log(l)
        lse = xp.where(has_key, m + xp.log(l), l.dtype.type(float("inf")))
        return acc * (has_key / l), lse

    def _tiles(self, i0, i1):
        """For queries i0:i1, yield (j0, j1, S, blocked) for each key block that has an
        allowed key: S = c·Q Kᵀ with masked scores filled (a fresh array, free to
        overwrite) and the tile's "may not attend" mask (None: nothing masked)."""
        xp, Tk = self.xp, self.k.shape[-2]
        offset = Tk - self.qs.shape[-2]                          # causal: i sees j <= i + offset
        for j0, j1 in _blocks(Tk, self.bk):
            if self.causal and j0 > i1 - 1 + offset:
                break                                            # the rest is in the future
            s = xp.matmul(self.qs[..., i0:i1, :], xp.swapaxes(self.k[..., j0:j1, :], -1, -2))
            blocked = self._blocked(i0, i1, j0, j1, offset)      # (.., bq, D) @ (.., D, bk)
            if blocked is not None:
                xp.copyto(s, mask_fill_value(s.dtype), where=blocked)
            yield j0, j1, s, blocked

    def _blocked(self, i0, i1, j0, j1, offset):
        """The tile's "may not attend" mask (causal and/or the given mask), or None."""
        xp, mask, out = self.xp, self.mask, None
        if self.causal and j1 - 1 > i0 + offset:                 # the tile crosses the diagonal
            out = xp.arange(j0, j1)[None, :] > xp.arange(i0, i1)[:, None] + offset
        if mask is not None:
            tile = ~mask_tile(mask, slice(i0, i1), slice(j0, j1))
            out = tile if out is None else out | tile
        return out


def _blocks(T, size):
    return [(i, min(i + size, T)) for i in range(0, T, size)]


def flash_attention(q, k, v, mask=None, similarity="scaled_dot", dropout_p=0.0, training=True,
                    is_causal=False, scale=None, block_size=128):
    """Blocked attention with O(T) saved memory; the same result as `attention`.

    Args: as `tinytx.kernels.softmax_attention.attention`, plus
        block_size: tile size, an int (queries and keys) or a pair (block_q, block_k).
        dropout_p: must be 0 while training (see the module docstring).
    Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> (B, H, Tq, Dv)
    """
    if dropout_p and training:
        raise NotImplementedError(
            f"flash_attention: dropout_p={dropout_p} is not supported by the blocked kernel "
            "(its mask would cost the O(T^2) memory the kernel avoids); use "
            "tinytx.kernels.softmax_attention.attention for attention dropout")
    q, k, c, mask = prepare(q, k, v, mask, similarity, scale, is_causal=False)
    bq, bk = (block_size, block_size) if isinstance(block_size, int) else block_size
    op = FlashAttention(c, bq, bk, causal=is_causal)
    return op(q, k, v) if mask is None else op(q, k, v, mask)
