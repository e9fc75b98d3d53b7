"""Beam search: keep the beam_width most likely continuations instead of one.

Introduced in lesson 12 (decoding the encoder-decoder model; docs/generation.md). Greedy
decoding commits to the best token at each step; a sentence whose first word is a little
less likely but whose rest is much more likely is never seen. Beam search keeps W live
hypotheses. At each step every hypothesis is extended by every token, the W·V candidates
are scored by their summed log-probability, and the best W that do not end in `eos_id`
live on; a candidate ending in eos (and ranked among the best W) becomes a finished
hypothesis. The answer is the finished (or, at the end, live) hypothesis with the best

    score = sum of log-probs / length ** length_penalty

where length counts the generated tokens (eos included). length_penalty = 0 ranks by the
plain sum, which favours short outputs; 1 ranks by the mean log-prob; > 1 favours longer
ones. (GNMT's ((5 + length) / 6) ** α is the same idea with a softer start.)

`no_repeat_ngram_size = n` bans, for each hypothesis, every token that would repeat an
n-gram already in it (prompt included): a cheap cure for the loops small models fall in.

A prompt (row) stops when it has W finished hypotheses and its best live hypothesis,
scored at its current length, is no better than the worst of them (the rule Hugging Face
uses by default; with length_penalty > 0 a live hypothesis could still overtake later).
The KV cache follows the beams: after each step its rows are reordered by the index of
the hypothesis each survivor came from. beam_width = 1 is exactly greedy decoding.

    >>> from tinytx.models import GPT, GPTConfig
    >>> model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    >>> beam_search(model, [1, 2, 3], 4, beam_width=3).shape
    (1, 7)
"""
from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from .logits import check_count, log_probabilities, no_repeat_ngram_mask
from .stepper import (as_id_rows, encode_source, gpt_stepper, inference, model_device,
                      seq2seq_stepper)


def beam_search(model, idx, max_new_tokens: int, beam_width: int = 4,
                length_penalty: float = 1.0, no_repeat_ngram_size: int = 0,
                eos_id: int | None = None, *, pad_id: int | None = None,
                use_cache: bool = True, captured: bool = True, return_scores: bool = False):
    """The most likely continuation of each prompt row of a GPT, by beam search.

    Args:
        model: a GPT (as for `generate`); runs under no_grad in eval mode.
        idx: prompt ids (B, T) or (T,), non-empty; cropped to block_size like `generate`.
        max_new_tokens: the longest continuation.
        beam_width: hypotheses kept per prompt (1 = greedy).
        length_penalty: the exponent in sum(log p) / length ** length_penalty.
        no_repeat_ngram_size: ban tokens that would repeat an n-gram (0 = off).
        eos_id: a hypothesis ending in it is finished (kept in the output); None = never.
        pad_id: fills the shorter rows on the right (default eos_id, else 0).
        return_scores: also return the best hypotheses' scores (a list of B floats).
        use_cache, captured: as for `generate`.
    Shapes: idx (B, T) -> int64 Tensor (B, T + n), n <= max_new_tokens

        >>> from tinytx.models import GPT, GPTConfig
        >>> m = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
        >>> ids, scores = beam_search(m, [[1, 2], [3, 4]], 3, 2, return_scores=True)
        >>> ids.shape, len(scores)
        ((2, 5), 2)
    """
    prompts = as_id_rows(idx)
    if prompts.shape[1] == 0:
        raise ValueError("idx: beam search needs a non-empty prompt, got shape "
                         f"{prompts.shape}")
    _check(max_new_tokens, beam_width, length_penalty, no_repeat_ngram_size)
    with inference(model):
        step = gpt_stepper(model, use_cache, captured)
        best = beam_loop(step, prompts, max_new_tokens, beam_width, length_penalty,
                         no_repeat_ngram_size, eos_id)
    return _result(model, prompts, best, _pad(pad_id, eos_id), return_scores)


def beam_search_seq2seq(model, src, src_mask, bos_id: int, eos_id: int | None,
                        max_new_tokens: int, beam_width: int = 4,
                        length_penalty: float = 1.0, no_repeat_ngram_size: int = 0, *,
                        use_cache: bool = True, captured: bool = True,
                        return_scores: bool = False):
    """The most likely target sentence for each source row of a Seq2Seq model.

    The source is encoded once and its memory repeated for the W beams (the
    cross-attention keys/values are then computed once, in the cache). The decoder
    starts from bos_id; hypotheses end at eos_id. Shorter rows are padded with the
    model's config.pad_id. Other arguments as in `beam_search`.
    Shapes: src (B, S), src_mask (B, S) bool "may attend" (True at real tokens) or None
        -> int64 Tensor (B, 1 + n): bos, then the best hypothesis

        >>> from tinytx.models import Seq2Seq, Seq2SeqConfig
        >>> m = Seq2Seq(Seq2SeqConfig(vocab_size=9, n_embd=8, n_head=2, n_encoder_layer=1,
        ...                           n_decoder_layer=1, dropout=0.0))
        >>> beam_search_seq2seq(m, [[3, 4, 5]], None, 1, 2, 4, beam_width=2).shape[0]
        1
    """
    _check(max_new_tokens, beam_width, length_penalty, no_repeat_ngram_size)
    with inference(model):
        memory, mask = encode_source(model, src, src_mask)
        B, W = memory.shape[0], beam_width
        rows = np.repeat(np.arange(B), W)                    # (B,) -> (B·W,): W copies
        memory = Tensor._make(memory.data[memory.device.asarray(rows)], memory.device, False)
        if mask is not None:
            mask = Tensor._make(mask.data[mask.device.asarray(rows)], mask.device, False)
        step = seq2seq_stepper(model, memory, mask, use_cache, captured)
        prompts = np.full((B, 1), bos_id, dtype=np.int64)
        best = beam_loop(step, prompts, max_new_tokens, W, length_penalty,
                         no_repeat_ngram_size, eos_id)
    return _result(model, prompts, best, model.config.pad_id, return_scores)


def beam_loop(step, prompts: np.ndarray, max_new_tokens: int, W: int,
              length_penalty: float, ngram: int, eos_id: int | None):
    """The search itself, on host ids; `step` gives next-token logits for (B·W, T) rows.

    Hypotheses b·W .. b·W + W - 1 belong to prompt b; at first all W are copies of the
    prompt and only copy 0 is live (score 0, the others -inf), so the first step does not
    pick the same token W times. -> [(score, generated token list)] per prompt.
    """
    B, T0 = prompts.shape
    ids = np.repeat(prompts, W, axis=0)                      # (B, T) -> (B·W, T)
    scores = np.full((B, W), -np.inf)
    scores[:, 0] = 0.0
    finished = [[] for _ in range(B)]
    done = np.zeros(B, dtype=bool)
    for t in range(1, max_new_tokens + 1):
        logp = log_probabilities(step(ids))                        # (B·W, V)
        V = logp.shape[1]
        if ngram:
            logp[no_repeat_ngram_mask(ids, ngram, V)] = -np.inf
        cand = (scores[:, :, None] + logp.reshape(B, W, V)).reshape(B, W * V)
        order = np.argsort(-cand, axis=1, kind="stable")[:, :2 * W]   # best first
        rows, tokens = np.zeros((B, W), np.int64), np.zeros((B, W), np.int64)
        for b in range(B):
            picks = [] if done[b] else _extend(b, order[b], cand[b], ids, T0, W, V, t,
                                               length_penalty, eos_id, finished[b])
            picks += [(0, 0, -np.inf)] * (W - len(picks))     # finished prompt: idle rows
            rows[b] = [b * W + w for w, _, _ in picks]
            tokens[b] = [tok for _, tok, _ in picks]
            scores[b] = [s for _, _, s in picks]
            done[b] = done[b] or _is_done(finished[b], scores[b].max(), t, W,
                                          length_penalty)
        ids = np.concatenate([ids[rows.ravel()], tokens.reshape(-1, 1)], axis=1)
        step.reorder(rows.ravel())                           # the cache follows the beams
        if done.all():
            break
    for b in np.flatnonzero(~done):                          # out of tokens: live ones count
        norm = (ids.shape[1] - T0) ** length_penalty or 1.0     # 0 tokens: score 0
        finished[b] += [(scores[b, w] / norm, ids[b * W + w, T0:].tolist())
                        for w in range(W) if np.isfinite(scores[b, w])]
    return [max(f, key=lambda h: h[0]) if f else (-np.inf, []) for f in finished]


def _extend(b, order, cand, ids, T0, W, V, t, length_penalty, eos_id, finished):
    """Walk prompt b's best candidates: finish those ending in eos (if ranked in the top
    W), keep the first W others as live beams -> [(beam, token, score)]."""
    picks = []
    for rank, c in enumerate(order):
        beam, tok, s = int(c // V), int(c % V), float(cand[c])
        if tok == eos_id:
            if rank < W and np.isfinite(s):
                hyp = ids[b * W + beam, T0:].tolist() + [tok]
                finished.append((s / t ** length_penalty, hyp))
            continue
        picks.append((beam, tok, s))
        if len(picks) == W:
            break
    return picks


def _is_done(finished, best_live, t, W, length_penalty) -> bool:
    """W finished hypotheses, none worse than the best live one could score now."""
    if len(finished) < W:
        return False
    worst_kept = sorted(h[0] for h in finished)[-W]
    return not best_live / t ** length_penalty > worst_kept


def _check(max_new_tokens, beam_width, length_penalty, ngram):
    check_count(max_new_tokens, "max_new_tokens")
    check_count(ngram, "no_repeat_ngram_size")
    if isinstance(beam_width, bool) or not isinstance(beam_width, (int, np.integer)) \
            or beam_width < 1:
        raise ValueError(f"beam_width: expected an int >= 1, got {beam_width!r}")
    if not isinstance(length_penalty, numbers.Real) or not np.isfinite(length_penalty):
        raise ValueError(f"length_penalty: expected a finite number, got {length_penalty!r}")


def _pad(pad_id, eos_id):
    return pad_id if pad_id is not None else (eos_id if eos_id is not None else 0)


def _result(model, prompts, best, pad_id, return_scores):
    """Prompts + best hypotheses, right-padded to one length -> Tensor (and scores)."""
    n = max(len(hyp) for _, hyp in best)
    out = np.full((len(prompts), prompts.shape[1] + n), pad_id, dtype=np.int64)
    out[:, :prompts.shape[1]] = prompts
    for b, (_, hyp) in enumerate(best):
        out[b, prompts.shape[1]:prompts.shape[1] + len(hyp)] = hyp
    ids = Tensor(out, device=model_device(model))
    return (ids, [float(s) for s, _ in best]) if return_scores else ids
