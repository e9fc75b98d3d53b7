"""Wrong answers to the exercises of lessons 07-14, which their checks must reject
(tests/test_exercises.py); tagged "consistent" or "slip" as in wrong_answers_early.py.
Those of the exercises that build a block, the sampler, the KV cache and beam search are
in wrong_answers_engine.py.
"""
import numpy as np

import tinytx as tx
import tinytx.functional as F
from lessons import check
from lessons.solutions import (block, cross_attention, data_parallel, encoder_decoder,
                               gpt_quixote)
from wrong_answer import wrong


# -- 07 embeddings ---------------------------------------------------------------------------
@wrong("embeddings", "skipgram_pairs", "consistent")
def skipgram_pairs_after_only(ids, window):                # a one-sided window
    return [(ids[i], ids[j]) for i in range(len(ids))
            for j in range(i + 1, min(len(ids), i + window + 1))]


@wrong("embeddings", "skipgram_pairs", "slip")
def skipgram_pairs_with_center(ids, window):
    return [(ids[i], ids[j]) for i in range(len(ids))
            for j in range(max(0, i - window), min(len(ids), i + window + 1))]


@wrong("embeddings", "noise_distribution", "consistent")
def noise_unigram(counts, power=0.75):                     # ignores the power
    return np.asarray(counts, dtype=np.float64) / np.sum(counts)


@wrong("embeddings", "noise_distribution", "slip")
def noise_unnormalised(counts, power=0.75):
    return np.asarray(counts, dtype=np.float64) ** power


# -- 08 block --------------------------------------------------------------------------------
@wrong("block", "layer_norm", "consistent")
def layer_norm_unbiased(x, weight, bias, eps=1e-5):        # torch.var's default, ddof 1
    xc = x - x.mean(axis=-1, keepdims=True)
    var = (xc * xc).sum(axis=-1, keepdims=True) / (x.shape[-1] - 1)
    return xc / F.sqrt(var + eps) * weight + bias


@wrong("block", "layer_norm", "slip")
def layer_norm_eps_outside(x, weight, bias, eps=1e-5):
    xc = x - x.mean(axis=-1, keepdims=True)
    return xc / (F.sqrt((xc * xc).mean(axis=-1, keepdims=True)) + eps) * weight + bias


@wrong("block", "layer_norm", "slip")
def layer_norm_fixed_eps(x, weight, bias, eps=1e-5):       # ignores the eps it is given
    return block.layer_norm(x, weight, bias)


@wrong("block", "mlp", "consistent")
def mlp_exact_gelu(x, W_fc, b_fc, W_proj, b_proj):         # erf GELU, not GPT-2's tanh
    return F.gelu(x @ W_fc + b_fc) @ W_proj + b_proj


@wrong("block", "mlp", "consistent")
def mlp_relu(x, W_fc, b_fc, W_proj, b_proj):
    return F.relu(x @ W_fc + b_fc) @ W_proj + b_proj


@wrong("block", "mlp", "slip")
def mlp_without_output_bias(x, W_fc, b_fc, W_proj, b_proj):
    return F.gelu(x @ W_fc + b_fc, approximate="tanh") @ W_proj + 0 * b_proj


# -- 09 positional --------------------------------------------------------------------------
def table_angles(n_positions, n_embd, pair_exponent=2):
    i = np.arange(n_embd // 2)[None, :]                        # (1, C/2): the pair index
    return np.arange(n_positions)[:, None] / 10000 ** (pair_exponent * i / n_embd)


def interleave(even, odd):
    out = np.empty((even.shape[0], 2 * even.shape[1]))
    out[:, 0::2], out[:, 1::2] = even, odd
    return out


@wrong("positional", "sinusoidal_table", "consistent")
def table_sin_cos_swapped(n_positions, n_embd):
    angle = table_angles(n_positions, n_embd)
    return interleave(np.cos(angle), np.sin(angle))


@wrong("positional", "sinusoidal_table", "consistent")
def table_halves(n_positions, n_embd):                      # [sin ... | cos ...]
    angle = table_angles(n_positions, n_embd)
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)


@wrong("positional", "sinusoidal_table", "slip")
def table_exponent_i(n_positions, n_embd):                  # 10000^(i/C), not ^(2i/C)
    angle = table_angles(n_positions, n_embd, pair_exponent=1)
    return interleave(np.sin(angle), np.cos(angle))


def rotate(x, base, sign=1, first_position=0, halves=False):
    T, C = x.shape
    angle = (np.arange(T)[:, None] + first_position) / base ** (np.arange(0, C, 2) / C)
    cos, sin = np.cos(angle), sign * np.sin(angle)
    a, b = (x[:, :C // 2], x[:, C // 2:]) if halves else (x[:, 0::2], x[:, 1::2])
    even, odd = a * cos + b * sin, b * cos - a * sin
    return np.concatenate([even, odd], axis=1) if halves else interleave(even, odd)


@wrong("positional", "rope", "consistent")
def rope_backwards(x, base=10000.0):                        # M_tᵀ: rotates the other way
    return rotate(x, base, sign=-1)


@wrong("positional", "rope", "consistent")
def rope_rotate_half(x, base=10000.0):                      # pairs (i, i + C/2): GPT-NeoX
    return rotate(x, base, halves=True)


@wrong("positional", "rope", "slip")
def rope_from_position_one(x, base=10000.0):
    return rotate(x, base, first_position=1)


# -- 10 cross-attention ----------------------------------------------------------------------
@wrong("cross_attention", "padding_mask", "consistent")
def padding_mask_inverted(lengths, S):                     # PyTorch's "True at padding"
    return np.arange(S)[None, :] >= np.asarray(lengths)[:, None]


@wrong("cross_attention", "padding_mask", "slip")
def padding_mask_one_more(lengths, S):
    return np.arange(S)[None, :] <= np.asarray(lengths)[:, None]


@wrong("cross_attention", "decoder_mask", "consistent")
def decoder_mask_causal_only(lengths, T):
    return np.broadcast_to(np.tril(np.ones((T, T), dtype=bool)), (len(lengths), T, T))


@wrong("cross_attention", "decoder_mask", "slip")
def decoder_mask_or(lengths, T):
    causal = np.tril(np.ones((T, T), dtype=bool))
    return causal[None] | cross_attention.padding_mask(lengths, T)[:, None, :]


# -- 11 GPT on the book ----------------------------------------------------------------------
@wrong("gpt_quixote", "xy_batch", "consistent")
def xy_batch_backwards(ids, starts, block_size):           # predicts the previous token
    x, y = gpt_quixote.xy_batch(ids, starts, block_size)
    return y, x


@wrong("gpt_quixote", "xy_batch", "slip")
def xy_batch_short(ids, starts, block_size):               # windows of T - 1 tokens
    return gpt_quixote.xy_batch(ids, starts, block_size - 1)


@wrong("gpt_quixote", "top_k_filter", "consistent")
def top_k_keeping_smallest(logits, k):
    kth = np.sort(logits, axis=-1)[..., k - 1, None]
    return np.where(logits > kth, -np.inf, logits)


@wrong("gpt_quixote", "top_k_filter", "slip")
def top_k_in_place(logits, k):                             # writes into its input
    kth = np.sort(logits, axis=-1)[..., -k, None]
    logits[logits < kth] = -np.inf
    return logits


@wrong("gpt_quixote", "top_k_filter", "slip")
def top_k_one_fewer(logits, k):                            # > instead of >=
    kth = np.sort(logits, axis=-1)[..., -k, None]
    return np.where(logits > kth, logits, -np.inf)


# -- 12 encoder-decoder ----------------------------------------------------------------------
@wrong("encoder_decoder", "teacher_forcing", "consistent")
def teacher_forcing_left_padded(targets, bos_id, eos_id, pad_id):   # the padding first
    T = max(len(t) for t in targets) + 1

    def left(row, fill):
        return [fill] * (T - len(row)) + row
    return (np.array([left([bos_id, *t], pad_id) for t in targets]),
            np.array([left([*t, eos_id], pad_id) for t in targets]),
            np.array([left([True] * (len(t) + 1), False) for t in targets]))


@wrong("encoder_decoder", "teacher_forcing", "slip")
def teacher_forcing_mask_everywhere(targets, bos_id, eos_id, pad_id):
    tgt_in, tgt_out, tgt_mask = encoder_decoder.teacher_forcing(targets, bos_id, eos_id,
                                                                pad_id)
    return tgt_in, tgt_out, np.ones_like(tgt_mask)


@wrong("encoder_decoder", "greedy_decode", "consistent")
def greedy_never_stops(model, src, bos_id, eos_id, max_new_tokens):
    return encoder_decoder.greedy_decode(model, src, bos_id, None, max_new_tokens)


@wrong("encoder_decoder", "greedy_decode", "slip")
def greedy_first_position(model, src, bos_id, eos_id, max_new_tokens):  # logits[0, 0]
    memory, ids = model.encode(tx.tensor([src])), [bos_id]
    for _ in range(max_new_tokens):
        ids.append(int(model.decode(tx.tensor([ids]), memory).numpy()[0, 0].argmax()))
        if ids[-1] == eos_id:
            break
    return ids


# -- 13 finetuning ---------------------------------------------------------------------------
@wrong("finetuning", "freeze", "consistent")
def freeze_the_others(model, prefixes):                    # the complement
    names = [n for n, _ in model.named_parameters() if n.startswith(tuple(prefixes))]
    for n, p in model.named_parameters():
        p.requires_grad = n in names
    return names


@wrong("finetuning", "freeze", "slip")
def freeze_names_only(model, prefixes):                    # lists them, changes nothing
    return [n for n, _ in model.named_parameters() if n.startswith(tuple(prefixes))]


# -- 14 data parallel -----------------------------------------------------------------------
@wrong("data_parallel", "recursive_doubling_allreduce", "consistent")
def allreduce_by_ring(arrays):                             # a right all-reduce, not this one
    return check.lesson_module("data_parallel").ring_allreduce(arrays)


@wrong("data_parallel", "recursive_doubling_allreduce", "slip")
def allreduce_in_a_row_claiming_log2_bytes(arrays):       # a0 + a1 + a2 + ...: not pairwise
    W, total = len(arrays), sum(a.copy() for a in arrays)
    return [total.copy() for _ in range(W)], np.full(W, np.log2(W) * arrays[0].nbytes)


@wrong("data_parallel", "recursive_doubling_allreduce", "slip")
def allreduce_same_partner(arrays):                        # r XOR 1 at every step
    W, partial = len(arrays), [a.copy() for a in arrays]
    for _ in range(int(np.log2(W))):
        partial = [partial[r] + partial[r ^ 1] for r in range(W)]
    return partial, np.full(W, np.log2(W) * arrays[0].nbytes)


@wrong("data_parallel", "recursive_doubling_allreduce", "slip")
def allreduce_counting_values(arrays):                     # sent: values, not bytes
    results, sent = data_parallel.recursive_doubling_allreduce(arrays)
    return results, sent / arrays[0].itemsize


@wrong("data_parallel", "shard_weights", "consistent")
def weights_one_process(counts):                           # section 2's: shards summed
    return np.asarray(counts, dtype=np.float64) / np.sum(counts)


@wrong("data_parallel", "shard_weights", "consistent")
def weights_equal(counts):                                 # DataParallel's plain average
    return np.ones(len(counts))


@wrong("data_parallel", "shard_weights", "slip")
def weights_unchecked(counts):                             # right, but [3, -1] goes through
    counts = np.asarray(counts, dtype=np.float64)
    return len(counts) * counts / counts.sum()
