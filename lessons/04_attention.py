# %%
"""Lesson 04 — attention: queries, keys, values, similarity, masks, and memory at any distance.

Report chapter 3 (eq. 5–8, §3.6.1). Every token looks at every other token directly:

    Q = X W_Q,  K = X W_K,  V = X W_V                      (eq. 5)
    S = Q Kᵀ                                                (eq. 6, the plain dot product)
    S = Q Kᵀ / √D,   D the size of a head's q and k         (eq. 7, "scaled dot")
    P = softmax(S) row by row,   O = P V
    S_ij = -∞ (tinytx: a large finite negative) where query i may not see key j   (eq. 8)

This lesson
  1. computes Q, K, V from X with `nn.Linear(..., bias=False)` and prints the shapes;
  2. computes the scores, the softmax and the output by hand and checks them against
     `F.scaled_dot_product_attention`; measures why the scores are divided by √D;
  3. prints the weights of the three similarity functions (dot, scaled dot, cosine) side
     by side for the same small example;
  4. builds the causal and the padding masks (and both) and shows their effect;
  5. draws "At my dairy farm we always get our milk from" as an attention heatmap, once
     with random embeddings and projections and once with hand-built ones;
  6. solves the recall task of lesson 03 (`tinytx.data.toy.recall_task`) with a single
     attention head built from sections 1-2 (token vectors plus a learned vector per
     position, `LearnedPositionalEmbedding`; Q, K, V; the head's output added to its
     input; a Linear), and prints accuracy against the distance N for RNN, LSTM and
     attention, all trained here the same way — and for the same attention without the
     position vectors, which fails: attention sees a set, not a sequence;
  7. The report says / we measured: its eq. 6 is the unscaled dot product and eq. 7 the
     scaled one; it writes M for both the head size and the sequence length, and a
     listing divides by sqrt(N): the scale must be √D (the head size), which keeps the
     scores' spread at 1 for any sequence length, where √T would not.
docs/attention.md has the formulas and the kernels (lesson 05).

Run:
    python lessons/04_attention.py            # the full lesson (minutes, 2 CPU cores)
    python lessons/04_attention.py --smoke    # a few seconds (the tests)

Expected output (abridged; the full run's output is lessons/expected/04_attention.txt; one
seed per model, deterministic on one machine):
    1–2. X (5, 8) @ W_Q (8, 4) -> Q (5, 4); S, P (5, 5), O (5, 4); hand vs library
         0.0e+00; Var(q·k) = 4.0, 16.1, 64.0, 253.9 for D = 4 … 256, Var(q·k/√D) ≈ 1.00;
         the mean largest softmax weight over 16 keys grows 0.45 -> 0.92 unscaled
    3. three 4×4 weight matrices; mean max weight: dot 0.88, scaled_dot 0.62, cosine 0.36
    4. the causal, padding and combined 0/1 masks; masked weights exactly 0; an all-padding
       sequence gives output 0, not NaN
    5. hand-built vectors: "from" -> farm 0.79, "milk" -> dairy 0.35, milk 0.35, farm 0.19,
       "our" -> my, we, our 0.31 each (random vectors: no pattern)
    6. held-out accuracy after 3000 steps (chance 12.5%); in brackets the first step at
       which it reached 90%
          N            RNN           LSTM      attention  attention, no pos
          2   100.0% (100)   100.0% (100)   100.0% (100)     54.2% (  -)
          5   100.0% (100)   100.0% (100)   100.0% (100)     40.0% (  -)
         10    24.5% (  -)   100.0% (200)   100.0% (100)     27.5% (  -)
         20    24.9% (  -)  100.0% (1500)   100.0% (200)     26.2% (  -)
         40    15.4% (  -)    14.4% (  -)   100.0% (200)     18.8% (  -)
       (the RNN and LSTM rows are lesson 03's run, read from its recall_curves.json when
       made with the same options, else trained again here with its seeds: run lesson 03
       first to save ~2 minutes); the trained attention model's last
       token puts weight 1.000 on position 1; without positions it cannot tell which
       token came first
    7. D=64, scores divided by √D: std 1.00 at T=8, 1.00 at T=512
       D=64, scores divided by √T: std 2.84 at T=8, 0.35 at T=512
    pictures: out/lessons/04/sentence_attention.png, out/lessons/04/recall_attention.png
Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 2 s.

Exercises (your code goes in lessons/exercises/attention.py; check it with
`python -m lessons.check attention`; our answers are in lessons/solutions/attention.py)
  1. Implement `causal_mask(T)` (NumPy) and `attention(q, k, v, window)` (tinytx ops:
     scaled dot products, a sliding-window mask, query i seeing only keys i-window+1..i
     as in Longformer and Mistral, softmax, the weighted values); checked against
     F.causal_mask and F.scaled_dot_product_attention, forward and gradients.
  2. Predict, then run: section 4 gives an all-padding sequence the output 0, not NaN.
     What does np.exp(s - s.max()) / sum give for a row of scores that are all -inf? And
     all -1e9? Try both in NumPy, then read how F.scaled_dot_product_attention treats a
     row with no allowed key.
  3. Change and explain: the report writes M for both the head size and the sequence
     length, which invites this mix-up: divide by √T (the sequence length) instead of √D
     in your `attention` and run the check. Why is √D the right scale whatever T is
     (section 2's Var(q·k))?
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn
from tinytx.course import (max_diff, plot_recall_accuracy, recall_table, save_figure,
                           section, setup)
from tinytx.data.toy import recall_task
from tinytx.functional.attention import (causal_mask, combine_masks, padding_mask,
                                         scaled_dot_product_attention)
from tinytx.nn.positional import LearnedPositionalEmbedding
from tinytx.tasks.recall import RecallNet, load_curve, train_recall

SENTENCE = "At my dairy farm we always get our milk from"
NO_POSITIONS = "attention, no pos"


@dataclass
class Config:
    distances: str = "2,5,10,20,40"   # the N of the recall task, comma-separated
    vocab: int = 8                    # tokens 0 … vocab-1; chance is 1/vocab
    n_embd: int = 16                  # token embedding size of the RNN/LSTM
    hidden_size: int = 32             # H of the RNN/LSTM
    attn_embd: int = 32               # C of the attention model (one head)
    batch_size: int = 64
    steps: int = 3000                 # training steps per model and distance (as lesson 03)
    lr: float = 3e-3
    clip: float = 1.0
    eval_every: int = 100
    n_test: int = 1000
    seed: int = 0
    recall_curves: str = "out/lessons/03/recall_curves.json"   # lesson 03's RNN and LSTM
    # curves, reused when made with the same options (training is deterministic); "": retrain
    smoke: bool = False
    out_dir: str = "out/lessons/04"


SMOKE = dict(distances="2,5", steps=40, eval_every=20, n_test=200)   # --smoke: the tests


def print_matrices(named, row_labels, col_labels, width=7, fmt="{:.3f}"):
    """Matrices side by side: one block of columns per name."""
    blocks = list(named.items())
    lw = max(len(s) for s in row_labels) + 1
    span = width * len(col_labels)
    print(" " * lw + " | ".join(f"{name:^{span}}" for name, _ in blocks))
    print(" " * lw + " | ".join("".join(f"{c:>{width}}" for c in col_labels) for _ in blocks))
    for i, r in enumerate(row_labels):
        cells = ["".join(f"{fmt.format(v):>{width}}" for v in m[i]) for _, m in blocks]
        print(f"{r:>{lw - 1}} " + " | ".join(cells))


# %%
# -- 1–2. queries, keys, values, scores ------------------------------------------------------
def qkv_and_scores(cfg):
    section("1. Queries, keys and values: Q = X W_Q, K = X W_K, V = X W_V (eq. 5)")
    tx.manual_seed(cfg.seed)
    T, C, D = 5, 8, 4
    X = tx.randn(T, C)                                        # T token vectors of size C
    W_Q, W_K, W_V = (nn.Linear(C, D, bias=False) for _ in range(3))
    Q, K, V = W_Q(X), W_K(X), W_V(X)
    for name, W, out in (("Q", W_Q, Q), ("K", W_K, K), ("V", W_V, V)):
        print(f"  X {X.shape} @ W_{name} {W.weight.shape} -> {name} {out.shape}")

    section("2. Scores, softmax and output (eq. 6–7)")
    S = Q @ K.T / math.sqrt(D)                                # (T, D) @ (D, T) -> (T, T)
    P = F.softmax(S, axis=-1)                                 # each row sums to 1
    O = P @ V                                                 # (T, T) @ (T, D) -> (T, D)
    print(f"  S = Q Kᵀ/√D {S.shape}, P = softmax(S) {P.shape}, O = P V {O.shape}")
    print(f"  row sums of P: {np.round(P.numpy().sum(axis=1), 6).tolist()}")
    O_lib, P_lib = scaled_dot_product_attention(Q, K, V, return_weights=True)
    print(f"  F.scaled_dot_product_attention: max |diff| O {max_diff(O, O_lib):.1e}, "
          f"P {max_diff(P, P_lib):.1e}")
    print("  why divide by √D: q, k with unit-variance entries (20,000 random pairs)")
    rng = np.random.default_rng(cfg.seed)
    print(f"  {'D':>5} {'Var(q·k)':>10} {'Var(q·k/√D)':>12} {'max weight: dot':>16}"
          f" {'scaled':>7}   (softmax over 16 keys, mean of 500 rows)")
    for D_ in (4, 16, 64, 256):
        q, k = rng.standard_normal((2, 20000, D_))
        dots = (q * k).sum(axis=1)
        s = tx.tensor(rng.standard_normal((500, D_)) @ rng.standard_normal((D_, 16)))
        peak = F.softmax(s, axis=-1).numpy().max(axis=1).mean()
        peak_scaled = F.softmax(s / math.sqrt(D_), axis=-1).numpy().max(axis=1).mean()
        print(f"  {D_:>5} {dots.var():>10.1f} {(dots / math.sqrt(D_)).var():>12.2f} "
              f"{peak:>16.3f} {peak_scaled:>7.3f}")
    print("  unscaled, the softmax saturates as D grows (one weight near 1, gradients near 0)")
    return {"hand_vs_library": max(max_diff(O, O_lib), max_diff(P, P_lib)),
            "P_rows_sum_to_1": bool(np.allclose(P.numpy().sum(axis=1), 1, atol=1e-6))}


# %%
# -- 3. similarity functions -----------------------------------------------------------------
def similarities(cfg):
    section("3. Three similarity functions (report §3.6.1), the same q, k, v")
    tx.manual_seed(cfg.seed + 1)
    T, D = 4, 16
    q, k, v = tx.randn(T, D), tx.randn(T, D), tx.randn(T, D)
    weights = {}
    for sim in ("dot", "scaled_dot", "cosine"):
        _, p = scaled_dot_product_attention(q, k, v, similarity=sim, return_weights=True)
        weights[sim] = p.numpy()
    labels = [f"q{i + 1}" for i in range(T)]
    print("  dot: q·k    scaled_dot: q·k/√D    cosine: (q/‖q‖)·(k/‖k‖), in [-1, 1]")
    print_matrices(weights, labels, [f"k{j + 1}" for j in range(T)])
    for sim, p in weights.items():
        entropy = -(p * np.log(p + 1e-12)).sum(axis=1).mean()
        print(f"  {sim:>10}: mean max weight {p.max(axis=1).mean():.3f}, mean entropy "
              f"{entropy:.3f} (uniform: {math.log(T):.3f})")
    print("  cosine scores lie in [-1, 1], so its weights are never sharper than e² ≈ 7.4 "
          "to 1;\n  pass scale= (a temperature, e.g. 10) when cosine attention must focus")


# %%
# -- 4. masks -------------------------------------------------------------------------------
def masks(cfg):
    section("4. Masks (eq. 8): boolean 'may attend', False -> weight 0")
    T = 5
    causal = causal_mask(T)
    pad = padding_mask([3, 5])                               # two sequences: 3 and 5 real tokens
    both = combine_masks(causal, pad)                        # (B, 1, T, T)
    print(f"  causal_mask({T}) {causal.shape}, padding_mask([3, 5]) {pad.shape}, "
          f"combine_masks -> {both.shape}; for sequence 1 (3 real tokens, 2 padding):")
    show = {"causal": causal.numpy().astype(int),
            "padding": np.broadcast_to(pad.numpy()[0, 0], (T, T)).astype(int),
            "both": both.numpy()[0, 0].astype(int)}
    labels = [f"q{i + 1}" for i in range(T)]
    print_matrices(show, labels, [f"k{j + 1}" for j in range(T)], width=4, fmt="{}")
    tx.manual_seed(cfg.seed + 2)
    q = k = v = tx.randn(2, 1, T, 8)                         # (B, H, T, D)
    _, p = scaled_dot_product_attention(q, k, v, mask=both, return_weights=True)
    print("  the weights of sequence 1 with both masks (queries see the past and no padding):")
    print_matrices({"P": p.numpy()[0, 0]}, labels, [f"k{j + 1}" for j in range(T)])
    empty = padding_mask([0, 5])                             # sequence 1 is all padding
    out = scaled_dot_product_attention(q, k, v, mask=empty)
    print(f"  a sequence that is all padding: every query has no key; output max |O| = "
          f"{np.abs(out.numpy()[0]).max():.1f}, not NaN (masked scores are finite, the row "
          f"is zeroed)")
    allowed = np.broadcast_to(both.numpy(), p.shape)
    return {"masked_weights_zero": bool((p.numpy()[~allowed] == 0).all()),
            "all_padding_output": float(np.abs(out.numpy()[0]).max())}


# %%
# -- 5. the sentence ------------------------------------------------------------------------
# Hand-built word vectors: the features a trained model might learn. Dimensions:
FEATURES = ("dairy", "place", "person", "action", "relation", "time")
WORDS = {   # word: its feature values
    "At": {"relation": 1.0, "place": 0.5}, "my": {"person": 1.0},
    "dairy": {"dairy": 1.0}, "farm": {"dairy": 0.8, "place": 1.0}, "we": {"person": 1.0},
    "always": {"time": 1.0}, "get": {"action": 1.0}, "our": {"person": 1.0},
    "milk": {"dairy": 1.0}, "from": {"relation": 1.0, "place": 0.5}}
LOOKS_FOR = {   # (query feature, key feature): how much a query with the first seeks the second
    ("relation", "place"): 3.0, ("relation", "dairy"): 1.5,      # "from" seeks a place
    ("person", "person"): 3.0,                                   # pronouns find each other
    ("action", "person"): 1.5, ("action", "dairy"): 1.5,         # a verb: subject, object
    ("dairy", "dairy"): 3.0, ("place", "dairy"): 1.5, ("time", "action"): 1.5}


def sentence_weights(X, W_Q, W_K, W_V, T):
    Q, K, V = W_Q(X), W_K(X), W_V(X)                          # (T, C) @ (C, D) each
    _, P = scaled_dot_product_attention(Q, K, V, mask=causal_mask(T), similarity="dot",
                                        return_weights=True)
    return P.numpy()


def sentence(cfg, path):
    section(f'5. "{SENTENCE}" as an attention heatmap')
    words = SENTENCE.split()
    T, C = len(words), len(FEATURES)
    tx.manual_seed(cfg.seed)
    emb = nn.Embedding(T, C)              # random vectors, one per word (a table: lesson 07)
    rand = [nn.Linear(C, C, bias=False) for _ in range(3)]
    P_rand = sentence_weights(emb(tx.arange(T)), *rand, T)
    X = tx.tensor([[WORDS[w].get(f, 0.0) for f in FEATURES] for w in words])   # (T, C)
    W_Q, W_K, W_V = (nn.Linear(C, C, bias=False) for _ in range(3))
    W_Q.weight.data[:] = [[LOOKS_FOR.get((a, b), 0.0) for b in FEATURES] for a in FEATURES]
    W_K.weight.data[:] = np.eye(C)                            # keys are the features as they are
    W_V.weight.data[:] = np.eye(C)
    P_hand = sentence_weights(X, W_Q, W_K, W_V, T)
    print("causal (each word sees itself and the words before it), dot-product similarity;")
    print("the three words each query attends to most, with hand-built vectors:")
    for i, w in enumerate(words):
        top = np.argsort(-P_hand[i])[: min(3, i + 1)]
        print(f"  {w:>7} -> " + ", ".join(f"{words[j]} {P_hand[i, j]:.2f}" for j in top))
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 5.4), layout="constrained")
    for ax, P, title in ((axes[0], P_rand, "random embeddings and W_Q, W_K, W_V"),
                         (axes[1], P_hand, "hand-built features and W_Q; W_K = W_V = I")):
        im = ax.imshow(P, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(T), words, rotation=45, ha="right")
        ax.set_yticks(range(T), words)
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query")
        ax.set_title(title)
        for i in range(T):
            for j in range(i + 1):
                ax.text(j, i, f"{P[i, j]:.2f}", ha="center", va="center", fontsize=6.5,
                        color="white" if P[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle("Causal self-attention weights (untrained: vectors chosen, not learned)")
    save_figure(fig, path, dpi=110)
    print("Honest reading: the right heatmap shows what attention *computes* from vectors "
          "that carry meaning;\nthe meaning was put in by hand (features of each word, and "
          "W_Q saying which feature seeks which).\nA trained transformer learns such "
          "vectors and projections from text (lesson 11). Random ones (left) give no "
          "pattern.")


# %%
# -- 6. the recall task: RNN, LSTM, attention ------------------------------------------------
class AttentionRecallNet(nn.Module):
    """Token embeddings, plus a learned vector per position -> one attention head as in
    sections 1-2 (Q, K, V = X W_Q, X W_K, X W_V; scaled dot products; softmax), added to
    its input -> Linear, read out at the last position. positions=False leaves the
    position vectors out: then attention sees the tokens as a set."""

    def __init__(self, vocab, n_embd, block_size, positions=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)      # a vector per token (lesson 01's table)
        # a learned vector per position 0 … T-1, the same table for positions
        self.wpe = LearnedPositionalEmbedding(block_size, n_embd) if positions else None
        # GPT-2's init, normal(0, 0.02), not nn.Embedding's normal(0, 1): with unit-size
        # embeddings the scores start large, the softmax saturated, and a key that starts
        # with weight ~0 gets gradient ~0 (one run here never learned to look at one token).
        for emb in (self.wte, self.wpe) if positions else (self.wte,):
            emb.weight.data *= 0.02
        self.W_Q = nn.Linear(n_embd, n_embd, bias=False)
        self.W_K = nn.Linear(n_embd, n_embd, bias=False)
        self.W_V = nn.Linear(n_embd, n_embd, bias=False)
        self.head = nn.Linear(n_embd, vocab)

    def embed(self, idx):                                     # (B, T) -> (B, T, C)
        x = self.wte(idx)
        return x if self.wpe is None else x + self.wpe(idx.shape[1])

    def attend(self, x, return_weights=False):
        return scaled_dot_product_attention(self.W_Q(x), self.W_K(x), self.W_V(x),
                                            return_weights=return_weights)

    def forward(self, idx):
        x = self.embed(idx)
        x = x + self.attend(x)            # each position keeps its vector, adds what it found
        return self.head(x[:, -1])

    def weights(self, idx):
        """The attention weights P (B, T, T)."""
        return self.attend(self.embed(idx), return_weights=True)[1].numpy()


def make_model(kind, N, cfg):
    tx.manual_seed(cfg.seed)
    if kind.startswith("attention"):
        return AttentionRecallNet(cfg.vocab, cfg.attn_embd, N + 1,
                                  positions=kind == "attention")
    return RecallNet(kind, cfg.vocab, cfg.n_embd, cfg.hidden_size)


def recall_experiment(cfg, distances, kinds):
    section("6. The recall task of lesson 03: RNN, LSTM and attention")
    sizes = {k: make_model(k, max(distances), cfg).num_parameters() for k in kinds}
    print(f"vocab {cfg.vocab} (chance {1 / cfg.vocab:.1%}); parameters at N={max(distances)}: "
          + ", ".join(f"{k} {n:,}" for k, n in sizes.items()))
    print(f"{cfg.steps} AdamW steps (lr {cfg.lr:g}, batch {cfg.batch_size}) per model and N; "
          f"accuracy on {cfg.n_test} held-out sequences")
    results, models = {}, {}
    for N in distances:
        for kind in kinds:
            start = time.perf_counter()
            saved = load_curve(cfg.recall_curves, kind, N, cfg) if cfg.recall_curves else None
            if saved is not None:                  # RNN, LSTM: lesson 03 trained them
                results[kind, N], how = saved, "lesson 03's run"
            else:
                models[kind, N] = model = make_model(kind, N, cfg)
                results[kind, N] = train_recall(model, N, cfg)
                how = f"{time.perf_counter() - start:.1f} s"
            print(f"  N={N:<3} {kind:<17} accuracy {results[kind, N][-1][1]:6.1%}  ({how})",
                  flush=True)
    recall_table(results, distances, kinds, cfg.steps, cfg.vocab)
    print(f"'{NO_POSITIONS}': the same model without position vectors. Attention's output "
          f"at the last position is a weighted sum over the tokens as a set: put the tokens "
          f"before it in another order and nothing changes, so it cannot know which one came "
          f"first; it can only guess among the tokens it sees, which gets harder as N grows. "
          f"The learned position vectors (one per position, added to the token's) are what "
          f"lets the last query ask for position 1; lesson 09 compares them with sinusoids.")
    return results, models


def plot_recall(results, models, distances, kinds, cfg, path):
    N = max(distances)
    x, y = recall_task(1, N, cfg.vocab, np.random.default_rng(cfg.seed + 2))
    with tx.no_grad():
        p_last = models["attention", N].weights(tx.tensor(x))[0, -1]   # the last query's row
    print(f"\nthe trained attention model at N={N}, one held-out sequence: the last token puts "
          f"weight {p_last[0]:.3f} on position 1 (the answer) and {p_last[1:].max():.3f} at "
          f"most on any other")
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    plot_recall_accuracy(a, results, distances, kinds, cfg.steps, cfg.vocab)
    b.bar(np.arange(1, N + 2), p_last)
    b.set_xlabel(f"position (tokens: {' '.join(map(str, x[0][:12]))}{' …' if N > 11 else ''})")
    b.set_ylabel("attention weight")
    b.set_title(f"Where the last token looks (trained attention, N={N})")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# %%
# -- 7. the report says / we measured -------------------------------------------------------------
def report_says(cfg, D=64, lengths=(8, 512)):
    """The scale belongs to the head size D, not to the sequence length T."""
    section("7. The report says / we measured: which size goes under the square root")
    print("  the report: eq. 6 is the plain dot product Q Kᵀ, eq. 7 the scaled one Q Kᵀ/√M;"
          "\n  M is also its name for the sequence length, and a listing divides by sqrt(N)")
    rng = np.random.default_rng(cfg.seed)
    spread = {"√D": [], "√T": []}
    for T in lengths:
        q, k = rng.standard_normal((2, 64, T, D))              # 64 heads' (T, D) each
        S = q @ k.swapaxes(1, 2)                                # (64, T, T), eq. 6
        spread["√D"].append(float((S / math.sqrt(D)).std()))   # eq. 7
        spread["√T"].append(float((S / math.sqrt(T)).std()))
    for name, v in spread.items():
        print(f"  D={D}, scores divided by {name}: std " + ", ".join(
            f"{x:.2f} at T={T}" for x, T in zip(v, lengths)))
    print("  q·k sums D products, whatever T is: dividing by √D keeps the spread at 1; "
          "dividing by √T\n  makes the softmax sharper for short sequences and flatter "
          "for long ones")
    return {"score_std_sqrt_D": spread["√D"], "score_std_sqrt_T": spread["√T"]}


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    distances = [int(n) for n in cfg.distances.split(",")]
    start = time.perf_counter()
    facts = {**qkv_and_scores(cfg)}
    similarities(cfg)
    facts.update(masks(cfg))
    sentence(cfg, out / "sentence_attention.png")
    print(f"saved {out / 'sentence_attention.png'}")
    kinds = ("RNN", "LSTM", "attention", NO_POSITIONS)
    results, models = recall_experiment(cfg, distances, kinds)
    plot_recall(results, models, distances, kinds, cfg, out / "recall_attention.png")
    print(f"saved {out / 'recall_attention.png'}")
    facts.update(report_says(cfg))
    print(f"\ndone in {time.perf_counter() - start:.1f} s")
    return facts


# %%
if __name__ == "__main__":
    main()
