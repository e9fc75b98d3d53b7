"""Attention: the masks, the composed reference, and the fused and blocked kernels pinned
to it (forward and backward, float64, 1e-10), the fully-masked-row rule, broadcasting,
dtypes and errors, and every model reaching the one attention op. Small shapes: the whole
file runs in seconds. Gradient checks, dropout and the score bias: test_attention_grads.py."""
import numpy as np
import pytest
from attention_cases import (KERNELS, MASKS, SHAPES, SIMILARITIES, B, D, H, assert_all_close,
                             blocked, make_mask, qkv, run)

import tinytx as tx
from tinytx.functional.attention import (causal_mask, combine_masks, padding_mask,
                                         scaled_dot_product_attention)
from tinytx.kernels.flash_attention import flash_attention
from tinytx.kernels.softmax_attention import attention, cached_causal_mask


# -- masks ------------------------------------------------------------------------------------
def test_masks(device):
    assert causal_mask(3, device).numpy().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert causal_mask(2, device, Tk=4).numpy().astype(int).tolist() == [[1, 1, 1, 0],
                                                                         [1, 1, 1, 1]]
    want = [[1, 1, 0], [1, 1, 1]]
    lengths = padding_mask(tx.tensor(np.array([2, 3]), device=device))
    assert lengths.shape == (2, 1, 1, 3) and lengths.device is device
    assert lengths.numpy()[:, 0, 0].astype(int).tolist() == want
    is_pad = np.array([[0, 0, 1], [0, 0, 0]], bool)
    assert padding_mask(is_pad, device=device).numpy()[:, 0, 0].astype(int).tolist() == want
    ids = np.array([[5, 7, 0], [1, 2, 3]])
    assert padding_mask(ids, pad_id=0).numpy()[:, 0, 0].astype(int).tolist() == want
    both = combine_masks(causal_mask(3, device), None, lengths)
    assert both.shape == (2, 1, 3, 3) and not both.numpy()[0, 0, 2, 2]
    assert combine_masks(None) is None
    assert cached_causal_mask(5, 5, device) is cached_causal_mask(5, 5, device)


# -- the kernels equal the composed reference ---------------------------------------------------
@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_kernels_match_composed(device, kernel, similarity, mask_kind, shape):
    rng = np.random.default_rng([SIMILARITIES.index(similarity), MASKS.index(mask_kind),
                                 sorted(SHAPES).index(shape)])
    Tq, Tk = SHAPES[shape]
    arrays, upstream = qkv(rng, Tq, Tk), rng.standard_normal((B, H, Tq, D))
    mask, is_causal, full = make_mask(mask_kind, Tq, Tk, device, rng)
    want = run(lambda q, k, v: scaled_dot_product_attention(
        q, k, v, mask=full, similarity=similarity), arrays, device, upstream)
    got = run(lambda q, k, v: KERNELS[kernel](
        q, k, v, mask=mask, is_causal=is_causal, similarity=similarity),
        arrays, device, upstream)
    assert_all_close(got, want)


@pytest.mark.parametrize("impl", ["composed", "fused", "blocked"])
def test_fully_masked_rows_give_zero_output_and_gradients(device, impl):
    rng = np.random.default_rng(0)
    Tq, Tk = 6, 9
    arrays, upstream = qkv(rng, Tq, Tk), rng.standard_normal((B, H, Tq, D))
    pad = padding_mask(np.array([0, 4]), S=Tk, device=device)   # sequence 0 is empty
    fn = {"composed": scaled_dot_product_attention, "fused": attention,
          "blocked": blocked}[impl]
    out, dq, dk, dv = run(lambda q, k, v: fn(q, k, v, mask=pad), arrays, device, upstream)
    for a in (out, dq, dk, dv):
        assert np.isfinite(a).all()
        assert (a[0] == 0).all()                               # nothing to attend to
    assert (dk[1, :, 4:] == 0).all() and (dv[1, :, 4:] == 0).all()   # padded keys
    assert np.abs(out[1]).max() > 0


def test_return_weights(device):
    q = tx.randn(1, 2, 4, 3, dtype="float64", device=device)
    pad = padding_mask(np.array([0]), S=4, device=device)
    _, p = scaled_dot_product_attention(q, q, q, mask=causal_mask(4, device),
                                        return_weights=True)
    np.testing.assert_allclose(p.numpy().sum(-1), 1)
    assert (np.triu(p.numpy()[0, 0], 1) == 0).all()
    _, p = scaled_dot_product_attention(q, q, q, mask=pad, return_weights=True)
    assert (p.numpy() == 0).all()


@pytest.mark.parametrize("causal", [False, True])
def test_module_weights_reproduce_its_output(device, causal):
    """MultiHeadAttention.weights (for pictures) are the weights its forward uses:
    c_proj(merge_heads(P @ v)) is the layer's output."""
    from tinytx.nn.attention import MultiHeadAttention, merge_heads, split_heads
    tx.manual_seed(0)
    mha = MultiHeadAttention(8, 2, causal=causal).to(device, dtype="float64")
    x = tx.randn(2, 5, 8, dtype="float64", device=device)
    p = mha.weights(x)
    assert p.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(p.numpy().sum(-1), 1)
    assert causal == bool((np.triu(p.numpy(), 1) == 0).all())
    v = split_heads(mha.c_attn(x).split(8, axis=2)[2], 2)           # (B, H, T, D)
    y = mha.c_proj(merge_heads(p @ v))
    np.testing.assert_allclose(y.numpy(), mha(x).numpy(), atol=1e-12)


# -- broadcasting, dtypes, errors ------------------------------------------------------------------
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_broadcast_heads_and_masks(device, kernel):
    """k, v shared by all heads (multi-query), a 3-D single-head input, masks of
    several broadcast shapes."""
    rng = np.random.default_rng(5)
    Tq, Tk = 6, 9
    arrays = [rng.standard_normal(s) for s in [(B, H, Tq, D), (B, 1, Tk, D), (1, 1, Tk, D)]]
    upstream = rng.standard_normal((B, H, Tq, D))
    for mask in [rng.random((Tk,)) > 0.3, rng.random((B, 1, Tq, Tk)) > 0.5,
                 rng.random((H, 1, Tk)) > 0.3]:
        m = tx.tensor(mask, device=device)
        want = run(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=m),
                   arrays, device, upstream)
        got = run(lambda q, k, v: KERNELS[kernel](q, k, v, mask=m), arrays, device, upstream)
        assert_all_close(got, want)
    single = [a[0, 0] for a in qkv(rng, Tq, Tk)]               # (T, D): one head
    want = run(lambda q, k, v: scaled_dot_product_attention(q, k, v), single, device,
               upstream[0, 0])
    got = run(KERNELS[kernel], single, device, upstream[0, 0])
    assert_all_close(got, want)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_only_some_inputs_need_gradients(device, kernel):
    rng = np.random.default_rng(7)
    arrays, upstream = qkv(rng, 9, 9), rng.standard_normal((B, H, 9, D))
    mask = causal_mask(9, device)
    want = run(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask),
               arrays, device, upstream)
    for needs in [(True, False, False), (False, True, False), (False, False, True)]:
        xs = [tx.tensor(a, device=device, requires_grad=n) for a, n in zip(arrays, needs)]
        KERNELS[kernel](*xs, is_causal=True).backward(tx.tensor(upstream, device=device))
        for x, g in zip(xs, want[1:]):
            if x.requires_grad:
                np.testing.assert_allclose(x.device.to_host(x.grad), g, atol=1e-10)
            else:
                assert x.grad is None


@pytest.mark.parametrize("impl", ["fused", "blocked"])
def test_float32_stays_float32(device, impl):
    rng = np.random.default_rng(6)
    arrays, upstream = qkv(rng, 40, 40, np.float32), rng.standard_normal((B, H, 40, D))
    fn = {"fused": attention, "blocked": flash_attention}[impl]
    xs = [tx.tensor(a, device=device, requires_grad=True) for a in arrays]
    y = fn(*xs, is_causal=True, block_size=16)
    y.backward(upstream.astype(np.float32))
    assert y.dtype == np.float32 and all(x.grad.dtype == np.float32 for x in xs)
    want = run(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=causal_mask(40, device)),
               [a.astype(np.float64) for a in arrays], device, upstream)
    got = [y.numpy()] + [x.device.to_host(x.grad) for x in xs]
    assert_all_close(got, want, tol=1e-4)


def test_errors(device):
    q = tx.randn(1, 2, 4, 3, device=device)
    with pytest.raises(ValueError, match="similarity"):
        attention(q, q, q, similarity="euclid")
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, q, q, mask=tx.ones(4, 4, device=device))
    with pytest.raises(ValueError, match="does not broadcast"):
        flash_attention(q, q, q, mask=tx.tensor(np.ones((3, 3), bool), device=device))
    with pytest.raises(ValueError, match="q .* k .*"):
        attention(q, tx.randn(1, 2, 4, 5, device=device), q)
    with pytest.raises(ValueError, match="dropout_p"):
        attention(q, q, q, dropout_p=1.0)
    if device.name != "cpu":
        with pytest.raises(RuntimeError, match="mask: the mask is on cpu"):
            attention(q, q, q, mask=causal_mask(4))
    with pytest.raises(TypeError, match="padding_mask"):
        padding_mask(np.ones((2, 3), dtype=np.float32))


def test_every_model_attends_through_the_one_attention_op(monkeypatch):
    """One attention implementation per mode: GPT (training and cached generation),
    Seq2Seq (self, causal and cross attention) and T5 (relative-position bias) all reach
    the dispatch's "attention" op, once per attention layer and call; a model that
    computed attention some other way would fall short of the count."""
    import dataclasses
    from tinytx.kernels import dispatch
    from tinytx.models import GPT, GPTConfig, Seq2Seq, Seq2SeqConfig
    from tinytx.models.t5 import T5, T5Config
    from tinytx.nn.kv_cache import KVCache
    calls = []

    def counted(fn):
        return lambda *a, **k: calls.append(1) or fn(*a, **k)
    op = dispatch.OPS["attention"]
    monkeypatch.setitem(dispatch.OPS, "attention", dataclasses.replace(
        op, composed=counted(op.composed), cpu=counted(op.cpu)))

    def count(run):
        calls.clear()
        run()
        return len(calls)
    ids = tx.tensor(np.array([[1, 2, 3, 4]]))
    gpt = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8))
    assert count(lambda: gpt(ids, ids)[1].backward()) == 2
    cache = KVCache(2, capacity=8)
    with tx.no_grad():
        assert count(lambda: gpt(ids, cache=cache)) == 2                # the prompt
        assert count(lambda: gpt(ids[:, :1], cache=cache)) == 2         # one new token
    s2s = Seq2Seq(Seq2SeqConfig(vocab_size=11, n_embd=8, n_head=2, n_encoder_layer=1,
                                n_decoder_layer=2, block_size=8))
    assert count(lambda: s2s(ids, ids)) == 1 + 2 * 2                    # enc + (self, cross)
    t5 = T5(T5Config(vocab_size=11, d_model=8, d_kv=4, d_ff=16, num_layers=1,
                     num_decoder_layers=1, num_heads=2))
    assert count(lambda: t5(ids, ids)) == 1 + 2
    with dispatch.fused(False):
        assert count(lambda: gpt(ids, ids)) == 2                         # composed, too


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_split_and_merge_heads_gradcheck(device, parts):
    from tinytx.nn.attention import merge_heads, split_heads
    rng = np.random.default_rng(parts)
    x = tx.tensor(rng.standard_normal((2, 5, parts * 6)), device=device, requires_grad=True)
    heads = split_heads(x, 3, parts=parts)
    heads = heads if isinstance(heads, tuple) else (heads,)
    assert [h.shape for h in heads] == [(2, 3, 5, 2)] * parts
    np.testing.assert_array_equal(merge_heads(heads[-1]).numpy(),
                                  x.numpy()[..., (parts - 1) * 6:])
    assert tx.gradcheck(lambda x: sum((merge_heads(h) * (i + 1)).sum() for i, h in enumerate(
        (lambda hs: hs if isinstance(hs, tuple) else (hs,))(split_heads(x, 3, parts)))), [x])
