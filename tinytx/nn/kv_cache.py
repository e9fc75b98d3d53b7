"""The key/value cache: what a decoder keeps from earlier steps so that each new token
costs one row of attention instead of a full pass over the context.

Introduced in lesson 11 (sampling from the GPT; docs/generation.md). A causal decoder's
keys and values at position t depend only on tokens 0..t, so once computed they never
change. Without a cache, generating token t+1 re-runs the model on all t tokens
(O(T²) attention per new token, O(T³) for a whole sample); with it, the model runs on the
one new token, appends its key and value to the cache, and its query attends to every
cached key (O(T) per new token).

One `LayerCache` per attention layer holds
    k, v     (B, H, T_cached, D)   keys and values of the tokens seen so far
    cross    (k, v) of the encoder memory, (B, H, S, D) each, for a decoder's
             cross-attention: the memory does not change while decoding, so it is
             projected once (Seq2Seq only; None for GPT)

Two ways to grow the arrays (`capacity`):
    None     concatenate the new keys onto the old ones each step: simple, but every step
             copies the whole cache (O(T) copying per token, on top of the O(T) attention)
    int      preallocate (B, H, capacity, D) on the first append and fill it in place;
             the step returns views of the filled part. Faster (no copy), and the model
             knows the bound anyway: the models pass their block_size.

The cache holds raw arrays, outside the autograd graph, so it may only be filled under
`tinytx.no_grad()`: with gradients on, `append` raises instead of silently cutting the
graph. `reorder(index)` picks rows (beam search keeps the cache rows of the beams that
survive a step).

Generation drives the cache through `tinytx.generate.stepper.Stepper`, which feeds only
the tokens not cached yet and refills the cache from the cropped context when the context
reaches the model's limit.

    >>> import tinytx as tx
    >>> from tinytx.models import GPT, GPTConfig
    >>> model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8))
    >>> cache = KVCache(n_layer=2, capacity=8)
    >>> with tx.no_grad():
    ...     _ = model(tx.tensor([[1, 2, 3]]), cache=cache)     # the prompt: 3 positions
    ...     logits, _ = model(tx.tensor([[4]]), cache=cache)   # one new token at position 3
    >>> cache.length, logits.shape
    (4, (1, 1, 11))
"""
from __future__ import annotations

from ..backend import device_of
from ..function import Function
from ..tensor import Tensor, is_grad_enabled


class CacheAppend(Function):
    """`LayerCache.store` as an op: (k, v) of the new positions -> all keys and values.
    It writes the cache's buffers in place and reads its length when it runs, so a
    captured step (`tinytx.capture`) replays the write at each step's position; it is
    `stateful` (its output grows every step), so no CUDA graph can hold it."""

    stateful = True

    def __init__(self, layer):
        self.layer = layer

    def forward(self, k, v):
        return self.layer.store(k, v)


class CachePositions(Function):
    """The positions of the new tokens, length .. length + T - 1, read from the cache when
    the op runs (an op for the same reason as CacheAppend). Shapes: idx (B, T) -> (T,)"""

    stateful, differentiable = True, False

    def __init__(self, layer):
        self.layer = layer

    def forward(self, idx):
        n = self.layer.length
        return self.xp.arange(n, n + idx.shape[1])


class LayerCache:
    """Keys and values of one attention layer (and its cross-attention's memory K/V).

    Args:
        capacity: preallocated length (block_size), or None to grow by concatenation.
    Shapes: append(k (B, H, T, D), v (B, H, T, D)) -> k, v (B, H, T_cached + T, D)

    The cache stores; the attention modules attend (`MultiHeadAttention`, T5's).
    """

    def __init__(self, capacity: int | None = None):
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity: expected a positive int or None, got {capacity}")
        self.capacity = capacity
        self.k = self.v = None          # arrays (B, H, capacity or T_cached, D)
        self.spare = None               # (k, v) buffers like k, v that reorder() fills
        self.length = 0                 # how many positions are filled
        self.cross = None               # (k, v) Tensors of the encoder memory, or None

    def append(self, k: Tensor, v: Tensor):
        """Add the new positions' keys and values; return all keys and values so far."""
        return CacheAppend(self)(k, v)        # under no_grad only: `store` checks

    def store(self, k, v):
        """`append` on raw arrays: -> all keys and values so far, (B, H, n, D) arrays
        (views of the preallocated buffers, or the grown arrays)."""
        if is_grad_enabled():
            raise RuntimeError("KVCache: the cache holds arrays outside the autograd graph; "
                               "use it under tinytx.no_grad() (generation), not in training")
        B, n = k.shape[0], self.length + k.shape[2]
        if self.k is not None and self.length and self.k.shape[0] != B:
            raise ValueError(f"KVCache: the cache holds {self.k.shape[0]} rows, the new keys "
                             f"have {B}; reorder() the cache or reset() it first")
        if self.capacity is None:                            # grow: copy the whole cache
            xp = device_of(k).xp
            self.k = k if not self.length else xp.concatenate([self.k, k], axis=2)
            self.v = v if not self.length else xp.concatenate([self.v, v], axis=2)
            self.length = n
            return self.k, self.v
        if n > self.capacity:
            raise ValueError(f"KVCache: {n} positions asked for, but capacity is "
                             f"{self.capacity}; reset() and refill from the cropped context")
        if self.k is None or self.k.shape[0] != B:            # first use: (B, H, capacity, D)
            self.k, self.v = _empty_rows(k, B, self.capacity), _empty_rows(v, B, self.capacity)
        self.k[:, :, self.length:n] = k
        self.v[:, :, self.length:n] = v
        self.length = n
        return self.k[:, :, :n], self.v[:, :, :n]                   # views: (B, H, n, D)

    def reorder(self, index):
        """Keep rows `index` (int array-like (B',), host or device) in that order. The
        preallocated buffers are not reallocated: the rows are copied into a spare pair
        of the same shape, which then becomes the cache (and the old pair the spare)."""
        if self.k is not None and self.length:
            n, index = self.length, device_of(self.k).asarray(index)
            if self.capacity is None:
                self.k, self.v = self.k[index], self.v[index]
            else:                                # copy the filled part only, not capacity
                if self.spare is None or self.spare[0].shape[0] != len(index):
                    self.spare = tuple(_empty_rows(a, len(index), self.capacity)
                                       for a in (self.k, self.v))
                k, v = self.spare
                k[:, :, :n], v[:, :, :n] = self.k[index, :, :n], self.v[index, :, :n]
                self.spare, self.k, self.v = (self.k, self.v), k, v
        if self.cross is not None:                   # the same Tensors, new rows: a
            for t in self.cross:                     # captured step reads their .data
                t.data = t.data[t.device.asarray(index)]

    def reset(self, keep_cross: bool = True):
        """Forget the cached positions (the memory's K/V stay unless keep_cross=False)."""
        self.length = 0
        if self.capacity is None:
            self.k = self.v = None
        if not keep_cross:
            self.cross = None


def _empty_rows(a, rows: int, capacity: int):
    """An uninitialised array like `a` (B, H, T, D) shaped (rows, H, capacity, D)."""
    return device_of(a).xp.empty((rows, a.shape[1], capacity, a.shape[3]), dtype=a.dtype)


class KVCache:
    """The caches of a whole model: one LayerCache per attention layer.

    Pass the same object to every forward of one generation (`model(idx, cache=cache)`);
    positions continue from `cache.length`.

    Args:
        n_layer: number of layers (GPT's n_layer, Seq2Seq's n_decoder_layer).
        capacity: preallocate this many positions (the model's block_size), or None to
            grow by concatenation.
    """

    def __init__(self, n_layer: int, capacity: int | None = None):
        if n_layer < 1:
            raise ValueError(f"n_layer: expected a positive int, got {n_layer}")
        self.capacity = capacity
        self.layers = [LayerCache(capacity) for _ in range(n_layer)]

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i) -> LayerCache:
        return self.layers[i]

    def positions(self, idx: Tensor) -> Tensor:
        """The positions of the new tokens idx (B, T) as an op: (T,) int64 from length."""
        return CachePositions(self.layers[0])(idx)

    @property
    def length(self) -> int:
        """How many positions are cached (the position of the next token)."""
        return self.layers[0].length

    def check(self, n_layer: int, where: str):
        """Raise if this cache was made for another number of layers."""
        if len(self.layers) != n_layer:
            raise ValueError(f"{where}: cache has {len(self.layers)} layers, expected "
                             f"{n_layer} (KVCache(n_layer={n_layer}, ...))")

    def reorder(self, index):
        """Keep batch rows `index` in every layer (beam search: the surviving beams)."""
        for layer in self.layers:
            layer.reorder(index)

    def reset(self, keep_cross: bool = True):
        """Empty every layer (e.g. to refill from a cropped context)."""
        for layer in self.layers:
            layer.reset(keep_cross)

    def __repr__(self):
        return f"KVCache(n_layer={len(self.layers)}, length={self.length}, " \
               f"capacity={self.capacity})"
