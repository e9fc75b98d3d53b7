"""Fused softmax attention: one op with a hand-derived backward.

Introduced in lesson 04 (after the composed attention of lesson 03; report §3). The
reference is `tinytx.functional.attention.scaled_dot_product_attention`: matmul, scale,
mask, softmax, dropout, matmul — six ops, each saving its inputs, most of them (T × T)
arrays. This kernel computes the same thing as one op, in place where it can, and saves
only q (scaled), k, v, O and the softmax as E = exp(S − rowmax) with r = 1/rowsum E
(P = r ⊙ E: the division moves to the (T × D) side, O = r ⊙ (E V), saving a T² pass). Tests pin the two together on every device, forward and
backward. The derivation is in docs/attention.md.

Forward, with c the similarity's scale, M the "may attend" mask, r_i = 1 if query i has
an allowed key (else 0), and Z/(1-p) the dropout scale (Z ∈ {0, 1}, training only):
    S = c·Q Kᵀ,   S_ij = fill where M_ij is False,   P = r ⊙ softmax(S),
    P̃ = P ⊙ Z/(1-p),   O = P̃ V
Backward, given dO:
    dV = P̃ᵀ dO,   dP = (dO Vᵀ) ⊙ Z/(1-p),
    dS = P ⊙ (dP − δ),   δ_i = Σ_j P_ij dP_ij = Σ_d dO_id O_id,
    dQ = c·dS K,   dK = c·dSᵀ Q
(δ from dO ⊙ O is an O(T·D) sum instead of an O(T²) one; with P = r ⊙ E the code
computes r ⊙ dP as (r ⊙ dO) Vᵀ, so r costs no T² pass in backward either.) Fully masked rows have P = 0,
so their output and every gradient through them is 0.
Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv), mask -> (B, H, Tq, Tk)
    -> O (B, H, Tq, Dv)

Cosine similarity is not inside the op: q/‖q‖ and k/‖k‖ are computed with F ops before it
(`l2_normalize`), and autograd chains their O(T·D) backward onto the fused core's dQ, dK.
Fusing them would save nothing measurable next to the O(T²) core and would duplicate the
normalisation's backward.

    >>> import tinytx as tx
    >>> from tinytx.kernels.attention import attention
    >>> q = k = v = tx.randn(2, 3, 5, 4)                      # (B, H, T, D)
    >>> attention(q, k, v, is_causal=True).shape
    (2, 3, 5, 4)
"""
from __future__ import annotations

import functools

from ..function import Function, unbroadcast
from ..functional.attention import (causal_mask, check_mask, check_qkv, l2_normalize,
                                    mask_fill_value, similarity_scale)


class SoftmaxAttention(Function):
    """O = dropout(softmax(c·QKᵀ, masked)) V as one op (formulas in the module docstring)."""

    def __init__(self, scale, dropout_p=0.0):
        self.scale, self.dropout_p = scale, dropout_p

    def forward(self, q, k, v, mask=None):
        xp = self.xp
        self.qs = q * q.dtype.type(self.scale)               # c·Q: the scale costs T·D, not T²
        s = xp.matmul(self.qs, xp.swapaxes(k, -1, -2))     # (B,H,Tq,D) @ (B,H,D,Tk) -> (B,H,Tq,Tk)
        self.e, self.r = exp_rows_(xp, s, mask)             # P = r ⊙ E, never formed
        ed, self.drop = self.e, None
        if self.dropout_p > 0:                               # the same draw as F.dropout
            keep = self.device.rand(s.shape, s.dtype) >= self.dropout_p
            self.drop = keep * s.dtype.type(1 / (1 - self.dropout_p))
            ed = self.e * self.drop
        self.k, self.v = k, v
        self.o = xp.matmul(ed, v)                            # (B,H,Tq,Tk) @ (B,H,Tk,Dv)
        self.o *= self.r
        return self.o

    def backward(self, do):
        xp, (nq, nk, nv) = self.xp, self.needs_input_grad[:3]
        qs, k, v, e, r = self.qs, self.k, self.v, self.e, self.r
        dq = dk = dv = None
        dor = do * r                                         # r ⊙ dO: (..., Tq, Dv)
        if nv:
            ed = e if self.drop is None else e * self.drop
            dv = unbroadcast(xp.matmul(xp.swapaxes(ed, -1, -2), dor), v.shape)   # P̃ᵀ dO
        ds = xp.matmul(dor, xp.swapaxes(v, -1, -2))          # r ⊙ dP̃: (..,Tq,Dv) @ (..,Dv,Tk)
        if self.drop is not None:
            ds *= self.drop                                  # r ⊙ dP
        ds -= (do * self.o).sum(axis=-1, keepdims=True) * r  # r ⊙ (dP − δ)
        ds *= e                                              # dS = P ⊙ (dP − δ)
        if nq:
            dq = xp.matmul(ds, k)                            # (B,H,Tq,Tk) @ (B,H,Tk,D)
            dq = unbroadcast(dq, qs.shape) * qs.dtype.type(self.scale)
        if nk:
            dk = unbroadcast(xp.matmul(xp.swapaxes(ds, -1, -2), qs), k.shape)  # c·dSᵀ Q
        return (dq, dk, dv, None)[:len(self.needs_input_grad)]


def exp_rows_(xp, s, mask=None):
    """The softmax of the fresh scores `s` along the last axis, left unnormalised:
    -> (E, r) with E = exp(S − rowmax S) computed in place in `s` and r = 1/rowsum E, so
    that softmax = r ⊙ E. Masked scores get `mask_fill_value` first; rows without an
    allowed key get r = 0. Leaving the division to the (T × D) side saves a (T × T) pass.

    Shapes: s (..., Tq, Tk), mask bool broadcastable to s -> E (..., Tq, Tk), r (..., Tq, 1)
    """
    if mask is not None:
        xp.copyto(s, mask_fill_value(s.dtype), where=~mask)
    s -= s.max(axis=-1, keepdims=True)
    xp.exp(s, out=s)
    r = 1 / s.sum(axis=-1, keepdims=True)                    # (..., Tq, 1)
    if mask is not None:
        r *= mask.any(axis=-1, keepdims=True)                # no allowed key -> r = 0
    return s, r


@functools.lru_cache(maxsize=32)
def cached_causal_mask(Tq, Tk, device):
    """`causal_mask(Tq, device, Tk)`, built once per (Tq, Tk, device)."""
    return causal_mask(Tq, device, Tk)


def prepare(q, k, v, mask, similarity, scale, is_causal):
    """What every attention kernel does first: check shapes, normalise q and k for cosine,
    and merge `mask` with the (cached) causal mask. -> (q, k, c, mask Tensor or None)"""
    shape = check_qkv(q, k, v)
    c = similarity_scale(similarity, q.shape[-1], scale)
    if similarity == "cosine":
        q, k = l2_normalize(q), l2_normalize(k)
    if mask is not None:
        m = check_mask(mask, q.device, shape)
        mask = mask if m is getattr(mask, "data", None) else _as_tensor(m, q.device)
    if is_causal:
        causal = cached_causal_mask(shape[-2], shape[-1], q.device)
        mask = causal if mask is None else _as_tensor(causal.data & mask.data, q.device)
    return q, k, c, mask


def _as_tensor(array, device):
    from ..tensor import Tensor
    return Tensor._make(array, device, False)


def attention(q, k, v, mask=None, similarity="scaled_dot", dropout_p=0.0, training=True,
              is_causal=False, scale=None):
    """Fused softmax attention; the same result as `F.scaled_dot_product_attention`.

    Args:
        q, k, v: queries, keys, values (Tensors on one device).
        mask: bool "may attend", broadcastable to (B, H, Tq, Tk), or None.
        similarity: "scaled_dot" (QKᵀ/√D), "dot" (QKᵀ) or "cosine" (unit q, k; `scale`
            is then a temperature, default 1).
        dropout_p, training: dropout on the attention weights (only while training).
        is_causal: also apply the causal mask (built and cached by the kernel).
        scale: overrides the similarity's factor.
    Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> (B, H, Tq, Dv)
    """
    q, k, c, mask = prepare(q, k, v, mask, similarity, scale, is_causal)
    if not 0 <= dropout_p < 1:
        raise ValueError(f"attention: dropout_p must be in [0, 1), got {dropout_p}")
    op = SoftmaxAttention(c, dropout_p if training else 0.0)
    return op(q, k, v) if mask is None else op(q, k, v, mask)
