# %%
"""Lesson 10 — Encoder, decoder and cross-attention (report chapter 3 listings, Figure 3).

The encoder-decoder transformer reads a source sequence with an encoder (self-attention
in both directions) and writes a target with a decoder: causal self-attention over what
it has written so far, and cross-attention whose queries come from the decoder and whose
keys and values come from the encoder's output (the "memory"). Batches of sequences of
different lengths are padded, and masks keep attention (and the loss) off the padding.
With tinytx this lesson:

  1. prints the masks of the report's listings as 0/1 grids: the square causal mask
     ("subsequent" mask), the source padding mask and the target's combined mask, in
     tinytx's "may attend" convention beside PyTorch's "True at padding"/-inf one
     (masks.png);
  2. opens up cross-attention: the shapes of Q (from the decoder), K and V (from the
     encoder), the scores and the weights, checked against nn CrossAttention's output,
     with a padded source whose padding gets weight 0;
  3. trains a tiny tinytx.models.Seq2Seq to reverse random digit sequences of 3 to 12
     digits (padded batches) for about half a minute, decodes held-out sequences
     greedily (tinytx.generate.generate_seq2seq), prints them and the measured sequence
     accuracy, and draws the trained model's cross-attention: the anti-diagonal of
     "output i looks at input n-1-i" (cross_attention.png, training.png);
  4. The report says / we measured: "masking has no effect when generating". Decoding
     without the causal mask gives the same outputs with a KV cache (each position was
     computed when nothing came after it) and different ones when the whole prefix is
     recomputed every step.

docs/transformer.md explains the layers and cross-attention; the code is
tinytx/nn/transformer.py (EncoderLayer, DecoderLayer), tinytx/nn/attention.py
(CrossAttention), tinytx/functional/attention.py (the masks) and tinytx/models/seq2seq.py.

Run:
    python lessons/10_encoder_decoder.py               # the whole lesson
    python lessons/10_encoder_decoder.py --smoke       # a few seconds, for the tests
    python lessons/10_encoder_decoder.py --task=copy --steps=400

Expected output (abridged; the full run's output is lessons/expected/10_encoder_decoder.txt;
the decodes and accuracies are measured by the run):
    1. Masks (tinytx: bool 'may attend', 1 = may look at that key)
       causal_mask(5): query i sees keys 0..i      PyTorch's square subsequent mask (added ...)
       1 0 0 0 0                                      0 -inf -inf -inf -inf
       ...
    2. Cross-attention: x (2, 4, 16) from the decoder, memory (2, 6, 16) from the encoder, 2 heads
       (B, H, ., D): Q = x W_Q (2, 2, 4, 8), K = memory W_K (2, 2, 6, 8), V = ... (2, 2, 6, 8)
       output: (2, 4, 16); max |by hand - CrossAttention(x, memory, mask)| = 8.9e-08
       row 1 (2 padded source positions): weight on padding 0.0e+00; ...
    3. A toy task: reverse 3 to 12 digits with a Seq2Seq (2 + 2 layers, ... parameters)
       step   100: loss 1.7780, held-out sequence accuracy 0.295 (first 200), 5 s
       ...
       step   600: loss 0.0035, held-out sequence accuracy 0.995 (first 200), 30 s
       source                     greedy decode              target                     ok
       5 7 9 0 1 8 9              9 8 1 0 9 7 5              9 8 1 0 9 7 5              yes
       ...
       held-out sequence accuracy: 0.998 (500 sequences, none seen in training)
    4. The report says masking has no effect when generating; we measured (greedy, 100 ...):
       causal mask, KV cache              sequence accuracy 1.000; decodes equal to ...: 100%
       no mask, KV cache                  sequence accuracy 1.000; decodes equal to ...: 100%
       no mask, whole prefix every step   sequence accuracy 0.990; decodes equal to ...: 99%
    saved out/lessons/10/masks.png, training.png, cross_attention.png

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 4 s.

Exercises (your code goes in lessons/exercises/cross_attention.py; check it with
`python -m lessons.check cross_attention`; our answers are in lessons/solutions/cross_attention.py)
  1. Implement `padding_mask(lengths, S)`: the "may attend" mask of a padded batch;
     checked against F.padding_mask.
  2. Implement `decoder_mask(lengths, T)`: causal and padding together, as the decoder's
     self-attention uses them; checked against F.combine_masks.
  3. Change and explain: run `--task=copy`. Before looking, sketch the cross-attention
     picture you expect (cross_attention.png shows the anti-diagonal for reversing);
     then compare, and say what "output i looks at input j" means for each task.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
from tinytx import optim
from tinytx.course import max_diff, save_figure, setup
from tinytx.data import collate_pairs, pad_batch
from tinytx.functional.attention import (causal_mask, combine_masks,
                                         padding_mask, scaled_dot_product_attention)
from tinytx.generate import generate_seq2seq
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.nn.attention import CrossAttention, merge_heads, split_heads

PAD, BOS, EOS, FIRST_DIGIT = 0, 1, 2, 3      # token ids; digit d is FIRST_DIGIT + d


@dataclass
class Config:
    out_dir: str = "out/lessons/10"
    task: str = "reverse"            # "reverse" or "copy"
    min_len: int = 3                 # digits per sequence
    max_len: int = 12
    n_embd: int = 64
    n_head: int = 4
    n_layer: int = 2                 # encoder layers, and as many decoder layers
    steps: int = 600
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 50
    eval_every: int = 100
    eval_size: int = 500             # held-out sequences, never drawn for training
    n_show: int = 8                  # decodes to print
    seed: int = 0
    smoke: bool = False              # few steps, small held-out set


SMOKE = dict(steps=30, eval_every=15, eval_size=50, n_show=3)   # --smoke: for the tests


# %%
# -- 1. masks ---------------------------------------------------------------------------------
def grid(mask):
    """A 2-D bool array as rows of 0/1."""
    return [" ".join(str(int(v)) for v in row) for row in np.asarray(mask)]


def side_by_side(left, right, titles, gap=6):
    width = max(len(titles[0]), *(len(x) for x in left)) + gap
    print(f"   {titles[0]:<{width}}{titles[1]}")
    for a, b in zip(left, right):
        print(f"   {a:<{width}}{b}")


def section_masks(out):
    T = 5
    causal = causal_mask(T).numpy()                                 # (T, T) bool
    additive = np.where(causal, 0.0, -np.inf)                        # PyTorch's float form
    print("1. Masks (tinytx: bool 'may attend', 1 = may look at that key)")
    side_by_side(grid(causal), [" ".join(f"{v:>4g}" for v in row) for row in additive],
                 ("causal_mask(5): query i sees keys 0..i",
                  "PyTorch's square subsequent mask (added to the scores)"))
    src = [[FIRST_DIGIT + d for d in (4, 1, 5, 9, 2)], [FIRST_DIGIT + d for d in (2, 6, 5)]]
    src_ids, src_mask = pad_batch(src, PAD)                          # (B, S), True at tokens
    print(f"\n   a padded batch of two sources (pad id {PAD}):")
    for row, real in zip(src_ids, src_mask):
        print(f"     ids {row.tolist()}   src_mask (True at real tokens) "
              f"{real.astype(int).tolist()}")
    may = padding_mask(tx.tensor(~src_mask)).numpy()                 # (B, 1, 1, S)
    print(f"   encoder self-attention and cross-attention use src_mask as a "
          f"{may.shape} = (B, 1, 1, S)\n   'may attend' mask: every head and query of row b "
          f"sees the same keys; row 1: {may[1, 0, 0].astype(int).tolist()}")
    tgt_in, tgt_mask = pad_batch([[BOS, 7, 8, 9, 10], [BOS, 7, 8]], PAD)
    dec = combine_masks(causal_mask(tgt_in.shape[1]), padding_mask(tx.tensor(~tgt_mask)))
    dec = dec.numpy()                                                # (B, 1, T, T)
    print(f"\n   decoder self-attention, row 1 (tgt_in {tgt_in[1].tolist()}): causal AND not "
          f"padding, {dec.shape}")
    side_by_side(grid(dec[1, 0]), grid(np.broadcast_to(may[1, 0, 0], (tgt_in.shape[1],
                                                                      src_ids.shape[1]))),
                 ("decoder self-attention (T x T)", "decoder cross-attention (T x S)"))
    print("   padded query rows still see the real keys before them, so no row is empty "
          "(no NaN);\n   their outputs are ignored by the loss (targets = pad).")
    panels = [(causal, "causal (T x T)", "key", "query"),
              (np.broadcast_to(may[1, 0, 0], (src_ids.shape[1],) * 2),
               "encoder self-attn, row 1 (S x S)", "source key", "source query"),
              (dec[1, 0], "decoder self-attn, row 1 (T x T)", "target key", "target query"),
              (np.broadcast_to(may[1, 0, 0], (tgt_in.shape[1], src_ids.shape[1])),
               "cross-attn, row 1 (T x S)", "source key (memory)", "target query")]
    fig, axes = plt.subplots(1, 4, figsize=(15, 4.6))
    for ax, (m, title, xl, yl) in zip(axes, panels):
        ax.imshow(m, cmap="Greens", vmin=0, vmax=1.3)
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, int(v), ha="center", va="center", fontsize=9)
        ax.set(title=title, xlabel=xl, ylabel=yl, xticks=range(m.shape[1]),
               yticks=range(m.shape[0]))
    fig.suptitle("'may attend' masks (1 = may attend); row 1 of the batch is padded")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    path = out / "masks.png"
    save_figure(fig, path, dpi=100)
    return path


# %%
# -- 2. cross-attention, opened up -------------------------------------------------------------
def cross_weights(ca, x, memory, mask=None):
    """CrossAttention by hand: (output (B, T, C), weights (B, H, T, S))."""
    q = split_heads(ca.c_q(x), ca.n_head)                       # (B, T, C) -> (B, H, T, D)
    k, v = ca.c_kv(memory).split(ca.n_embd, axis=2)             # 2 x (B, S, C)
    k, v = split_heads(k, ca.n_head), split_heads(v, ca.n_head)  # 2 x (B, H, S, D)
    y, p = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    return ca.c_proj(merge_heads(y)), p, (q, k, v)


def section_cross():
    B, T, S, C, H = 2, 4, 6, 16, 2
    tx.manual_seed(0)
    ca = CrossAttention(C, H)
    x, memory = tx.randn(B, T, C), tx.randn(B, S, C)             # decoder states, memory
    src_pad = np.array([[False] * S, [False] * 4 + [True] * 2])  # row 1: 2 padded keys
    mask = padding_mask(tx.tensor(src_pad))                      # (B, 1, 1, S) may attend
    out, p, (q, k, v) = cross_weights(ca, x, memory, mask)
    ref = ca(x, memory, mask)
    print(f"\n2. Cross-attention: x {x.shape} from the decoder, memory {memory.shape} from "
          f"the encoder, {H} heads")
    print(f"   (B, H, ., D): Q = x W_Q {q.shape}, K = memory W_K {k.shape}, "
          f"V = memory W_V {v.shape}")
    print(f"   scores Q Kᵀ/√D and weights softmax(scores): {p.shape} = (B, H, T, S),\n"
          f"   one row per decoder position, one column per source position")
    print(f"   output: {out.shape}; max |by hand - CrossAttention(x, memory, mask)| = "
          f"{max_diff(out, ref):.1e}")
    w = p.numpy()
    print(f"   row 1 (2 padded source positions): weight on padding "
          f"{w[1, ..., 4:].max():.1e}; each row sums to "
          f"{w.sum(-1).min():.4f}..{w.sum(-1).max():.4f}")
    print("   row 1, head 0 weights (T x S):")
    for r in w[1, 0]:
        print("     " + " ".join(f"{v:.2f}" for v in r))


# %%
# -- 3. the toy task --------------------------------------------------------------------------
def draw(rng, n, cfg, avoid=frozenset()):
    """n (source digits, [BOS] target [EOS]) pairs in token ids, none of them in `avoid`."""
    pairs = []
    while len(pairs) < n:
        digits = tuple(rng.integers(0, 10, rng.integers(cfg.min_len, cfg.max_len + 1)))
        if digits in avoid:
            continue
        src = [FIRST_DIGIT + int(d) for d in digits]
        tgt = src[::-1] if cfg.task == "reverse" else src
        pairs.append((src, [BOS, *tgt, EOS]))
    return pairs


def digits(ids):
    return " ".join(str(i - FIRST_DIGIT) if i >= FIRST_DIGIT else "<pad,bos,eos>"[0]
                    for i in ids)


def greedy(model, pairs, cfg, use_cache=True):
    """Greedy decodes (lists of ids, EOS removed) of the sources of `pairs`."""
    batch = collate_pairs(pairs, PAD)
    out = generate_seq2seq(model, batch.src, batch.src_mask, BOS, EOS,
                           cfg.max_len + 1, greedy=True, use_cache=use_cache).numpy()
    decodes = []
    for row in out[:, 1:].tolist():                                   # drop BOS
        decodes.append(row[:row.index(EOS)] if EOS in row else row)
    return decodes


def seq_accuracy(model, pairs, cfg, use_cache=True):
    decodes = greedy(model, pairs, cfg, use_cache)
    return np.mean([d == t[1:-1] for d, (_, t) in zip(decodes, pairs)]), decodes


def train(cfg, model, held):
    avoid = {tuple(i - FIRST_DIGIT for i in s) for s, _ in held}
    rng = np.random.default_rng(cfg.seed)
    opt = optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    curve, evals, t0 = [], [], time.perf_counter()
    for step in range(cfg.steps):
        optim.set_lr(opt, optim.lr_schedule(step, lr=cfg.lr, min_lr=cfg.lr / 10,
                                            warmup_steps=min(cfg.warmup_steps, cfg.steps),
                                            decay_steps=cfg.steps))
        b = collate_pairs(draw(rng, cfg.batch_size, cfg, avoid), PAD)
        _, loss = model(b.src, b.tgt_in, b.src_mask, b.tgt_mask, targets=b.tgt_out)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            model.eval()
            acc, _ = seq_accuracy(model, held[:200], cfg)
            model.train()
            evals.append((step + 1, acc))
            print(f"   step {step + 1:>5}: loss {np.mean(curve[-cfg.eval_every:]):.4f}, "
                  f"held-out sequence accuracy {acc:.3f} (first 200), "
                  f"{time.perf_counter() - t0:.0f} s")
    return curve, evals


def decoder_cross_weights(model, src, tgt_in):
    """The cross-attention weights (H, T, S) of each decoder layer, for one pair.

    Seq2Seq does not return them, so this follows DecoderLayer.forward (pre-LN): the
    self-attention sub-layer, then cross_weights() on ln_2 of its output.
    """
    src, tgt_in = tx.tensor([src]), tx.tensor([tgt_in])
    weights = []
    with tx.no_grad():
        memory = model.encode(src)
        x = model.pos(model.tgt_emb(tgt_in) * math.sqrt(model.config.n_embd))
        for layer in model.decoder:
            h = x + layer.self_attn(layer.ln_1(x))
            weights.append(cross_weights(layer.cross_attn, layer.ln_2(h), memory)[1].numpy()[0])
            x = layer(x, memory)
    return weights


def plot_cross(weights, src, tgt_in, path):
    fig, axes = plt.subplots(1, len(weights), figsize=(5 * len(weights), 4.6), squeeze=False)
    for i, (ax, w) in enumerate(zip(axes[0], weights)):
        ax.imshow(w.mean(axis=0), cmap="viridis", vmin=0, vmax=1)   # mean over heads
        ax.set(title=f"decoder layer {i}: cross-attention (mean of heads)",
               xlabel="source position (memory)", ylabel="decoder input (BOS + target)",
               xticks=range(len(src)), xticklabels=digits(src).split(),
               yticks=range(len(tgt_in)),
               yticklabels=["BOS"] + digits(tgt_in[1:]).split())
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def plot_training(curve, evals, path):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(np.arange(1, len(curve) + 1), curve)
    ax1.set(title="training loss (padding ignored)", xlabel="step",
            ylabel="cross-entropy", yscale="log")
    steps, accs = zip(*evals)
    ax2.plot(steps, accs, "o-")
    ax2.set(title="held-out sequence accuracy (greedy)", xlabel="step", ylim=(0, 1.02))
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def section_task(cfg, out):
    tx.manual_seed(cfg.seed)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=FIRST_DIGIT + 10, n_embd=cfg.n_embd,
                                  n_head=cfg.n_head, n_encoder_layer=cfg.n_layer,
                                  n_decoder_layer=cfg.n_layer, dropout=0.0,
                                  block_size=cfg.max_len + 2, pad_id=PAD))
    held = draw(np.random.default_rng(cfg.seed + 1), cfg.eval_size, cfg)
    print(f"\n3. A toy task: {cfg.task} {cfg.min_len} to {cfg.max_len} digits with a "
          f"Seq2Seq ({cfg.n_layer} + {cfg.n_layer} layers, n_embd {cfg.n_embd}, "
          f"{model.num_parameters():,} parameters)")
    b = collate_pairs(held[:2], PAD)
    print(f"   one padded batch (ids; BOS={BOS}, EOS={EOS}, pad={PAD}, digit d = {FIRST_DIGIT}+d):")
    for name in ("src", "tgt_in", "tgt_out"):
        print(f"     {name:<8}{getattr(b, name).tolist()}")
    print("   the decoder reads tgt_in and is trained to output tgt_out (pad left out of "
          "the loss)")
    curve, evals = train(cfg, model, held)
    model.eval()
    acc, decodes = seq_accuracy(model, held, cfg)
    print(f"\n   {'source':<26} {'greedy decode':<26} {'target':<26} ok")
    for (src, tgt), dec in list(zip(held, decodes))[:cfg.n_show]:
        print(f"   {digits(src):<26} {digits(dec):<26} {digits(tgt[1:-1]):<26} "
              f"{'yes' if dec == tgt[1:-1] else 'NO'}")
    by_len = {}
    for (src, tgt), dec in zip(held, decodes):
        by_len.setdefault(len(src), []).append(dec == tgt[1:-1])
    print(f"   held-out sequence accuracy: {acc:.3f} ({len(held)} sequences, none seen in "
          f"training)")
    lengths = sorted(by_len)
    print("   by length  " + " ".join(f"{n:>5}" for n in lengths))
    print("   accuracy   " + " ".join(f"{np.mean(by_len[n]):>5.2f}" for n in lengths))
    paths = [out / "training.png", out / "cross_attention.png"]
    plot_training(curve, evals, paths[0])
    src, tgt = max(held[:50], key=lambda p: len(p[0]))
    plot_cross(decoder_cross_weights(model, src, tgt[:-1]), src, tgt[:-1], paths[1])
    facts = {"accuracy": acc, **masking_when_generating(model, held[:100], cfg)}
    return paths, facts


# %%
# -- 4. the report says / we measured -----------------------------------------------------------
def masking_when_generating(model, pairs, cfg):
    """The report says masking has no effect when generating. Decode with and without the
    decoder's causal mask, with and without the KV cache."""
    print("\n4. The report says masking has no effect when generating; we measured (greedy, "
          f"{len(pairs)} held-out sources):")
    runs = {}
    for name, causal, cache in (("causal mask, KV cache", True, True),
                                ("no mask, KV cache", False, True),
                                ("no mask, whole prefix every step", False, False)):
        for layer in model.decoder:
            layer.self_attn.causal = causal
        runs[name] = seq_accuracy(model, pairs, cfg, use_cache=cache)
    for layer in model.decoder:
        layer.self_attn.causal = True
    first = runs["causal mask, KV cache"][1]
    same = {name: float(np.mean([a == b for a, b in zip(first, dec)]))
            for name, (_, dec) in runs.items()}
    for name, (acc, _) in runs.items():
        print(f"   {name:<34} sequence accuracy {acc:.3f}; decodes equal to the first "
              f"row's: {same[name]:.0%}")
    print("   With a KV cache each position's keys and values were computed when it was the "
          "newest token,\n   with nothing after it to hide: there the mask changes nothing. "
          "Recomputing the prefix\n   without the mask lets earlier positions see later ones, "
          "which training never showed the model.")
    return {"same_decodes": same}


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    if cfg.task not in ("reverse", "copy"):
        raise ValueError(f"--task: expected reverse or copy, got {cfg.task!r}")
    t0 = time.perf_counter()
    paths = [section_masks(out)]
    print(f"   saved {paths[0]}")
    section_cross()
    paths, facts = section_task(cfg, out)
    for path in paths:
        print(f"   saved {path}")
    print(f"\nDone in {time.perf_counter() - t0:.1f} s.")
    return facts


# %%
if __name__ == "__main__":
    main()
