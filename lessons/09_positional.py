# %%
"""Lesson 09 — Positional encoding: the sinusoidal table (report §6.1).

Self-attention looks at its input as a set: shuffle the tokens and every output is
shuffled the same way, nothing else changes. Word order must therefore be added to the
input. The report adds the fixed sinusoidal table of "Attention Is All You Need",

    PE(pos, 2i) = sin(pos / 10000^(2i/C)),   PE(pos, 2i+1) = cos(pos / 10000^(2i/C)),

to the token embeddings. With tinytx.nn.positional this lesson:

  1. draws the table as a heatmap (fast waves in the first dimensions, slow in the last);
  2. checks the property that makes it useful: PE(pos+k) is a linear function of PE(pos),
     PE(pos+k) = PE(pos) @ M_k with M_k block-diagonal (a 2x2 rotation by k·w_i per pair
     of dimensions), the same matrix for every pos; it builds M_k and prints the largest
     error over all positions; it also shows that PE(pos)·PE(pos+k) depends on k only;
  3. trains the same small attention model (2 bidirectional encoder layers: lesson 08's
     EncoderLayer, LayerNorm and residuals) to reverse a
     sequence of digits, without positions, with the sinusoidal table and with learned
     positions, and prints the accuracies it measures. Without positions the model is
     permutation-equivariant (checked), so position i cannot know which token is its
     mirror image: it can only guess from the bag of tokens.

The proof of step 2 is in docs/positional.md; the code is tinytx/nn/positional.py.

Run:
    python lessons/09_positional.py                    # the whole lesson
    python lessons/09_positional.py --smoke            # a few seconds, for the tests
    python lessons/09_positional.py --seq_len=32 --steps=1000 --variants=none,sinusoidal

Expected output (abridged; the full run's output is lessons/expected/09_positional.txt; all
numbers are measured by the run):
    1. The sinusoidal table: 128 positions x 64 dimensions
       every row has norm sqrt(C/2) = 5.6569: min 5.6569, max 5.6569
    2. PE(pos+k) = PE(pos) @ M_k for every pos (M_k: 2x2 rotations, see docs/positional.md)
           k   positions checked    max |PE(pos+k) - PE(pos) @ M_k|  M_k orthogonal
           1                 127                            1.1e-14            True
          ...
       PE(pos)·PE(pos+k) depends on k only: the largest spread over pos, ..., is 4.6e-14
    3. Reversing 16 digits (vocabulary 10) with the same 2-layer attention model (...)
       permutation check (no positions): max |model(x[:, perm]) - model(x)[:, perm]| = 3.6e-07
       positions     params  steps  train s  final loss  token accuracy  sequence accuracy
       none          26,122    600      5.4       1.944           0.242              0.000
       sinusoidal    26,122    600      5.3       0.000           1.000              1.000
       learned       26,634    600      5.5       0.000           1.000              1.000
    saved out/lessons/09/sinusoidal_table.png, out/lessons/09/reverse_task.png

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 3 s.

Exercises (your code goes in lessons/exercises/positional.py; check it with
`python -m lessons.check positional`; our answers are in lessons/solutions/positional.py)
  1. Implement `sinusoidal_table(n_positions, n_embd)`; checked against tinytx's.
  2. Implement `rope(x)`, rotary position embedding (RoFormer; Llama): token t's vector
     rotated by section 2's M_t, x[t] @ M_t, without building M_t; checked against
     x[t] @ rotation(t, C). Then explain why the dot product of rotated vectors at
     positions m and n depends only on m - n.
  3. Predict, then run: without positions the model cannot tell position i from any
     other, yet section 3 measures a token accuracy of 0.24 on 16 digits, not the 0.1 of
     a guess. Predict what --seq_len=4 gives with --variants=none and explain where the
     extra accuracy comes from (the bag of tokens).
"""
from __future__ import annotations


import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn, optim
from tinytx.course import max_diff, save_figure, setup
from tinytx.nn.positional import (LearnedPositionalEmbedding,
                                  SinusoidalPositionalEncoding, sinusoidal_table)
from tinytx.nn.transformer import EncoderLayer


@dataclass
class Config:
    out_dir: str = "out/lessons/09"
    # the table and the linearity check
    n_positions: int = 128
    table_dim: int = 64
    shifts: str = "1,2,10,50"        # the k of PE(pos+k) = PE(pos) @ M_k
    # the reversal task and the model
    variants: str = "none,sinusoidal,learned"
    seq_len: int = 16
    vocab_size: int = 10             # the digits 0..9
    n_embd: int = 32
    n_head: int = 4
    n_layer: int = 2
    steps: int = 600
    batch_size: int = 64
    lr: float = 3e-3
    eval_size: int = 1000            # held-out sequences for the accuracies
    eval_every: int = 25
    seed: int = 0
    smoke: bool = False              # few steps


SMOKE = dict(steps=30, eval_size=200, eval_every=10)   # --smoke: seconds, for the tests


# %%
# -- 1-2. the table and its rotation ----------------------------------------------------------
def rotation(k, n_embd, base=10000.0):
    """M_k: the (C, C) block-diagonal matrix with PE(pos + k) = PE(pos) @ M_k.

    For the pair (2i, 2i+1), with w = 1/base^(2i/C), the row vector (sin a, cos a) times
    [[cos kw, -sin kw], [sin kw, cos kw]] is (sin(a + kw), cos(a + kw)).
    """
    M = np.zeros((n_embd, n_embd))
    for i2 in range(0, n_embd - 1, 2):
        w = 1.0 / base ** (i2 / n_embd)
        c, s = np.cos(k * w), np.sin(k * w)
        M[i2:i2 + 2, i2:i2 + 2] = [[c, -s], [s, c]]
    return M


def section_table(cfg, out):
    N, C = cfg.n_positions, cfg.table_dim
    pe = sinusoidal_table(N, C)                             # (N, C) float64
    print(f"1. The sinusoidal table: {N} positions x {C} dimensions")
    print(f"   wavelengths 2π·10000^(2i/C): from {2 * np.pi:.2f} (dims 0, 1) to "
          f"{2 * np.pi * 10000 ** ((C - 2) / C):,.0f} positions (dims {C - 2}, {C - 1})")
    norms = np.linalg.norm(pe, axis=1)
    print(f"   every row has norm sqrt(C/2) = {np.sqrt(C / 2):.4f}: "
          f"min {norms.min():.4f}, max {norms.max():.4f}")
    print("\n2. PE(pos+k) = PE(pos) @ M_k for every pos (M_k: 2x2 rotations, "
          "see docs/positional.md)")
    print(f"   {'k':>5} {'positions checked':>19} {'max |PE(pos+k) - PE(pos) @ M_k|':>34} "
          f"{'M_k orthogonal':>15}")
    worst = 0.0
    for k in (int(s) for s in cfg.shifts.split(",")):
        if not 0 < k < N:
            continue
        M = rotation(k, C)
        err = np.abs(pe[k:] - pe[:-k] @ M).max()
        worst = max(worst, err)
        orth = np.abs(M @ M.T - np.eye(C)).max() < 1e-12
        print(f"   {k:>5} {N - k:>19} {err:>34.1e} {str(orth):>15}")
    dots = pe @ pe.T                                        # (N, N): PE(p)·PE(q)
    offsets = np.arange(N // 2)
    spread = max(np.ptp([dots[p, p + k] for p in range(N - k)]) for k in offsets)
    print(f"   PE(pos)·PE(pos+k) depends on k only: the largest spread over pos, for any k "
          f"< {N // 2}, is {spread:.1e}")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5),
                                   gridspec_kw={"width_ratios": [1.4, 1]})
    im = ax1.imshow(pe.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, origin="lower")
    ax1.set(title="PE(pos, dim): sin on even dims, cos on odd dims", xlabel="position pos",
            ylabel="dimension")
    fig.colorbar(im, ax=ax1)
    for p, style, width in ((0, "-", 5), (N // 4, "--", 3), (N // 2, ":", 2)):
        ax2.plot(offsets, dots[p, p + offsets], style, lw=width, label=f"pos = {p}")
    ax2.set(title="PE(pos) · PE(pos + k): the same curve for every pos",
            xlabel="offset k", ylabel="dot product")
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "sinusoidal_table.png"
    save_figure(fig, path, dpi=100)
    return path, {"row_norms": [norms.min(), norms.max(), np.sqrt(C / 2)],
                  "rotation_error": worst, "dot_spread": spread}


# %%
# -- 3. a task that needs positions ---------------------------------------------------------
class Reverser(nn.Module):
    """Embedding (+ positions) -> n_layer bidirectional pre-LN encoder layers -> logits.

    positions: "none", "sinusoidal" (the fixed table) or "learned" (one vector each).
    Shapes: idx (B, T) int -> logits (B, T, V)
    """

    def __init__(self, cfg, positions):
        super().__init__()
        self.positions = positions
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        if positions == "sinusoidal":
            self.pe = SinusoidalPositionalEncoding(cfg.n_embd, max_len=cfg.seq_len)
        elif positions == "learned":
            self.wpe = LearnedPositionalEmbedding(cfg.seq_len, cfg.n_embd)
        elif positions != "none":
            raise ValueError(f"positions: expected none, sinusoidal or learned, got "
                             f"{positions!r}")
        self.layers = nn.ModuleList([EncoderLayer(cfg.n_embd, cfg.n_head)
                                     for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size)

    def forward(self, idx):
        x = self.wte(idx)                                   # (B, T, C)
        if self.positions == "sinusoidal":
            x = self.pe(x)                                  # + PE[:T]
        elif self.positions == "learned":
            x = x + self.wpe(idx.shape[1])                  # + (T, C), broadcast over B
        for layer in self.layers:
            x = layer(x)                                    # no mask: every token sees all
        return self.head(self.ln_f(x))


def reverse_batch(rng, n, cfg):
    x = rng.integers(0, cfg.vocab_size, size=(n, cfg.seq_len))
    return x, x[:, ::-1].copy()


def accuracy(model, x, y):
    with tx.no_grad():
        pred = model(tx.tensor(x)).numpy().argmax(axis=-1)
    return (pred == y).mean(), (pred == y).all(axis=1).mean()


def permutation_check(model, cfg, rng):
    """A model without positions: permuting the input permutes the output, exactly."""
    x, _ = reverse_batch(rng, 4, cfg)
    perm = rng.permutation(cfg.seq_len)
    with tx.no_grad():
        a = model(tx.tensor(x)).numpy()[:, perm]
        b = model(tx.tensor(x[:, perm])).numpy()
    return max_diff(a, b)


def train(cfg, positions, x_val, y_val):
    tx.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)                    # the same batches for each
    model = Reverser(cfg, positions)
    opt = optim.Adam(model.parameters(), lr=cfg.lr)
    curve, t0 = [], time.perf_counter()
    for step in range(1, cfg.steps + 1):
        x, y = reverse_batch(rng, cfg.batch_size, cfg)
        loss = F.cross_entropy(model(tx.tensor(x)), tx.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            curve.append((step, loss.item(), accuracy(model, x_val, y_val)[0]))
    return model, curve, time.perf_counter() - t0


def section_task(cfg, out):
    print(f"\n3. Reversing {cfg.seq_len} digits (vocabulary {cfg.vocab_size}) with the same "
          f"{cfg.n_layer}-layer attention model (n_embd {cfg.n_embd}, {cfg.n_head} heads)")
    x_val, y_val = reverse_batch(np.random.default_rng(cfg.seed + 1), cfg.eval_size, cfg)
    print(f"   e.g. {' '.join(map(str, x_val[0]))}  ->  {' '.join(map(str, y_val[0]))}; "
          f"chance per token 1/{cfg.vocab_size}")
    tx.manual_seed(cfg.seed)
    blind = Reverser(cfg, "none")
    err = permutation_check(blind, cfg, np.random.default_rng(cfg.seed))
    print(f"   permutation check (no positions): max |model(x[:, perm]) - model(x)[:, perm]| "
          f"= {err:.1e}")
    print(f"   {'positions':<12} {'params':>7} {'steps':>6} {'train s':>8} {'final loss':>11} "
          f"{'token accuracy':>15} {'sequence accuracy':>18}")
    curves = {}
    token_accuracy = {}
    for positions in cfg.variants.split(","):
        model, curve, secs = train(cfg, positions, x_val, y_val)
        tok, seq = accuracy(model, x_val, y_val)
        token_accuracy[positions] = tok
        curves[positions] = curve
        print(f"   {positions:<12} {model.num_parameters():>7,} {cfg.steps:>6} {secs:>8.1f} "
              f"{curve[-1][1]:>11.3f} {tok:>15.3f} {seq:>18.3f}")
    print(f"   (held out: {cfg.eval_size} random sequences)")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for positions, curve in curves.items():
        steps, losses, accs = zip(*curve)
        ax1.plot(steps, losses, label=positions)
        ax2.plot(steps, accs, label=positions)
    ax1.set(title="training loss", xlabel="step", ylabel="cross-entropy", yscale="log")
    ax2.axhline(1 / cfg.vocab_size, color="gray", ls=":", label="chance")
    ax2.set(title=f"held-out token accuracy, reversing {cfg.seq_len} digits", xlabel="step",
            ylabel="accuracy", ylim=(0, 1.02))
    for ax in (ax1, ax2):
        ax.legend(title="positions")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "reverse_task.png"
    save_figure(fig, path, dpi=100)
    return path, {"permutation_error": err, "token_accuracy": token_accuracy}


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    t0 = time.perf_counter()
    path, facts = section_table(cfg, out)
    print(f"   saved {path}")
    path, more = section_task(cfg, out)
    print(f"   saved {path}")
    print(f"\nDone in {time.perf_counter() - t0:.1f} s.")
    return {**facts, **more}


# %%
if __name__ == "__main__":
    main()
