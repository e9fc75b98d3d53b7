"""Beam search: width 1 is greedy decoding, cached equals uncached past the context
limit, a beam as wide as every sequence is exhaustive search (on a toy Markov model), and
n-gram blocking in beam search and sampling."""
import itertools

import numpy as np
import pytest
from random_models import SRC, random_gpt, random_prompts, random_seq2seq

from tinytx.generate import beam_search, beam_search_seq2seq, generate, generate_seq2seq
from tinytx.generate.beam import beam_loop


@pytest.mark.parametrize("use_cache", [True, False])
def test_beam_width_one_is_greedy(use_cache):
    model, prompts = random_gpt(), random_prompts()
    greedy = generate(model, prompts, 12, greedy=True).numpy()
    beam = beam_search(model, prompts, 12, beam_width=1, use_cache=use_cache).numpy()
    np.testing.assert_array_equal(beam, greedy)
    eos = int(greedy[1, 8])
    greedy = generate(model, prompts, 12, greedy=True, stop_tokens=eos).numpy()
    beam = beam_search(model, prompts, 12, beam_width=1, eos_id=eos).numpy()
    np.testing.assert_array_equal(beam, greedy)
    s2s = random_seq2seq()
    np.testing.assert_array_equal(
        beam_search_seq2seq(s2s, SRC, SRC != 0, 1, 2, 10, beam_width=1).numpy(),
        generate_seq2seq(s2s, SRC, SRC != 0, 1, 2, 10, greedy=True).numpy())


def test_beam_search_cached_equals_uncached_past_block_size():
    model = random_gpt()
    a, sa = beam_search(model, random_prompts(), 10, beam_width=3, eos_id=5, return_scores=True)
    b, sb = beam_search(model, random_prompts(), 10, beam_width=3, eos_id=5, use_cache=False,
                        return_scores=True)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(sa, sb, rtol=1e-12)


class _Markov:
    """A toy 'model': next-token log-probs depend on the last token only."""

    def __init__(self, V, seed):
        self.logp = np.log(np.random.default_rng(seed).dirichlet(np.ones(V) * 0.5, V))

    def __call__(self, ids):
        return self.logp[ids[:, -1]]

    def reorder(self, rows):
        pass


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_wide_beam_is_exhaustive_search(length_penalty):
    Vt, L, eos = 4, 4, 3
    step = _Markov(Vt, seed=2)
    best = (-np.inf, None)
    for n in range(1, L + 1):                                # every sequence of length <= L
        for seq in itertools.product(range(Vt), repeat=n):
            if eos in seq[:-1] or (n < L and seq[-1] != eos):
                continue
            s = sum(step.logp[a, b] for a, b in zip((0,) + seq, seq))
            best = max(best, (s / n ** length_penalty, list(seq)))
    score, hyp = beam_loop(step, np.zeros((1, 1), np.int64), L, Vt ** L, length_penalty,
                           0, eos)[0]
    assert hyp == best[1]
    assert score == pytest.approx(best[0])
    greedy_score, _ = beam_loop(step, np.zeros((1, 1), np.int64), L, 1, length_penalty,
                                0, eos)[0]
    assert greedy_score <= score


def _repeats_an_ngram(seq, T0, n):
    """Whether a new token of seq completed an n-gram that was already in seq."""
    return any(tuple(seq[i:i + n]) in {tuple(seq[j:j + n]) for j in range(i)}
               for i in range(max(T0 - n + 1, 0), len(seq) - n + 1))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_size_in_beam_search_and_generate(n):
    model, prompt = random_gpt(vocab_size=6, block_size=32), [1, 2, 1]
    steps = 3 if n == 1 else 12                              # n = 1: only 4 unused tokens
    free = beam_search(model, [prompt], steps, beam_width=3).numpy()[0].tolist()
    assert _repeats_an_ngram(free, 3, n)                     # the test has teeth
    out = beam_search(model, [prompt], steps, 3, no_repeat_ngram_size=n).numpy()[0]
    assert len(out) == 3 + steps and not _repeats_an_ngram(out.tolist(), 3, n)
    out = generate(model, [prompt], steps, rng=0, no_repeat_ngram_size=n).numpy()[0]
    assert len(out) == 3 + steps and not _repeats_an_ngram(out.tolist(), 3, n)
