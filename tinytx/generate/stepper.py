"""Running the model for generation: one next-token logits row per sequence and step.

Introduced in lesson 11 (docs/generation.md, "The KV cache"). `Stepper` is how generation
uses a cache (`tinytx.nn.kv_cache`): it feeds only the tokens not cached yet, and when
the context reaches the model's limit (block_size), where the uncached loop crops the
context and every position shifts, it empties the cache and refills it from the cropped
context, so cached and uncached generation give the same tokens. With a cache, the
model's step is captured (`tinytx.capture`): from the third step of one shape on, only
the ops' forwards run (docs/generation.md, "Capture and replay"). `gpt_stepper` and
`seq2seq_stepper` build one for a GPT and for a Seq2Seq decoder; `inference` is the
no_grad + eval-mode context every generation (and evaluation) runs in.

    >>> import tinytx as tx
    >>> from tinytx.models import GPT, GPTConfig
    >>> model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    >>> with inference(model):
    ...     gpt_stepper(model)(np.array([[1, 2, 3]])).shape
    (1, 11)
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

from ..capture import CaptureError, capture
from ..nn.kv_cache import KVCache
from ..tensor import Tensor, no_grad


def as_id_rows(idx, name: str = "idx") -> np.ndarray:
    """Token ids as a Tensor, array or list, (B, T) or (T,) -> host int64 (B, T)."""
    arr = idx.numpy() if isinstance(idx, Tensor) else np.asarray(idx)
    arr = arr[None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{name}: expected integer token ids shaped (B, T) or (T,), got "
                         f"dtype {arr.dtype} and shape {arr.shape}")
    return arr.astype(np.int64)


class Stepper:
    """Next-token logits for a batch of growing sequences.

    Without a cache each call runs the model on the last `limit` tokens (the crop every
    uncached loop does). With one, it feeds only the tokens not yet cached; when they
    would not fit (the context has reached `limit`), it empties the cache and refills it
    from the cropped context, so the positions and logits are those of the uncached crop.
    Args:
        forward: (ids Tensor (B, T), cache or None) -> logits Tensor (B, T, V).
        limit: the longest context (the model's block_size).
        device: the model's device; cache: a KVCache or None.
        captured: with a cache, replay the model's step (`tinytx.capture`); the tokens
            are the same either way.
    Shapes: __call__(ids host (B, T_all)) -> host float64 (B, V)
    """

    def __init__(self, forward, limit: int, device, cache: KVCache | None,
                 captured: bool = True):
        self.model_forward, self.limit, self.device = forward, limit, device
        self.captured = captured
        self.cache = cache
        self.seen = 0                       # tokens of the sequences already in the cache

    @property
    def cache(self) -> KVCache | None:
        return self._cache

    @cache.setter
    def cache(self, cache: KVCache | None):
        """A new cache gets a new capture: the recorded ops write the cache they saw."""
        self._cache = cache
        self.forward = lambda ids: self.model_forward(ids, cache)   # (B, T) -> (B, T, V)
        if self.captured and cache is not None:
            self.forward = capture(self.forward)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        feed = ids[:, -self.limit:]                          # the uncached crop
        if self.cache is not None:
            new = ids.shape[1] - self.seen
            if self.cache.length and self.cache.length + new <= self.limit:
                feed = ids[:, self.seen:]                    # only the new tokens
            else:
                self.cache.reset()                           # first call, or full: refill
            self.seen = ids.shape[1]
        try:
            logits = self.forward(Tensor(feed, device=self.device))          # (B, T, V)
        except CaptureError as e:
            logits = self.uncaptured(ids, e)
        return self.device.to_host(logits.data[:, -1]).astype(np.float64)     # (B, V)

    def uncaptured(self, ids: np.ndarray, error: CaptureError):
        """The model's step cannot be captured (its forward reads a tensor into Python,
        ...): say so once and go on eagerly, refilling the cache (the refused run may
        have written some of its layers). -> logits (B, T, V)"""
        warnings.warn(f"generation runs uncaptured: {error}", stacklevel=3)
        self.captured = False
        self.cache = self.cache                              # an uncaptured forward
        self.cache.reset()
        return self.forward(Tensor(ids[:, -self.limit:], device=self.device))

    def reorder(self, rows: np.ndarray):
        """The sequences are now rows `rows` of the old batch (beam search)."""
        if self.cache is not None:
            self.cache.reorder(rows)


def model_device(model):
    """The device of the model's parameters."""
    return next(iter(model.parameters())).device


def gpt_stepper(model, use_cache: bool = True, captured: bool = True) -> Stepper:
    """A Stepper for a GPT: context limit block_size, a cache of n_layer layers."""
    c = model.config
    cache = KVCache(c.n_layer, capacity=c.block_size) if use_cache else None
    return Stepper(lambda ids, kv: model(ids, cache=kv, last_only=True)[0], c.block_size,
                   model_device(model), cache, captured)


def seq2seq_stepper(model, memory, src_mask, use_cache: bool = True,
                    captured: bool = True) -> Stepper:
    """A Stepper for a Seq2Seq (or T5) decoder over an encoded source (`encode_source`):
    context limit block_size, a cache of n_decoder_layer layers."""
    c = model.config
    cache = KVCache(c.n_decoder_layer, capacity=c.block_size) if use_cache else None
    return Stepper(lambda ids, kv: model.decode(ids, memory, src_mask, cache=kv),
                   c.block_size, model_device(model), cache, captured)


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
