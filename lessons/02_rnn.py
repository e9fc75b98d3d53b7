# %%
"""Lesson 02 — the recurrent neural network (RNN) and backpropagation through time.

Report chapter 2.1. An RNN reads a sequence one step at a time and carries a hidden
state from step to step, with the same weights at every step:

    h_t = tanh([h_{t-1}, x_t] W + b),    W (H+I, H),  b (H,),  h_0 = 0

This lesson
  1. recalls tinytx's Tensor and autograd (lesson 00): `backward()` fills `.grad`;
  2. runs the recurrence by hand, step by step, printing the shapes, and checks that
     `nn.RNNCell` and `nn.RNN` compute exactly that;
  3. does backpropagation through time (BPTT) by hand — the gradient walks back one step
     at a time, and W's gradient is the sum of what every step contributes — and checks
     it against autograd, which does the same thing on the unrolled graph;
  4. checks the cell's gradients with `tx.gradcheck` (central differences, float64), and
     shows gradcheck catching a deliberately wrong backward;
  5. measures the vanishing gradient: ‖∂L/∂h_t‖ for a loss at the last step, as a
     function of the distance T - t, with `retain_grad()` on every h_t — for the RNN and
     an RNN with large weights (the exploding case); lesson 03 measures the LSTM;
  6. trains a small RNN by BPTT to predict the next value of sine waves.
See docs/lstm.md for the derivations, docs/autograd.md for how backward works.

Run:
    python lessons/02_rnn.py            # the full lesson (a few seconds)
    python lessons/02_rnn.py --smoke    # smaller everything (the tests)

Expected output (abridged; the full run's output is lessons/expected/02_rnn.txt; yours may
differ in the last digits):
    1. x.grad = [2.0, 4.0, 6.0] (= 2x); y was made by <Sum>, fed by <Mul>
    2. per-step shapes: [h_0 (2, 4), x_1 (2, 3)] -> (2, 7) @ W (7, 4) + b (4,) -> h_1 (2, 4);
       nn.RNNCell equals the hand loop exactly, nn.RNN to 6e-08 (float32)
    3. manual BPTT against autograd (float64): every dL/dh_t and dL/dW agree (0.0e+00)
    4. gradcheck True for nn.RNNCell and for the cell written with F ops; the wrong tanh
       backward is caught: "gradcheck: input 0 (shape (2, 3)): 6 of 6 elements differ"
    5. ‖∂L/∂h_(T-k)‖, geometric mean of 20 networks (I=8, H=32, T=50):
           steps back k     RNN    RNN, W x4
                      0   5.6e+00   5.6e+00
                     10   7.4e-03   8.1e+00
                     49   2.1e-13   5.4e+01
       ×0.52 per step back for the RNN, ×1.04 (growing) with 4× larger weights
    6. training MSE 0.48 -> 0.0003 in 400 steps; held-out MSE 0.0003 against 0.083 for
       "repeat the last value"
    pictures: out/lessons/02/gradient_norms.png, out/lessons/02/sine_rnn.png
Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 1 s.

Exercises (your code goes in lessons/exercises/rnn.py; check it with
`python -m lessons.check rnn`; our answers are in lessons/solutions/rnn.py)
  1. Implement `rnn_step(x, h_prev, W_hh, W_xh, b)` with tinytx ops: the step as papers
     write it, h_t = tanh(W_hh h_{t-1} + W_xh x_t + b) on column vectors with two
     matrices, for a batch of row vectors; checked against nn.RNNCell, forward and
     gradients. How is the lesson's stacked W made from W_hh and W_xh?
  2. Implement `rnn_backward(dh_T, x, hs, h0, W)` in NumPy: backpropagation through the
     whole sequence, as section 3 does for dL/dh and dL/dW, and also every step's dL/dx_t,
     dL/db and the gradient reaching h0; checked against autograd.
  3. Predict, then run: section 5 finds ‖∂L/∂h‖ shrinking ×0.52 per step back with the
     default weights and growing ×1.04 with 4× larger ones. Predict whether
     --big_weight_scale=2 vanishes or explodes, then run the lesson with it and explain
     the result from what each step back multiplies the gradient by (W and tanh').
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn, optim
from tinytx.course import (grad_norm_table, hidden_grad_norms, max_diff, save_figure,
                           section, setup)
from tinytx.function import Function


@dataclass
class Config:
    input_size: int = 3          # I, for the step-by-step part
    hidden_size: int = 4         # H, for the step-by-step part
    seq_len: int = 5             # T, for the step-by-step part
    batch_size: int = 2          # B
    grad_len: int = 50           # T for the vanishing-gradient measurement
    grad_input: int = 8          # I there
    grad_hidden: int = 32        # H there
    grad_seeds: int = 20         # networks averaged (geometric mean) per curve
    big_weight_scale: float = 4.0  # the "large weights" RNN: W multiplied by this
    sine_hidden: int = 32        # the sine-wave RNN
    sine_len: int = 40
    sine_batch: int = 32
    sine_steps: int = 400
    lr: float = 1e-2
    seed: int = 0
    smoke: bool = False
    out_dir: str = "out/lessons/02"


SMOKE = dict(grad_len=12, grad_seeds=3, grad_hidden=16,      # --smoke: for the tests
             sine_steps=30, sine_len=20, sine_hidden=16)


# %%
# -- 1. tensors and autograd ---------------------------------------------------------------
def autograd_basics():
    section("1. Tensors and autograd")
    x = tx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()                                  # y = Σ x²; the graph: Mul -> Sum
    print(f"x = {x.tolist()}, y = sum(x * x) = {y.item():g}; y was made by {y._ctx}, "
          f"which was fed by {y._ctx.inputs[0]._ctx}")
    y.backward()                                       # dy/dx into x.grad
    print(f"after y.backward(): x.grad = {x.grad.tolist()}  (dy/dx = 2x)")
    return {"x_grad": x.grad.tolist()}


# %%
# -- 2. the recurrence by hand ---------------------------------------------------------------
def rnn_by_hand(cfg):
    section("2. The RNN, one step at a time:  h_t = tanh([h_{t-1}, x_t] W + b)")
    B, T, I, H = cfg.batch_size, cfg.seq_len, cfg.input_size, cfg.hidden_size
    tx.manual_seed(cfg.seed)
    cell = nn.RNNCell(I, H)                            # W (H+I, H), b (H,)
    W, b = cell.weight, cell.bias
    x = tx.randn(B, T, I)                              # a toy batch of sequences
    print(f"B={B} sequences of T={T} vectors of size I={I}; hidden size H={H}")
    print(f"W {W.shape} (the h rows first, then the x rows), b {b.shape}")
    h, hs = tx.zeros(B, H), []
    for t in range(T):
        hx = F.concat([h, x[:, t]], axis=1)            # [h_{t-1}, x_t]: (B, H+I)
        h_new = F.tanh(hx @ W + b)                     # (B, H+I) @ (H+I, H) + (H,) -> (B, H)
        if t < 3 or t == T - 1:
            print(f"  t={t + 1}: [h_{t} {h.shape}, x_{t + 1} {x[:, t].shape}] -> {hx.shape}"
                  f" @ W {W.shape} + b {b.shape} -> h_{t + 1} {h_new.shape}")
        elif t == 3:
            print("  ...")
        h = h_new
        hs.append(h)
    hs = F.stack(hs, axis=1)                           # T × (B, H) -> (B, T, H)
    print(f"every hidden state stacked: {hs.shape}; h_T = hs[:, -1] {hs[:, -1].shape}")
    h_cell = tx.zeros(B, H)
    for t in range(T):
        h_cell = cell(x[:, t], h_cell)
    rnn = nn.RNN(I, H)
    rnn.load_state_dict({f"cell.{k}": v for k, v in cell.state_dict().items()})
    hs_rnn, h_T = rnn(x)
    print(f"nn.RNNCell step by step equals the hand loop: max |diff| = "
          f"{max_diff(h_cell, h):.1e}")
    print(f"nn.RNN over the whole sequence (x W_x for all t in one matmul, then only "
          f"h W_h in the loop):\n  hs {hs_rnn.shape}, h_T {h_T.shape}, max |diff| = "
          f"{max_diff(hs_rnn, hs):.1e}")
    return {"hs_shape": list(hs.shape), "cell_vs_hand": max_diff(h_cell, h),
            "rnn_vs_hand": max_diff(hs_rnn, hs)}


# %%
# -- 3. backpropagation through time ---------------------------------------------------------
def bptt_by_hand(cfg):
    section("3. Backpropagation through time, by hand and by autograd")
    B, T, I, H = cfg.batch_size, cfg.seq_len, cfg.input_size, cfg.hidden_size
    tx.manual_seed(cfg.seed + 1)
    cell = nn.RNNCell(I, H, dtype="float64")
    x = tx.randn(B, T, I, dtype="float64")
    w = tx.randn(B, H, dtype="float64")                # L = Σ w ⊗ h_T, a loss at the end
    h, hs = tx.zeros(B, H, dtype="float64"), []
    for t in range(T):
        h = cell(x[:, t], h)
        h.retain_grad()                                # keep dL/dh_t after backward
        hs.append(h)
    loss = (w * h).sum()
    loss.backward()
    # by hand: g = dL/dh_t; through tanh, dz = g ⊗ (1 - h_t²); W gets [h_{t-1}, x_t]ᵀ dz
    # from step t, and h_{t-1} gets dz W_hᵀ. Walk t = T … 1.
    Wd = cell.weight.data
    g, dW, worst_h = w.data, np.zeros_like(Wd), 0.0
    for t in reversed(range(T)):
        worst_h = max(worst_h, float(np.abs(g - hs[t].grad).max()))
        dz = g * (1 - hs[t].data ** 2)                 # (B, H)
        h_prev = hs[t - 1].data if t else np.zeros((B, H))
        dW += np.concatenate([h_prev, x.data[:, t]], axis=1).T @ dz   # (H+I, B) @ (B, H)
        g = dz @ Wd[:H].T                              # dL/dh_{t-1}: (B, H) @ (H, H)
    print(f"loss L = sum(w * h_T) = {loss.item():.4f}")
    print(f"dL/dh_t by hand vs h_t.grad from autograd (retain_grad), worst over t: "
          f"{worst_h:.1e}")
    print(f"dL/dW = Σ_t [h_(t-1), x_t]ᵀ dz_t by hand vs cell.weight.grad:          "
          f"{max_diff(dW, cell.weight.grad):.1e}")
    print("The same W is used at every step, so its gradient is a sum over the steps: "
          "that is all BPTT is.")
    return {"bptt_dh": worst_h, "bptt_dW": max_diff(dW, cell.weight.grad)}


# %%
# -- 4. gradient checks ----------------------------------------------------------------------
class WrongTanh(Function):
    """tanh with a deliberately wrong backward (1 - y instead of 1 - y²)."""

    def forward(self, x):
        self.y = self.xp.tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y)                       # the bug gradcheck must catch


def gradient_checks(cfg):
    section("4. Gradient checks (central differences in float64, random upstream gradient)")
    tx.manual_seed(cfg.seed + 2)
    I, H = cfg.input_size, cfg.hidden_size
    cell = nn.RNNCell(I, H, dtype="float64")
    x = tx.randn(2, I, dtype="float64", requires_grad=True)
    h = tx.randn(2, H, dtype="float64", requires_grad=True)
    ok_cell = tx.gradcheck(lambda x, h, W, b: cell(x, h), [x, h, cell.weight, cell.bias])
    print(f"gradcheck(nn.RNNCell) w.r.t. x, h_(t-1), W, b: {ok_cell}")
    ok = tx.gradcheck(lambda x, h, W, b: F.tanh(F.concat([h, x], axis=1) @ W + b),
                      [x, h, cell.weight, cell.bias])
    print(f"gradcheck(the cell written with F ops):         {ok}")
    try:
        tx.gradcheck(lambda x, h, W: WrongTanh()(F.concat([h, x], axis=1) @ W),
                     [x, h, cell.weight])
        print("gradcheck(a cell with a wrong tanh backward): passed (it should not!)")
        caught = False
    except AssertionError as e:
        print(f"gradcheck(a cell with a wrong tanh backward) fails, as it must:\n  {e}")
        caught = True
    return {"gradcheck_cell": ok_cell, "gradcheck_composed": ok, "wrong_backward_caught": caught}


# %%
# -- 5. vanishing (and exploding) gradients ---------------------------------------------------
def vanishing_gradients(cfg):
    section("5. The vanishing gradient: ‖∂L/∂h_t‖ for a loss at the last step T")
    I, H, T = cfg.grad_input, cfg.grad_hidden, cfg.grad_len
    seeds = range(cfg.seed, cfg.seed + cfg.grad_seeds)
    norms = {name: hidden_grad_norms(lambda: nn.RNNCell(I, H), I, T, seeds, scale)
             for name, scale in (("RNN", 1.0), (f"RNN, W x{cfg.big_weight_scale:g}",
                                                cfg.big_weight_scale))}
    print(f"I={I}, H={H}, T={T}, geometric mean over {cfg.grad_seeds} random networks at "
          f"initialisation (tinytx.course.hidden_grad_norms: retain_grad() on every h_t)")
    grad_norm_table(norms)
    return norms


def plot_grad_norms(norms, path):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, n in norms.items():
        ax.semilogy(np.arange(len(n)), n, label=name)
    ax.set_xlabel("steps back from the loss, T - t")
    ax.set_ylabel("‖∂L/∂h_t‖ (geometric mean)")
    ax.set_title("Backpropagation through time: the gradient reaching h_t")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# %%
# -- 6. training an RNN by BPTT ----------------------------------------------------------------
class SineRNN(nn.Module):
    """Reads x_1 … x_t and predicts x_{t+1} at every step."""

    def __init__(self, hidden):
        super().__init__()
        self.rnn = nn.RNN(1, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):                              # (B, T, 1) -> (B, T, 1)
        hs, _ = self.rnn(x)
        return self.head(hs)


def sine_batch(B, T, rng):
    """Sine waves of random frequency and phase: inputs x_1 … x_T, targets x_2 … x_{T+1}."""
    omega = rng.uniform(0.2, 0.6, (B, 1))
    phase = rng.uniform(0, 2 * np.pi, (B, 1))
    wave = np.sin(omega * np.arange(T + 1) + phase).astype(np.float32)[..., None]
    return wave[:, :-1], wave[:, 1:]                   # (B, T, 1) each


def train_sine(cfg):
    section("6. Training an RNN by BPTT: predict the next value of a sine wave")
    tx.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = SineRNN(cfg.sine_hidden)
    opt = optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    warm = 5                                           # the first steps cannot know ω yet
    losses, start = [], time.perf_counter()
    for step in range(cfg.sine_steps):
        x, y = sine_batch(cfg.sine_batch, cfg.sine_len, rng)
        pred = model(tx.tensor(x))
        loss = ((pred[:, warm:] - tx.tensor(y[:, warm:])) ** 2).mean()
        opt.zero_grad()
        loss.backward()                                # BPTT through all T steps
        opt.step()
        losses.append(loss.item())
        if step % max(1, cfg.sine_steps // 5) == 0 or step == cfg.sine_steps - 1:
            print(f"  step {step:4d}  train MSE {loss.item():.4f}")
    x, y = sine_batch(256, cfg.sine_len, np.random.default_rng(cfg.seed + 999))
    with tx.no_grad():
        pred = model(tx.tensor(x)).numpy()
    mse = float(((pred - y)[:, warm:] ** 2).mean())
    copy = float(((x - y)[:, warm:] ** 2).mean())      # baseline: repeat the last value
    print(f"held-out MSE {mse:.4f}  vs  {copy:.4f} for 'repeat the last value' "
          f"({time.perf_counter() - start:.1f} s, {cfg.sine_steps} steps)")
    return losses, y[0, :, 0], pred[0, :, 0], warm


def plot_sine(losses, y, pred, warm, path):
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    a.semilogy(losses)
    a.set_xlabel("training step")
    a.set_ylabel("train MSE")
    a.set_title("Loss")
    t = np.arange(1, len(y) + 1)
    b.plot(t, y, "k-", label="true x_(t+1)")
    b.plot(t, pred, "o", ms=3.5, label="RNN's prediction")
    b.axvspan(0.5, warm + 0.5, color="0.9", label="not in the loss")
    b.set_xlabel("t")
    b.set_title("A held-out sine wave")
    b.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    start = time.perf_counter()
    facts = {**autograd_basics(), **rnn_by_hand(cfg), **bptt_by_hand(cfg),
             **gradient_checks(cfg)}
    norms = vanishing_gradients(cfg)
    facts["norm_last_over_first"] = {name: float(n[-1] / n[0]) for name, n in norms.items()}
    plot_grad_norms(norms, out / "gradient_norms.png")
    print(f"saved {out / 'gradient_norms.png'}")
    losses, y, pred, warm = train_sine(cfg)
    plot_sine(losses, y, pred, warm, out / "sine_rnn.png")
    print(f"saved {out / 'sine_rnn.png'}")
    print(f"\ndone in {time.perf_counter() - start:.1f} s")
    return {**facts, "sine_mse": [losses[0], losses[-1]]}


# %%
if __name__ == "__main__":
    main()
