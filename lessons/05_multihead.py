# %%
"""Lesson 05 — multi-head attention, and why attention parallelises where an RNN cannot.

Report chapter 3 (multi-head attention, and why the transformer drops the recurrence: an
RNN reads its input one step after another, attention looks at all positions at once).
With H heads the width C is cut into H slices of D = C/H; every head attends on
its own slice, the outputs are concatenated and mixed by the output projection W_O:

    q, k, v = x W_attn                         (B, T, C) -> 3 × (B, T, C)
    q -> (B, T, H, D) -> (B, H, T, D)           split the heads (the same for k, v)
    o_h = softmax(q_h k_hᵀ / √D) v_h            every head at once: (B, H, T, D)
    o -> (B, T, H, D) -> (B, T, C)              concatenate the heads
    y = o W_O                                   (B, T, C)

This lesson
  1. does that by hand with F ops, printing every shape, checks it against
     `nn.MultiHeadAttention` (fused and composed) and against a loop over the heads;
  2. shows what heads learn: one attention layer with two heads trained to name the
     tokens one and two positions back; each head ends up looking at one offset
     (what_heads_learn.png). Sections 3-5 are about speed rather than meaning:
  3. times forward + backward of an RNN, an LSTM and one attention layer as the sequence
     length T grows (table + plot), and counts their sequential steps and graph ops;
  4. compares the three attention implementations — composed (`F`, six ops), fused
     (`tinytx.kernels.attention`, one op) and blocked (`tinytx.kernels.flash_attention`,
     online softmax) — for agreement (float64, forward and backward), time and peak
     memory (tracemalloc);
  5. runs the CUDA attention kernel (tinytx/kernels/cuda/attention.py, FlashAttention-2
     style) in numba's CUDA simulator on a tiny input and checks it against the fused
     CPU kernel, forward and backward (skipped when numba-cuda is not installed).
docs/attention.md derives the fused and blocked kernels and has the full benchmark;
docs/cuda.md explains threads, blocks, shared memory and the kernel's tiling.

Run:
    python lessons/05_multihead.py            # the full lesson (about 10 s, 2 CPU cores)
    python lessons/05_multihead.py --smoke    # a second or two (the tests)

Expected output (abridged; the full run's output is lessons/expected/05_multihead.txt; times
depend on the machine and its load):
    1. x (2, 5, 8) @ W_attn (8, 24) -> qkv (2, 5, 24) -> q, k, v (2, 5, 8) -> (2, 5, 2, 4)
       -> (2, 2, 5, 4) -> attention -> (2, 5, 2, 4) -> (2, 5, 8) @ W_O (8, 8) -> y (2, 5, 8);
       hand vs nn.MultiHeadAttention: fused 6e-08, composed 0; 288 parameters for any H
    2. task: at every position t >= 2 name the tokens at t-1 and t-2 (16 tokens, T=10)
       held-out accuracy: token at t-1 100.0%, token at t-2 100.0%
       head 0: mean weight on t (itself) 0.00, on t-1 0.07, on t-2 0.91
       head 1: mean weight on t (itself) 0.06, on t-1 0.90, on t-2 0.03
    3. forward + backward in ms (B=8, C=64, best of 5, one BLAS thread):
               T     RNN    LSTM    attention | graph ops: RNN  LSTM  attn
              16    0.71    1.09     0.42     |             72    40    16
             128    5.06    8.25     2.77     |            520   264    16
             512   24.16   35.76    23.02     |           2056  1032    16
            1024   48.25   73.89    77.72     |           4104  2056    16
       the RNN and LSTM grow linearly (T sequential steps of ~50–70 µs, 4T+8 and 2T+8 ops),
       attention is one step of 16 ops but T² work: on this CPU it is ~2x faster up to a
       few hundred tokens, even at T=512 and slower past it
    4. fused and blocked vs composed in float64: max |diff| ~1e-15, forward and backward;
       B=2, H=4, D=32, causal:  T=1024: composed 75 ms / 195 MiB, fused 24 ms / 27 MiB,
       blocked 30 ms / 6.7 MiB;  T=2048: composed 280 ms / 776 MiB, fused 92 ms / 86 MiB,
       blocked 113 ms / 12 MiB
    5. CUDA kernel in the simulator, B=1, H=2, Tq=7, Tk=9, D=4, causal, tiles of 4:
       grid (2, 2) blocks, each a 4x4 tile of scores; vs the fused CPU kernel: output
       4e-16, dq/dk/dv ~6e-16
    pictures: out/lessons/05/what_heads_learn.png, rnn_vs_attention.png, kernels.png
Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 4 s.

Exercises (your code goes in lessons/exercises/multihead.py; check it with
`python -m lessons.check multihead`; our answers are in lessons/solutions/multihead.py)
  1. Implement `split_qkv(qkv, n_head)`: c_attn's output (B, T, 3C) cut into q, k, v
     and into heads, each (B, H, T, D), with one reshape and one permute for all three;
     checked against tinytx.nn.attention.split_heads. Predict, then run:
     qkv.reshape(B, T, H, 3, D) gives the right shapes too. Which numbers would head 0's
     q then hold? Put it in your split_qkv and read the check.
  2. Implement `repeat_kv(k, n_rep)` for grouped-query attention (Llama 2 70B, Mistral):
     H_kv key/value heads, each shared by n_rep query heads; checked against a loop over
     the heads. How many columns does c_attn need with H_kv key/value heads?
  3. Change and explain: section 1 prints 288 parameters for any H. Why does the number
     of heads not change the parameter count, and what does it change? Count the entries
     of the score matrices for H = 1, 2, 4 at T = 5.
"""
from __future__ import annotations

import os

import statistics
import time
import tracemalloc
from dataclasses import dataclass

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn, optim
from tinytx.autograd import topological_order
from tinytx.course import max_diff, save_figure, section, setup
from tinytx.functional.attention import causal_mask, scaled_dot_product_attention
from tinytx.kernels.flash_attention import flash_attention
from tinytx.kernels.softmax_attention import attention as fused_attention
from tinytx.nn.attention import MultiHeadAttention, merge_heads, split_heads
from tinytx.nn.fused import fused
from tinytx.nn.positional import LearnedPositionalEmbedding


@dataclass
class Config:
    seq_lens: str = "16,32,64,128,256,512,1024"  # T for the RNN-vs-attention timing
    batch_size: int = 8                      # B there
    n_embd: int = 64                         # C there (the RNN/LSTM hidden size too)
    n_head: int = 4                          # H there
    repeats: int = 5                         # timed runs per point (the best is kept)
    kernel_sizes: str = "256,1024,2048"      # T for composed vs fused vs blocked
    kernel_batch: int = 2                    # B there
    kernel_heads: int = 4                    # H there
    kernel_dim: int = 32                     # D there
    block_size: int = 128                    # the blocked kernel's tile
    toy_vocab: int = 16                      # the two-heads task: tokens
    toy_len: int = 10                        # its sequence length T
    toy_embd: int = 32                       # its width C (two heads of 16)
    toy_steps: int = 400                     # its AdamW steps (batches of 32)
    toy_lr: float = 1e-2
    seed: int = 0
    smoke: bool = False
    out_dir: str = "out/lessons/05"


SMOKE = dict(seq_lens="8,16,32", batch_size=2, n_embd=16, repeats=1,   # --smoke: the tests
             kernel_sizes="64,128", kernel_batch=1, block_size=32)


# %%
# -- 1. heads by hand ----------------------------------------------------------------------
def heads_by_hand(cfg):
    section("1. Splitting into heads, attending, concatenating, projecting")
    tx.manual_seed(cfg.seed)
    B, T, C, H = 2, 5, 8, 2
    D = C // H
    mha = MultiHeadAttention(C, H, causal=True)               # c_attn (C, 3C), c_proj (C, C)
    x = tx.randn(B, T, C)
    qkv = x @ mha.c_attn.weight + mha.c_attn.bias             # (B, T, C) @ (C, 3C)
    q, k, v = qkv.split(C, axis=2)                            # (B, T, 3C) -> 3 × (B, T, C)
    print(f"  x {x.shape} @ W_attn {mha.c_attn.weight.shape} -> qkv {qkv.shape} -> "
          f"q, k, v {q.shape} each   (B={B}, T={T}, C={C}, H={H}, D=C/H={D})")
    q4 = q.reshape(B, T, H, D)                                # (B, T, C) -> (B, T, H, D)
    qh = q4.permute(0, 2, 1, 3)                               # (B, T, H, D) -> (B, H, T, D)
    kh, vh = (t.reshape(B, T, H, D).permute(0, 2, 1, 3) for t in (k, v))
    print(f"  q {q.shape} -reshape-> {q4.shape} -permute-> {qh.shape}: head h holds "
          f"columns h·D … (h+1)·D-1 of q")
    o = scaled_dot_product_attention(qh, kh, vh, mask=causal_mask(T))   # (B, H, T, D)
    print(f"  every head attends on its own slice, all at once: o {o.shape}")
    o_cat = o.permute(0, 2, 1, 3).reshape(B, T, C)            # (B, H, T, D) -> (B, T, C)
    y = o_cat @ mha.c_proj.weight + mha.c_proj.bias           # mix the heads: W_O (C, C)
    print(f"  o -permute-> {o.permute(0, 2, 1, 3).shape} -reshape-> {o_cat.shape} "
          f"(the heads concatenated) @ W_O {mha.c_proj.weight.shape} -> y {y.shape}")
    heads = [scaled_dot_product_attention(q[..., h * D:(h + 1) * D], k[..., h * D:(h + 1) * D],
                                          v[..., h * D:(h + 1) * D], mask=causal_mask(T))
             for h in range(H)]                               # H × (B, T, D), one at a time
    with fused(True):
        y_fused = mha(x)
    with fused(False):
        y_composed = mha(x)
    print(f"  max |diff| vs nn.MultiHeadAttention: fused kernel {max_diff(y, y_fused):.1e}, "
          f"composed {max_diff(y, y_composed):.1e}")
    print(f"  max |diff| vs a loop over the heads, concatenated: "
          f"{max_diff(o_cat, F.concat(heads, axis=-1)):.1e};  split_heads/merge_heads: "
          f"{max_diff(split_heads(q, H), qh):.1e} / {max_diff(merge_heads(o), o_cat):.1e}")
    counts = [MultiHeadAttention(C, h).num_parameters() for h in (1, 2, 4, 8)]
    print(f"  parameters with H = 1, 2, 4, 8 heads: {counts} — 4C² + 4C = {4 * C * C + 4 * C} "
          f"each: heads cut C into slices, they add no weights")
    return {"y_shape": list(y.shape), "hand_vs_composed": max_diff(y, y_composed),
            "hand_vs_fused": max_diff(y, y_fused), "parameters_per_H": counts,
            "loop_vs_heads": max_diff(o_cat, F.concat(heads, axis=-1))}


# %%
# -- 2. what heads learn ---------------------------------------------------------------------
class TwoBack(nn.Module):
    """Token + learned position embeddings -> one causal attention layer of H heads ->
    Linear to two guesses at every position t: the token at t-1 and the token at t-2."""

    def __init__(self, vocab, n_embd, n_head, block_size):
        super().__init__()
        self.vocab = vocab
        self.wte = nn.Embedding(vocab, n_embd)     # a vector per token (lesson 07)
        self.wpe = LearnedPositionalEmbedding(block_size, n_embd)
        for emb in (self.wte, self.wpe):           # GPT-2's small init, as in lesson 04
            emb.weight.data *= 0.02
        self.attn = MultiHeadAttention(n_embd, n_head, causal=True)
        self.head = nn.Linear(n_embd, 2 * vocab)

    def embed(self, idx):                                      # (B, T) -> (B, T, C)
        return self.wte(idx) + self.wpe(idx.shape[1])

    def forward(self, idx):                                    # (B, T) -> (B, T, 2, V)
        B, T = idx.shape
        return self.head(self.attn(self.embed(idx))).reshape(B, T, 2, self.vocab)


def two_back_batch(rng, B, T, vocab):
    """Random tokens x (B, T) and the targets (B, T-2, 2): x[t-1] and x[t-2] for t >= 2."""
    x = rng.integers(0, vocab, (B, T))
    return x, np.stack([x[:, 1:-1], x[:, :-2]], axis=-1)


def what_heads_learn(cfg, path):
    section("2. What heads learn: two heads, two jobs")
    V, T, H = cfg.toy_vocab, cfg.toy_len, 2
    tx.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = TwoBack(V, cfg.toy_embd, H, T)
    opt = optim.AdamW(model.parameters(), lr=cfg.toy_lr, weight_decay=0.0)
    for _ in range(cfg.toy_steps):
        x, y = two_back_batch(rng, 32, T, V)
        logits = model(tx.tensor(x))[:, 2:]                   # (B, T-2, 2, V): t >= 2 only
        loss = F.cross_entropy(logits.reshape(-1, V), tx.tensor(y.reshape(-1)))
        loss.backward()
        opt.step()
        opt.zero_grad()
    x, y = two_back_batch(rng, 256, T, V)
    with tx.no_grad():
        guess = model(tx.tensor(x)).numpy()[:, 2:].argmax(-1)  # (B, T-2, 2)
        P = model.attn.weights(model.embed(tx.tensor(x))).numpy().mean(0)   # (H, T, T)
    acc = (guess == y).mean(axis=(0, 1))
    print(f"task: at every position t >= 2 name the tokens at t-1 and t-2 ({V} tokens, T={T});"
          f" one attention layer, {H} heads of D={cfg.toy_embd // H}, {cfg.toy_steps} steps")
    print(f"held-out accuracy: token at t-1 {acc[0]:.1%}, token at t-2 {acc[1]:.1%}")
    offsets = {h: [float(np.diagonal(P[h], -o)[2 - o:].mean()) for o in range(3)]
               for h in range(H)}                             # rows t >= 2 only
    for h, w in offsets.items():
        print(f"head {h}: mean weight on t (itself) {w[0]:.2f}, on t-1 {w[1]:.2f}, "
              f"on t-2 {w[2]:.2f}")
    print("No one told the heads which token to fetch: they split the work, each looking at "
          "one offset\n(with one head, the two tokens would arrive mixed in one weighted sum).")
    fig, axes = plt.subplots(1, H, figsize=(4 * H, 3.8))
    for h, ax in enumerate(axes):
        ax.imshow(P[h], cmap="Blues", vmin=0, vmax=1)
        ax.set(title=f"head {h} (mean over 256 sequences)", xlabel="key position",
               ylabel="query position t")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return {"toy_accuracy": acc.tolist(),
            "favourite_offsets": sorted(int(np.argmax(w)) for w in offsets.values())}


# %%
# -- 3. sequential RNN against parallel attention ---------------------------------------------
def fwd_bwd(model, x, g):
    """One forward + backward; -> (seconds, ops in the graph)."""
    for p in model.parameters():
        p.grad = None
    start = time.perf_counter()
    out = model(x)
    y = out[0] if isinstance(out, tuple) else out            # RNN/LSTM return (hs, state)
    loss = (y * g).sum()
    seconds = time.perf_counter() - start
    n_ops = len(topological_order(loss._ctx))                # counted, not timed
    start = time.perf_counter()
    loss.backward()
    return seconds + time.perf_counter() - start, n_ops


def best_time(model, x, g, repeats):
    fwd_bwd(model, x, g)                                      # warm up
    runs = [fwd_bwd(model, x, g) for _ in range(repeats)]
    return min(t for t, _ in runs), runs[0][1]


def blas_threads():
    """The BLAS thread pool's size (course.setup limits it to 1 for the lessons)."""
    from threadpoolctl import threadpool_info
    return max((pool["num_threads"] for pool in threadpool_info()
                if pool["user_api"] == "blas"), default=None)


def rnn_vs_attention(cfg, path):
    section("3. Time of forward + backward as T grows: sequential vs parallel")
    B, C, H = cfg.batch_size, cfg.n_embd, cfg.n_head
    seq_lens = [int(t) for t in cfg.seq_lens.split(",")]
    tx.manual_seed(cfg.seed)
    models = {"RNN": nn.RNN(C, C), "LSTM": nn.LSTM(C, C),
              "attention": MultiHeadAttention(C, H, causal=True)}
    print(f"B={B}, C={C} (RNN/LSTM hidden {C}; attention {H} heads, causal, fused kernel), "
          f"float32, best of {cfg.repeats}, OPENBLAS_NUM_THREADS={blas_threads()}")
    print(f"{'T':>5} | {'RNN ms':>8} {'LSTM ms':>8} {'attn ms':>8} | {'sequential steps':>16} "
          f"| {'graph ops: RNN':>14} {'LSTM':>6} {'attn':>5}")
    rng = np.random.default_rng(cfg.seed)
    times = {name: [] for name in models}
    for T in seq_lens:
        x = tx.tensor(rng.standard_normal((B, T, C), dtype=np.float32))
        g = tx.tensor(rng.standard_normal((B, T, C), dtype=np.float32))
        ops = {}
        for name, model in models.items():
            t, ops[name] = best_time(model, x, g, cfg.repeats)
            times[name].append(t)
        print(f"{T:>5} | {times['RNN'][-1] * 1e3:>8.2f} {times['LSTM'][-1] * 1e3:>8.2f} "
              f"{times['attention'][-1] * 1e3:>8.2f} | {f'{T} vs 1':>16} | "
              f"{ops['RNN']:>14} {ops['LSTM']:>6} {ops['attention']:>5}", flush=True)
    ratio = [r / a for r, a in zip(times["RNN"], times["attention"])]
    print("RNN time / attention time: " + ", ".join(f"T={T}: {r:.2f}"
                                                    for T, r in zip(seq_lens, ratio)))
    grow = {n: (v[-1] / v[0]) for n, v in times.items()}
    print(f"from T={seq_lens[0]} to T={seq_lens[-1]} ({seq_lens[-1] // seq_lens[0]}x longer) "
          f"the time grew: " + ", ".join(f"{n} {g:.0f}x" for n, g in grow.items()))
    per_step = {n: times[n][-1] / seq_lens[-1] * 1e6 for n in ("RNN", "LSTM")}
    print(f"per sequential step at T={seq_lens[-1]}: RNN {per_step['RNN']:.0f} µs, LSTM "
          f"{per_step['LSTM']:.0f} µs (forward + backward of a few ops on ({B}, {C}) arrays)")
    print("The RNN and LSTM must take T steps one after another (each needs h_(t-1)); "
          "their time is T times\na small step, mostly per-op overhead. Attention is one "
          "step: a few big matrix products over\nall positions at once, whose work grows "
          "like T²: cheap for short sequences, dearer for long ones\non this CPU. On a GPU "
          "(not measured here) the T² products run in parallel; the RNN's T steps\nstay "
          "one after another on any hardware.")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, marker in zip(models, "osD"):
        ax.loglog(seq_lens, np.array(times[name]) * 1e3, marker=marker, label=name)
    ax.set_xticks(seq_lens, [str(T) for T in seq_lens], minor=False)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("forward + backward, ms (best of runs)")
    ax.set_title(f"Sequential recurrence vs one attention layer (B={B}, C={C}, CPU)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# %%
# -- 4. composed, fused and blocked attention ---------------------------------------------------
def implementations(T, block_size):
    mask = causal_mask(T)
    return {"composed": lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask),
            "fused": lambda q, k, v: fused_attention(q, k, v, is_causal=True),
            "blocked": lambda q, k, v: flash_attention(q, k, v, is_causal=True,
                                                       block_size=block_size)}


def attend(fn, qkv, g):
    """Forward + backward of Σ g ⊗ fn(q, k, v); -> (output, (dq, dk, dv))."""
    for x in qkv:
        x.grad = None
    out = fn(*qkv)
    out.backward(g)
    return out, tuple(x.grad for x in qkv)


def inputs(B, H, T, D, dtype, rng):
    qkv = [tx.tensor(rng.standard_normal((B, H, T, D)), dtype=dtype, requires_grad=True)
           for _ in range(3)]
    return qkv, rng.standard_normal((B, H, T, D)).astype(dtype)


def kernels_agree(cfg):
    rng = np.random.default_rng(cfg.seed)
    qkv, g = inputs(2, 3, 70, 16, "float64", rng)             # 70: not a multiple of a tile
    ref = attend(implementations(70, 32)["composed"], qkv, g)
    for name in ("fused", "blocked"):
        out, grads = attend(implementations(70, 32)[name], qkv, g)
        print(f"  {name:>8} vs composed, float64, T=70, causal: output max |diff| "
              f"{max_diff(out, ref[0]):.1e}, dq/dk/dv "
              + " / ".join(f"{max_diff(a, b):.1e}" for a, b in zip(grads, ref[1])))


def peak_memory(fn, qkv, g):
    """Peak bytes NumPy allocates during forward + backward (tracemalloc sees them)."""
    for x in qkv:
        x.grad = None
    tracemalloc.start()
    attend(fn, qkv, g)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def kernels(cfg, path):
    section("4. Composed vs fused vs blocked attention (causal, forward + backward)")
    kernels_agree(cfg)
    B, H, D = cfg.kernel_batch, cfg.kernel_heads, cfg.kernel_dim
    sizes = [int(t) for t in cfg.kernel_sizes.split(",")]
    print(f"B={B}, H={H}, D={D}, float32; time: best of {cfg.repeats} (the implementations "
          f"take turns); memory: tracemalloc peak, inputs excluded")
    print(f"{'T':>6} {'impl':>9} {'ms':>9} {'peak MiB':>9} | vs composed: {'speed-up':>8} "
          f"{'memory':>7} | {'max |diff| out':>14}")
    rng = np.random.default_rng(cfg.seed)
    results = {}
    for T in sizes:
        qkv, g = inputs(B, H, T, D, "float32", rng)
        fns = implementations(T, cfg.block_size)
        outs = {name: attend(fn, qkv, g)[0].numpy() for name, fn in fns.items()}   # warm up
        runs = {name: [] for name in fns}
        for _ in range(cfg.repeats):
            for name, fn in fns.items():
                start = time.perf_counter()
                attend(fn, qkv, g)
                runs[name].append(time.perf_counter() - start)
        for name, fn in fns.items():
            results[T, name] = (min(runs[name]), peak_memory(fn, qkv, g))
        for name in fns:
            t, m = results[T, name]
            tc, mc = results[T, "composed"]
            print(f"{T:>6} {name:>9} {t * 1e3:>9.1f} {m / 2**20:>9.1f} | {'':>12} "
                  f"{f'{tc / t:.2f}x':>8} {m / mc:>7.2f} | "
                  f"{max_diff(outs[name], outs['composed']):>14.1e}", flush=True)
        if cfg.repeats > 1:
            spread = max(statistics.pstdev(v) / statistics.mean(v) for v in runs.values())
            print(f"{'':>6} (run-to-run spread at T={T}: up to {spread:.0%} of the mean)")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.25
    for i, name in enumerate(("composed", "fused", "blocked")):
        xs = np.arange(len(sizes)) + (i - 1) * width
        a.bar(xs, [results[T, name][0] * 1e3 for T in sizes], width, label=name)
        b.bar(xs, [results[T, name][1] / 2**20 for T in sizes], width, label=name)
    for ax, label in ((a, "forward + backward, ms"), (b, "peak memory, MiB")):
        ax.set_xticks(range(len(sizes)), [f"T={T}" for T in sizes])
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.legend()
    a.set_title(f"Time (B={B}, H={H}, D={D}, causal)")
    b.set_title("Peak memory (tracemalloc)")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# %%
# -- 5. the CUDA kernel, run on the CPU in numba's simulator ---------------------------------
def cuda_kernel_in_simulator(cfg):
    """The GPU kernel's own source, each CUDA thread a Python thread (docs/cuda.md)."""
    section("5. The CUDA attention kernel in numba's CUDA simulator")
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")      # read when numba is imported
    try:
        from tinytx.kernels.cuda.flash_attention import attention as cuda_attention
    except ImportError as e:
        print(f"  skipped: {e}")
        return
    B, H, Tq, Tk, D, tile = 1, 2, 7, 9, 4, 4
    rng = np.random.default_rng(cfg.seed)
    shapes = [(B, H, Tq, D), (B, H, Tk, D), (B, H, Tk, D)]
    arrays = [rng.standard_normal(s) for s in shapes]
    g = rng.standard_normal((B, H, Tq, D))
    results = []
    for fn in (lambda q, k, v: cuda_attention(q, k, v, is_causal=True, block_size=tile),
               lambda q, k, v: fused_attention(q, k, v, is_causal=True)):
        qkv = [tx.tensor(a, requires_grad=True) for a in arrays]
        results.append(attend(fn, qkv, g))
    (out, grads), (ref, ref_grads) = results
    print(f"  B={B}, H={H}, Tq={Tq}, Tk={Tk}, D={D}, causal, tiles of {tile}: grid "
          f"({-(-Tq // tile)}, {B * H}) blocks, each a {tile}x{tile} tile of scores "
          f"(a thread per micro-tile of query rows x key columns)")
    print(f"  vs the fused CPU kernel, float64: output max |diff| {max_diff(out, ref):.1e}, "
          "dq/dk/dv " + " / ".join(f"{max_diff(a, b):.1e}" for a, b in zip(grads, ref_grads)))


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    start = time.perf_counter()
    facts = heads_by_hand(cfg)
    facts.update(what_heads_learn(cfg, out / "what_heads_learn.png"))
    print(f"saved {out / 'what_heads_learn.png'}")
    rnn_vs_attention(cfg, out / "rnn_vs_attention.png")
    print(f"saved {out / 'rnn_vs_attention.png'}")
    kernels(cfg, out / "kernels.png")
    print(f"saved {out / 'kernels.png'}")
    cuda_kernel_in_simulator(cfg)
    print(f"\ndone in {time.perf_counter() - start:.1f} s")
    return facts


# %%
if __name__ == "__main__":
    main()
