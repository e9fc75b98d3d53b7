"""Lesson 12's exercises (the encoder-decoder): teacher forcing, a greedy decoder and a
beam-search decoder.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check encoder_decoder` (the checks are in
lessons/checks/encoder_decoder.py).
"""
import numpy as np                     # noqa: F401 (for your answer)

import tinytx as tx                    # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def teacher_forcing(targets, bos_id, eos_id, pad_id):
    """What the decoder reads and what it must predict, for a batch of target sentences
    (lists of ids of different lengths) -> three NumPy arrays (B, T), T = the longest + 1:
        tgt_in  = [BOS] target, padded with pad_id
        tgt_out = target [EOS], padded with pad_id (tgt_out[b, t] follows tgt_in[b, t])
        tgt_mask: True at tgt_in's real tokens, False at its padding."""
    raise NotImplementedError("your answer here")


def greedy_decode(model, src, bos_id, eos_id, max_new_tokens):
    """Decode one source sentence (a list of ids) greedily with a Seq2Seq: encode it once
    (model.encode(tx.tensor([src]))), start the target at [bos_id], and up to
    max_new_tokens times run model.decode(target (1, t), memory) -> logits (1, t, V),
    append the most likely next token (argmax of the last position), and stop after
    eos_id. Returns the list of ids, bos_id first (eos_id last if it came)."""
    raise NotImplementedError("your answer here")


def beam_decode(model, src, bos_id, beam_width, max_new_tokens):
    """Beam search with a Seq2Seq, for one source sentence (a list of ids), exactly
    max_new_tokens new tokens (no eos: every hypothesis has the same length, so the plain
    sum of log-probabilities compares them fairly).

    Encode the source once. Start from one hypothesis, [bos_id] with score 0. At each
    step, extend every live hypothesis by every token of the vocabulary, scoring each
    candidate by its hypothesis' score + log p(token | hypothesis, source) (a log-softmax
    of model.decode's last-position logits); keep the beam_width best candidates as the
    new hypotheses. -> (the best hypothesis' ids, bos_id first; its score, a float).
    beam_width = 1 is greedy decoding."""
    raise NotImplementedError("your answer here")
