"""Wrong answers to the exercises that build the engine's later pieces: lesson 08's
block, lesson 11's GPT forward, sampler and KV cache step, lesson 12's beam search,
lesson 14's training step from micro-batches. Their checks must reject them
(tests/test_exercises.py); tagged "consistent" or "slip" as in wrong_answers_early.py.
"""
import numpy as np

import tinytx as tx
import tinytx.functional as F
from lessons.solutions import block, gpt_quixote
from wrong_answer import wrong


# -- 08 block ------------------------------------------------------------------------------
def block_with(x, w, n_head, post_ln=False, causal=True, mlp_ln="ln_2"):
    """GPT-2's block from its weights, or post-LN, or not causal, or a wrong LayerNorm."""
    B, T, C = x.shape

    def ln(name, h):
        return block.layer_norm(h, w[f"{name}.weight"], w[f"{name}.bias"])

    def attn(h):
        qkv = h @ w["attn.c_attn.weight"] + w["attn.c_attn.bias"]
        qkv = qkv.reshape(B, T, 3, n_head, C // n_head).permute(2, 0, 3, 1, 4)  # 3 (B,H,T,D)
        y = F.scaled_dot_product_attention(*qkv, is_causal=causal)
        return y.permute(0, 2, 1, 3).reshape(B, T, C) @ w["attn.c_proj.weight"] \
            + w["attn.c_proj.bias"]

    def mlp(h):
        return block.mlp(h, *(w[f"mlp.{n}"] for n in ("c_fc.weight", "c_fc.bias",
                                                      "c_proj.weight", "c_proj.bias")))
    if post_ln:
        return ln("ln_2", (x := ln("ln_1", x + attn(x))) + mlp(x))
    x = x + attn(ln("ln_1", x))
    return x + mlp(ln(mlp_ln, x))


@wrong("block", "block_forward", "consistent")
def block_post_ln(x, w, n_head):                           # the original paper's order
    return block_with(x, w, n_head, post_ln=True)


@wrong("block", "block_forward", "consistent")
def block_not_causal(x, w, n_head):                        # an encoder's block
    return block_with(x, w, n_head, causal=False)


@wrong("block", "block_forward", "slip")
def block_ln_1_twice(x, w, n_head):                        # ln_1 before the MLP too
    return block_with(x, w, n_head, mlp_ln="ln_1")


# -- 11 GPT on the book: the sampler and the KV cache -----------------------------------------
def gpt_with(model, idx, targets, positions=True, ln_f=True, shift=0):
    """The GPT's forward from its parts; shift=1 scores each position's logits against
    the target one further on."""
    tr, (B, T) = model.transformer, idx.shape
    x = tr.wte.weight[idx] + (tr.wpe.weight[:T] if positions else 0)
    for layer in tr.h:
        x = layer(x)
    logits = (tr.ln_f(x) if ln_f else x) @ tr.wte.weight.T              # (B, T, V)
    n, V = B * (T - shift), logits.shape[-1]
    loss = F.cross_entropy(logits[:, :T - shift].reshape(n, V), targets[:, shift:].reshape(n))
    return logits, loss


@wrong("gpt_quixote", "gpt_forward", "consistent")
def gpt_without_positions(model, idx, targets):            # a bag of earlier tokens
    return gpt_with(model, idx, targets, positions=False)


@wrong("gpt_quixote", "gpt_forward", "consistent")
def gpt_without_ln_f(model, idx, targets):
    return gpt_with(model, idx, targets, ln_f=False)


@wrong("gpt_quixote", "gpt_forward", "slip")
def gpt_shifting_again(model, idx, targets):               # Y is already shifted
    return gpt_with(model, idx, targets, shift=1)


@wrong("gpt_quixote", "top_p_filter", "consistent")
def top_p_dropping_the_crossing_token(logits, p):          # mass up to and with it < p
    order = np.argsort(-logits, axis=-1)
    probs = np.take_along_axis(F.softmax(tx.tensor(logits)).numpy(), order, axis=-1)
    drop = np.empty(logits.shape, dtype=bool)
    np.put_along_axis(drop, order, np.cumsum(probs, axis=-1) >= p, axis=-1)
    return np.where(drop, -np.inf, logits)


@wrong("gpt_quixote", "top_p_filter", "slip")
def top_p_in_place(logits, p):                             # writes into its input
    logits[...] = gpt_quixote.top_p_filter(logits, p)
    return logits


def sample_with(model, ids, n, rng, next_logits, temperature, top_k, top_p,
                temperature_first=True, top_k_first=True):
    """The sampling loop with a choice of which logits, and in which order it filters."""
    ids = list(ids)
    filters = [(top_k, gpt_quixote.top_k_filter), (top_p, gpt_quixote.top_p_filter)]
    for _ in range(n):
        with tx.no_grad():
            logits = model(tx.tensor([ids[-model.config.block_size:]]))[0].numpy()
        z = next_logits(logits) / (temperature if temperature_first else 1)
        for value, keep in filters if top_k_first else filters[::-1]:
            z = z if value is None else keep(z, value)
        z = z if temperature_first else z / temperature
        p = np.exp(z - z.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids


@wrong("gpt_quixote", "sample", "consistent")
def sample_temperature_last(model, ids, n, temperature=1.0, top_k=None, top_p=None,
                            rng=None):                     # the nucleus of the plain logits
    return sample_with(model, ids, n, rng, lambda z: z[0, -1], temperature, top_k, top_p,
                       temperature_first=False)


@wrong("gpt_quixote", "sample", "consistent")
def sample_greedy(model, ids, n, temperature=1.0, top_k=None, top_p=None, rng=None):
    ids = list(ids)
    for _ in range(n):
        with tx.no_grad():
            logits = model(tx.tensor([ids[-model.config.block_size:]]))[0].numpy()
        ids.append(int(logits[0, -1].argmax()))
    return ids


@wrong("gpt_quixote", "sample", "slip")
def sample_first_position(model, ids, n, temperature=1.0, top_k=None, top_p=None,
                          rng=None):                       # logits[0, 0]
    return sample_with(model, ids, n, rng, lambda z: z[0, 0], temperature, top_k, top_p)


@wrong("gpt_quixote", "sample", "slip")
def sample_top_p_first(model, ids, n, temperature=1.0, top_k=None, top_p=None, rng=None):
    return sample_with(model, ids, n, rng, lambda z: z[0, -1], temperature, top_k, top_p,
                       top_k_first=False)


def attend(q, K, V, scale):
    scores = q @ K.swapaxes(-1, -2) * scale                    # (B, H, 1, T)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True) @ V


@wrong("gpt_quixote", "cached_attention", "consistent")
def cached_attention_before_append(q, k, v, cache):       # the new token misses itself
    out = np.zeros_like(q) if cache is None else attend(q, *cache, q.shape[-1] ** -0.5)
    return out, gpt_quixote.cached_attention(q, k, v, cache)[1]


@wrong("gpt_quixote", "cached_attention", "slip")
def cached_attention_unscaled(q, k, v, cache):            # softmax(q Kᵀ) V: no 1/√D
    _, (K, V) = gpt_quixote.cached_attention(q, k, v, cache)
    return attend(q, K, V, 1.0), (K, V)


@wrong("gpt_quixote", "cached_attention", "slip")
def cached_attention_prepending(q, k, v, cache):          # same outputs, cache reversed
    K, V = (k, v) if cache is None else (np.concatenate([k, cache[0]], axis=2),
                                         np.concatenate([v, cache[1]], axis=2))
    return attend(q, K, V, q.shape[-1] ** -0.5), (K, V)


# -- 12 encoder-decoder: beam search -------------------------------------------------------
def beam_with(model, src, bos_id, beam_width, max_new_tokens, rank, follow=True):
    """Beam search that ranks candidates (score, new log-prob) by `rank`; with
    follow=False a kept token is appended to the hypothesis at its place in the list,
    not to the one it extends."""
    memory, beams = model.encode(tx.tensor([src])), [(0.0, [bos_id])]
    for _ in range(max_new_tokens):
        candidates = []
        for score, ids in beams:
            logp = F.log_softmax(model.decode(tx.tensor([ids]), memory)[0, -1]).numpy()
            candidates += [(score + lp, lp, ids, tok) for tok, lp in enumerate(logp)]
        kept = sorted(candidates, key=lambda c: -rank(c[0], c[1]))[:beam_width]
        beams = [(s, (ids if follow else beams[min(i, len(beams) - 1)][1]) + [tok])
                 for i, (s, _, ids, tok) in enumerate(kept)]
    score, ids = max(beams, key=lambda b: b[0])
    return ids, float(score)


@wrong("encoder_decoder", "beam_decode", "consistent")
def beam_greedy(model, src, bos_id, beam_width, max_new_tokens):      # width ignored
    return beam_with(model, src, bos_id, 1, max_new_tokens, lambda s, lp: s)


@wrong("encoder_decoder", "beam_decode", "consistent")
def beam_by_last_token(model, src, bos_id, beam_width, max_new_tokens):
    return beam_with(model, src, bos_id, beam_width, max_new_tokens, lambda s, lp: lp)


@wrong("encoder_decoder", "beam_decode", "slip")
def beam_not_following(model, src, bos_id, beam_width, max_new_tokens):
    return beam_with(model, src, bos_id, beam_width, max_new_tokens, lambda s, lp: s,
                     follow=False)



# -- 14 data parallel: the training step from micro-batches ----------------------------------
def step_with(model, optimizer, micro_batches, grad_clip, share, zero=True, clip=True):
    """The step with micro-batch i's loss weighted by share(y_i, all ys); zero=False keeps
    the last step's gradients, clip=False clips after the step (too late)."""
    if zero:
        optimizer.zero_grad()
    ys, params = [y for _, y in micro_batches], list(model.parameters())
    total = 0.0
    for x, y in micro_batches:
        loss = model(x, y)[1]
        (loss * share(y, ys)).backward()
        total += loss.item() * y.size / sum(t.size for t in ys)
    if clip:
        tx.optim.clip_grad_norm(params, grad_clip)
    optimizer.step()
    if not clip:
        tx.optim.clip_grad_norm(params, grad_clip)
    return total


def by_tokens(y, ys):
    return y.size / sum(t.size for t in ys)


@wrong("data_parallel", "train_step", "consistent")
def step_plain_mean(model, optimizer, micro_batches, grad_clip):     # 1/k each
    return step_with(model, optimizer, micro_batches, grad_clip, lambda y, ys: 1 / len(ys))


@wrong("data_parallel", "train_step", "consistent")
def step_summed_means(model, optimizer, micro_batches, grad_clip):   # no weights at all
    return step_with(model, optimizer, micro_batches, grad_clip, lambda y, ys: 1.0)


@wrong("data_parallel", "train_step", "slip")
def step_without_zero_grad(model, optimizer, micro_batches, grad_clip):
    return step_with(model, optimizer, micro_batches, grad_clip, by_tokens, zero=False)


@wrong("data_parallel", "train_step", "slip")
def step_clipping_after(model, optimizer, micro_batches, grad_clip):
    return step_with(model, optimizer, micro_batches, grad_clip, by_tokens, clip=False)
