"""Generation: KV-cached decoding pinned to uncached decoding (logits and tokens, GPT and
Seq2Seq, past the context limit), the logits processors on hand-built logits, stop
conditions and the bad-input behaviours. Beam search is tests/test_beam_search.py."""
import numpy as np
import pytest
from random_models import SRC, random_gpt, random_prompts, random_seq2seq

import tinytx as tx
from tinytx.generate import (apply_temperature, beam_search, beam_search_seq2seq, generate,
                             generate_seq2seq, generate_text, gpt_stepper, inference,
                             no_repeat_ngram_mask, sample_next, seq2seq_stepper, top_k_filter,
                             top_p_filter)
from tinytx.nn.kv_cache import KVCache
from tinytx.tokenizer import BasicTokenizer

SAMPLING = [dict(greedy=True), dict(rng=3), dict(rng=4, temperature=1.7, top_k=5),
            dict(rng=5, top_p=0.8, temperature=0.7), dict(temperature=0)]


# -- the KV cache: the same logits and tokens as recomputing the context --------------------

@pytest.mark.parametrize("capacity", ["block", None])
def test_cached_logits_match_uncached_each_stepgpt(capacity):
    model = random_gpt(dtype="float32", block_size=8)
    ids = random_prompts(2, 3)
    with inference(model):
        cached, plain = gpt_stepper(model), gpt_stepper(model, use_cache=False)
        if capacity is None:
            cached.cache = KVCache(2, capacity=None)         # grow by concatenation
        for t in range(14):                                  # 3 + 14 > block_size 8
            a, b = cached(ids), plain(ids)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
            ids = np.concatenate([ids, a.argmax(-1)[:, None]], axis=1)
        assert cached.cache.length == 8                      # refilled from the crop


def test_cached_logits_match_uncached_each_step_seq2seq():
    model = random_seq2seq(dtype="float32", block_size=6)
    ids = np.ones((2, 1), dtype=np.int64)
    with inference(model):
        memory = model.encode(tx.tensor(SRC), tx.tensor(SRC != 0))
        mask = tx.tensor(SRC != 0)
        cached = seq2seq_stepper(model, memory, mask)
        plain = seq2seq_stepper(model, memory, mask, use_cache=False)
        for t in range(10):
            a, b = cached(ids), plain(ids)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
            ids = np.concatenate([ids, a.argmax(-1)[:, None]], axis=1)


@pytest.mark.parametrize("kwargs", SAMPLING)
def test_cached_generation_equals_uncachedgpt(kwargs):
    model = random_gpt()
    a = generate(model, random_prompts(), 20, use_cache=True, **kwargs)   # 5 + 20 > 8
    b = generate(model, random_prompts(), 20, use_cache=False, **kwargs)
    assert a.shape == (3, 25)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("kwargs", SAMPLING)
def test_cached_generation_equals_uncached_seq2seq(kwargs):
    model = random_seq2seq(block_size=6)
    a = generate_seq2seq(model, SRC, SRC != 0, 1, None, 12, use_cache=True, **kwargs)
    b = generate_seq2seq(model, SRC, SRC != 0, 1, None, 12, use_cache=False, **kwargs)
    assert a.shape == (2, 13)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_cached_generation_on_each_device(device):
    model = random_gpt(device=device.name, dtype="float32")
    a = generate(model, random_prompts(), 12, rng=0, top_k=6)
    b = generate(model, random_prompts(), 12, rng=0, top_k=6, use_cache=False)
    assert a.device is device
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    s2s = random_seq2seq(device=device.name, dtype="float32")
    a = beam_search_seq2seq(s2s, SRC, SRC != 0, 1, 2, 9, beam_width=3)
    b = beam_search_seq2seq(s2s, SRC, SRC != 0, 1, 2, 9, beam_width=3, use_cache=False)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_cache_reorder_follows_rows():
    model = random_gpt()
    ids, rows = random_prompts(3, 4), np.array([2, 0, 0])
    with inference(model):
        step = gpt_stepper(model)
        step(ids)
        step.reorder(rows)
        ids = np.concatenate([ids[rows], [[1], [2], [3]]], axis=1)
        np.testing.assert_allclose(step(ids), gpt_stepper(model, False)(ids), atol=1e-12)


def test_cache_needs_no_grad():
    model = random_gpt()
    with pytest.raises(RuntimeError, match="no_grad"):
        model(tx.tensor([[1, 2]]), cache=KVCache(2, 8))
    with pytest.raises(ValueError, match="layers"):
        with tx.no_grad():
            model(tx.tensor([[1, 2]]), cache=KVCache(3, 8))


def test_cache_length_past_block_size_is_an_error():
    model, cache = random_gpt(), KVCache(2, 8)
    with tx.no_grad():
        model(tx.tensor([[1] * 6]), cache=cache)
        with pytest.raises(ValueError, match="block_size 8"):
            model(tx.tensor([[1] * 3]), cache=cache)


# -- logits processors ---------------------------------------------------------------------

def test_top_k_keeps_exactly_the_k_largest():
    logits = np.array([[0.5, 3.0, -1.0, 2.0, 2.5], [1.0, 1.0, 1.0, 0.0, 1.0]])
    kept = np.isfinite(top_k_filter(logits, 3))
    assert kept[0].tolist() == [False, True, False, True, True]
    assert kept[1].tolist() == [True, True, True, False, False]   # ties: lower ids first
    assert np.isfinite(top_k_filter(logits, 100)).all()              # clamped to V
    np.testing.assert_array_equal(top_k_filter(logits, None), logits)
    assert np.isfinite(top_k_filter(logits, 1)).sum(axis=1).tolist() == [1, 1]


@pytest.mark.parametrize("k", [0, -2, 1.5, True])
def test_top_k_bad_values(k):
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(np.zeros((1, 4)), k)


@pytest.mark.parametrize("p, expected", [(0.05, [1]), (0.45, [1]), (0.55, [1, 3]),
                                         (0.75, [1, 3]), (0.85, [1, 3, 0]),
                                         (0.97, [1, 3, 0, 2]), (1.0, [0, 1, 2, 3])])
def test_top_p_keeps_the_smallest_nucleus(p, expected):
    probs = np.array([0.15, 0.5, 0.05, 0.3])                 # ranked 1, 3, 0, 2
    kept = np.flatnonzero(np.isfinite(top_p_filter(np.log(probs), p)))
    assert sorted(kept.tolist()) == sorted(expected)


@pytest.mark.parametrize("p", [0, -0.1, 1.5, float("nan"), "0.5"])
def test_top_p_bad_values(p):
    with pytest.raises(ValueError, match=f"top_p.*{p!r}".replace("(", r"\(")
                       .replace(")", r"\)")):
        top_p_filter(np.zeros((1, 4)), p)


def test_temperature():
    assert apply_temperature(np.array([1.0, -2.0]), 0.5).tolist() == [2.0, -4.0]
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            apply_temperature(np.zeros(3), bad)
        with pytest.raises(ValueError, match="temperature"):
            generate(random_gpt(), [1, 2], 2, temperature=bad)
    with pytest.raises(ValueError, match="greedy"):
        apply_temperature(np.zeros(3), 0)
    model = random_gpt()                                           # 0 means greedy
    np.testing.assert_array_equal(generate(model, random_prompts(), 6, temperature=0).numpy(),
                                  generate(model, random_prompts(), 6, greedy=True).numpy())


def test_sample_next_is_seeded_and_follows_the_probabilities():
    probs = np.array([0.1, 0.0, 0.6, 0.3])
    logits = np.tile(np.log([0.1, 1.0, 0.6, 0.3]), (20000, 1))
    logits[:, 1] = -np.inf                                   # e.g. banned
    a = sample_next(logits, np.random.default_rng(7))
    np.testing.assert_array_equal(a, sample_next(logits, np.random.default_rng(7)))
    freq = np.bincount(a, minlength=4) / len(a)
    np.testing.assert_allclose(freq, probs, atol=0.02)
    assert freq[1] == 0
    b = sample_next(logits, np.random.default_rng(7), top_k=2, temperature=0.5)
    assert set(np.unique(b)) == {2, 3}
    assert set(np.unique(sample_next(logits, 0, top_p=0.5))) == {2}


def test_no_repeat_ngram_mask():
    ids = np.array([[5, 1, 2, 5, 1], [1, 2, 3, 4, 5]])
    banned = no_repeat_ngram_mask(ids, 2, 8)
    assert np.flatnonzero(banned[0]).tolist() == [2]         # "1 2" already there
    assert not banned[1].any()
    assert np.flatnonzero(no_repeat_ngram_mask(ids, 3, 8)[0]).tolist() == [2]  # "5 1 2"
    assert np.flatnonzero(no_repeat_ngram_mask(ids, 1, 8)[1]).tolist() == [1, 2, 3, 4, 5]
    assert not no_repeat_ngram_mask(ids, 0, 8).any()


# -- the generate loop: prompts, stops, arguments -------------------------------------------

def test_long_prompt_is_cropped_and_kept():
    model, long = random_gpt(block_size=8), random_prompts(2, 12)
    out = generate(model, long, 5, greedy=True).numpy()
    np.testing.assert_array_equal(out[:, :12], long)
    cropped = generate(model, long[:, -8:], 5, greedy=True).numpy()
    np.testing.assert_array_equal(out[:, 12:], cropped[:, 8:])


def test_empty_prompt_starts_from_start_token():
    model = random_gpt()
    out = generate(model, [], 4, greedy=True, start_token=7).numpy()
    np.testing.assert_array_equal(out, generate(model, [7], 4, greedy=True).numpy())
    assert out.shape == (1, 5)
    assert generate(model, [], 0).numpy().tolist() == [[0]]


def test_stop_tokens_end_rows_and_pad():
    model, prompts = random_gpt(), random_prompts()
    free = generate(model, prompts, 10, greedy=True).numpy()
    stop = int(free[0, 7])                                   # row 0's 3rd new token
    out = generate(model, prompts, 10, greedy=True, stop_tokens=[stop], pad_id=99).numpy()
    first = [next((t for t in range(5, 15) if free[b, t] == stop), 14) for b in range(3)]
    assert out.shape[1] == max(first) + 1                    # ends when every row stopped
    for b in range(3):
        np.testing.assert_array_equal(out[b, :first[b] + 1], free[b, :first[b] + 1])
        assert (out[b, first[b] + 1:] == 99).all()           # stop token kept, then pad


def test_stop_strings_and_generate_text():
    model, tok = random_gpt(vocab_size=128, block_size=16), BasicTokenizer()   # ASCII: 1 char/id
    prompt = "Don Q"
    free = generate_text(model, tok, prompt, 12, greedy=True)
    stop = free[4:6]
    assert stop and free.index(stop) == 4                    # the test needs a clean cut
    ids = generate(model, tok.encode(prompt), 12, greedy=True, stop_strings=[stop],
                   tokenizer=tok).numpy()[0]
    assert stop in tok.decode(ids[5:].tolist()) and stop not in tok.decode(ids[5:-1].tolist())
    assert generate_text(model, tok, prompt, 12, greedy=True, stop_strings=stop) == free[:4]
    stop_id = tok.encode(free[2])[0]
    assert generate_text(model, tok, prompt, 12, greedy=True, stop_tokens=stop_id) == \
        free[:free.index(free[2])]
    with pytest.raises(ValueError, match="tokenizer"):
        generate(model, [1], 3, stop_strings=["x"])


def test_bad_arguments():
    model = random_gpt()
    with pytest.raises(ValueError, match="max_new_tokens.*-1"):
        generate(model, [1], -1)
    with pytest.raises(ValueError, match="idx.*float"):
        generate(model, np.zeros((1, 3)), 2)
    with pytest.raises(TypeError, match="rng"):
        generate(model, [1], 2, rng="seed")
    with pytest.raises(ValueError, match="beam_width.*0"):
        beam_search(model, [1], 2, beam_width=0)
    with pytest.raises(ValueError, match="src_mask"):
        generate_seq2seq(random_seq2seq(), SRC, SRC[:, :2] != 0, 1, 2, 3)
    assert generate(model, [1, 2], 0).numpy().tolist() == [[1, 2]]
    np.testing.assert_array_equal(generate(model, random_prompts(), 5, rng=0, top_k=1000).numpy(),
                                  generate(model, random_prompts(), 5, rng=0).numpy())


def test_generation_runs_in_eval_mode_and_restores_it():
    model = random_seq2seq()                                           # dropout 0.1
    model.train()
    a = generate_seq2seq(model, SRC, SRC != 0, 1, 2, 8, greedy=True)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    b = generate_seq2seq(model, SRC, SRC != 0, 1, 2, 8, greedy=True)
    assert not model.training
    np.testing.assert_array_equal(a.numpy(), b.numpy())
