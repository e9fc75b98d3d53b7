# %%
"""Lesson 03 — the LSTM: gates, a memory cell, and memory over long distances.

Report chapter 2.2. The LSTM adds a memory cell C_t and three gates to the RNN:

    Γ_f = σ([h_{t-1}, x_t] W_f + b_f)      forget gate: how much of C_{t-1} to keep
    Γ_u = σ([h_{t-1}, x_t] W_u + b_u)      update gate: how much of the candidate to write
    Γ_o = σ([h_{t-1}, x_t] W_o + b_o)      output gate: how much of the memory to show
    C̃_t = tanh([h_{t-1}, x_t] W_c + b_c)   candidate
    C_t = Γ_f ⊗ C_{t-1} + Γ_u ⊗ C̃_t,        h_t = Γ_o ⊗ tanh(C_t)

This lesson
  1. runs one LSTM cell by hand for a few steps and prints every gate, the cell state and
     h_t, and checks them against `nn.LSTMCell`;
  2. compares the composed cell (thirteen F ops, the readable reference) with the fused
     kernel (one op, hand-derived backward; `tinytx/kernels/lstm.py`): the same numbers
     forward and backward, far fewer nodes in the graph;
  3. trains an RNN and an LSTM on the recall task (`tinytx.data.toy.recall_task`): read
     a sequence of random tokens and output the first one, N tokens later — and prints
     their held-out accuracy against the distance N;
  4. plots the gates of the trained LSTM on one sequence (heatmaps of Γ_f, Γ_u, Γ_o);
  5. measures the gradient reaching h_t from a loss at the last step, as lesson 02 did for
     the RNN, for the RNN and the LSTM side by side: why the LSTM remembers.
docs/lstm.md derives the fused backward and explains why the cell path keeps gradients.

Run:
    python lessons/03_lstm.py            # the full lesson (about 70 s on 2 CPU cores)
    python lessons/03_lstm.py --smoke    # a few seconds (the tests)
    python lessons/03_lstm.py --distances=5,10 --steps=500    # any knob of Config

Expected output (abridged; the full run's output is lessons/expected/03_lstm.txt; one seed
per model, and training is deterministic on one machine, so yours should match closely):
    1. Γ_f, Γ_u, Γ_o, C̃_t, C_t, h_t for t = 1, 2, 3; nn.LSTMCell gives the same (0.0e+00)
    2. fused vs composed, 2-layer LSTM in float64: forward identical, gradients to 9e-16;
       177 ops in the composed graph, 45 in the fused one; fused ~2x faster
    3. held-out accuracy after 3000 steps (chance 12.5%); in brackets the first step at
       which it reached 90%
           N               RNN              LSTM
           2    100.0% (  100)    100.0% (  100)
           5    100.0% (  100)    100.0% (  100)
          10     24.7% (    -)    100.0% (  200)
          20     25.8% (    -)    100.0% ( 2000)
          40     15.4% (    -)     14.4% (    -)
       the RNN fails from N=10 on; the LSTM carries it over 20 (just,
       within this budget); at 40 neither learns it in 3000 steps — lesson 04 does
    4. the LSTM trained at N=20: 18 of 32 units keep their memory (mean Γ_f > 0.9), 6 forget
       most of it at every step (< 0.5); the product of Γ_f over the 20 steps (the share
       of C_1 left in C_T) is 0.22 for the median unit and 0.87 for the best 8, against
       0.001 and 0.004 before training
    5. ‖∂L/∂h_(T-k)‖, geometric mean of 20 networks (I=8, H=32, T=50):
           steps back k     RNN      LSTM
                      0   5.6e+00   5.7e+00
                     10   7.4e-03   9.2e-02
                     49   2.1e-13   8.7e-05
       ×0.52 per step back for the RNN, ×0.74 for the LSTM
    pictures: out/lessons/03/recall_accuracy.png, out/lessons/03/lstm_gates.png
Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 2 s.

Exercises (your code goes in lessons/exercises/lstm.py; check it with
`python -m lessons.check lstm`; our answers are in lessons/solutions/lstm.py)
  1. Implement `cifg_cell(x, h_prev, c_prev, W, b)` with tinytx ops: an LSTM whose update
     gate is not learned but is 1 - Γ_f (coupled input and forget gates, Greff et al.
     2017), W (H+I, 3H) in the order (f, o, c); checked against tinytx's lstm_cell,
     forward and gradients. What does the coupling forbid the cell to do?
  2. Predict, then run: nn.LSTMCell starts the forget gate's bias at 1. Before training,
     about what is Γ_f, and what share of C_1 is left after 20 steps (Γ_f to the 20th
     power)? Compare with section 4's "before training" numbers.
  3. Change and explain: run `--distances=20 --hidden_size=8` and `--distances=20
     --hidden_size=64`. Does the LSTM's accuracy at N=20 depend on its width? Explain
     with section 4's count of units that keep their memory.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn
from tinytx.autograd import topological_order
from tinytx.course import (grad_norm_table, hidden_grad_norms, max_diff,
                           plot_recall_accuracy, recall_table, save_figure, section, setup)
from tinytx.data.toy import recall_task
from tinytx.nn.fused import fused
from tinytx.tasks.recall import RecallNet, save_curves, train_recall

GATES = ("forget", "update", "output", "candidate")     # W's column blocks, in this order


@dataclass
class Config:
    distances: str = "2,5,10,20,40"   # the N of the recall task, comma-separated
    vocab: int = 8                    # tokens 0 … vocab-1; chance is 1/vocab
    n_embd: int = 16                  # token embedding size (the RNN/LSTM input I)
    hidden_size: int = 32             # H
    batch_size: int = 64
    steps: int = 3000                 # training steps per model and distance
    lr: float = 3e-3
    clip: float = 1.0                 # gradient clipping (global norm)
    eval_every: int = 100             # held-out accuracy every this many steps
    n_test: int = 1000                # held-out sequences per distance
    grad_len: int = 50                # T for the gradient measurement of section 5
    grad_input: int = 8               # I there
    grad_hidden: int = 32             # H there
    grad_seeds: int = 20              # networks averaged (geometric mean) per curve
    seed: int = 0
    smoke: bool = False
    out_dir: str = "out/lessons/03"


SMOKE = dict(distances="2,5", steps=40, eval_every=20, n_test=200,   # --smoke: the tests
             grad_len=12, grad_seeds=3, grad_hidden=16)


def fmt(v):
    return "[" + " ".join(f"{x:+.3f}" for x in np.asarray(v).ravel()) + "]"


# %%
# -- 1. the gates, one step at a time --------------------------------------------------------
def lstm_step_by_hand(cell, x, h, c):
    """One LSTM step written out with F ops; -> (h_t, C_t, {gate name: value})."""
    H = cell.hidden_size
    z = F.concat([h, x], axis=1) @ cell.weight + cell.bias     # (B, H+I) @ (H+I, 4H)
    z_f, z_u, z_o, z_c = F.split(z, H, axis=1)                  # (B, 4H) -> 4 × (B, H)
    g = {"forget": F.sigmoid(z_f), "update": F.sigmoid(z_u), "output": F.sigmoid(z_o),
         "candidate": F.tanh(z_c)}
    c = g["forget"] * c + g["update"] * g["candidate"]          # C_t
    h = g["output"] * F.tanh(c)                                 # h_t
    return h, c, g


def gates_by_hand(cfg):
    section("1. One LSTM cell, step by step (B=1, I=3, H=4)")
    tx.manual_seed(cfg.seed)
    cell = nn.LSTMCell(3, 4)
    print(f"W {cell.weight.shape} = [W_f | W_u | W_o | W_c], b {cell.bias.shape}; the "
          f"forget bias starts at 1, so Γ_f ≈ σ(1) ≈ 0.73 before any training")
    x = tx.randn(1, 3, 3)                                        # (B, T, I)
    h = c = tx.zeros(1, 4)
    state, worst = None, 0.0
    for t in range(3):
        h, c, g = lstm_step_by_hand(cell, x[:, t], h, c)
        state = cell(x[:, t], state)                             # the library's cell
        worst = max(worst, max_diff(state[0], h), max_diff(state[1], c))
        print(f" t={t + 1}  x_t {fmt(x[:, t].numpy())}")
        for name, sym in zip(GATES, ("Γ_f", "Γ_u", "Γ_o", "C̃_t")):
            label = f"{sym} {name}"                              # C̃: a combining tilde
            print(f"      {label:<{16 + label.count(chr(0x303))}} {fmt(g[name].numpy())}")
        print(f"      {'C_t cell':<16} {fmt(c.numpy())}   = Γ_f ⊗ C_(t-1) + Γ_u ⊗ C̃_t")
        print(f"      {'h_t':<16} {fmt(h.numpy())}   = Γ_o ⊗ tanh(C_t)")
    print(f"nn.LSTMCell gives the same h_t and C_t: max |diff| = {worst:.1e}")
    return {"cell_vs_hand": worst, "gates_in_0_1": all(
        bool(((g[n].numpy() > 0) & (g[n].numpy() < 1)).all()) for n in GATES[:3])}


# %%
# -- 2. the composed and the fused cell ------------------------------------------------------
def run_lstm(lstm, x, w, composed):
    """Forward + backward of L = Σ w ⊗ hs; -> outputs, gradients, graph size, seconds."""
    for p in lstm.parameters():
        p.grad = None
    x.grad = None
    with fused(not composed):
        start = time.perf_counter()
        hs, (h, c) = lstm(x)
        loss = (hs * w).sum() + h.sum() + (c * c).sum()          # C_T gets a gradient too
        seconds = time.perf_counter() - start
        n_ops = len(topological_order(loss._ctx))                # not timed
        start = time.perf_counter()
        loss.backward()
        seconds += time.perf_counter() - start
    grads = [x.grad] + [p.grad for p in lstm.parameters()]
    return (hs, h, c), grads, n_ops, seconds


def fused_vs_composed(cfg):
    section("2. The composed cell (13 F ops) against the fused kernel (one op)")
    tx.manual_seed(cfg.seed)
    B, T, I, H = 3, 6, 5, 8
    lstm = nn.LSTM(I, H, num_layers=2, dtype="float64")
    x = tx.randn(B, T, I, dtype="float64", requires_grad=True)
    w = tx.randn(B, T, H, dtype="float64")
    outs_c, grads_c, ops_c, _ = run_lstm(lstm, x, w, composed=True)
    outs_f, grads_f, ops_f, _ = run_lstm(lstm, x, w, composed=False)
    print(f"2-layer LSTM, B={B}, T={T}, I={I}, H={H}, float64:")
    print(f"  forward:  max |diff| hs {max_diff(outs_c[0], outs_f[0]):.1e}, "
          f"h_T {max_diff(outs_c[1], outs_f[1]):.1e}, C_T {max_diff(outs_c[2], outs_f[2]):.1e}")
    names = ["x"] + [n for n, _ in lstm.named_parameters()]
    worst = max(zip((max_diff(a, b) for a, b in zip(grads_c, grads_f)), names))
    print(f"  backward: max |diff| over the gradients of x and all {len(names) - 1} "
          f"parameters {worst[0]:.1e} (worst: {worst[1]})")
    print(f"  ops in the graph: composed {ops_c}, fused {ops_f}")
    tx.manual_seed(cfg.seed)
    B, T, I, H = 32, 50, 16, 64
    lstm = nn.LSTM(I, H)
    x, w = tx.randn(B, T, I, requires_grad=True), tx.randn(B, T, H)
    times = {}
    for name, composed in (("composed", True), ("fused", False)):
        times[name] = min(run_lstm(lstm, x, w, composed)[3] for _ in range(3))
    print(f"forward + backward, B={B}, T={T}, I={I}, H={H}, float32 (best of 3): composed "
          f"{times['composed'] * 1e3:.1f} ms, fused {times['fused'] * 1e3:.1f} ms "
          f"({times['composed'] / times['fused']:.1f}x)")
    return {"fused_vs_composed_forward": max_diff(outs_c[0], outs_f[0]),
            "fused_vs_composed_backward": worst[0], "graph_ops": [ops_c, ops_f]}


# %%
# -- 3. the recall task --------------------------------------------------------------------
def recall_experiment(cfg, distances):
    section("3. Recall the first token after N more tokens: RNN against LSTM")
    print(f"vocab {cfg.vocab} (chance {1 / cfg.vocab:.1%}), embedding {cfg.n_embd}, hidden "
          f"{cfg.hidden_size}, batch {cfg.batch_size}, {cfg.steps} AdamW steps (lr {cfg.lr:g}) "
          f"per model and N;\naccuracy on {cfg.n_test} held-out sequences")
    results, models = {}, {}
    for N in distances:
        for kind in ("RNN", "LSTM"):
            tx.manual_seed(cfg.seed)
            model = RecallNet(kind, cfg.vocab, cfg.n_embd, cfg.hidden_size)
            start = time.perf_counter()
            results[kind, N] = train_recall(model, N, cfg)
            models[kind, N] = model
            print(f"  N={N:<3} {kind:<4} accuracy {results[kind, N][-1][1]:6.1%}  "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    recall_table(results, distances, ("RNN", "LSTM"), cfg.steps, cfg.vocab)
    return results, models


def plot_accuracy(results, distances, kinds, cfg, path):
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    plot_recall_accuracy(a, results, distances, kinds, cfg.steps, cfg.vocab)
    for k, ls in zip(kinds, ("-", "--", ":")):
        for i, N in enumerate(distances):
            steps, acc = zip(*results[k, N])
            b.plot(steps, acc, ls=ls, color=f"C{i}", label=f"{k} N={N}")
    b.set_xlabel("training step")
    b.set_ylabel("held-out accuracy")
    b.set_title("Learning curves")
    b.legend(fontsize=7, ncol=len(kinds))
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# %%
# -- 4. the gates of the trained LSTM ---------------------------------------------------------
def trace_gates(model, idx):
    """Run the trained LSTM over one sequence step by step; -> gates {name: (H, T)}."""
    cell = model.rnn.cells[0]
    x = model.wte(tx.tensor(idx[None]))                          # (1, T, C)
    h = c = tx.zeros(1, cell.hidden_size)
    trace = {name: [] for name in GATES + ("cell",)}
    with tx.no_grad():
        for t in range(idx.shape[0]):
            h, c, g = lstm_step_by_hand(cell, x[:, t], h, c)
            for name in GATES:
                trace[name].append(g[name].numpy()[0])
            trace["cell"].append(c.numpy()[0])
    return {name: np.stack(v, axis=1) for name, v in trace.items()}   # (H, T) each


def gates_picture(results, models, distances, cfg, path):
    section("4. The gates of a trained LSTM on one held-out sequence")
    solved = [N for N in distances if results["LSTM", N][-1][1] >= 0.9]
    N = max(solved) if solved else distances[0]
    model = models["LSTM", N]
    x, y = recall_task(1, N, cfg.vocab, np.random.default_rng(cfg.seed + 2))
    g = trace_gates(model, x[0])
    with tx.no_grad():
        guess = int(model(tx.tensor(x)).numpy().argmax())
    print(f"the LSTM trained at N={N}: sequence {x[0].tolist()}, answer {y[0]}, "
          f"its guess {guess}")
    order = np.argsort(-g["forget"][:, 1:].mean(axis=1))        # most-remembering units first
    print(f"{'gate':>8} {'at t=1':>8} {'mean t>1':>9}   (over the {cfg.hidden_size} units)")
    for name in ("forget", "update", "output"):
        print(f"{name:>8} {g[name][:, 0].mean():8.3f} {g[name][:, 1:].mean():9.3f}")
    tx.manual_seed(cfg.seed)                                     # the same net, untrained
    g0 = trace_gates(RecallNet("LSTM", cfg.vocab, cfg.n_embd, cfg.hidden_size), x[0])
    mean_f = g["forget"][:, 1:].mean(axis=1)
    print(f"after training {int((mean_f > 0.9).sum())} of {cfg.hidden_size} units keep their "
          f"memory (mean Γ_f > 0.9), {int((mean_f < 0.5).sum())} forget most of it at every "
          f"step (mean Γ_f < 0.5)")
    print(f"how much of C_1 is still in C_T: the product of Γ_f over t = 2 … {N + 1} "
          f"(the cell path, docs/lstm.md)")
    print(f"{'':>10} {'median unit':>12} {'best 8 units':>13}")
    for label, gates in (("untrained", g0), ("trained", g)):
        kept = np.sort(gates["forget"][:, 1:].prod(axis=1))[::-1]
        print(f"{label:>10} {np.median(kept):12.2e} {kept[:8].mean():13.2e}")
    fig, axes = plt.subplots(4, 1, figsize=(max(6, 0.28 * (N + 1) + 2), 9), sharex=True)
    for ax, name, sym in zip(axes, ("forget", "update", "output", "cell"),
                             ("Γ_f forget", "Γ_u update", "Γ_o output", "C_t cell")):
        lo, hi = (0, 1) if name != "cell" else (-np.abs(g["cell"]).max(), np.abs(g["cell"]).max())
        im = ax.imshow(g[name][order], aspect="auto", cmap="viridis" if name != "cell"
                       else "RdBu_r", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_ylabel(f"{sym}\nunit")
        fig.colorbar(im, ax=ax, pad=0.01)
    axes[-1].set_xticks(range(N + 1), [str(v) for v in x[0]], fontsize=7)
    axes[-1].set_xlabel(f"input token at t = 1 … {N + 1} (the first one, {y[0]}, is the answer)")
    axes[0].set_title(f"Trained LSTM, recall at N={N} (units sorted by mean forget gate)")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# %%
# -- 5. the gradient through the memory --------------------------------------------------------
def gradient_through_the_cell(cfg):
    section("5. The gradient through the memory: ‖∂L/∂h_t‖, RNN against LSTM")
    I, H, T = cfg.grad_input, cfg.grad_hidden, cfg.grad_len
    seeds = range(cfg.seed, cfg.seed + cfg.grad_seeds)
    norms = {"RNN": hidden_grad_norms(lambda: nn.RNNCell(I, H), I, T, seeds),
             "LSTM": hidden_grad_norms(lambda: nn.LSTMCell(I, H), I, T, seeds)}
    print(f"lesson 02's measurement at initialisation (I={I}, H={H}, T={T}, geometric mean "
          f"over {cfg.grad_seeds} networks): C_t = Γ_f ⊗ C_(t-1) + …, so the gradient "
          f"along the cell is multiplied by Γ_f at each step back, with no W and no tanh' "
          f"on that path")
    grad_norm_table(norms)
    return {"norm_last_over_first": {name: float(n[-1] / n[0]) for name, n in norms.items()}}


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    distances = [int(n) for n in cfg.distances.split(",")]
    start = time.perf_counter()
    facts = {**gates_by_hand(cfg), **fused_vs_composed(cfg)}
    results, models = recall_experiment(cfg, distances)
    save_curves(out / "recall_curves.json", results, cfg)     # lesson 04 reuses them
    print(f"saved {out / 'recall_curves.json'}")
    plot_accuracy(results, distances, ("RNN", "LSTM"), cfg, out / "recall_accuracy.png")
    print(f"saved {out / 'recall_accuracy.png'}")
    gates_picture(results, models, distances, cfg, out / "lstm_gates.png")
    print(f"saved {out / 'lstm_gates.png'}")
    facts.update(gradient_through_the_cell(cfg))
    print(f"\ndone in {time.perf_counter() - start:.1f} s")
    return {**facts, "recall_accuracy": {f"{k} N={n}": curve[-1][1]
                                         for (k, n), curve in results.items()}}


# %%
if __name__ == "__main__":
    main()
