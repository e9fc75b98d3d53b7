"""Our answers to lesson 11's exercises (lessons/exercises/gpt_quixote.py)."""
import numpy as np

import tinytx as tx
import tinytx.functional as F


def xy_batch(ids, starts, block_size):
    window = np.asarray(starts)[:, None] + np.arange(block_size + 1)   # (B, T + 1)
    xy = np.asarray(ids)[window]
    return xy[:, :-1], xy[:, 1:]                                       # X, Y: (B, T) each


def gpt_forward(model, idx, targets):
    tr, (B, T) = model.transformer, idx.shape
    x = tr.wte.weight[idx] + tr.wpe.weight[:T]                         # (B, T, C)
    for block in tr.h:
        x = block(x)
    logits = tr.ln_f(x) @ tr.wte.weight.T                              # (B, T, V)
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))
    return logits, loss


def top_k_filter(logits, k):
    kth = np.sort(logits, axis=-1)[..., -k, None]                      # (..., 1)
    return np.where(logits < kth, -np.inf, logits)


def top_p_filter(logits, p):
    order = np.argsort(-logits, axis=-1)                               # best first
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = np.take_along_axis(z / z.sum(axis=-1, keepdims=True), order, axis=-1)
    above = np.cumsum(probs, axis=-1) - probs                          # mass ranked above
    drop = np.empty(logits.shape, dtype=bool)
    np.put_along_axis(drop, order, above >= p, axis=-1)
    return np.where(drop, -np.inf, logits)


def sample(model, ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None, rng=None):
    ids = list(ids)
    for _ in range(max_new_tokens):
        context = tx.tensor([ids[-model.config.block_size:]])          # (1, T)
        with tx.no_grad():
            logits, _ = model(context)
        z = logits.numpy()[0, -1] / temperature                        # (V,)
        if top_k is not None:
            z = top_k_filter(z, top_k)
        if top_p is not None:
            z = top_p_filter(z, top_p)
        p = np.exp(z - z.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids


def cached_attention(q, k, v, cache):
    K, V = (k, v) if cache is None else (np.concatenate([cache[0], k], axis=2),
                                         np.concatenate([cache[1], v], axis=2))
    scores = q @ K.swapaxes(-1, -2) / np.sqrt(q.shape[-1])             # (B, H, 1, T + 1)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True) @ V, (K, V)
