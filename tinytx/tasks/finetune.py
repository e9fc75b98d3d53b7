"""Finetuning a pretrained model: loading it, cutting the new data, measuring before/after.

Introduced in lesson 13 and used by examples/finetune.py (the report's §7.1 recipe). Two
kinds of pretrained model, told apart by `model_type` in the folder's config.json:

    gpt2   a causal LM on a text: the text is cut into 1024-character chunks, each chunk
           one training sequence (x = ids[:-1], y = ids[1:], cropped to block_size)
    t5     an encoder-decoder on text pairs: source = task prefix + source text,
           target = target text + </s>; the decoder starts from token 0

A tinytx checkpoint (lesson 11's GPT, or a run of examples/finetune.py) works as well as
a Hugging Face folder. Batches depend only on the generator passed in, so the Trainer's
exact resume works; chunks of different lengths in one micro-batch are padded on the
right, their targets set to -100 (left out of the loss).

    >>> chunks = text_chunks("abcdefghij", 4)
    >>> chunks
    ['abcd', 'efgh', 'ij']
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..checkpoint import load_gpt2, load_model, load_t5, load_t5_tokenizer
from ..data.pairs import collate_pairs
from ..files import read_json
from ..generate import inference
from ..models.t5 import T5
from ..tensor import tensor
from ..tokenizer import load_gpt2_tokenizer
from ..train.trainer import lm_loss
from .seq2seq import seq2seq_loss

IGNORE = -100          # target id left out of the loss (fused.cross_entropy's default)


def text_chunks(text: str, chunk_chars: int = 1024) -> list[str]:
    """Consecutive pieces of chunk_chars characters (the last may be shorter)."""
    if isinstance(chunk_chars, bool) or not isinstance(chunk_chars, int) or chunk_chars < 2:
        raise ValueError(f"chunk_chars: expected an int >= 2, got {chunk_chars!r}")
    return [text[i:i + chunk_chars] for i in range(0, len(text), chunk_chars)]


def encode_chunks(tok, chunks, block_size: int) -> list[np.ndarray]:
    """Token ids of each chunk; a chunk longer than block_size + 1 tokens (a model with a
    short context) is cut into windows of block_size + 1 that overlap by one token, so
    every token is a target once. Pieces of fewer than two tokens are dropped.

        >>> from tinytx.tokenizer import BasicTokenizer
        >>> [w.tolist() for w in encode_chunks(BasicTokenizer(), ["abcde"], 2)]
        [[97, 98, 99], [99, 100, 101]]
    """
    out = []
    for chunk in chunks:
        ids = np.asarray(tok.encode(chunk), dtype=np.int64)
        out += [ids[i:i + block_size + 1] for i in range(0, max(len(ids) - 1, 1), block_size)]
    return [ids for ids in out if len(ids) >= 2]


def pad_lm_batch(rows, device=None):
    """(x, y) from token-id rows of different lengths: x padded with 0, y with -100.
    Shapes: rows [(n_i,)] -> x, y (B, max n_i - 1) int64"""
    T = max(len(r) for r in rows) - 1
    x = np.zeros((len(rows), T), dtype=np.int64)
    y = np.full((len(rows), T), IGNORE, dtype=np.int64)
    for b, r in enumerate(rows):
        x[b, :len(r) - 1], y[b, :len(r) - 1] = r[:-1], r[1:]
    return tensor(x, device=device), tensor(y, device=device)


def random_chunk_batch(encoded, batch_size: int, rng: np.random.Generator, device=None):
    """batch_size chunks drawn at random (with replacement), padded: (x, y)."""
    if not encoded:
        raise ValueError("encoded: expected at least one encoded chunk, got none")
    return pad_lm_batch([encoded[i] for i in rng.integers(0, len(encoded), batch_size)],
                        device)


def lm_held_out(model, encoded, tok, device=None, batch_size: int = 4):
    """(nats per token, bits per byte) of a GPT over every target of every chunk; the
    bytes are those of the predicted tokens (each chunk's first token is not predicted)."""
    nats = count = n_bytes = 0
    with inference(model):
        for i in range(0, len(encoded), batch_size):
            rows = encoded[i:i + batch_size]
            x, y = pad_lm_batch(rows, device)
            n = sum(len(r) - 1 for r in rows)
            nats += model(x, y)[1].item() * n
            count += n
            n_bytes += sum(len(tok.decode(r[1:].tolist()).encode()) for r in rows)
    return nats / count, nats / math.log(2) / n_bytes


def encode_prefixed_pairs(tok, pairs, prefix: str, max_len: int, start_id: int = 0,
                          eos_id: int = 1):
    """T5 pairs: (ids of prefix + source, [start] + ids of target + [eos]), each side
    cropped to max_len tokens, in the (src, [BOS] tgt [EOS]) form collate_pairs expects."""
    out = []
    for src, tgt in pairs:
        s = tok.encode(prefix + src)[:max_len - 1] + [eos_id]
        t = tok.encode(tgt)[:max_len - 1]
        out.append((s, [start_id] + t + [eos_id]))
    return out


def pairs_held_out(model, encoded, tok, pad_id: int = 0, batch_size: int = 8, device=None):
    """(nats per target token, bits per byte of the target texts) of a T5 over every pair
    (</s> included in the tokens; the bytes are those of the decoded targets)."""
    nats = count = n_bytes = 0
    with inference(model):
        for i in range(0, len(encoded), batch_size):
            rows = encoded[i:i + batch_size]
            b = collate_pairs(rows, pad_id, device)
            n = int((b.tgt_out.numpy() != pad_id).sum())
            nats += seq2seq_loss(model, b).item() * n
            count += n
            n_bytes += sum(len(tok.decode(t[1:]).encode()) + 1 for _, t in rows)  # +1: </s>
    return nats / count, nats / math.log(2) / n_bytes


# -- loading the pretrained model ---------------------------------------------------------------

def model_type(path) -> str:
    """"gpt2", "t5" (a Hugging Face folder's config.json) or "tinytx" (a checkpoint)."""
    path = Path(path)
    config = (path if path.is_dir() else path.parent) / "config.json"
    if path.is_dir() and config.is_file():
        kind = read_json(config, "a Hugging Face config.json").get("model_type")
        if kind in ("gpt2", "t5"):
            return kind
        raise ValueError(f"--model: {config} has model_type {kind!r}; expected 'gpt2' or "
                         f"'t5'")
    if path.with_name(path.name + ".json").is_file() or path.suffix == ".json":
        return "tinytx"
    raise FileNotFoundError(f"--model: expected a Hugging Face folder with config.json or a "
                            f"tinytx checkpoint prefix (NAME.json + NAME.safetensors), got "
                            f"{str(path)!r}")


def load_pretrained(path, dropout: float = 0.1):
    """(kind, model, tokenizer) for a GPT-2 or T5 folder, or a tinytx GPT checkpoint.

    A checkpoint's JSON names the tokenizer: a tinytx .model file, or a Hugging Face
    folder (a checkpoint written by examples/finetune.py from a GPT-2 or T5 folder).
    """
    kind = model_type(path)
    if kind == "gpt2":
        return kind, load_gpt2(path, dropout=dropout), load_gpt2_tokenizer(path)
    if kind == "t5":
        return kind, load_t5(path, dropout=dropout), load_t5_tokenizer(path)
    return load_tinytx(path, dropout)


def load_tinytx(path, dropout: float = 0.1):
    """(kind, model, tokenizer) from a tinytx checkpoint (tinytx.checkpoint.model): kind
    "t5" for a T5, "gpt2" for a GPT with GPT-2's tokenizer (loaded from its Hugging Face
    folder, which it remembers as `.folder`), "gpt" for tinytx's own GPT."""
    model, tok = load_model(path, dropout=dropout)
    if isinstance(model, T5):
        return "t5", model, tok
    return ("gpt2" if getattr(tok, "folder", None) else "gpt"), model, tok


def loss_for(kind):
    """The Trainer's loss function: pair batches for T5, (x, y) batches for a GPT."""
    return seq2seq_loss if kind == "t5" else lm_loss
