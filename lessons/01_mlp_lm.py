# %%
"""Lesson 01 — from a bigram count table to an MLP language model, and how it is trained.

What the report's chapter 7 takes for granted, built here on lesson 00's autograd before
any lesson uses it: a language model predicts the next symbol; its loss is the
cross-entropy; it learns from mini-batches with an optimizer (SGD, momentum, Adam,
AdamW), a warmup + cosine learning-rate schedule and gradient clipping; dropout fights
overfitting; the held-out loss, in bits per byte, says how good it is. The text is Don
Quixote read as bytes (256 symbols: tokenizers come in lesson 06), so the loss in bits
is bits per byte. As in Karpathy's makemore and Bengio et al. (2003).

This lesson
  1. reads the book as bytes and splits it: the first 90% to train on, the last 10%
     held out (`tinytx.data.train_val_split`); draws random windows (`get_batch`);
  2. counts the bigram table P(next byte | byte) and measures it on the held-out bytes:
     bits per byte, against 8 for the uniform guess and the unigram's;
  3. builds `Module` (finds its parameters) and `Linear` (y = x W + b) in a dozen lines,
     and shows tinytx's `nn.Module` / `nn.Linear` compute the same;
  4. derives softmax + cross-entropy and its gradient p - y, writes both in NumPy, and
     checks them against `F.cross_entropy` and autograd (float64); the naive softmax
     overflows where the shifted one does not;
  5. builds the MLP language model (the last `context` bytes -> their vectors, rows of
     a table C, `nn.Embedding` -> tanh layer -> 256 logits) and backpropagates through
     it by hand: every gradient against autograd;
  6. trains it on mini-batches with SGD, SGD + momentum, Adam and AdamW (`tinytx.optim`;
     SGD and momentum also written out by hand and checked against it);
  7. adds the warmup + cosine schedule (`optim.lr_schedule`) and gradient clipping
     (`optim.clip_grad_norm`) to AdamW;
  8. shows dropout (`nn.Dropout`) and trains on a small part of the book with and without
     it: the gap between training and held-out loss;
  9. reports the final model's held-out bits per byte over every held-out byte, against
     the bigram table, and samples from it.

Run:
    python lessons/01_mlp_lm.py            # the full lesson (about a minute)
    python lessons/01_mlp_lm.py --smoke    # smaller everything (the tests)

Expected output (abridged; the full run's output is lessons/expected/01_mlp_lm.txt; seed
1337; yours may differ in the last digits):
    1. 2,318,061 bytes -> 2,086,255 to train on, 231,806 held out
    2. held-out bits per byte: uniform 8.00, unigram 4.47, bigram 3.37
    3. our TwoLayers and tinytx's give the same outputs (0.0e+00); 67 parameters in both
    4. by hand against F.cross_entropy + autograd: loss 0.0e+00, dL/dz 6.4e-17; ln 256 =
       5.5452 nats = 8.00 bits; the naive softmax of [1000, 999, 998] gives nan
    5. 102,912 parameters; every gradient by hand equals autograd's to 2.8e-17 (float64)
    6. hand-written SGD and momentum equal optim.SGD (0.0e+00); held-out bits per byte
       after 2000 steps: SGD 3.117, momentum 3.051, Adam 2.799, AdamW 2.891
    7. lr 1.98e-05 -> 2.00e-03 at step 100 -> 2.00e-04; clipped on 8% of the steps;
       held-out 2.919
    8. on 20,000 bytes: dropout 0: train 2.056, held-out 3.676 (gap 1.620); dropout 0.2:
       train 2.211, held-out 3.676 (gap 1.465)
    9. all 231,798 held-out bytes: 2.878 bits per byte (the bigram table 3.372)
    picture: out/lessons/01/training.png (optimizers' held-out curves, the schedule and
    the gradient norm, dropout's train/held-out curves)
Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 2 s.

Exercises (your code goes in lessons/exercises/mlp_lm.py; check it with
`python -m lessons.check mlp_lm`; our answers are in lessons/solutions/mlp_lm.py)
  1. Write `cross_entropy_ignoring(logits, targets, ignore_index)` in NumPy: section 4's
     loss and gradient, where targets equal to ignore_index (padding, lesson 12) count
     neither in the loss nor in its mean; checked against `F.cross_entropy` and autograd.
  2. Write `adamw_step(p, grad, m, v, t, lr, betas, eps, weight_decay)` in NumPy: one
     AdamW update (decoupled weight decay, bias-corrected moments; section 6 gives the
     formulas); checked against `optim.AdamW` over several steps.
  3. Predict, then run: with --dropout=0.5, will section 8's held-out loss on the small
     part be lower or higher than with 0.2, and the training loss? Run it and explain
     from what dropout does to the training loss and to the gap.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn, optim
from tinytx.course import load_book, max_diff, save_figure, section, setup
from tinytx.data import get_batch, train_val_split

V = 256                                  # bytes: the vocabulary


@dataclass
class Config:
    data: str = ""                 # a local copy of the book ("" = cache or download)
    context: int = 8               # k: bytes the model sees before the one it predicts
    n_embd: int = 16               # d: the vector of each byte
    n_hidden: int = 256            # H: the tanh layer
    batch_size: int = 64           # B
    steps: int = 2000              # per training run (six runs)
    sgd_lr: float = 0.1            # SGD's learning rate (with and without momentum)
    lr: float = 2e-3               # Adam's and AdamW's (the peak, with the schedule)
    weight_decay: float = 0.1      # AdamW's, on matrices only (optim.decay_groups)
    warmup_steps: int = 100
    grad_clip: float = 1.5
    dropout: float = 0.2
    small_train: int = 20_000      # bytes the dropout section trains on
    eval_every: int = 100
    eval_bytes: int = 4096         # held-out positions in each curve point
    seed: int = 1337
    smoke: bool = False
    out_dir: str = "out/lessons/01"


SMOKE = dict(steps=40, eval_every=10, warmup_steps=5, n_hidden=64, small_train=1500,
             eval_bytes=256)


# %%
# -- 1. the data ------------------------------------------------------------------------------
def the_data(cfg):
    section("1. The book as bytes; training and held-out parts")
    text, source = load_book(cfg, smoke_chars=20_000)
    ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    train, val = train_val_split(ids, 0.1)            # contiguous: the end is never seen
    print(f"{source}: {len(ids):,} bytes -> {len(train):,} to train on, {len(val):,} held "
          f"out (the last 10%)")
    print(f"the first bytes: {ids[:12].tolist()} = {bytes(ids[:12].astype(np.uint8))!r}")
    x, y = get_batch(train, 2, cfg.context, np.random.default_rng(cfg.seed))
    print(f"get_batch(train, B=2, k={cfg.context}): random windows x {x.shape} and y, the same "
          f"windows shifted by one byte:\n  x[0] = {x.numpy()[0].tolist()}\n  y[0] = "
          f"{y.numpy()[0].tolist()}\nthe MLP sees x and predicts y[:, -1], the byte after "
          f"each window")
    return train, val


def windows(ids, positions, k):
    """The contexts and targets at `positions`: x (N, k) = ids[i : i+k], y (N,) = ids[i+k]."""
    x = ids[positions[:, None] + np.arange(k)]        # (N, 1) + (k,) -> (N, k)
    return x, ids[positions + k]


def random_batch(ids, cfg, rng):
    """B random windows (tinytx.data.get_batch): x (B, k) and, of y = x shifted by one,
    the last column, the byte after each window: (B,)."""
    x, y = get_batch(ids, cfg.batch_size, cfg.context, rng)     # (B, k) each
    return x.numpy(), y.numpy()[:, -1]


# %%
# -- 2. the bigram table ------------------------------------------------------------------------
def bits(p):
    """Mean -log2 of the probabilities p: bits per predicted byte."""
    return float(-np.log2(p).mean())


def bigram_table(train, val, rng):
    section("2. The bigram table: P(next byte | this byte) by counting")
    counts = np.bincount(train[:-1] * V + train[1:], minlength=V * V).reshape(V, V)
    P = (counts + 1) / (counts + 1).sum(axis=1, keepdims=True)   # add-one: nothing is 0
    unigram = (np.bincount(train, minlength=V) + 1) / (len(train) + V)
    result = {"uniform_bpb": 8.0, "unigram_bpb": bits(unigram[val]),
              "bigram_bpb": bits(P[val[:-1], val[1:]])}
    print(f"counts (256, 256) from {len(train) - 1:,} pairs; the most frequent: " + ", ".join(
        f"{bytes([a, b])!r} {counts[a, b]:,}" for a, b in
        zip(*np.unravel_index(np.argsort(counts, axis=None)[::-1][:4], counts.shape))))
    print("held-out bits per byte:  uniform 8.00   unigram {unigram_bpb:.2f}   "
          "bigram {bigram_bpb:.2f}".format(**result))
    b, sample = ord("T"), [ord("T")]
    for _ in range(60):
        b = rng.choice(V, p=P[b])
        sample.append(b)
    print(f"a sample, each byte drawn from P[previous]: {bytes(sample).decode(errors='replace')!r}")
    return result


# %%
# -- 3. Module and Linear ---------------------------------------------------------------------
class Module:
    """The smallest module: calling it calls forward; parameters() finds every Tensor that
    needs a gradient among its attributes and those of its sub-modules."""

    def __call__(self, *args):
        return self.forward(*args)

    def parameters(self):
        for value in vars(self).values():
            if isinstance(value, Module):
                yield from value.parameters()
            elif isinstance(value, tx.Tensor) and value.requires_grad:
                yield value


class Linear(Module):
    """y = x W + b, W (n_in, n_out) and b drawn uniform in ±1/√n_in (PyTorch's choice)."""

    def __init__(self, n_in, n_out, rng):
        bound = 1 / math.sqrt(n_in)
        self.weight = tx.tensor(rng.uniform(-bound, bound, (n_in, n_out)), requires_grad=True)
        self.bias = tx.tensor(rng.uniform(-bound, bound, n_out), requires_grad=True)

    def forward(self, x):
        return x @ self.weight + self.bias             # (B, n_in) @ (n_in, n_out) + (n_out,)


class TwoLayers(Module):
    def __init__(self, rng):
        self.fc, self.out = Linear(4, 8, rng), Linear(8, 3, rng)

    def forward(self, x):
        return self.out(F.tanh(self.fc(x)))


class TinytxTwoLayers(nn.Module):
    """The same model on tinytx's classes: only the base class and super().__init__()."""

    def __init__(self):
        super().__init__()
        self.fc, self.out = nn.Linear(4, 8, dtype="float64"), nn.Linear(8, 3, dtype="float64")

    def forward(self, x):
        return self.out(F.tanh(self.fc(x)))


def module_and_linear(cfg):
    section("3. Module and Linear, built; tinytx's nn.Module and nn.Linear are the same idea")
    rng = np.random.default_rng(cfg.seed)
    ours, theirs = TwoLayers(rng), TinytxTwoLayers()
    params = list(ours.parameters())
    print(f"our TwoLayers finds {len(params)} parameters: {[p.shape for p in params]}")
    theirs.load_state_dict({f"{layer}.{name}": getattr(getattr(ours, layer), name).numpy()
                            for layer in ("fc", "out") for name in ("weight", "bias")})
    print("tinytx's Module registers each Parameter when it is assigned, and names it:")
    for name, p in theirs.named_parameters():
        print(f"  {name:<11} {p.shape}")
    x = tx.tensor(rng.standard_normal((5, 4)))
    diff = max_diff(ours(x), theirs(x))
    print(f"the same weights give the same outputs: max |ours - tinytx's| = {diff:.1e}; "
          f"{theirs.num_parameters()} parameters in both")
    return {"module_parameters": sum(p.size for p in params), "linear_vs_tinytx": diff}


# %%
# -- 4. softmax and cross-entropy ---------------------------------------------------------------
def cross_entropy_by_hand(z, y):
    """The mean cross-entropy of targets y under softmax(z), and its gradient
    dL/dz = (p - onehot(y)) / N.   Shapes: z (N, V), y (N,) -> a float, (N, V)."""
    N = len(y)
    z = z - z.max(axis=1, keepdims=True)          # softmax(z - c) = softmax(z); exp(·) <= 1
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))       # log softmax: (N, V)
    loss = -log_p[np.arange(N), y].mean()
    dz = np.exp(log_p)                            # p
    dz[np.arange(N), y] -= 1                      # p - y, with y one-hot
    return loss, dz / N                           # the mean's 1/N


def softmax_naive(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(cfg):
    section("4. Softmax and cross-entropy; the gradient p - y")
    print("""A model gives logits z (one score per byte); softmax makes them probabilities,
    p_i = exp(z_i) / sum_j exp(z_j),
and the loss of the true next byte y is its negative log-probability (the cross-entropy):
    L = -log p_y = -z_y + log sum_j exp(z_j)
    dL/dz_i = -[i = y] + exp(z_i) / sum_j exp(z_j) = p_i - y_i   (y one-hot)
Over a batch the loss is the mean, so each row's gradient is (p - y) / N.""")
    rng = np.random.default_rng(cfg.seed)
    z, y = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    loss, dz = cross_entropy_by_hand(z, y)
    zt = tx.tensor(z, requires_grad=True)
    ref = F.cross_entropy(zt, tx.tensor(y))
    ref.backward()
    facts = {"ce_loss_vs_tinytx": abs(loss - ref.item()),
             "ce_grad_vs_tinytx": max_diff(dz, zt.grad)}
    print(f"by hand (NumPy) against F.cross_entropy and autograd, float64: loss differs by "
          f"{facts['ce_loss_vs_tinytx']:.1e}, dL/dz by {facts['ce_grad_vs_tinytx']:.1e}")
    uniform, _ = cross_entropy_by_hand(np.zeros((1, V)), np.array([65]))
    print(f"equal logits over 256 bytes: L = ln 256 = {uniform:.4f} nats = "
          f"{uniform / math.log(2):.2f} bits: where an untrained model starts")
    big = np.array([[1000.0, 999.0, 998.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = softmax_naive(big)
    shifted = np.exp(-cross_entropy_by_hand(big, np.array([0]))[0])
    print(f"logits [1000, 999, 998]: exp overflows, the naive softmax gives {naive[0]}; "
          f"shifted by the max, p_0 = {shifted:.4f}")
    return {**facts, "uniform_loss": uniform, "naive_overflows": bool(np.isnan(naive).any()),
            "shifted_p0": shifted}


# %%
# -- 5. the MLP language model, and its backward by hand -----------------------------------------
class MLPLM(nn.Module):
    """Bengio et al.'s MLP language model: the last k bytes -> a d-vector each (rows of
    the table C, an nn.Embedding), joined -> a tanh layer -> dropout -> 256 logits."""

    def __init__(self, cfg, dropout=0.0, dtype="float32"):
        super().__init__()
        self.C = nn.Embedding(V, cfg.n_embd, dtype=dtype)     # C.weight (256, d)
        self.fc = nn.Linear(cfg.context * cfg.n_embd, cfg.n_hidden, dtype=dtype)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(cfg.n_hidden, V, dtype=dtype)

    def forward(self, x):                          # x (B, k) byte ids
        B, k = x.shape
        e = self.C(x).reshape(B, -1)               # (B, k, d) -> (B, k·d)
        h = F.tanh(self.fc(e))                     # (B, H)
        return self.out(self.drop(h))              # (B, 256)


def backprop_by_hand(cfg, train_ids):
    section("5. The MLP language model; backpropagation through it by hand")
    tx.manual_seed(cfg.seed)
    model = MLPLM(cfg, dtype="float64")
    x, y = random_batch(train_ids, cfg, np.random.default_rng(cfg.seed))
    loss = F.cross_entropy(model(tx.tensor(x)), tx.tensor(y))
    loss.backward()
    lookup = max_diff(model.C(tx.tensor(x)), model.C.weight.numpy()[x])
    print(f"nn.Embedding is the table C: C(x) picks the rows x of C.weight, (B, k) -> "
          f"(B, k, d) (max |C(x) - C.weight[x]| = {lookup:.1e}); lesson 07 learns such "
          f"vectors for words")
    print(f"{model.num_parameters():,} parameters: " + ", ".join(
        f"{n} {p.shape}" for n, p in model.named_parameters()))
    C, W1, b1, W2, b2 = (p.numpy() for p in model.parameters())
    B, k = x.shape
    e = C[x].reshape(B, -1)                        # (B, k, d) -> (B, k·d)
    h = np.tanh(e @ W1 + b1)                       # (B, H)
    L, dlogits = cross_entropy_by_hand(h @ W2 + b2, y)
    grads = {"out.weight": h.T @ dlogits, "out.bias": dlogits.sum(axis=0)}  # (H, B) @ (B, 256)
    dpre = (dlogits @ W2.T) * (1 - h ** 2)         # back through out, then tanh: (B, H)
    grads.update({"fc.weight": e.T @ dpre, "fc.bias": dpre.sum(axis=0)})
    de = (dpre @ W1.T).reshape(B, k, -1)           # (B, k·d) -> (B, k, d)
    grads["C.weight"] = np.zeros_like(C)
    np.add.at(grads["C.weight"], x, de)            # a byte seen twice gets both gradients
    params = dict(model.named_parameters())
    worst = max(max_diff(g, params[name].grad) for name, g in grads.items())
    print(f"loss {L:.4f} (autograd {loss.item():.4f}); the largest difference between a "
          f"gradient by hand and autograd's, over all five: {worst:.1e} (float64)")
    return {"mlp_manual_vs_autograd": worst, "first_loss": L, "embedding_vs_rows": lookup}


# %%
# -- 6.-8. training ----------------------------------------------------------------------------
def held_out_loss(model, x, y, batch=4096):
    """The mean loss over the positions (x, y), in eval mode (no dropout), no graph."""
    model.eval()
    with tx.no_grad():
        total = sum(F.cross_entropy(model(tx.tensor(x[i:i + batch])),
                                    tx.tensor(y[i:i + batch])).item() * len(y[i:i + batch])
                    for i in range(0, len(y), batch))
    model.train()
    return total / len(y)


def train(model, opt, train_ids, val_ids, cfg, schedule=None, clip=math.inf):
    """cfg.steps mini-batches (the same ones for every run) -> a record: the loss, the
    learning rate and the gradient norm of every step; every eval_every steps the loss on
    fixed positions of the training and the held-out bytes."""
    rng, k = np.random.default_rng(cfg.seed + 1), cfg.context
    fixed = {}                                     # the same positions at every evaluation
    for name, ids in (("train", train_ids), ("val", val_ids)):
        positions = np.random.default_rng(0).integers(0, len(ids) - k, cfg.eval_bytes)
        fixed[name] = windows(ids, positions, k)
    record = {"loss": [], "lr": [], "norm": [], "evals": []}
    for step in range(cfg.steps):
        if schedule:
            optim.set_lr(opt, schedule(step))
        x, y = random_batch(train_ids, cfg, rng)
        loss = F.cross_entropy(model(tx.tensor(x)), tx.tensor(y))
        opt.zero_grad()
        loss.backward()
        norm = optim.clip_grad_norm(model.parameters(), clip)   # inf: measures only
        opt.step()
        record["loss"].append(loss.item())
        record["lr"].append(opt.param_groups[0]["lr"])
        record["norm"].append(float(norm))
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            record["evals"].append((step + 1, *(held_out_loss(model, *fixed[n])
                                                for n in ("train", "val"))))
    return record


def fresh_model(cfg, dropout=0.0):
    tx.manual_seed(cfg.seed)                       # every run starts from the same weights
    return MLPLM(cfg, dropout)


def sgd_by_hand(cfg, train_ids):
    """SGD and momentum written out, against optim.SGD on the same model and batches."""
    diffs = {}
    for momentum in (0.0, 0.9):
        ours, theirs = fresh_model(cfg), fresh_model(cfg)
        opt, buffers = optim.SGD(theirs.parameters(), lr=cfg.sgd_lr, momentum=momentum), {}
        rng = np.random.default_rng(0)
        for _ in range(3):
            x, y = random_batch(train_ids, cfg, rng)
            for model in (ours, theirs):
                model.zero_grad()
                F.cross_entropy(model(tx.tensor(x)), tx.tensor(y)).backward()
            opt.step()
            for name, p in ours.named_parameters():
                buf = buffers[name] = momentum * buffers.get(name, 0) + p.grad  # = g at first
                p.data -= cfg.sgd_lr * buf
        diffs[momentum] = max(max_diff(p, q) for p, q in zip(ours.parameters(),
                                                             theirs.parameters()))
    return {"sgd_vs_tinytx": diffs[0.0], "momentum_vs_tinytx": diffs[0.9]}


OPTIMIZERS = {
    "SGD": lambda m, cfg: optim.SGD(m.parameters(), lr=cfg.sgd_lr),
    "SGD + momentum 0.9": lambda m, cfg: optim.SGD(m.parameters(), lr=cfg.sgd_lr, momentum=0.9),
    "Adam": lambda m, cfg: optim.Adam(m.parameters(), lr=cfg.lr),
    "AdamW": lambda m, cfg: optim.AdamW(optim.decay_groups(m, cfg.weight_decay), lr=cfg.lr),
}


def optimizers(cfg, train_ids, val_ids):
    section("6. Mini-batches and optimizers: SGD, momentum, Adam, AdamW")
    print(f"""Each step: a mini-batch of B={cfg.batch_size} random windows, the mean loss, backward,
then an update of every parameter p from its gradient g:
    SGD           p -= lr·g
    momentum      buf = μ·buf + g;  p -= lr·buf          (a running sum of past gradients)
    Adam          m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²   (moments, from 0)
                  p -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps)   (bias-corrected)
    AdamW         first p -= lr·weight_decay·p (matrices only: optim.decay_groups), then Adam""")
    facts = sgd_by_hand(cfg, train_ids)
    print(f"SGD and momentum written out against optim.SGD, 3 steps (float32): parameters "
          f"differ by {facts['sgd_vs_tinytx']:.1e} and {facts['momentum_vs_tinytx']:.1e}")
    records = {}
    for name, make in OPTIMIZERS.items():
        model = fresh_model(cfg)
        start = time.perf_counter()
        records[name] = train(model, make(model, cfg), train_ids, val_ids, cfg)
        step, tr, va = records[name]["evals"][-1]
        print(f"  {name:<20} after {step} steps: held-out {va / math.log(2):.3f} bits per byte "
              f"(train {tr / math.log(2):.3f}; {time.perf_counter() - start:.1f} s)")
    return facts, records


def cosine_schedule(cfg):
    """nanoGPT's schedule for a run of cfg.steps: warmup to cfg.lr, cosine down to lr/10."""
    return lambda step: optim.lr_schedule(step, lr=cfg.lr, min_lr=cfg.lr / 10,
                                          warmup_steps=cfg.warmup_steps, decay_steps=cfg.steps)


def train_adamw_scheduled(model, cfg, train_ids, val_ids):
    """AdamW (decay on matrices only) with the warmup + cosine schedule and clipping."""
    opt = optim.AdamW(optim.decay_groups(model, cfg.weight_decay), lr=cfg.lr)
    return train(model, opt, train_ids, val_ids, cfg, cosine_schedule(cfg), cfg.grad_clip)


def schedule_and_clipping(cfg, train_ids, val_ids):
    section("7. Warmup + cosine schedule and gradient clipping (AdamW)")
    schedule = cosine_schedule(cfg)
    print(f"the rate climbs from ~0 to lr={cfg.lr:g} over {cfg.warmup_steps} steps (large "
          f"steps on random weights are the risky ones), then follows half a cosine down "
          f"to lr/10; every step the gradients are scaled so that their global norm is at "
          f"most {cfg.grad_clip:g}")
    shown = (0, cfg.warmup_steps, cfg.steps // 2, cfg.steps - 1)
    print("  step " + "".join(f"{s:>9}" for s in shown))
    print("  lr   " + "".join(f"{schedule(s):>9.2e}" for s in shown))
    model = fresh_model(cfg)
    record = train_adamw_scheduled(model, cfg, train_ids, val_ids)
    clipped = float(np.mean(np.array(record["norm"]) > cfg.grad_clip))
    step, tr, va = record["evals"][-1]
    print(f"clipped on {clipped:.0%} of the steps (median norm {np.median(record['norm']):.2f}); "
          f"held-out {va / math.log(2):.3f} bits per byte after {step} steps (train "
          f"{tr / math.log(2):.3f})")
    return model, record, {"clipped_share": clipped, "schedule_lr": [schedule(0),
                                                                     schedule(cfg.warmup_steps),
                                                                     schedule(cfg.steps - 1)]}


def dropout_section(cfg, train_ids, val_ids):
    section("8. Dropout, on a training set small enough to memorise")
    drop = nn.Dropout(0.5)
    x = tx.ones(10)
    print(f"nn.Dropout(0.5) on ten ones while training: {drop(x).numpy()} (the kept ones "
          f"scaled by 1/(1-p), so the mean stays 1: {drop(tx.ones(100_000)).numpy().mean():.3f})")
    print(f"in eval mode (model.eval()) it passes x through: {drop.eval()(x).numpy()}")
    small = train_ids[:cfg.small_train]
    print(f"training on only the first {len(small):,} bytes, {cfg.steps} steps, AdamW with "
          f"the schedule and clipping:")
    records = {}
    for p in (0.0, cfg.dropout):
        records[p] = train_adamw_scheduled(fresh_model(cfg, dropout=p), cfg, small, val_ids)
        _, tr, va = records[p]["evals"][-1]
        print(f"  dropout {p:.1f}: train {tr / math.log(2):.3f}, held-out {va / math.log(2):.3f} "
              f"bits per byte (gap {(va - tr) / math.log(2):.3f})")
    return records


# %%
# -- 9. bits per byte, and a sample ---------------------------------------------------------
def final_model(model, cfg, val_ids, bigram_bpb, rng):
    section("9. Held-out bits per byte over every held-out byte; a sample")
    k = cfg.context
    x, y = windows(val_ids, np.arange(len(val_ids) - k), k)
    bpb = held_out_loss(model, x, y) / math.log(2)   # nats -> bits; a byte per symbol
    print(f"the MLP (section 7) on all {len(y):,} held-out bytes: {bpb:.3f} bits per byte; "
          f"the bigram table {bigram_bpb:.3f}; uniform 8")
    context, sample = list(val_ids[:k]), []
    model.eval()
    with tx.no_grad():
        for _ in range(200):
            logits = model(tx.tensor(np.array([context[-k:]]))).numpy()[0]
            p = np.exp(logits - logits.max())
            context.append(rng.choice(V, p=p / p.sum()))   # draw from softmax(logits)
            sample.append(context[-1])
    text = bytes(np.array(sample, dtype=np.uint8)).decode(errors="replace")
    start = bytes(val_ids[:k].astype(np.uint8))
    print(f"a sample, each byte drawn from the model's softmax, after {start!r}:"
          f"\n{text}")
    return {"final_bpb": bpb}


def plot(optimizer_records, scheduled, dropout_records, clip, path):
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4))
    for name, rec in optimizer_records.items():
        steps, _, val = zip(*rec["evals"])
        a.plot(steps, np.array(val) / math.log(2), label=name)
    steps, _, val = zip(*scheduled["evals"])
    a.plot(steps, np.array(val) / math.log(2), "k--", label="AdamW + schedule + clipping")
    a.set(xlabel="step", ylabel="held-out bits per byte", title="Optimizers")
    a.legend()
    b.plot(scheduled["norm"], lw=0.6, label="gradient norm (before clipping)")
    b.axhline(clip, color="k", ls="--", lw=1, label=f"clipped above {clip:g}")
    b.set(xlabel="step", ylabel="global gradient norm", title="Schedule and clipping")
    b2 = b.twinx()
    b2.plot(scheduled["lr"], "r", label="learning rate")
    b2.set_ylabel("learning rate", color="r")
    b.legend(loc="upper right")
    for p, rec in dropout_records.items():
        steps, tr, val = zip(*rec["evals"])
        c.plot(steps, np.array(tr) / math.log(2), "--", label=f"train, dropout {p:.1f}")
        c.plot(steps, np.array(val) / math.log(2), label=f"held-out, dropout {p:.1f}")
    c.set(xlabel="step", ylabel="bits per byte", title="Dropout on a small training set")
    c.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    start = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    train_ids, val_ids = the_data(cfg)
    facts = {"bytes": [len(train_ids), len(val_ids)], **bigram_table(train_ids, val_ids, rng),
             **module_and_linear(cfg), **softmax_cross_entropy(cfg),
             **backprop_by_hand(cfg, train_ids)}
    sgd_facts, optimizer_records = optimizers(cfg, train_ids, val_ids)
    model, scheduled, schedule_facts = schedule_and_clipping(cfg, train_ids, val_ids)
    dropout_records = dropout_section(cfg, train_ids, val_ids)
    facts.update(sgd_facts, **schedule_facts,
                 **final_model(model, cfg, val_ids, facts["bigram_bpb"], rng))
    facts["held_out_bpb"] = {name: rec["evals"][-1][2] / math.log(2)
                             for name, rec in {**optimizer_records, "scheduled": scheduled}.items()}
    facts["dropout_train_val"] = {str(p): list(rec["evals"][-1][1:])
                                  for p, rec in dropout_records.items()}
    plot(optimizer_records, scheduled, dropout_records, cfg.grad_clip, out / "training.png")
    print(f"\nsaved {out / 'training.png'}\ndone in {time.perf_counter() - start:.1f} s")
    return facts


# %%
if __name__ == "__main__":
    main()
