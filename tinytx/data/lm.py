"""Language-model data: a contiguous split, a token cache, random windows, eval windows.

Introduced in lesson 11 (report eq. 1–3; `train_val_split` in lesson 01). A language model
learns p(x_t | x_<t): from a window of block_size + 1 consecutive tokens, the input is the
first block_size tokens and the target the same window shifted by one, so position t is
trained to predict token t+1:

    ids  ... 17 42  5 99 23 ...
    x        17 42  5 99          (B, T)
    y           42  5 99 23       (B, T)   y[:, t] = x[:, t + 1]

The held-out split is the *end* of the book, not a random sample of windows: windows
drawn from the same stretch of text would overlap the training windows and flatter the
validation loss.

    >>> import numpy as np
    >>> ids = np.arange(20)
    >>> train, val = train_val_split(ids, val_frac=0.1)
    >>> len(train), len(val)
    (18, 2)
    >>> x, y = get_batch(train, batch_size=2, block_size=4, rng=np.random.default_rng(0))
    >>> x.shape, bool((x.numpy()[:, 1:] == y.numpy()[:, :-1]).all())
    ((2, 4), True)
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..files import atomic_write, atomic_write_text
from ..tensor import Tensor, tensor


def train_val_split(seq, val_frac: float = 0.1):
    """Split a sequence contiguously: the first (1 - val_frac) to train, the rest held out.

    Works on anything that slices (a NumPy array of ids, a list of sentence pairs, a str).

    Args:
        seq: the sequence.
        val_frac: the held-out fraction, 0 <= val_frac < 1 (rounded to whole items).
    Returns:
        (train, val), slices of `seq`.

    >>> train_val_split(list(range(10)), 0.2)
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    if not isinstance(val_frac, (int, float)) or isinstance(val_frac, bool) \
            or not 0 <= val_frac < 1:
        raise ValueError(f"val_frac: expected a number in [0, 1), got {val_frac!r}")
    n_train = len(seq) - int(round(len(seq) * val_frac))
    return seq[:n_train], seq[n_train:]


def shuffled_split(items, seed: int, val_frac: float = 0.1):
    """train_val_split of the items in a random order drawn from `seed`: for a file of
    pairs, which is often sorted (by length, by source), so that the held-out pairs do not
    all come from its end.

    >>> shuffled_split(list(range(10)), seed=0, val_frac=0.2)[1]
    [8, 1]
    """
    order = np.random.default_rng(seed).permutation(len(items))
    return train_val_split([items[i] for i in order], val_frac)


def text_record(text: str) -> dict:
    """What a checkpoint records of the text a model was trained on (a resumed run is
    compared with it: `tinytx.train.check_resume`): its SHA-256 and length.

    >>> text_record("abc")["characters"]
    3
    """
    return {"sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            "characters": len(text)}


# ---------------------------------------------------------------------------------------
# Token cache
# ---------------------------------------------------------------------------------------

def tokenizer_fingerprint(tokenizer) -> str:
    """SHA-256 of what a tokenizer's `.model` file holds: pattern, special tokens, merges."""
    h = hashlib.sha256(f"{type(tokenizer).__name__}\n{tokenizer.pattern}\n".encode())
    h.update(json.dumps(sorted(tokenizer.special_tokens.items())).encode())
    h.update(np.asarray(list(tokenizer.merges), dtype=np.int64).tobytes())
    return h.hexdigest()


def encode_cached(tokenizer, text: str, cache_path, allowed_special="none_raise") -> np.ndarray:
    """`tokenizer.encode(text)` as a NumPy array, cached in `cache_path` (a .npy file).

    Beside the .npy goes `<cache_path>.json` with the SHA-256 of the text and of the
    tokenizer (pattern, specials, merges): a changed text or tokenizer re-encodes. Both
    files are written atomically (temporary file, then rename), the .npy first, so a crash
    leaves either the old pair or a mismatch that re-encodes. Keep the cache next to the
    tokenizer, e.g. `quixote.ids.npy` beside `quixote.model`.

    Args:
        tokenizer: a trained `tinytx.tokenizer` tokenizer.
        text: the text to encode.
        cache_path: the .npy file (its folder is created if missing).
        allowed_special: passed to `tokenizer.encode`.
    Returns:
        ids, 1-D, dtype uint16 when every id fits (vocabulary ≤ 65536 ids) else int32.

    >>> import os, tempfile
    >>> from tinytx.tokenizer import RegexTokenizer
    >>> tok = RegexTokenizer(); tok.train("la mancha la mancha", 260)
    >>> p = os.path.join(tempfile.mkdtemp(), "toy.ids.npy")
    >>> encode_cached(tok, "la mancha", p).dtype
    dtype('uint16')
    """
    cache_path = Path(cache_path)
    key = {"text_sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
           "tokenizer_sha256": tokenizer_fingerprint(tokenizer),
           "allowed_special": _jsonable(allowed_special)}
    meta_path = cache_path.with_name(cache_path.name + ".json")
    cached = _read_cache(cache_path, meta_path, key)
    if cached is not None:
        return cached
    ids = tokenizer.encode(text, allowed_special=allowed_special)
    dtype = np.uint16 if max(tokenizer.vocab) <= np.iinfo(np.uint16).max else np.int32
    ids = np.asarray(ids, dtype=dtype)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(cache_path, lambda tmp: _save_ids(tmp, ids))
    meta = dict(key, n_tokens=len(ids), dtype=ids.dtype.name)
    atomic_write_text(meta_path, json.dumps(meta, indent=1))
    return ids


def _save_ids(path, ids):
    with open(path, "wb") as f:        # a file object: np.save(path) would add ".npy"
        np.save(f, ids, allow_pickle=False)


def _jsonable(allowed_special):
    return sorted(allowed_special) if isinstance(allowed_special, (set, frozenset, list,
                                                                   tuple)) else allowed_special


def _read_cache(cache_path, meta_path, key):
    """The cached ids when both files exist and match `key`, else None."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if any(meta.get(k) != v for k, v in key.items()):
            return None
        ids = np.load(cache_path, allow_pickle=False)
    except (OSError, ValueError):  # missing, unreadable or corrupt: encode again
        return None
    return ids if ids.ndim == 1 and len(ids) == meta.get("n_tokens") else None



# ---------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------

def get_batch(ids, batch_size: int, block_size: int, rng: np.random.Generator,
              device=None) -> tuple[Tensor, Tensor]:
    """Random windows for training: x and y = x shifted by one token (report eq. 1–3).

    Deterministic given `rng`: to resume a run exactly, save `rng.bit_generator.state` with
    the checkpoint and restore it before the next batch.

    Args:
        ids: 1-D array (or list) of token ids, at least block_size + 1 long.
        batch_size, block_size: B and T.
        rng: a `numpy.random.Generator` (`np.random.default_rng(seed)`).
        device: where the tensors go ("cpu", "cuda", a Device; None means cpu).
    Shapes:
        x (B, T) int64, y (B, T) int64 with y[:, t] = ids[start + t + 1].
    """
    ids = _check_ids(ids, block_size)
    _check_positive(batch_size=batch_size)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    starts = rng.integers(0, len(ids) - block_size, size=batch_size)
    window = starts[:, None] + np.arange(block_size + 1)       # (B, T + 1)
    xy = ids[window].astype(np.int64)
    return tensor(xy[:, :-1], device=device), tensor(xy[:, 1:], device=device)


def iter_windows(ids, batch_size: int, block_size: int, device=None, drop_last=False):
    """Consecutive non-overlapping windows for evaluation, in order: (x, y) batches.

    Window k is x = ids[kT : kT + T], y = ids[kT + 1 : kT + T + 1]; full windows come in
    batches of batch_size (the last batch may be smaller). Unless `drop_last`, the tokens
    left over after the full windows come last as one (1, r) batch, so every token after
    the first is a target exactly once: summing the loss over all batches gives the
    held-out negative log-likelihood, e.g. for bits per byte.

    Shapes:
        x (b, T) int64, y (b, T) int64 (the last one possibly (1, r), r < T).

    >>> import numpy as np
    >>> [y.tolist() for _, y in iter_windows(np.arange(8), batch_size=2, block_size=3)]
    [[[1, 2, 3], [4, 5, 6]], [[7]]]
    """
    ids = _check_ids(ids, block_size)
    _check_positive(batch_size=batch_size)
    n_windows = (len(ids) - 1) // block_size
    for first in range(0, n_windows, batch_size):
        k = np.arange(first, min(first + batch_size, n_windows))
        window = k[:, None] * block_size + np.arange(block_size + 1)   # (b, T + 1)
        xy = ids[window].astype(np.int64)
        yield tensor(xy[:, :-1], device=device), tensor(xy[:, 1:], device=device)
    tail = ids[n_windows * block_size:].astype(np.int64)
    if len(tail) > 1 and not drop_last:
        yield tensor(tail[None, :-1], device=device), tensor(tail[None, 1:], device=device)


def _check_positive(**values):
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")


def _check_ids(ids, block_size):
    _check_positive(block_size=block_size)
    if isinstance(ids, Tensor):
        ids = ids.numpy()
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids: expected a 1-D array of token ids, got shape {ids.shape}")
    if len(ids) < block_size + 1:
        raise ValueError(f"ids: expected at least block_size + 1 = {block_size + 1} tokens, "
                         f"got {len(ids)} (use a smaller block_size or more text)")
    if ids.dtype.kind not in "iu":
        raise ValueError(f"ids: expected integer token ids, got dtype {ids.dtype}")
    return ids
