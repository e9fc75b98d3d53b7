"""Generating text: greedy, temperature, top-k, top-p, stop conditions, beam search.

Sampling is introduced in lesson 11 (the GPT trained on Don Quixote; temperature and
top-k as in the report's results), beam search in lesson 12 (the encoder-decoder model).
Both run the model through the KV cache of `tinytx.nn.kv_cache` by default
(`use_cache=False` recomputes the whole context each step: same tokens, slower).
docs/generation.md explains each piece. The files:

    logits.py    temperature, top-k, top-p, the n-gram ban, the draw (host arrays)
    stepper.py   one step of the model, with or without the cache (Stepper)
    sampling.py  the sampling loop: generate, generate_text, generate_seq2seq
    beam.py      beam search

    >>> from tinytx.models import GPT, GPTConfig
    >>> from tinytx.generate import generate
    >>> model = GPT(GPTConfig(block_size=16, vocab_size=50, n_layer=1, n_head=2, n_embd=8))
    >>> generate(model, [[1, 2, 3]], 10, temperature=0.8, top_k=5, rng=0).shape
    (1, 13)
"""
from .beam import beam_search, beam_search_seq2seq
from .logits import (apply_temperature, log_probabilities, no_repeat_ngram_mask,
                     probabilities, sample_next, top_k_filter, top_p_filter)
from .sampling import generate, generate_seq2seq, generate_text
from .stepper import Stepper, gpt_stepper, inference, seq2seq_stepper

__all__ = ["generate", "generate_text", "generate_seq2seq", "beam_search",
           "beam_search_seq2seq", "apply_temperature", "top_k_filter", "top_p_filter",
           "no_repeat_ngram_mask", "sample_next", "probabilities", "log_probabilities", "Stepper",
           "gpt_stepper", "seq2seq_stepper", "inference"]
