# %%
"""Lesson 08 — The MLP and the transformer block: residuals, LayerNorm, pre-LN against
post-LN (report: the MLP and the transformer block).

A transformer block is two sub-layers, attention (tokens talk to each other) and an MLP
(each token thinks on its own: C -> 4C -> GELU -> C), each wrapped in a residual
connection and a LayerNorm. Where the LayerNorm sits matters:

    post-LN (the original paper):           x = LN(x + sublayer(x))
    pre-LN  (GPT-2, the report's listing):  x = x + sublayer(LN(x))

Pre-LN leaves an untouched path x -> x -> ... -> x from the output back to the input;
post-LN puts a LayerNorm on that path in every layer. That does not starve post-LN's first
layers: section 3 measures about the same gradient entering layer 0 in both stacks at
initialisation. What goes wrong is at the other end. Xiong et al. (2020, "On Layer
Normalization in the Transformer Architecture") show that at initialisation post-LN's
gradients are largest for the layers near the output, so a large learning rate without
warmup takes steps there that are too big (the original Transformer's warmup is what
tames them), while pre-LN's gradients are about the same size at every depth and it
trains without warmup. With tinytx.nn this lesson:

  1. shows LayerNorm making every row mean 0 and variance 1 (whatever its scale and
     shift), and takes the report's Block apart (12·C² + 13·C parameters);
  2. trains the same 12-layer stack of tiny blocks (pre-LN and post-LN, as
     EncoderLayer(norm_first=True/False) with a causal mask, on token + learned position
     embeddings as in lesson 04; lesson 09 compares positions) as a byte-level language
     model on Don Quixote for a fixed number of steps at two learning rates and prints
     and plots the losses it measures (pre_post_ln.png);
  3. measures the gradient flow through depth at the first step: the gradient norm of
     each layer's parameters and of the residual stream entering each layer, for pre-LN,
     post-LN and a stack with no residual connections at all (gradient_flow.png).

docs/transformer.md explains the block, pre-/post-LN and why the residual path matters;
the code is tinytx/nn/transformer.py (MLP, Block, EncoderLayer) and tinytx/nn/layers.py
(LayerNorm).

Run:
    python lessons/08_block.py                         # the whole lesson
    python lessons/08_block.py --smoke                 # a few seconds, for the tests
    python lessons/08_block.py --n_layer=24 --lrs=3e-3 --steps=500
The book is fetched from Project Gutenberg once and cached; offline, pass a local copy
with --data=PATH or put it at $TINYTX_DATA_DIR/quixote.txt.

Expected output (abridged; the full run's output is lessons/expected/08_block.txt; every
number is measured by the run):
    1. LayerNorm over the last axis (8 features), row by row: ...
           row  mean before  std before  mean after  var after
             1       41.159       6.870      0.0000     1.0000
       ...
       12,704 parameters = 12·C² + 13·C = 12,704 (attention 4·C² + 4·C, ...)
    2. Pre-LN against post-LN: 12 layers, n_embd 32, byte-level LM on 2,086,255 bytes, ...
              lr norm      loss (first 50)  loss (last 50)  held-out loss     s
           0.001 pre-LN              4.111           2.440          2.432   9.9
           0.001 post-LN             4.109           2.435          2.427   9.8
            0.01 pre-LN              3.027           2.253          2.242   9.8
            0.01 post-LN             3.306           3.069          3.121   9.3
       stuck near the byte-frequency loss (3.09), ...: post-LN at lr 0.01
    3. Gradient flow through depth at the first step (12 layers; layer 0 is next to the input)
       |dL/dx| of the residual stream entering each layer
                     layer 0   layer 1   layer 6  layer 10  layer 11   first/last
       pre-LN       1.76e-02  1.75e-02  1.59e-02  1.49e-02  1.45e-02    1.22e+00
       post-LN      1.72e-02  2.25e-02  2.24e-02  2.44e-02  2.33e-02    7.39e-01
       no residual  4.57e-03  2.86e-02  6.67e-02  6.79e-02  6.89e-02    6.64e-02
    saved out/lessons/08/pre_post_ln.png, out/lessons/08/gradient_flow.png

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 3 s.

Exercises (your code goes in lessons/exercises/block.py; check it with
`python -m lessons.check block`; our answers are in lessons/solutions/block.py)
  1. Implement `layer_norm(x, weight, bias, eps)` with tinytx ops; checked against
     nn.LayerNorm, forward and gradients.
  2. Implement `mlp(x, W_fc, b_fc, W_proj, b_proj)`, the block's C -> 4C -> GELU -> C;
     checked against nn.MLP.
  3. Implement `block_forward(x, w, n_head)`: the report's block from its weights alone,
     with your layer_norm and mlp and causal multi-head attention; checked against
     nn.Block with the same weights, forward and the gradients of x and every weight.
  4. Predict, then run: `--n_layer=24 --lrs=1e-2`. Will post-LN get stuck again, and
     pre-LN still train? Explain with section 3's gradient-flow tables: is post-LN's
     gradient at layer 0 smaller than pre-LN's, and at which end of the stack are its
     gradients largest? What would a learning-rate warmup change (Xiong et al. 2020)?
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn, optim
from tinytx.course import load_book, max_diff, save_figure, setup
from tinytx.data import get_batch, train_val_split
from tinytx.functional.attention import causal_mask
from tinytx.nn.positional import LearnedPositionalEmbedding
from tinytx.nn.transformer import Block, EncoderLayer


@dataclass
class Config:
    data: str = ""                   # a local copy of the book ("" = cache/download)
    out_dir: str = "out/lessons/08"
    n_layer: int = 12
    n_embd: int = 32
    n_head: int = 4
    block_size: int = 32             # bytes of context
    batch_size: int = 16
    steps: int = 300
    lrs: str = "1e-3,1e-2"           # Adam, constant, no warmup: each lr trains both stacks
    eval_batches: int = 10           # held-out batches for the final loss
    seed: int = 0
    smoke: bool = False              # tiny stack, few steps


SMOKE = dict(n_layer=4, steps=8, eval_batches=2, block_size=16)   # --smoke: the tests
KINDS = {"pre": "pre-LN", "post": "post-LN", "none": "no residual"}


# %%
# -- 1. LayerNorm and the block ---------------------------------------------------------------
def section_layernorm():
    rng = np.random.default_rng(0)
    scale, shift = np.array([[1.0], [10.0], [0.1], [3.0]]), np.array([[0.0], [50], [-2], [7]])
    x = (rng.standard_normal((4, 8)) * scale + shift).astype(np.float32)   # (rows, C)
    ln = nn.LayerNorm(8)                              # weight 1, bias 0 at the start
    y = ln(tx.tensor(x)).numpy()
    print("1. LayerNorm over the last axis (8 features), row by row: (x - mean) / "
          "sqrt(var + eps) · weight + bias")
    print(f"   {'row':>5} {'mean before':>12} {'std before':>11} {'mean after':>11} "
          f"{'var after':>10}")
    for r in range(len(x)):
        mean_after = np.round(y[r].mean(), 4) + 0.0          # no "-0.0000"
        print(f"   {r:>5} {x[r].mean():>12.3f} {x[r].std():>11.3f} {mean_after:>11.4f} "
              f"{y[r].var():>10.4f}")
    z = ln(tx.tensor(3 * x + 5)).numpy()
    print(f"   LN(3x + 5) = LN(x): max |difference| = {max_diff(z, y):.1e}: a row's "
          f"scale and offset are forgotten\n   (up to eps = {ln.eps:g}, which matters only "
          f"for a row as flat as row {x.std(axis=1).argmin()})")
    C, H = 32, 4
    block = Block(n_embd=C, n_head=H)
    print(f"\n   The report's block, Block(n_embd={C}, n_head={H}): "
          f"x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))")
    for name, p in block.named_parameters():
        print(f"     {name:<20} {str(p.shape):<10} {p.size:>6,}")
    n = block.num_parameters()
    print(f"   {n:,} parameters = 12·C² + 13·C = {12 * C * C + 13 * C:,} "
          f"(attention 4·C² + 4·C, MLP 8·C² + 5·C, two LayerNorms 4·C)")
    out = block(tx.randn(2, 5, C))
    print(f"   Block maps (B, T, C) = (2, 5, {C}) to {out.shape}: blocks stack.")
    return {"ln_row_means": np.abs(y.mean(axis=1)).max().item(),
            "ln_row_vars": y.var(axis=1).tolist(), "ln_scale_invariance": max_diff(z, y),
            "block_parameters": [n, 12 * C * C + 13 * C], "block_out_shape": list(out.shape)}


# %%
# -- the stacks -----------------------------------------------------------------------------
class NoResidualLayer(EncoderLayer):
    """EncoderLayer's sub-layers without the residual connections (pre-LN otherwise)."""

    def forward(self, x, mask=None):
        x = self.self_attn(self.ln_1(x), mask)
        return self.mlp(self.ln_2(x))


class Stack(nn.Module):
    """A byte-level causal language model: embeddings, n_layer layers, head.

    kind: "pre" (pre-LN layers and a final LayerNorm, like GPT-2), "post" (post-LN
    layers; their output is already normalised) or "none" (no residual connections).
    Shapes: idx (B, T) int -> logits (B, T, 256)
    """

    def __init__(self, cfg, kind):
        super().__init__()
        C, H = cfg.n_embd, cfg.n_head
        self.wte = nn.Embedding(256, C)
        self.wpe = LearnedPositionalEmbedding(cfg.block_size, C)
        self.layers = nn.ModuleList([
            NoResidualLayer(C, H) if kind == "none" else EncoderLayer(C, H,
                                                                      norm_first=kind == "pre")
            for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(C) if kind != "post" else None
        self.head = nn.Linear(C, 256)
        self.stream = None                   # set to a list to keep each layer's input

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(idx.shape[1])        # (B, T, C)
        mask = causal_mask(idx.shape[1])                  # a decoder: no peeking ahead
        for layer in self.layers:
            if self.stream is not None:
                x.retain_grad()
                self.stream.append(x)                     # the residual stream, layer input
            x = layer(x, mask)
        if self.ln_f is not None:
            x = self.ln_f(x)
        return self.head(x)


def build(cfg, kind):
    tx.manual_seed(cfg.seed)                  # the same initial weights for every kind
    return Stack(cfg, kind)


# %%
# -- 2. pre-LN against post-LN ---------------------------------------------------------------
def held_out_loss(model, val, cfg):
    rng = np.random.default_rng(cfg.seed + 1)
    with tx.no_grad():
        return np.mean([F.cross_entropy(model(x), y).item() for x, y in
                        (get_batch(val, cfg.batch_size, cfg.block_size, rng)
                         for _ in range(cfg.eval_batches))])


def train(cfg, kind, lr, data):
    model = build(cfg, kind)
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(cfg.seed)     # the same batches for every run
    losses = []
    for _ in range(cfg.steps):
        x, y = get_batch(data, cfg.batch_size, cfg.block_size, rng)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def section_training(cfg, ids, out):
    train_ids, val_ids = train_val_split(ids, 0.1)
    lrs = [float(s) for s in cfg.lrs.split(",")]
    print(f"\n2. Pre-LN against post-LN: {cfg.n_layer} layers, n_embd {cfg.n_embd}, "
          f"byte-level LM on {len(train_ids):,} bytes,\n   {cfg.steps} steps of "
          f"{cfg.batch_size} x {cfg.block_size} bytes, Adam at a constant lr, no warmup, "
          f"same init and batches")
    unigram = np.bincount(train_ids, minlength=256) / len(train_ids)
    entropy = -(unigram[unigram > 0] * np.log(unigram[unigram > 0])).sum()
    print(f"   (for scale: ln 256 = {np.log(256):.2f} is a uniform guess; the byte "
          f"frequencies alone give {entropy:.2f})")
    n = max(1, min(50, cfg.steps // 4))
    print(f"   {'lr':>7} {'norm':<8} {f'loss (first {n})':>16} {f'loss (last {n})':>15} "
          f"{'held-out loss':>14} {'s':>5}")
    stuck = []
    runs = {}
    for lr in lrs:
        for kind in ("pre", "post"):
            t0 = time.perf_counter()
            model, losses = train(cfg, kind, lr, train_ids)
            val = held_out_loss(model, val_ids, cfg)
            runs[(lr, kind)] = losses
            last = np.mean(losses[-n:])
            print(f"   {lr:>7g} {KINDS[kind]:<8} {np.mean(losses[:n]):>16.3f} "
                  f"{last:>15.3f} {val:>14.3f} {time.perf_counter() - t0:>5.1f}")
            if last < entropy + 0.1 and val > entropy - 0.1:
                stuck.append(f"{KINDS[kind]} at lr {lr:g}")
    if stuck:
        print(f"   stuck near the byte-frequency loss ({entropy:.2f}), i.e. it learned "
              f"which bytes are common but no context: {'; '.join(stuck)}")
    fig, axes = plt.subplots(1, len(lrs), figsize=(6 * len(lrs), 4), squeeze=False)
    for ax, lr in zip(axes[0], lrs):
        for kind in ("pre", "post"):
            losses = np.array(runs[(lr, kind)])
            smooth = np.convolve(losses, np.ones(n) / n, mode="valid")
            ax.plot(np.arange(n, len(losses) + 1), smooth, label=KINDS[kind])
        ax.axhline(entropy, color="gray", ls=":", label="byte frequencies")
        ax.set(title=f"{cfg.n_layer} layers, lr {lr:g}: training loss "
                     f"(mean of {n} steps)", xlabel="step", ylabel="cross-entropy (nats)")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "pre_post_ln.png"
    save_figure(fig, path, dpi=100)
    return path


# %%
# -- 3. gradient flow ------------------------------------------------------------------------
def first_step_norms(cfg, kind, ids):
    """Per layer, at initialisation on one batch: |grad| of its parameters, |dL/dx| of its
    input (the residual stream) and the RMS of that input."""
    model = build(cfg, kind)
    model.stream = []
    x, y = get_batch(ids, cfg.batch_size, cfg.block_size, np.random.default_rng(cfg.seed))
    F.cross_entropy(model(x), y).backward()
    params = [np.sqrt(sum(float((p.grad ** 2).sum()) for p in layer.parameters()))
              for layer in model.layers]
    stream = [float(np.linalg.norm(h.grad)) for h in model.stream]
    rms = [float(np.sqrt((h.data ** 2).mean())) for h in model.stream]
    return np.array(params), np.array(stream), np.array(rms)


def section_gradients(cfg, ids, out):
    print(f"\n3. Gradient flow through depth at the first step ({cfg.n_layer} layers; "
          f"layer 0 is next to the input)")
    norms = {kind: first_step_norms(cfg, kind, ids) for kind in KINDS}
    show = sorted({0, 1, cfg.n_layer // 2, cfg.n_layer - 2, cfg.n_layer - 1})
    show = [i for i in show if 0 <= i < cfg.n_layer]
    head = " ".join(f"{f'layer {i}':>9}" for i in show)
    for title, k in (("|grad| of each layer's parameters", 0),
                     ("|dL/dx| of the residual stream entering each layer", 1)):
        print(f"   {title}")
        print(f"   {'':<12}{head}   first/last")
        for kind, arrays in norms.items():
            a = arrays[k]
            print(f"   {KINDS[kind]:<12}" + " ".join(f"{a[i]:>9.2e}" for i in show)
                  + f"   {a[0] / a[-1]:>9.2e}")
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    titles = ("|grad| of each layer's parameters", "|dL/dx| entering each layer",
              "RMS of the stream entering each layer (forward)")
    for ax, k, title in zip(axes, range(3), titles):
        for kind, arrays in norms.items():
            ax.plot(range(cfg.n_layer), arrays[k], "o-", label=KINDS[kind])
        ax.set(title=title, xlabel="layer (0 = next to the input)", yscale="log")
        ax.legend()
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"{cfg.n_layer} layers at initialisation, one batch")
    fig.tight_layout()
    path = out / "gradient_flow.png"
    save_figure(fig, path, dpi=100)
    return path


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    t0 = time.perf_counter()
    text, source = load_book(cfg, smoke_chars=None)         # the whole book, if on disk
    ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)   # bytes: vocabulary 256
    facts = section_layernorm()
    print(f"\n   Text for sections 2-3: {source}, {len(ids):,} bytes")
    path = section_training(cfg, ids, out)
    print(f"   saved {path}")
    path = section_gradients(cfg, ids, out)
    print(f"   saved {path}")
    print(f"\nDone in {time.perf_counter() - t0:.1f} s.")
    return facts


# %%
if __name__ == "__main__":
    main()
