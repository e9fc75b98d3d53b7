"""The attention tests' cases and helpers (tests/test_attention.py and
tests/test_attention_grads.py): the kernels under test with small tiles, the masks each
is tried with (and the same mask spelled out for the composed reference), and forward +
backward under one upstream gradient."""
import numpy as np

import tinytx as tx
from tinytx.functional.attention import causal_mask, combine_masks, padding_mask
from tinytx.kernels.flash_attention import flash_attention
from tinytx.kernels.softmax_attention import attention

SIMILARITIES = ["scaled_dot", "dot", "cosine"]
MASKS = ["none", "causal", "padding", "causal+padding", "full_rows"]
SHAPES = {"self": (11, 11), "cross": (7, 13), "more_queries": (13, 6)}   # (Tq, Tk)
B, H, D = 2, 2, 5


def blocked(q, k, v, **kw):
    return flash_attention(q, k, v, block_size=4, **kw)


def blocked_rect(q, k, v, **kw):  # tiles of 3 queries x 5 keys
    return flash_attention(q, k, v, block_size=(3, 5), **kw)


def fused_rows(q, k, v, **kw):  # causal row blocks of 4 queries
    return attention(q, k, v, block_size=4, **kw)


KERNELS = {"fused": attention, "fused_rows": fused_rows, "blocked": blocked,
           "blocked_rect": blocked_rect}


def make_mask(kind, Tq, Tk, device, rng):
    """-> (mask for the kernels, is_causal, the same mask spelled out for the reference)."""
    causal = causal_mask(Tq, device, Tk)
    pad = padding_mask(np.array([Tk, Tk // 2]), S=Tk, device=device)
    if kind == "none":
        return None, False, None
    if kind == "causal":
        return None, True, causal
    if kind == "padding":
        return pad, False, pad
    if kind == "causal+padding":
        return pad, True, combine_masks(causal, pad)
    m = rng.random((B, 1, Tq, Tk)) > 0.4                   # "full_rows": random, with
    m[0, :, 1], m[1, :, 3] = False, False                   # two queries seeing no key
    m = tx.tensor(m, device=device)
    return m, False, m


def run(fn, arrays, device, upstream):
    """Output and gradients of q, k, v under one upstream gradient."""
    xs = [tx.tensor(a, device=device, requires_grad=True) for a in arrays]
    y = fn(*xs)
    y.backward(tx.tensor(upstream, device=device))
    return [y.numpy()] + [x.device.to_host(x.grad) for x in xs]


def qkv(rng, Tq, Tk, dtype=np.float64):
    return [rng.standard_normal((B, H, T, D)).astype(dtype) for T in (Tq, Tk, Tk)]


def assert_all_close(got, want, tol=1e-10):
    for name, a, b in zip(["out", "dq", "dk", "dv"], got, want):
        assert not np.isnan(a).any(), f"{name} has NaN"
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)
