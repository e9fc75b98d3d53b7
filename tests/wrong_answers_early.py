"""Wrong answers to the exercises of lessons 00-06, which their checks must reject
(tests/test_exercises.py). Each is tagged "consistent" (a coherent answer to the wrong
question: its gradients agree with its own values, so a check that compared the answer
with itself would pass it) or "slip" (one mistake in an otherwise right answer).
"""
import math

import numpy as np

import tinytx as tx
import tinytx.functional as F
from lessons.solutions import rnn, tokenization
from wrong_answer import wrong


# -- 00 autograd ------------------------------------------------------------------------------
def scalar_op(x, value, slope, overwrite=False):
    """A Value for one op with the given value and derivative (the answers' shared shape)."""
    out = type(x)(value, (x,), "op")

    def _backward():
        x.grad = (0 if overwrite else x.grad) + slope * out.grad
    out._backward = _backward
    return out


@wrong("autograd", "relu", "consistent")
def relu_kinked_at_half(x):                   # max(0, x - 0.5) + 0.5 step: wrong, coherent
    on = x.data > 0.5
    return scalar_op(x, x.data if on else 0.0, float(on))


@wrong("autograd", "relu", "consistent")
def relu_leaky(x):
    return scalar_op(x, x.data if x.data > 0 else 0.01 * x.data, 1.0 if x.data > 0 else 0.01)


@wrong("autograd", "relu", "slip")
def relu_overwriting(x):                      # = instead of +=
    return scalar_op(x, max(0.0, x.data), float(x.data > 0), overwrite=True)


@wrong("autograd", "power", "consistent")
def power_square(x, k):                       # x * x for every k: the example
    return scalar_op(x, x.data ** 2, 2 * x.data)


@wrong("autograd", "power", "slip")
def power_without_chain_rule(x, k):           # forgets * out.grad
    out = type(x)(x.data ** k, (x,), f"**{k}")

    def _backward():
        x.grad += k * x.data ** (k - 1)
    out._backward = _backward
    return out


@wrong("autograd", "power", "slip")
def power_exponent_kept(x, k):                # k x^k instead of k x^(k-1)
    return scalar_op(x, x.data ** k, k * x.data ** k)


# -- 01 the MLP language model ----------------------------------------------------------------
def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def cross_entropy_from(log_p, targets, counted, n):
    """Loss and gradient over the rows `counted` of log-probabilities, both divided by n."""
    rows, y = np.flatnonzero(counted), targets[counted] % log_p.shape[1]
    grad = np.exp(log_p)
    grad[rows, y] -= 1
    grad[~counted] = 0
    return -log_p[rows, y].sum() / n, grad / n


@wrong("mlp_lm", "cross_entropy_ignoring", "consistent")
def cross_entropy_over_all_rows(logits, targets, ignore_index):   # divides by N, not by n
    return cross_entropy_from(log_softmax(logits), targets, targets != ignore_index,
                              len(targets))


@wrong("mlp_lm", "cross_entropy_ignoring", "consistent")
def cross_entropy_counting_padding(logits, targets, ignore_index):  # padding is a target
    return cross_entropy_from(log_softmax(logits), targets, targets == targets, len(targets))


@wrong("mlp_lm", "cross_entropy_ignoring", "slip")
def cross_entropy_unshifted(logits, targets, ignore_index):        # exp(1000) overflows
    counted = targets != ignore_index
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        log_p = np.log(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
        return cross_entropy_from(log_p, targets, counted, max(int(counted.sum()), 1))


@wrong("mlp_lm", "adamw_step", "consistent")
def adamw_coupled(p, grad, m, v, t, lr, betas, eps, weight_decay):  # Adam with L2 decay
    return adam(p, grad + weight_decay * p, m, v, t, lr, betas, eps)


@wrong("mlp_lm", "adamw_step", "slip")
def adamw_without_bias_correction(p, grad, m, v, t, lr, betas, eps, weight_decay):
    return adam(p - lr * weight_decay * p, grad, m, v, 1e9, lr, betas, eps)   # β^t -> 0


@wrong("mlp_lm", "adamw_step", "slip")
def adamw_decay_after_the_step(p, grad, m, v, t, lr, betas, eps, weight_decay):
    p, m, v = adam(p, grad, m, v, t, lr, betas, eps)
    return p - lr * weight_decay * p, m, v


def adam(p, grad, m, v, t, lr, betas, eps):
    m = betas[0] * m + (1 - betas[0]) * grad
    v = betas[1] * v + (1 - betas[1]) * grad ** 2
    step = (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)
    return p - lr * step, m, v


# -- 02 rnn ----------------------------------------------------------------------------------
@wrong("rnn", "rnn_step", "consistent")
def rnn_step_untransposed(x, h_prev, W_hh, W_xh, b):      # h W_hh: another, valid RNN
    return F.tanh(h_prev @ W_hh + x @ W_xh.T + b)


@wrong("rnn", "rnn_step", "slip")
def rnn_step_without_tanh(x, h_prev, W_hh, W_xh, b):
    return h_prev @ W_hh.T + x @ W_xh.T + b


@wrong("rnn", "rnn_backward", "consistent")
def rnn_backward_one_step(dh_T, x, hs, h0, W):            # truncated BPTT, k = 1
    H, T = hs.shape[2], hs.shape[1]
    dz = dh_T * (1 - hs[:, -1] ** 2)
    h_prev = hs[:, -2] if T > 1 else h0
    dx = np.zeros_like(x)
    dx[:, -1] = dz @ W[H:].T
    return dx, np.zeros_like(h0), np.concatenate([h_prev, x[:, -1]], 1).T @ dz, dz.sum(0)


@wrong("rnn", "rnn_backward", "slip")
def rnn_backward_tanh_of_previous(dh_T, x, hs, h0, W):     # 1 - h_{t-1}² for 1 - h_t²
    shifted = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    return rnn.rnn_backward(dh_T, x, shifted, h0, W)


# -- 03 lstm ---------------------------------------------------------------------------------
def cifg_parts(x, h_prev, c_prev, W, b, order=(0, 1, 2)):
    z = F.concat([h_prev, x], axis=1) @ W + b
    parts = F.split(z, h_prev.shape[1], axis=-1)
    return [parts[i] for i in order]                         # z_f, z_o, z_c


@wrong("lstm", "cifg_cell", "consistent")
def cifg_update_is_forget(x, h_prev, c_prev, W, b):         # Γ_u = Γ_f, not 1 - Γ_f
    z_f, z_o, z_c = cifg_parts(x, h_prev, c_prev, W, b)
    c = F.sigmoid(z_f) * c_prev + F.sigmoid(z_f) * F.tanh(z_c)
    return F.sigmoid(z_o) * F.tanh(c), c


@wrong("lstm", "cifg_cell", "consistent")
def cifg_order_f_c_o(x, h_prev, c_prev, W, b):              # slices read as f, c, o
    z_f, z_o, z_c = cifg_parts(x, h_prev, c_prev, W, b, order=(0, 2, 1))
    forget = F.sigmoid(z_f)
    c = forget * c_prev + (1 - forget) * F.tanh(z_c)
    return F.sigmoid(z_o) * F.tanh(c), c


@wrong("lstm", "cifg_cell", "slip")
def cifg_without_tanh_of_c(x, h_prev, c_prev, W, b):
    z_f, z_o, z_c = cifg_parts(x, h_prev, c_prev, W, b)
    forget = F.sigmoid(z_f)
    c = forget * c_prev + (1 - forget) * F.tanh(z_c)
    return F.sigmoid(z_o) * c, c


# -- 04 attention ----------------------------------------------------------------------------
@wrong("attention", "causal_mask", "consistent")
def causal_mask_future(T):
    return np.triu(np.ones((T, T), dtype=bool))


@wrong("attention", "causal_mask", "slip")
def causal_mask_strictly_past(T):
    return np.tril(np.ones((T, T), dtype=bool), k=-1)


@wrong("attention", "causal_mask", "slip")
def causal_mask_ints(T):
    return np.tril(np.ones((T, T), dtype=int))


def windowed(q, k, v, allowed, scale):
    i, j = np.arange(q.shape[1])[:, None], np.arange(q.shape[1])[None, :]
    scores = q @ k.transpose(-2, -1) * scale
    scores = F.where(tx.tensor(allowed(i, j)), scores, -1e9)
    return F.softmax(scores, axis=-1) @ v


def in_window(window):
    return lambda i, j: (j <= i) & (j > i - window) if window else np.ones_like(i + j, bool)


@wrong("attention", "attention", "consistent")
def attention_unscaled(q, k, v, window):
    return windowed(q, k, v, in_window(window), 1.0)


@wrong("attention", "attention", "consistent")
def attention_scaled_by_length(q, k, v, window):           # the report's √N
    return windowed(q, k, v, in_window(window), 1 / math.sqrt(q.shape[1]))


@wrong("attention", "attention", "consistent")
def attention_window_one_wider(q, k, v, window):
    return windowed(q, k, v, in_window(window and window + 1), 1 / math.sqrt(q.shape[-1]))


@wrong("attention", "attention", "slip")
def attention_window_ignored(q, k, v, window):
    return windowed(q, k, v, in_window(None), 1 / math.sqrt(q.shape[-1]))


# -- 05 multihead ----------------------------------------------------------------------------
@wrong("multihead", "split_qkv", "consistent")
def split_qkv_heads_outside(qkv, n_head):                  # (B, T, H, 3, D): q, k, v mixed
    B, T, C3 = qkv.shape
    parts = qkv.reshape(B, T, n_head, 3, C3 // (3 * n_head)).permute(3, 0, 2, 1, 4)
    return parts[0], parts[1], parts[2]


@wrong("multihead", "split_qkv", "slip")
def split_qkv_by_reshape(qkv, n_head):                     # right shapes, wrong numbers
    B, T, C3 = qkv.shape
    parts = qkv.reshape(3, B, n_head, T, C3 // (3 * n_head))
    return parts[0], parts[1], parts[2]


@wrong("multihead", "repeat_kv", "consistent")
def repeat_kv_tiled(k, n_rep):                             # head h uses h % H_kv
    return F.concat([k] * n_rep, axis=1)


@wrong("multihead", "repeat_kv", "slip")
def repeat_kv_through_numpy(k, n_rep):                     # right numbers, no gradient
    return tx.tensor(np.repeat(k.numpy(), n_rep, axis=1))


# -- 06 tokenization -------------------------------------------------------------------------
@wrong("tokenization", "pair_counts", "consistent")
def pair_counts_once_per_chunk(chunks):                    # forgets how often each occurs
    return tokenization.pair_counts({chunk: 1 for chunk in chunks})


@wrong("tokenization", "pair_counts", "slip")
def pair_counts_across_chunks(chunks):                     # pairs span chunk boundaries
    ids = [i for chunk, n in chunks.items() for _ in range(n) for i in chunk]
    return tokenization.pair_counts({tuple(ids): 1})


@wrong("tokenization", "pair_counts", "slip")
def pair_counts_most_frequent_first(chunks):               # right counts, wrong order
    return dict(sorted(tokenization.pair_counts(chunks).items(), key=lambda kv: -kv[1]))


@wrong("tokenization", "merge", "consistent")
def merge_from_the_right(ids, pair, idx):                  # coherent, other overlaps
    return tokenization.merge(ids[::-1], pair[::-1], idx)[::-1]


@wrong("tokenization", "merge", "slip")
def merge_overlapping(ids, pair, idx):                     # forgets to skip pair[1]
    return [idx if tuple(ids[i:i + 2]) == pair else ids[i] for i in range(len(ids))]


def stats_of(ids):
    return tokenization.pair_counts({tuple(ids): 1})


@wrong("tokenization", "encode", "consistent")
def encode_most_frequent_pair(text, merges):               # the text's order, not training's
    ids = list(text.encode("utf-8"))
    while True:
        stats = {p: n for p, n in stats_of(ids).items() if p in merges}
        if not stats:
            return ids
        pair = max(stats, key=stats.get)
        ids = tokenization.merge(ids, pair, merges[pair])


@wrong("tokenization", "encode", "slip")
def encode_one_round(text, merges):                        # stops after the first merge
    ids = list(text.encode("utf-8"))
    stats = stats_of(ids)
    pair = min(stats, key=lambda p: merges.get(p, float("inf")), default=None)
    return tokenization.merge(ids, pair, merges[pair]) if pair in merges else ids
