"""Our answers to lesson 12's exercises (lessons/exercises/encoder_decoder.py)."""
import numpy as np

import tinytx as tx


def teacher_forcing(targets, bos_id, eos_id, pad_id):
    T = max(len(t) for t in targets) + 1
    tgt_in = np.full((len(targets), T), pad_id, dtype=np.int64)
    tgt_out = np.full((len(targets), T), pad_id, dtype=np.int64)
    for b, t in enumerate(targets):
        tgt_in[b, :len(t) + 1] = [bos_id, *t]
        tgt_out[b, :len(t) + 1] = [*t, eos_id]
    tgt_mask = np.arange(T)[None, :] < np.array([len(t) + 1 for t in targets])[:, None]
    return tgt_in, tgt_out, tgt_mask


def greedy_decode(model, src, bos_id, eos_id, max_new_tokens):
    memory = model.encode(tx.tensor([src]))                    # (1, S, C), once
    ids = [bos_id]
    for _ in range(max_new_tokens):
        logits = model.decode(tx.tensor([ids]), memory)        # (1, t, V)
        ids.append(int(logits.numpy()[0, -1].argmax()))
        if ids[-1] == eos_id:
            break
    return ids


def beam_decode(model, src, bos_id, beam_width, max_new_tokens):
    memory = model.encode(tx.tensor([src]))                    # (1, S, C), once
    beams = [(0.0, [bos_id])]                                  # (score, ids), best first
    for _ in range(max_new_tokens):
        candidates = []
        for score, ids in beams:
            z = model.decode(tx.tensor([ids]), memory).numpy()[0, -1].astype(np.float64)
            logp = z - z.max() - np.log(np.exp(z - z.max()).sum())      # (V,) log-softmax
            candidates += [(score + logp[tok], ids + [tok]) for tok in range(len(logp))]
        beams = sorted(candidates, key=lambda c: -c[0])[:beam_width]
    score, ids = beams[0]
    return ids, float(score)
