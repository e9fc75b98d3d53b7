"""Sampling from a language model: logits processing and the generation loop.

Introduced in lesson 10 (sampling the GPT trained on Don Quixote: temperature and top-k,
as in the report's results; docs/generation.md). One step of generation:

    logits of the last position (B, V) -> /temperature -> top-k -> top-p
        -> softmax -> draw one token per row (or argmax: greedy) -> append, repeat

The logits processors are small pure functions on host (NumPy) arrays, so each can be
tested on hand-built logits. The loop runs the model through a `Stepper`, which feeds only
the new token when a KV cache is used (tinytx/nn/kv_cache.py) and the whole (cropped)
context otherwise; both give the same tokens. Sampling happens on the host: one (B, V)
row per step is copied there, and a seeded `numpy.random.Generator` makes it repeatable.

    >>> import tinytx as tx
    >>> from tinytx.models import GPT, GPTConfig
    >>> model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    >>> generate(model, [1, 2, 3], 5, top_k=4, rng=0).shape
    (1, 8)
"""
from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

from ..nn.kv_cache import KVCache, Stepper
from ..tensor import Tensor, no_grad

# -- logits processors: pure functions on host arrays (..., V) ---------------------------


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """logits / temperature: below 1 sharpens the distribution, above 1 flattens it.

    Args:
        temperature: > 0. (0 is not a temperature: `generate` reads temperature=0 as
            greedy decoding, the limit T -> 0; here it is an error, like T < 0.)
    Shapes: (..., V) -> (..., V)

        >>> apply_temperature(np.array([2.0, 4.0]), 2.0).tolist()
        [1.0, 2.0]
    """
    check_temperature(temperature)
    if temperature == 0:
        raise ValueError("temperature: 0 means greedy decoding (argmax); apply_temperature "
                         "needs a temperature > 0")
    return logits / temperature


def top_k_filter(logits: np.ndarray, k: int | None) -> np.ndarray:
    """Keep exactly the k largest logits of each row; the others become -inf.

    Ties at the k-th place go to the lower token id, so exactly k survive (nanoGPT keeps
    every token tied with the k-th, which can be more). k larger than the vocabulary is
    clamped to it (nothing is removed); None keeps everything.
    Shapes: (..., V) -> (..., V)

        >>> top_k_filter(np.array([1.0, 3.0, 2.0, 3.0]), 2).tolist()
        [-inf, 3.0, -inf, 3.0]
    """
    if k is None:
        return logits.copy()
    check_top_k(k)
    if k >= logits.shape[-1]:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")        # best first, ties by id
    drop = np.ones(logits.shape, dtype=bool)
    np.put_along_axis(drop, order[..., :k], False, axis=-1)
    return np.where(drop, -np.inf, logits)


def top_p_filter(logits: np.ndarray, p: float | None) -> np.ndarray:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probabilities
    sum to at least p; the others become -inf. The most likely token is always kept.

    A token is kept when the probability of the tokens ranked above it is below p. Ties
    are ranked by token id (lower first); p = 1 (or None) keeps everything.
    Args:
        p: in (0, 1]; anything else is a ValueError.
    Shapes: (..., V) -> (..., V)

        >>> top_p_filter(np.log(np.array([0.5, 0.2, 0.3])), 0.7).round(2).tolist()
        [-0.69, -inf, -1.2]
    """
    if p is None:
        return logits.copy()
    check_top_p(p)
    if p == 1:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")
    probs = np.take_along_axis(softmax(logits), order, axis=-1)   # sorted, best first
    above = np.cumsum(probs, axis=-1) - probs                  # mass ranked above each
    drop = np.empty(logits.shape, dtype=bool)
    np.put_along_axis(drop, order, above >= p, axis=-1)
    return np.where(drop, -np.inf, logits)


def no_repeat_ngram_mask(ids: np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    """Which next tokens would repeat an n-gram already in the sequence (prompt included).

    The next token t is banned for row b when (last n-1 tokens of b, t) occurs in b.
    n = 0 bans nothing; n = 1 bans every token already present.
    Shapes: ids (B, T) int -> bool (B, V), True = banned

        >>> no_repeat_ngram_mask(np.array([[1, 2, 3, 1]]), 2, 5)[0].astype(int).tolist()
        [0, 0, 1, 0, 0]
    """
    B, T = ids.shape
    banned = np.zeros((B, vocab_size), dtype=bool)
    if n <= 0 or T < n:
        return banned
    grams = np.lib.stride_tricks.sliding_window_view(ids, n, axis=1)   # (B, T-n+1, n)
    prefix = ids[:, T - n + 1:]                                        # (B, n-1)
    hit = (grams[:, :, :n - 1] == prefix[:, None, :]).all(axis=-1)     # (B, T-n+1)
    rows, at = np.nonzero(hit)
    banned[rows, grams[rows, at, n - 1]] = True
    return banned


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of host logits; -inf entries get probability 0."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of host logits (log-probabilities)."""
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))


def sample_next(logits: np.ndarray, rng: np.random.Generator | None = None, *,
                temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, greedy: bool = False) -> np.ndarray:
    """One token per row: argmax if greedy (or temperature == 0), else a draw from
    softmax(top_p(top_k(logits / temperature))) by inverse CDF with one uniform per row.

    Shapes: logits (B, V) -> int64 (B,)

        >>> sample_next(np.array([[0.0, 5.0, 1.0]]), greedy=True).tolist()
        [1]
    """
    if not np.isfinite(logits.max(axis=-1)).all():
        raise ValueError("logits: a row has no finite logit (every token banned or NaN)")
    if greedy or temperature == 0:
        return logits.argmax(axis=-1).astype(np.int64)
    z = top_p_filter(top_k_filter(apply_temperature(logits, temperature), top_k), top_p)
    probs = softmax(z)
    cdf = np.cumsum(probs, axis=-1)
    u = make_rng(rng).random(len(probs)) * cdf[:, -1]          # uniform in [0, total)
    ids = (cdf <= u[:, None]).sum(axis=-1)                     # tokens whose cdf <= u
    last = probs.shape[-1] - 1 - (probs[:, ::-1] > 0).argmax(axis=-1)   # last kept id
    return np.minimum(ids, last).astype(np.int64)


# -- argument checks ----------------------------------------------------------------------

def check_temperature(temperature):
    if not isinstance(temperature, numbers.Real) or math.isnan(temperature) or temperature < 0:
        raise ValueError(f"temperature: expected a number >= 0 (0 = greedy), got "
                         f"{temperature!r}")


def check_top_k(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k: expected an int >= 1 or None, got {k!r}")


def check_top_p(p):
    if not isinstance(p, numbers.Real) or not 0 < p <= 1:
        raise ValueError(f"top_p: expected a number in (0, 1] or None, got {p!r}")


def check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {value!r}")


def make_rng(rng) -> np.random.Generator:
    """A Generator from a Generator (used as is), an int seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng: expected a numpy.random.Generator, an int seed or None, got "
                    f"{type(rng).__name__}")


def as_id_rows(idx, name: str = "idx") -> np.ndarray:
    """Token ids as a Tensor, array or list, (B, T) or (T,) -> host int64 (B, T)."""
    arr = idx.numpy() if isinstance(idx, Tensor) else np.asarray(idx)
    arr = arr[None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{name}: expected integer token ids shaped (B, T) or (T,), got "
                         f"dtype {arr.dtype} and shape {arr.shape}")
    return arr.astype(np.int64)


# -- running the model: with or without a KV cache ----------------------------------------

def model_device(model):
    return next(iter(model.parameters())).device


def gpt_stepper(model, use_cache: bool = True) -> Stepper:
    c = model.config
    cache = KVCache(c.n_layer, capacity=c.block_size) if use_cache else None
    return Stepper(lambda ids, kv: model(ids, cache=kv)[0], c.block_size,
                   model_device(model), cache)


def seq2seq_stepper(model, memory, src_mask, use_cache: bool = True) -> Stepper:
    c = model.config
    cache = KVCache(c.n_decoder_layer, capacity=c.max_len) if use_cache else None
    return Stepper(lambda ids, kv: model.decode(ids, memory, src_mask, cache=kv),
                   c.max_len, model_device(model), cache)


@contextlib.contextmanager
def inference(model):
    """no_grad, and every module in eval mode (no dropout); the modes are restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        for m, training in modes:
            m.training = training


def encode_source(model, src, src_mask):
    """Seq2Seq: src ids (B, S) and "may attend" mask (B, S) (or None) -> the
    memory (B, S, C) and the mask as device Tensors. Call under `inference(model)`."""
    dev = model_device(model)
    src = Tensor(as_id_rows(src, "src"), device=dev)
    if src_mask is not None:
        mask = src_mask.numpy() if isinstance(src_mask, Tensor) else np.asarray(src_mask)
        if mask.dtype != bool or mask.shape != src.shape:
            raise ValueError(f"src_mask: expected bool {src.shape} (True at real tokens), "
                             f"got dtype {mask.dtype} and shape {mask.shape}")
        src_mask = Tensor(mask, device=dev)
    return model.encode(src, src_mask), src_mask


# -- the loop -----------------------------------------------------------------------------

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
    T0, done = ids.shape[1], np.zeros(len(ids), dtype=bool)
    for _ in range(max_new_tokens):
        logits = step(ids)                                   # (B, V)
        if no_repeat_ngram_size:
            logits[no_repeat_ngram_mask(ids, no_repeat_ngram_size, logits.shape[1])] = -np.inf
        logits[done] = 0                                     # finished rows: anything goes
        nxt = sample_next(logits, rng, temperature=temperature, top_k=top_k, top_p=top_p,
                          greedy=greedy)
        nxt[done] = pad_id
        ids = np.concatenate([ids, nxt[:, None]], axis=1)    # (B, T) -> (B, T + 1)
        done |= np.isin(nxt, stop_tokens)
        for b in np.flatnonzero(~done) if stop_strings else ():
            text = tokenizer.decode(ids[b, T0:].tolist())
            done[b] = any(s in text for s in stop_strings)
        if done.all():
            break
    return ids


def generate(model, idx, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
             no_repeat_ngram_size: int = 0, stop_tokens=None, stop_strings=None,
             tokenizer=None, start_token: int = 0, pad_id: int | None = None,
             use_cache: bool = True, rng=None) -> Tensor:
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
        out = sample_loop(gpt_stepper(model, use_cache), ids, max_new_tokens, **opts)
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
    those of `generate` (temperature, top_k, top_p, greedy, ..., use_cache, rng);
    pad_id defaults to the model's config.pad_id. The decoder's context is limited to
    config.max_len positions and cropped like GPT's.
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
    use_cache = kwargs.pop("use_cache", True)
    stops = kwargs.pop("stop_tokens", None)
    stops = [stops] if isinstance(stops, (int, np.integer)) else list(stops or ())
    opts = sampling_options(stop_tokens=([] if eos_id is None else [eos_id]) + stops,
                            **kwargs)
    with inference(model):
        memory, mask = encode_source(model, src, src_mask)
        ids = np.full((memory.shape[0], 1), bos_id, dtype=np.int64)
        out = sample_loop(seq2seq_stepper(model, memory, mask, use_cache), ids,
                          max_new_tokens, **opts)
    return Tensor(out, device=model_device(model))
