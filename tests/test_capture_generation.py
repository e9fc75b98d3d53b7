"""Cached generation through tinytx.capture: each replayed decode step of GPT, Seq2Seq
and T5 gives the eager step's logits bit for bit (cpu and strict devices, through the
refill when the context is full and through beam reordering), and greedy, top-k sampling
and beam search give the same tokens with and without capture."""
import numpy as np
import pytest
from random_models import SRC, random_gpt, random_prompts, random_seq2seq, randomize
from test_capture import tiny_t5

import tinytx as tx
from tinytx.generate import (beam_search, beam_search_seq2seq, generate, generate_seq2seq,
                             gpt_stepper, inference, seq2seq_stepper)
from tinytx.generate.stepper import encode_source
from tinytx.models import GPT

DEVICES = ["cpu", "strict"]


def models(device):
    return {"gpt": random_gpt(device=device, block_size=8),
            "seq2seq": random_seq2seq(device=device, block_size=8).eval(),
            "t5": tiny_t5(device)}


def steppers(name, model, captured):
    if name == "gpt":
        return gpt_stepper(model, captured=captured), random_prompts(B=2, T=3)
    memory, mask = encode_source(model, SRC, SRC != 0)
    return seq2seq_stepper(model, memory, mask, captured=captured), np.zeros((2, 1), int)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["gpt", "seq2seq", "t5"])
def test_decode_steps_replay_bit_for_bit(device, name):
    """14 tokens with a context of 8 (GPT, Seq2Seq): the cache fills, empties and refills
    (a step of shape (B, 8)), so both kinds of step are replayed; the beams' reorder is
    in between."""
    model = models(device)[name]
    with inference(model):
        (fast, ids), (slow, _) = steppers(name, model, True), steppers(name, model, False)
        rng = np.random.default_rng(0)
        for t in range(14):
            a, b = fast(ids), slow(ids)
            assert np.array_equal(a, b), f"step {t}"
            rows = rng.permutation(len(ids))            # as beam search reorders
            fast.reorder(rows)
            slow.reorder(rows)
            ids = np.concatenate([ids[rows], a[rows].argmax(1)[:, None]], axis=1)
    assert fast.forward.replays >= 6, (fast.forward.records, fast.forward.replays)
    refills = fast.limit == 8                             # T5's block_size is longer
    assert len(fast.forward.programs) == 1 + refills      # (B, 1) steps, (B, 8) refills


@pytest.mark.parametrize("device", DEVICES)
def test_gpt_tokens_equal_with_and_without_capture(device):
    model = random_gpt(device=device, block_size=8)
    prompts = random_prompts(B=2, T=3)
    runs = [dict(greedy=True), dict(top_k=5, rng=7), dict(top_p=0.9, temperature=0.8, rng=3)]
    for kw in runs:
        a = generate(model, prompts, 12, captured=True, **kw).numpy()
        b = generate(model, prompts, 12, captured=False, **kw).numpy()
        np.testing.assert_array_equal(a, b)
    for captured in (True, False):
        ids, scores = beam_search(model, prompts, 10, beam_width=3, captured=captured,
                                  return_scores=True)
        if captured:
            first = ids.numpy(), scores
    np.testing.assert_array_equal(first[0], ids.numpy())
    assert first[1] == scores


@pytest.mark.parametrize("name", ["seq2seq", "t5"])
def test_seq2seq_tokens_equal_with_and_without_capture(name):
    model = models("cpu")[name]
    mask = SRC != 0
    for kw in [dict(greedy=True), dict(top_k=4, rng=5)]:
        a = generate_seq2seq(model, SRC, mask, 1, 2, 10, captured=True, **kw).numpy()
        b = generate_seq2seq(model, SRC, mask, 1, 2, 10, captured=False, **kw).numpy()
        np.testing.assert_array_equal(a, b)
    a, b = (beam_search_seq2seq(model, SRC, mask, 1, 2, 10, beam_width=3, captured=c,
                                return_scores=True) for c in (True, False))
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    assert a[1] == b[1]


class ChattyGPT(GPT):
    """A GPT whose forward reads a tensor into Python: it cannot be captured."""

    def forward(self, idx, *args, **kwargs):
        self.last_first_token = idx[0, 0].item()
        return super().forward(idx, *args, **kwargs)


def test_generation_goes_on_uncaptured_when_the_step_cannot_be_captured():
    model = random_gpt(block_size=8)
    chatty = randomize(ChattyGPT(model.config), 0)        # random_gpt's weights
    prompts = random_prompts(B=2, T=3)
    with pytest.warns(UserWarning, match="generation runs uncaptured: .*item"):
        ids = generate(chatty, prompts, 10, greedy=True).numpy()
    np.testing.assert_array_equal(ids, generate(model, prompts, 10, greedy=True,
                                                captured=False).numpy())


def test_the_decode_program_cannot_be_a_cuda_graph():
    """The cache's append grows every step: the program says so and replays plainly."""
    model = random_gpt(block_size=8)
    with inference(model):
        step = gpt_stepper(model)
        step.forward.cuda_graph = True
        ids = random_prompts(B=1, T=2)
        for _ in range(4):
            ids = np.concatenate([ids, step(ids).argmax(1)[:, None]], axis=1)
    program = step.forward.programs[next(iter(step.forward.programs))]
    assert "reads state that changes between replays" in program.why_not


def test_capture_keeps_the_cache_cross_tensors_when_beams_reorder():
    model = random_seq2seq(block_size=8).eval()
    with inference(model):
        step, ids = steppers("seq2seq", model, True)
        step(ids)
        k, v = step.cache[0].cross
        before = k.numpy()
        step.reorder(np.array([1, 0]))
        assert step.cache[0].cross[0] is k and step.cache[0].cross[1] is v
        np.testing.assert_array_equal(k.numpy(), before[[1, 0]])
    assert tx.get_device("cpu") is k.device
