"""The KV cache on its own: the in-place store and its capacity, attention with a cache
equal to attention over the whole sequence, beam search's reorder into the same buffers,
and cached == uncached generation at batch 1 and 8."""
import numpy as np
import pytest

import tinytx as tx
from tinytx import nn
from tinytx.generate import beam_search, generate
from tinytx.models import GPT, GPTConfig
from tinytx.nn.kv_cache import KVCache, LayerCache

B, H, D = 2, 3, 4


def _attention(similarity="scaled_dot"):
    tx.manual_seed(0)
    return nn.MultiHeadAttention(H * D, H, causal=True, similarity=similarity).to(
        dtype="float64")


@pytest.mark.parametrize("capacity", [8, None])
@pytest.mark.parametrize("similarity", ["scaled_dot", "dot", "cosine"])
def test_cached_attention_equals_attention_over_the_whole_sequence(capacity, similarity):
    """The cache stores, the attention module attends: fed a prompt and then new tokens,
    MultiHeadAttention with a cache gives the rows it gives the whole sequence at once."""
    attn, x = _attention(similarity), tx.randn(B, 8, H * D, dtype="float64")
    cache, start = LayerCache(capacity), 0
    with tx.no_grad():
        full = attn(x).numpy()
        for T in [3, 1, 1, 2, 1]:                                # prompt, then new tokens
            y = attn(x[:, start:start + T], cache=cache)
            assert y.shape == (B, T, H * D) and y._ctx is None
            np.testing.assert_allclose(y.numpy(), full[:, start:start + T], atol=1e-12)
            start += T
    assert cache.length == 8


def test_cached_attention_with_a_mask_on_the_keys():
    attn, x = _attention(), tx.randn(B, 4, H * D, dtype="float64")
    mask = tx.tensor(np.array([True, False, True, True]))       # key 1 may not be seen
    cache = LayerCache(8)
    with tx.no_grad():
        full = attn(x, mask=mask).numpy()
        attn(x[:, :3], mask=tx.tensor(np.array([True, False, True])), cache=cache)
        y = attn(x[:, 3:], mask=mask, cache=cache)
    np.testing.assert_allclose(y.numpy(), full[:, 3:], atol=1e-12)


def test_store_past_capacity_is_a_clear_error():
    cache = LayerCache(capacity=4)
    k = np.zeros((B, H, 3, D))
    with tx.no_grad():
        cache.store(k, k)
        with pytest.raises(ValueError, match="5 positions asked for, but capacity is 4"):
            cache.store(k[:, :, :2], k[:, :, :2])
        cache.reset()                                           # refill from the start
        cache.store(k, k)
    assert cache.length == 3
    with pytest.raises(ValueError, match="capacity"):
        LayerCache(capacity=0)


def test_store_needs_no_grad():
    with pytest.raises(RuntimeError, match="no_grad"):
        LayerCache(4).store(np.zeros((1, 1, 1, 2)), np.zeros((1, 1, 1, 2)))


def test_reorder_copies_rows_into_the_same_two_buffers():
    cache = LayerCache(capacity=6)
    k = np.random.default_rng(0).normal(size=(3, H, 4, D))
    with tx.no_grad():
        cache.store(k, -k)
    buffers = {id(cache.k)}
    expected = k
    for rows in ([2, 0, 0], [1, 2, 0], [0, 0, 1]):
        cache.reorder(np.array(rows))
        expected = expected[rows]
        buffers.add(id(cache.k))
        np.testing.assert_array_equal(cache.k[:, :, :4], expected)
        np.testing.assert_array_equal(cache.v[:, :, :4], -expected)
        assert cache.k.shape == (3, H, 6, D)
    assert len(buffers) == 2                   # the cache and its spare, swapped each time


def test_last_only_logits_are_the_last_row():
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8))
    idx = tx.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    with tx.no_grad():
        full, _ = model(idx)
        last, _ = model(idx, last_only=True)
    assert last.shape == (2, 1, 11)
    np.testing.assert_allclose(last.numpy(), full.numpy()[:, -1:], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="last_only"):
        model(idx, idx, last_only=True)


def _gpt32(block_size=12):
    tx.manual_seed(3)
    return GPT(GPTConfig(block_size=block_size, vocab_size=64, n_layer=2, n_head=2,
                         n_embd=16))


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("kwargs", [dict(greedy=True), dict(rng=1, top_k=8)])
def test_cached_equals_uncached_float32_batch(batch, kwargs):
    """The bench's setting in small: float32, past block_size (refills), batch 1 and 8."""
    model = _gpt32()
    prompts = np.random.default_rng(batch).integers(0, 64, (batch, 5))
    a = generate(model, prompts, 20, use_cache=True, **kwargs).numpy()
    b = generate(model, prompts, 20, use_cache=False, **kwargs).numpy()
    assert a.shape == (batch, 25)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch", [1, 8])
def test_beam_search_cached_equals_uncached_batch(batch):
    model = _gpt32(block_size=10)
    prompts = np.random.default_rng(batch).integers(0, 64, (batch, 4))
    a, sa = beam_search(model, prompts, 12, beam_width=3, return_scores=True)
    b, sb = beam_search(model, prompts, 12, beam_width=3, use_cache=False,
                        return_scores=True)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(sa, sb, rtol=1e-5)


def test_kv_cache_checks_its_layers():
    cache = KVCache(2, capacity=4)
    assert len(cache) == 2 and cache.length == 0
    with pytest.raises(ValueError, match="expected 3"):
        cache.check(3, "GPT")
