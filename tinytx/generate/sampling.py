"""Sampling from a language model: logits processing and the generation loop.

Introduced in lesson 11 (sampling the GPT trained on Don Quixote: temperature and top-k,
as in the report's results; docs/generation.md). One step of generation:

    logits of the last position (B, V) -> /temperature -> top-k -> top-p
        -> softmax -> draw one token per row (or argmax: greedy) -> append, repeat

The logits processors are small pure functions on host (NumPy) arrays (`logits.py`).
The loop runs the model through a `Stepper` (`stepper.py`), which feeds only the new
token when a KV cache is used (tinytx/nn/kv_cache.py) and the whole (cropped) context
otherwise; both give the same tokens. Sampling happens on the host: one (B, V)
row per step is copied there, and a seeded `numpy.random.Generator` makes it repeatable.

    >>> import tinytx as tx
    >>> from tinytx.models import GPT, GPTConfig
    >>> model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    >>> generate(model, [1, 2, 3], 5, top_k=4, rng=0).shape
    (1, 8)
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .logits import (check_count, check_temperature, check_top_k, check_top_p, make_rng,
                     no_repeat_ngram_mask, sample_next)
from .stepper import (as_id_rows, encode_source, gpt_stepper, inference, model_device,
                      seq2seq_stepper)


def sampling_options(temperature=1.0, top_k=None, top_p=None, greedy=False,
                     no_repeat_ngram_size=0, stop_tokens=None, stop_strings=None,
                     tokenizer=None, pad_id=None, rng=None) -> dict:
    """Check the options of `generate` once, before any model call; -> sample_loop kwargs."""
    check_temperature(temperature)
    if top_k is not None:
        check_top_k(top_k)
    if top_p is not None:
        check_top_p(top_p)
    check_count(no_repeat_ngram_size, "no_repeat_ngram_size")
    stops = [stop_tokens] if isinstance(stop_tokens, (int, np.integer)) else list(
        stop_tokens or ())
    if isinstance(stop_strings, str):
        stop_strings = [stop_strings]
    stop_strings = list(stop_strings or ())
    if stop_strings and tokenizer is None:
        raise ValueError("stop_strings: a tokenizer= is needed to decode the continuation")
    if any(not isinstance(s, str) or not s for s in stop_strings):
        raise ValueError(f"stop_strings: expected non-empty strings, got {stop_strings!r}")
    pad_id = (stops[0] if stops else 0) if pad_id is None else pad_id
    return dict(rng=make_rng(rng), greedy=greedy or temperature == 0,
                temperature=temperature, top_k=top_k, top_p=top_p,
                no_repeat_ngram_size=no_repeat_ngram_size, stop_tokens=stops,
                stop_strings=stop_strings, tokenizer=tokenizer, pad_id=pad_id)


def sample_loop(step, ids: np.ndarray, max_new_tokens: int, *, rng, greedy, temperature,
                top_k, top_p, no_repeat_ngram_size, stop_tokens, stop_strings, tokenizer,
                pad_id) -> np.ndarray:
    """Append up to max_new_tokens tokens to each row of ids, stopping early once every
    row has stopped; rows that stopped are padded with pad_id.
    Shapes: ids host (B, T) -> host (B, T + n), n <= max_new_tokens
    """
    (B, T0), done = ids.shape, np.zeros(len(ids), dtype=bool)
    out = np.empty((B, T0 + max_new_tokens), dtype=np.int64)    # filled in place
    out[:, :T0] = ids
    for t in range(T0, T0 + max_new_tokens):
        ids = out[:, :t]                                     # (B, t): the sequences so far
        logits = step(ids)                                   # (B, V)
        if no_repeat_ngram_size:
            logits[no_repeat_ngram_mask(ids, no_repeat_ngram_size, logits.shape[1])] = -np.inf
        logits[done] = 0                                     # finished rows: anything goes
        nxt = sample_next(logits, rng, temperature=temperature, top_k=top_k, top_p=top_p,
                          greedy=greedy)
        nxt[done] = pad_id
        out[:, t] = nxt
        if stop_tokens:
            done |= np.isin(nxt, stop_tokens)
        for b in np.flatnonzero(~done) if stop_strings else ():
            text = tokenizer.decode(out[b, T0:t + 1].tolist())
            done[b] = any(s in text for s in stop_strings)
        if done.all():
            return out[:, :t + 1]
    return out


def generate(model, idx, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
             no_repeat_ngram_size: int = 0, stop_tokens=None, stop_strings=None,
             tokenizer=None, start_token: int = 0, pad_id: int | None = None,
             use_cache: bool = True, captured: bool = True, rng=None) -> Tensor:
    """Continue each prompt row of a GPT by up to max_new_tokens tokens.

    Args:
        model: a GPT (any model with `config.block_size`, `config.n_layer` and
            `forward(idx, cache=)`). Runs under no_grad, in eval mode (restored after).
        idx: prompt ids, Tensor/array/list, (B, T) or (T,). Longer than block_size: the
            model sees the last block_size tokens (the output keeps the whole prompt).
            Empty (T = 0): generation starts from `start_token`, which is kept.
        temperature: > 0 scales the logits; 0 means greedy; < 0 is a ValueError.
        top_k, top_p: keep the k most likely tokens / the nucleus of mass p (in (0, 1],
            else ValueError); applied in that order, after the temperature.
        greedy: argmax instead of sampling (temperature, top_k, top_p are then unused).
        no_repeat_ngram_size: ban tokens that would repeat an n-gram of the row.
        stop_tokens: id or ids; a row stops after sampling one (it is kept in the output).
        stop_strings: a row stops once its decoded continuation contains one (needs
            `tokenizer`); the ids keep the token that completed it (`generate_text`
            trims the text).
        pad_id: fills rows that stopped while others go on (default: the first stop
            token, else 0).
        use_cache: KV cache (same tokens, O(T) instead of O(T²) work per token).
        captured: with the cache, replay the captured model step (`tinytx.capture`;
            the same tokens, less Python per token).
        rng: numpy Generator, int seed, or None; seeded runs are repeatable.
    Shapes: idx (B, T) -> int64 Tensor (B, T + n) on the model's device, n <= max_new_tokens

        >>> import tinytx as tx
        >>> from tinytx.models import GPT, GPTConfig
        >>> m = GPT(GPTConfig(block_size=4, vocab_size=7, n_layer=1, n_head=1, n_embd=4))
        >>> generate(m, [[1], [2]], 6, greedy=True).shape   # past block_size: cropped
        (2, 7)
    """
    check_count(max_new_tokens, "max_new_tokens")
    opts = sampling_options(temperature, top_k, top_p, greedy, no_repeat_ngram_size,
                            stop_tokens, stop_strings, tokenizer, pad_id, rng)
    ids = as_id_rows(idx)
    if ids.shape[1] == 0:
        ids = np.full((len(ids), 1), start_token, dtype=np.int64)
    with inference(model):
        out = sample_loop(gpt_stepper(model, use_cache, captured), ids, max_new_tokens,
                          **opts)
    return Tensor(out, device=model_device(model))


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int, **kwargs) -> str:
    """`generate` from a text prompt -> the continuation as text, cut before the first
    stop token and the first stop string (neither is in the returned text).

        >>> from tinytx.tokenizer import BasicTokenizer
        >>> from tinytx.models import GPT, GPTConfig
        >>> m = GPT(GPTConfig(block_size=8, vocab_size=256, n_layer=1, n_head=1, n_embd=4))
        >>> isinstance(generate_text(m, BasicTokenizer(), "Don", 5, rng=0), str)
        True
    """
    ids = tokenizer.encode(prompt, allowed_special="all")
    out = generate(model, ids, max_new_tokens, tokenizer=tokenizer, **kwargs).tolist()[0]
    new = out[max(len(ids), 1):]
    stops = kwargs.get("stop_tokens")
    stops = {stops} if isinstance(stops, (int, np.integer)) else set(stops or ())
    new = new[:next((i for i, t in enumerate(new) if t in stops), len(new))]
    text = tokenizer.decode(new)
    strings = kwargs.get("stop_strings") or ()
    cut = [text.find(s) for s in ([strings] if isinstance(strings, str) else strings)]
    return text[:min([c for c in cut if c >= 0], default=len(text))]


def generate_seq2seq(model, src, src_mask, bos_id: int, eos_id: int | None,
                     max_new_tokens: int, **kwargs) -> Tensor:
    """Sample target sentences from a Seq2Seq model, one per source row.

    The source is encoded once; the decoder starts from bos_id and a row stops at eos_id
    (kept in the output), or at any of `stop_tokens`. The other keyword arguments are
    those of `generate` (temperature, top_k, top_p, greedy, ..., use_cache, captured, rng);
    pad_id defaults to the model's config.pad_id. The decoder's context is limited to
    config.block_size positions and cropped like GPT's.
    Args: src (B, S) ids; src_mask (B, S) bool "may attend" (True at real tokens) or None.
    Shapes: -> int64 Tensor (B, 1 + n): bos, then the generated tokens

        >>> from tinytx.models import Seq2Seq, Seq2SeqConfig
        >>> m = Seq2Seq(Seq2SeqConfig(vocab_size=9, n_embd=8, n_head=2, n_encoder_layer=1,
        ...                           n_decoder_layer=1, dropout=0.0))
        >>> generate_seq2seq(m, [[3, 4, 5]], None, 1, 2, 4, greedy=True).shape[0]
        1
    """
    check_count(max_new_tokens, "max_new_tokens")
    kwargs.setdefault("pad_id", model.config.pad_id)
    use_cache, captured = kwargs.pop("use_cache", True), kwargs.pop("captured", True)
    stops = kwargs.pop("stop_tokens", None)
    stops = [stops] if isinstance(stops, (int, np.integer)) else list(stops or ())
    opts = sampling_options(stop_tokens=([] if eos_id is None else [eos_id]) + stops,
                            **kwargs)
    with inference(model):
        memory, mask = encode_source(model, src, src_mask)
        ids = np.full((memory.shape[0], 1), bos_id, dtype=np.int64)
        out = sample_loop(seq2seq_stepper(model, memory, mask, use_cache, captured), ids,
                          max_new_tokens, **opts)
    return Tensor(out, device=model_device(model))
