"""Attention composed from F ops: masks, the three similarities, scaled dot-product attention.

Introduced in lesson 04 (one head: queries, keys and values, scores, softmax; report §3,
eq. 5–7) and lesson 05 (masks, eq. 8, and multi-head). This is the readable reference:
every step is an ordinary F op, so autograd derives the backward by itself. The fused
kernels in `tinytx.kernels.softmax_attention` (one op) and `tinytx.kernels.flash_attention`
(blocked, online softmax) compute the same thing and are pinned to it by tests.

    scores  S = sim(Q, K)                       (B, H, Tq, Tk)
    masked  S[i, j] = fill   where mask[i, j] is False ("may not attend")
    weights P = softmax(S) along the keys, P[i, :] = 0 if row i has no allowed key
    output  O = P V                             (B, H, Tq, D)

Masks are boolean "may attend" arrays that broadcast to (B, H, Tq, Tk). Masked scores
get a large *finite* negative value (`mask_fill_value`: half the dtype's minimum), never
-inf, so softmax of a fully masked row is a harmless uniform row instead of NaN; that row
is then zeroed, so a query with no key to look at outputs zeros and passes back zero
gradients.

    >>> import tinytx as tx
    >>> from tinytx.functional.attention import causal_mask, scaled_dot_product_attention
    >>> q = k = v = tx.randn(1, 2, 4, 8)                      # (B, H, T, D)
    >>> scaled_dot_product_attention(q, k, v, mask=causal_mask(4)).shape
    (1, 2, 4, 8)
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_device
from ..tensor import Tensor
from .activations import softmax
from .arithmetic import masked_fill, matmul, sqrt
from .layers import dropout
from .shape import transpose

SIMILARITIES = ("scaled_dot", "dot", "cosine")


def mask_fill_value(dtype) -> float:
    """The score given to masked positions: half the dtype's most negative value.

    Finite, so a fully masked row has no -inf - (-inf) = NaN; half, so subtracting a
    real row maximum (|s| << max) cannot overflow to -inf either.
    """
    return float(np.finfo(dtype).min) / 2


def similarity_scale(similarity: str, D: int, scale=None) -> float:
    """The factor the scores are multiplied by: `scale` if given, else 1/√D for
    "scaled_dot" (report eq. 7) and 1 for "dot" (eq. 6) and "cosine"."""
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity: expected one of {SIMILARITIES}, got {similarity!r}")
    if scale is not None:
        return float(scale)
    return 1 / math.sqrt(D) if similarity == "scaled_dot" else 1.0


def l2_normalize(x, eps=1e-12):
    """x / ‖x‖ along the last axis (cosine similarity's first step), composed from F ops.

    ‖x‖ = sqrt(Σ x² + eps): eps keeps a zero vector finite (it maps to zero).
    Shapes: (..., D) -> (..., D)
    """
    return x / sqrt((x * x).sum(axis=-1, keepdims=True) + eps)


# -- masks ------------------------------------------------------------------------------------
def causal_mask(T: int, device=None, Tk: int | None = None):
    """The "may attend" mask of a decoder: query i sees keys 0..i (lower triangular).

    With Tk > T (new queries appended after Tk - T cached keys) query i sees keys
    0..i + Tk - T, so the last query sees every key.
    Args:
        T: number of queries; Tk: number of keys (default T); device: where it lives.
    Shapes: -> bool (T, Tk)

        >>> causal_mask(3).numpy().astype(int).tolist()
        [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    dev = get_device(device)
    Tk = T if Tk is None else Tk
    i = dev.xp.arange(T)[:, None]                       # (T, 1)
    j = dev.xp.arange(Tk)[None, :]                      # (1, Tk)
    return Tensor._make(j <= i + (Tk - T), dev, False)


def padding_mask(lengths_or_pad, S: int | None = None, pad_id: int | None = None,
                 device=None):
    """The "may attend" mask of padded key sequences, shaped to broadcast over heads/queries.

    Args:
        lengths_or_pad: one of
            - lengths (B,) int: sequence b has lengths[b] real tokens, then padding;
            - is_pad (B, S) bool: True marks a padding position;
            - token ids (B, S) int together with `pad_id`: positions equal to pad_id are padding.
        S: the padded length when lengths are given (default max(lengths)).
        device: where the mask lives when lengths_or_pad is not a Tensor.
    Shapes: -> bool (B, 1, 1, S)

        >>> padding_mask([2, 3]).numpy()[:, 0, 0].astype(int).tolist()
        [[1, 1, 0], [1, 1, 1]]
    """
    x = lengths_or_pad if isinstance(lengths_or_pad, Tensor) else Tensor(
        lengths_or_pad, device=device)
    xp, data = x.device.xp, x.data
    if pad_id is not None:
        allowed = data != pad_id                        # token ids -> (B, S)
    elif data.dtype == bool:
        allowed = ~data                                 # is_pad (B, S)
    elif data.ndim == 1 and data.dtype.kind in "iu":
        S = int(data.max()) if S is None else S
        allowed = xp.arange(S)[None, :] < data[:, None]   # (B,) -> (B, S)
    else:
        raise TypeError(f"padding_mask: expected lengths (B,) int, is_pad (B, S) bool, or "
                        f"token ids (B, S) with pad_id, got dtype {data.dtype} and shape "
                        f"{data.shape}")
    if allowed.ndim != 2:
        raise ValueError(f"padding_mask: expected a (B, S) array, got shape {allowed.shape}")
    return Tensor._make(allowed[:, None, None, :], x.device, False)   # (B, S) -> (B, 1, 1, S)


def combine_masks(*masks):
    """Logical and of "may attend" masks (broadcasting); None entries are ignored.

        >>> combine_masks(causal_mask(3), padding_mask([2], S=3)).numpy()[0, 0].astype(int).tolist()
        [[1, 0, 0], [1, 1, 0], [1, 1, 0]]
    """
    masks = [m if isinstance(m, Tensor) else Tensor(m) for m in masks if m is not None]
    if not masks:
        return None
    out = masks[0]
    for m in masks[1:]:
        if m.device is not out.device:
            raise RuntimeError(f"combine_masks: masks on different devices: {out.device} "
                               f"and {m.device}")
        out = Tensor._make(out.data & m.data, out.device, False)
    return out


def check_mask(mask, device, shape):
    """`mask` (Tensor on `device`, or an array; bool, broadcastable to `shape`) -> its array
    on `device`."""
    if isinstance(mask, Tensor) and mask.device is not device:
        raise RuntimeError(f"mask: the mask is on {mask.device} but q, k, v are on {device}; "
                           f"move it with .to({str(device)!r})")
    data = _data(mask)
    data = data if device.is_own(data) else device.asarray(data)
    if data.dtype != bool:
        raise TypeError(f"mask: expected a boolean 'may attend' mask, got dtype {data.dtype}")
    try:
        np.broadcast_shapes(data.shape, shape)
    except ValueError:
        raise ValueError(f"mask: shape {data.shape} does not broadcast to the scores' "
                         f"shape {shape} (B, H, Tq, Tk)") from None
    return data


def check_qkv(q, k, v):
    """Shapes of q (..., Tq, D), k (..., Tk, D), v (..., Tk, Dv) -> the scores' shape."""
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"attention: q, k, v need at least 2 dimensions (T, D), got "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention: expected q (..., Tq, D), k (..., Tk, D), v (..., Tk, "
                         f"Dv), got q {q.shape}, k {k.shape}, v {v.shape}")
    if q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:      # the usual case, without the
        return q.shape[:-2] + (q.shape[-2], k.shape[-2])   # cost of broadcast_shapes
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    try:
        np.broadcast_shapes(batch, v.shape[:-2])
    except ValueError:
        raise ValueError(f"attention: the leading dimensions of q {q.shape}, k {k.shape} "
                         f"and v {v.shape} do not broadcast") from None
    return batch + (q.shape[-2], k.shape[-2])


def _data(m):
    return m.data if isinstance(m, Tensor) else m


# -- attention --------------------------------------------------------------------------------
def scaled_dot_product_attention(q, k, v, mask=None, similarity="scaled_dot", dropout_p=0.0,
                                 training=True, scale=None, return_weights=False,
                                 is_causal=False, bias=None):
    """Softmax attention composed from F ops (the reference for the fused kernels).

    S = scale·sim(Q, K); masked positions get `mask_fill_value`; P = softmax(S) with rows
    that have no allowed key set to 0; P is dropped out (training only); O = P V.
    Similarities (report §3.6.1):
        "scaled_dot"  Q Kᵀ / √D  (eq. 7, the default; eq. 6 is the unscaled "dot")
        "dot"         Q Kᵀ
        "cosine"      (Q/‖Q‖)(K/‖K‖)ᵀ, scores in [-1, 1]; `scale` is then a temperature
                      (default 1, the plain cosine; pass e.g. scale=10 for sharper weights)
    Args:
        q, k, v: queries, keys, values; mask: bool "may attend", broadcast to the scores;
        dropout_p: dropout on the weights; scale: overrides the similarity's factor;
        return_weights: also return P (after dropout), e.g. for the lesson's heatmaps;
        is_causal: also mask every key after the query (`causal_mask`), as PyTorch's;
        bias: a Tensor added to the scores before the mask (T5's relative positions),
            broadcastable to (B, H, Tq, Tk); it gets a gradient.
    Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> (B, H, Tq, Dv)
        (any leading dims work: (Tq, D) or (B, Tq, D) for a single head)

        >>> import tinytx as tx
        >>> q = tx.randn(2, 5, 4)
        >>> scaled_dot_product_attention(q, q, q, similarity="cosine").shape
        (2, 5, 4)
    """
    shape = check_qkv(q, k, v)
    if is_causal and q.shape[-2] > 1:                  # one query (the last) sees every key
        mask = combine_masks(causal_mask(q.shape[-2], q.device, k.shape[-2]), mask)
    c = similarity_scale(similarity, q.shape[-1], scale)
    if similarity == "cosine":
        q, k = l2_normalize(q), l2_normalize(k)
    s = matmul(q, transpose(k))                         # (B, H, Tq, D) @ (B, H, D, Tk)
    if c != 1:
        s = s * c
    if bias is not None:
        s = s + bias
    rows = None
    if mask is not None:
        allowed = check_mask(mask, q.device, shape)
        s = masked_fill(s, ~allowed, mask_fill_value(s.dtype))
        rows = allowed.any(axis=-1, keepdims=True)      # (..., Tq, 1): has an allowed key
    p = softmax(s, axis=-1)
    if rows is not None and not bool(rows.all()):
        p = p * rows.astype(p.dtype)                    # fully masked rows -> weights 0
    p = dropout(p, dropout_p, training)
    out = matmul(p, v)                                  # (B, H, Tq, Tk) @ (B, H, Tk, Dv)
    return (out, p) if return_weights else out
