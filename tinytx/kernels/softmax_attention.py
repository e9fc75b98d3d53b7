"""Fused softmax attention: one op with a hand-derived backward.

Introduced in lesson 05 (after the composed attention of lesson 04; report §3). The
reference is `tinytx.functional.attention.scaled_dot_product_attention`: matmul, scale,
mask, softmax, dropout, matmul — six ops, each saving its inputs, most of them (T × T)
arrays. This kernel computes the same thing as one op, in place where it can. Tests pin
the two together on every device, forward and backward; docs/attention.md derives it.

Forward, with c the similarity's scale, A an optional additive bias (T5's relative
positions), M the "may attend" mask, r_i = 1 if query i has an allowed key (else 0), and
Z/(1-p) the dropout scale (Z ∈ {0, 1}, training only):
    S = c·Q Kᵀ + A,   S_ij = fill where M_ij is False,   P = r ⊙ softmax(S),
    P̃ = P ⊙ Z/(1-p),   O = P̃ V
Backward, given dO:
    dV = P̃ᵀ dO,   dP = (dO Vᵀ) ⊙ Z/(1-p),
    dS = P ⊙ (dP − δ),   δ_i = Σ_j P_ij dP_ij = Σ_d dO_id O_id,
    dQ = c·dS K,   dK = c·dSᵀ Q,   dA = dS (summed over the axes A was broadcast on)
δ from dO ⊙ O is an O(T·D) sum instead of an O(T²) one. Fully masked rows have P = 0,
so their output and every gradient through them is 0.
Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv), mask -> (B, H, Tq, Tk)
    -> O (B, H, Tq, Dv)

What makes it faster than the composed version on the CPU:
  - c multiplies Q (T × D), not S (T × T);
  - P is never formed: it is kept as E = exp(S − rowmax) (computed in place in the score
    buffer) and r = 1/rowsum E (0 for a fully masked row), and O = r ⊙ (E V); backward
    gets r ⊙ dP as (r ⊙ dO) Vᵀ, so the normalisation costs no (T × T) pass anywhere;
  - with is_causal the queries go in row blocks, each computing only the keys it may
    see, so the masked upper-right staircase of S is neither computed nor stored.
Saved for backward: c·Q, K, V, O, r and the blocks of E.

Cosine similarity is not inside the op: q/‖q‖ and k/‖k‖ are computed with F ops before it
(`l2_normalize`), and autograd chains their O(T·D) backward onto the fused core's dQ, dK.
Fusing them would save nothing measurable next to the O(T²) core and would duplicate the
normalisation's backward.

    >>> import tinytx as tx
    >>> from tinytx.kernels.softmax_attention import attention
    >>> q = k = v = tx.randn(2, 3, 5, 4)                      # (B, H, T, D)
    >>> attention(q, k, v, is_causal=True).shape
    (2, 3, 5, 4)
"""
from __future__ import annotations

import functools

import numpy as np

from ..function import Function, unbroadcast
from ..functional.attention import (causal_mask, check_mask, check_qkv, l2_normalize,
                                    mask_fill_value, similarity_scale)
from ..tensor import Tensor, is_grad_enabled


class SoftmaxAttention(Function):
    """O = dropout(softmax(c·QKᵀ, masked)) V as one op (formulas in the module docstring).
    With causal=True the queries go in row blocks of `block_q`, each only as wide as the
    keys it may see; otherwise the whole (Tq × Tk) is one block."""

    def __init__(self, scale, dropout_p=0.0, causal=False, block_q=64, masked=False,
                 biased=False):
        self.scale, self.dropout_p, self.causal, self.bq = scale, dropout_p, causal, block_q
        self.masked, self.biased = masked, biased      # which optional inputs follow q, k, v

    def forward(self, q, k, v, *extra):
        mask = extra[0] if self.masked else None
        bias = extra[-1] if self.biased else None
        xp, Tq, Tk, Dv = self.xp, q.shape[-2], k.shape[-2], v.shape[-1]
        self.qs, self.k, self.v = q * q.dtype.type(self.scale), k, v   # c·Q: T·D work, not T²
        sbatch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2])       # the scores' batch
        self.o = xp.empty(np.broadcast_shapes(sbatch, v.shape[:-2]) + (Tq, Dv), q.dtype)
        self.r = xp.empty(sbatch + (Tq, 1), dtype=q.dtype)
        self.keep = None
        if self.dropout_p > 0:                       # one draw of the full shape, as F.dropout
            self.keep = self.device.rand(sbatch + (Tq, Tk), q.dtype) >= self.dropout_p
        self.blocks = row_blocks(Tq, Tk, self.bq if self.causal else Tq, self.causal)
        self.e = []
        self.bias_shape = None if bias is None else bias.shape
        for rows, keys in self.blocks:
            s = xp.matmul(self.qs[..., rows, :], xp.swapaxes(k[..., keys, :], -1, -2))
            if bias is not None:
                s += mask_tile(bias, rows, keys)                     # S = c·QKᵀ + A
            e, self.r[..., rows, :] = exp_rows_(self.device, s, mask_tile(mask, rows, keys))
            self.e.append(e)                                         # (.., rows, keys)
            ed = e if self.keep is None else e * self._drop(rows, keys)
            self.o[..., rows, :] = xp.matmul(ed, v[..., keys, :]) * self.r[..., rows, :]
        return self.o

    def backward(self, do):
        xp, qs, k, v, o = self.xp, self.qs, self.k, self.v, self.o
        nq, nk, nv = self.needs_input_grad[:3]
        dor = do * self.r                                            # r ⊙ dO
        rdelta = self.device.sum_last(do * o) * self.r               # r ⊙ δ, δ = Σ dO⊙O
        dq = xp.empty(o.shape[:-1] + qs.shape[-1:], dtype=o.dtype)
        dk = xp.zeros(o.shape[:-2] + k.shape[-2:], dtype=o.dtype)
        dv = xp.zeros(o.shape[:-2] + v.shape[-2:], dtype=o.dtype)
        da = None if self.bias_shape is None else xp.zeros(o.shape[:-1] + k.shape[-2:-1],
                                                           dtype=o.dtype)   # dS, full
        for (rows, keys), e in zip(self.blocks, self.e):
            drop = None if self.keep is None else self._drop(rows, keys)
            if nv:
                ed = e if drop is None else e * drop
                dv[..., keys, :] += xp.matmul(xp.swapaxes(ed, -1, -2), dor[..., rows, :])
            ds = xp.matmul(dor[..., rows, :], xp.swapaxes(v[..., keys, :], -1, -2))  # r⊙dP̃
            if drop is not None:
                ds *= drop                                           # r ⊙ dP
            ds -= rdelta[..., rows, :]                               # r ⊙ (dP − δ)
            ds *= e                                                  # dS = P ⊙ (dP − δ)
            if da is not None:
                da[..., rows, keys] = ds                             # dA = dS
            if nq:
                dq[..., rows, :] = xp.matmul(ds, k[..., keys, :])    # (.., rows, D)
            if nk:
                dk[..., keys, :] += xp.matmul(xp.swapaxes(ds, -1, -2), qs[..., rows, :])
        dq *= o.dtype.type(self.scale)                               # dQ = c·dS K; dK = dSᵀ(cQ)
        grads = (unbroadcast(dq, qs.shape) if nq else None,
                 unbroadcast(dk, k.shape) if nk else None,
                 unbroadcast(dv, v.shape) if nv else None)
        grads += (None,) * self.masked
        if self.biased:
            grads += (unbroadcast(da, self.bias_shape) if self.needs_input_grad[-1] else None,)
        return grads

    def _drop(self, rows, keys):
        """Z/(1-p) on one block, computed as F.dropout does (keep · 1/(1-p))."""
        return self.keep[..., rows, keys] * self.qs.dtype.type(1 / (1 - self.dropout_p))


def row_blocks(Tq, Tk, size, causal=False):
    """(rows, keys) slices covering the scores in blocks of `size` query rows. Causal: a
    block's keys stop after the last key its last query may see (j <= i + Tk - Tq), so the
    masked upper-right staircase is never computed (at least one key, so that a query
    before every key is a fully masked row rather than an empty one)."""
    out = []
    for r0 in range(0, Tq, size):
        r1 = min(r0 + size, Tq)
        kend = min(Tk, max(r1 + Tk - Tq, 1)) if causal else Tk
        out.append((slice(r0, r1), slice(0, kend)))
    return out


def mask_tile(mask, rows, keys):
    """mask[..., rows, keys] for a mask that may have size-1 (broadcast) query/key axes."""
    if mask is None:
        return None
    return mask[..., rows if mask.shape[-2] != 1 else slice(None),
                keys if mask.shape[-1] != 1 else slice(None)]


def exp_rows_(device, s, mask=None):
    """The softmax of the fresh scores `s` along the last axis, left unnormalised:
    -> (E, r) with E = exp(S − rowmax S) computed in place in `s` and r = 1/rowsum E, so
    that softmax = r ⊙ E. Masked scores get `mask_fill_value` first; rows without an
    allowed key get r = 0. Leaving the division to the (T × D) side saves a (T × T) pass.

    Shapes: s (..., Tq, Tk), mask bool broadcastable to s -> E (..., Tq, Tk), r (..., Tq, 1)
    """
    xp = device.xp
    if mask is not None:
        xp.copyto(s, mask_fill_value(s.dtype), where=~mask)
    s -= device.max_last(s)
    xp.exp(s, out=s)
    r = 1 / device.sum_last(s)                               # (..., Tq, 1)
    if mask is not None:
        r *= mask.any(axis=-1, keepdims=True)                # no allowed key -> r = 0
    return s, r


@functools.lru_cache(maxsize=32)
def cached_causal_mask(Tq, Tk, device):
    """`causal_mask(Tq, device, Tk)`, built once per (Tq, Tk, device)."""
    return causal_mask(Tq, device, Tk)


def prepare(q, k, v, mask, similarity, scale, is_causal):
    """What every attention kernel does first: check shapes, normalise q and k for cosine,
    and merge `mask` (made at least 2-D) with the (cached) causal mask.
    -> (q, k, c, mask Tensor or None)"""
    shape = check_qkv(q, k, v)
    c = similarity_scale(similarity, q.shape[-1], scale)
    if similarity == "cosine":
        q, k = l2_normalize(q), l2_normalize(k)
    if mask is not None:
        m = check_mask(mask, q.device, shape)
        if m.ndim < 2:
            m = m.reshape((1,) * (2 - m.ndim) + m.shape)             # (Tk,) -> (1, Tk)
        mask = mask if isinstance(mask, Tensor) and m is mask.data else constant_tensor(m, q.device)
    if is_causal and shape[-2] > 1:            # one query (the last) sees every key
        causal = cached_causal_mask(shape[-2], shape[-1], q.device)
        mask = causal if mask is None else constant_tensor(causal.data & mask.data, q.device)
    return q, k, c, mask


def constant_tensor(array, device):
    """An array (a mask) as a Tensor that needs no gradient, without a copy."""
    return Tensor._make(array, device, False)


def attention(q, k, v, mask=None, similarity="scaled_dot", dropout_p=0.0, training=True,
              is_causal=False, scale=None, block_size=64, bias=None):
    """Fused softmax attention; the same result as `F.scaled_dot_product_attention`.

    Args:
        q, k, v: queries, keys, values (Tensors on one device).
        mask: bool "may attend", broadcastable to (B, H, Tq, Tk), or None.
        similarity: "scaled_dot" (QKᵀ/√D), "dot" (QKᵀ) or "cosine" (unit q, k; `scale`
            is then a temperature, default 1).
        dropout_p, training: dropout on the attention weights (only while training).
        is_causal: also apply the causal mask (built and cached by the kernel), and skip
            the masked upper-right part of the scores in row blocks of `block_size`.
        scale: overrides the similarity's factor.
        bias: a Tensor added to the scores (T5's relative positions), broadcastable to
            (B, H, Tq, Tk); it gets a gradient.
    Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> (B, H, Tq, Dv)
    """
    if not 0 <= dropout_p < 1:
        raise ValueError(f"attention: dropout_p must be in [0, 1), got {dropout_p}")
    if q.shape[-2] == 1 and mask is None and bias is None and similarity != "cosine" and \
            not (dropout_p and training) and not is_grad_enabled():
        return one_query(q, k, v, similarity_scale(similarity, q.shape[-1], scale))
    q, k, c, mask = prepare(q, k, v, mask, similarity, scale, is_causal)
    op = SoftmaxAttention(c, dropout_p if training else 0.0, is_causal, block_size,
                          masked=mask is not None, biased=bias is not None)
    return op(q, k, v, *[t for t in (mask, bias) if t is not None])


def one_query(q, k, v, c):
    """One query row per head under no_grad (each step of cached generation): one matmul,
    softmax and matmul on raw arrays, with no causal mask (the last position may see
    every key): `SoftmaxAttention.forward`'s arithmetic, bit for bit, without its saved
    state. Shapes: q (B, H, 1, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> (B, H, 1, Dv)
    """
    check_qkv(q, k, v)
    return OneQueryAttention(c)(q, k, v)


class OneQueryAttention(Function):
    """`one_query`'s op: forward only (it runs under no_grad)."""

    def __init__(self, scale):
        self.scale = scale

    def forward(self, q, k, v):
        e, r = exp_rows_(self.device, (q * q.dtype.type(self.scale)) @ k.swapaxes(-1, -2))
        y = e @ v                                                     # e, r: (B, H, 1, Tk)
        y *= r
        return y
