"""Attention's gradients: float64 central-difference checks of the composed, fused and
blocked attention (similarities, masks, is_causal, a cosine temperature), dropout (the
fused kernel equals the composed one under the same seed), and the additive score bias
of T5 with its gradient."""
import numpy as np
import pytest
from attention_cases import SIMILARITIES, B, D, H, assert_all_close, make_mask, qkv, run

import tinytx as tx
from tinytx.functional.attention import (causal_mask, combine_masks, padding_mask,
                                         scaled_dot_product_attention)
from tinytx.kernels.flash_attention import flash_attention
from tinytx.kernels.softmax_attention import attention


# -- gradient checks ----------------------------------------------------------------------------
IMPLS = {"composed": scaled_dot_product_attention,
         "fused": lambda q, k, v, **kw: attention(q, k, v, block_size=2, **kw),
         "blocked": lambda q, k, v, **kw: flash_attention(q, k, v, block_size=2, **kw)}


def _gradcheck(device, fn, mask_kind, seed=0):
    rng = np.random.default_rng(seed)
    Tq, Tk = 5, 4
    arrays = [rng.standard_normal((1, 2, T, 3)) for T in (Tq, Tk, Tk)]
    xs = [tx.tensor(a, device=device, requires_grad=True) for a in arrays]
    causal = causal_mask(Tq, device, Tk)
    pad = padding_mask(np.array([3]), S=Tk, device=device)
    full_row = tx.tensor(np.array([[1, 1, 0, 1]] * 2 + [[0, 0, 0, 0]] + [[0, 1, 1, 1]] * 2,
                                  bool), device=device)
    mask = {"none": None, "causal": causal, "padding": pad, "full_rows": full_row,
            "causal+padding": combine_masks(causal, pad)}[mask_kind]
    assert tx.gradcheck(lambda q, k, v: fn(q, k, v, mask=mask), xs)


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_gradcheck_similarities(device, impl, similarity):
    fn = IMPLS[impl]
    _gradcheck(device, lambda q, k, v, mask: fn(q, k, v, mask=mask, similarity=similarity),
               "causal+padding")


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "full_rows"])
def test_gradcheck_masks(device, impl, mask_kind):
    _gradcheck(device, IMPLS[impl], mask_kind, seed=1)


def test_gradcheck_is_causal(device):
    for fn in (IMPLS["fused"], IMPLS["blocked"]):
        _gradcheck(device, lambda q, k, v, mask: fn(q, k, v, mask=mask, is_causal=True),
                   "padding")


def test_gradcheck_cosine_temperature(device):
    for fn in IMPLS.values():
        _gradcheck(device, lambda q, k, v, mask: fn(q, k, v, mask=mask,
                                                    similarity="cosine", scale=5.0), "none")


# -- dropout ------------------------------------------------------------------------------------
def _seeded(fn, seed=7):
    def call(*xs):
        tx.manual_seed(seed)
        return fn(*xs)
    return call


@pytest.mark.parametrize("mask_kind", ["none", "causal+padding", "full_rows"])
def test_fused_dropout_equals_composed_with_the_same_seed(device, mask_kind):
    rng = np.random.default_rng(3)
    Tq, Tk = 6, 7
    arrays, upstream = qkv(rng, Tq, Tk), rng.standard_normal((B, H, Tq, D))
    mask, is_causal, full = make_mask(mask_kind, Tq, Tk, device, rng)
    want = run(_seeded(lambda q, k, v: scaled_dot_product_attention(
        q, k, v, mask=full, dropout_p=0.3)), arrays, device, upstream)
    got = run(_seeded(lambda q, k, v: attention(q, k, v, mask=mask, is_causal=is_causal,
                                                dropout_p=0.3, block_size=4)),
              arrays, device, upstream)
    assert_all_close(got, want)
    dropped = run(_seeded(lambda q, k, v: attention(q, k, v, dropout_p=0.3)),
                  arrays, device, upstream)
    assert np.abs(dropped[0] - run(attention, arrays, device, upstream)[0]).max() > 1e-3


def test_dropout_gradcheck_and_eval_mode(device):
    for fn in (scaled_dot_product_attention, IMPLS["fused"]):
        _gradcheck(device, lambda q, k, v, mask: fn(q, k, v, mask=mask, dropout_p=0.4),
                   "causal+padding")
    _gradcheck(device, lambda q, k, v, mask: IMPLS["fused"](q, k, v, mask=mask, dropout_p=0.4,
                                                            is_causal=True), "padding")
    rng = np.random.default_rng(4)
    arrays, upstream = qkv(rng, 5, 5), rng.standard_normal((B, H, 5, D))
    off = run(lambda q, k, v: attention(q, k, v, dropout_p=0.5, training=False),
              arrays, device, upstream)
    assert_all_close(off, run(attention, arrays, device, upstream))


def test_blocked_refuses_dropout_while_training(device):
    q = tx.randn(1, 1, 3, 2, device=device)
    with pytest.raises(NotImplementedError, match="dropout"):
        flash_attention(q, q, q, dropout_p=0.1)
    flash_attention(q, q, q, dropout_p=0.1, training=False)    # eval: no dropout, fine


# -- an additive score bias (T5's relative positions) -------------------------------------------
@pytest.mark.parametrize("mask_kind", ["none", "causal+padding"])
@pytest.mark.parametrize("rows", [64, 4])               # one block, or causal row blocks
def test_a_score_bias_equals_the_composed_one_with_its_gradient(device, mask_kind, rows):
    """S = c·QKᵀ + A in the fused kernel, A broadcast over the batch (1, H, Tq, Tk) as T5
    gives it: output and the gradients of q, k, v and A equal the composed reference."""
    rng = np.random.default_rng(5)
    Tq, Tk = 7, 9
    arrays = qkv(rng, Tq, Tk) + [rng.standard_normal((1, H, Tq, Tk))]
    upstream = rng.standard_normal((B, H, Tq, D))
    mask, is_causal, full = make_mask(mask_kind, Tq, Tk, device, rng)
    want = run(lambda q, k, v, a: scaled_dot_product_attention(
        q, k, v, mask=full, similarity="dot", bias=a), arrays, device, upstream)
    got = run(lambda q, k, v, a: attention(q, k, v, mask=mask, is_causal=is_causal,
                                           similarity="dot", bias=a, block_size=rows),
              arrays, device, upstream)
    for name, a, b in zip(["out", "dq", "dk", "dv", "dbias"], got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=name)
    xs = [tx.tensor(a, device=device, requires_grad=True) for a in arrays]
    assert tx.gradcheck(lambda q, k, v, a: attention(q, k, v, mask=mask, bias=a), xs)
