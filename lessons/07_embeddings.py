# %%
"""Lesson 07 — Embeddings: word2vec (CBOW and skip-gram) and the embedding layer
(report chapter 5).

A token id says nothing about meaning: 942 ("Sancho") is no closer to 1040 (" Panza")
than to any other number. An embedding gives each token a learned vector, and training
puts tokens used in similar contexts near each other. word2vec learns such vectors
from raw text by predicting neighbours: CBOW predicts a word from the mean of its
context, skip-gram predicts each context word from the word; negative sampling replaces
the softmax over the whole vocabulary by "the true word against K noise words". With
tinytx's word2vec (data, model and training loop) this lesson:

  1. trains CBOW and skip-gram on Don Quixote and prints the nearest neighbours (cosine)
     they found for Sancho, Rocinante, Dulcinea and Quixote;
  2. draws a 2-D PCA projection (numpy SVD) of chosen words: people, animals, places,
     arms and numbers;
  3. shows nn.Embedding, the lookup table a transformer starts with: Embedding(idx) is
     row selection, equal to one_hot(idx) @ W, and its gradient lands only on the rows
     that were used (a row used twice gets the sum of both gradients).

The maths (the negative-sampling loss and its gradient, subsampling, the unigram^0.75
noise) is in docs/embeddings.md; the code is tinytx/data/word2vec.py (words, vocabulary,
batches), tinytx/models/word2vec.py (the model), tinytx/tasks/word2vec.py (the loop) and
tinytx/nn/layers.py (Embedding).

Run:
    python lessons/07_embeddings.py                    # the whole book, both modes
    python lessons/07_embeddings.py --smoke            # a few paragraphs, for the tests
    python lessons/07_embeddings.py --epochs=5 --window=4 --words=sancho,knight
The book is fetched from Project Gutenberg once and cached; offline, pass a local copy
with --data=PATH or put it at $TINYTX_DATA_DIR/quixote.txt.

Expected output (abridged; the full run's output is lessons/expected/07_embeddings.txt; the
neighbours and numbers are what the run finds):
    1. word2vec (negative sampling, K=5, window 2, 64-d vectors, 3 epoch(s), Adam lr 0.01)
       cbow        732 steps of 1024 in   5.4 s, loss 4.13 (first 10) -> 2.15 (last 10)
       skipgram   2078 steps of 1024 in  11.8 s, loss 4.14 (first 10) -> 2.42 (last 10)
       vocabulary: 5,252 words seen at least 5 times; most frequent: the, and, to, of, ...
       nearest neighbours by cosine similarity (k=8)
                  cbow                                          skipgram
       sancho     teresa 0.71, majordomo 0.58, page 0.57, ...   quixote 0.69, don 0.60, ...
       rocinante  buckler 0.71, horse 0.69, dapple 0.68, ...    horse 0.63, dapple 0.62, ...
       dulcinea   carpio 0.81, del 0.68, belerma 0.67, ...      del 0.74, belerma 0.70, ...
       quixote    fernando 0.76, vicente 0.75, antonio 0.75, ... don 0.78, sancho 0.69, ...
    2. saved out/lessons/07/word2vec_pca.png
    3. nn.Embedding: the learned lookup table of a transformer (wte)
       out == one_hot(idx) @ W:          max |difference| = 0.0e+00
         row  used  |grad row|           (rows 0, 2, 4, 5, 6, 8, 9: 0.0000)
       rows never used get exactly zero: True; row 3 (used twice) = G[0, 1] + G[0, 2]: True; ...
       saved out/lessons/07/embedding_grad.png

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 2 s.

Exercises (your code goes in lessons/exercises/embeddings.py; check it with
`python -m lessons.check embeddings`; our answers are in lessons/solutions/embeddings.py)
  1. Implement `skipgram_pairs(ids, window)`: every (center, context) pair within the
     window; checked against tinytx's skipgram_batches.
  2. Implement `noise_distribution(counts, power)`: word2vec's unigram^0.75 for the
     negative samples; checked against tinytx's. Then compute it for counts [16, 1]
     with power 1 and 0.75: which words does the power favour, and why might that help?
  3. Change and explain: run `--modes=skipgram --window=5` and compare the neighbours of
     sancho and rocinante with the default window 2. What kind of similarity does a
     wider window reward?
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import nn
from tinytx.course import load_book, max_diff, save_figure, setup
from tinytx.models.word2vec import most_similar
from tinytx.tasks.word2vec import train_word2vec


@dataclass
class Config:
    data: str = ""                   # a local copy of the book ("" = cache/download)
    out_dir: str = "out/lessons/07"
    modes: str = "cbow,skipgram"
    n_embd: int = 64                 # the size of a word vector
    window: int = 2                  # context words on each side (at most; dynamic window)
    negatives: int = 5               # K noise words per target
    min_count: int = 5               # rarer words are left out of the vocabulary
    epochs: int = 3
    batch_size: int = 1024
    lr: float = 0.01                 # Adam
    seed: int = 0
    words: str = "sancho,rocinante,dulcinea,quixote"   # whose neighbours to print
    k: int = 8                       # neighbours per word
    smoke: bool = False              # a few paragraphs, one epoch


SMOKE = dict(epochs=1, min_count=2, batch_size=256)   # --smoke: seconds, for the tests


# Words for the PCA picture, in groups (those not in the vocabulary are skipped).
GROUPS = {
    "people": "sancho quixote dulcinea teresa panza curate barber duke duchess squire knight",
    "animals": "rocinante dapple horse ass mule sheep",
    "places": "toboso mancha village inn castle road",
    "arms": "lance sword helmet shield armour saddle",
    "numbers": "two three four five six ten",
}

# %%
# -- 1. training and neighbours -------------------------------------------------------------
def train_modes(cfg, text):
    models = {}
    for mode in cfg.modes.split(","):
        t0 = time.perf_counter()
        model, vocab, losses = train_word2vec(
            text, mode=mode, n_embd=cfg.n_embd, window=cfg.window, negatives=cfg.negatives,
            min_count=cfg.min_count, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            seed=cfg.seed)
        secs = time.perf_counter() - t0
        print(f"   {mode:<9} {len(losses):>5} steps of {cfg.batch_size} in {secs:5.1f} s, "
              f"loss {np.mean(losses[:10]):.2f} (first 10) -> {np.mean(losses[-10:]):.2f} "
              f"(last 10)")
        models[mode] = (model, vocab, losses)
    return models


def print_neighbours(cfg, models):
    words = [w.strip().lower() for w in cfg.words.split(",") if w.strip()]
    width = 50
    print(f"\n   nearest neighbours by cosine similarity (k={cfg.k})")
    print(("   " + " " * 11 + "".join(f"{mode:<{width}}" for mode in models)).rstrip())
    found = {}
    for w in words:
        cells = []
        for mode, (model, vocab, _) in models.items():
            if w not in vocab:
                cells.append("(not in the vocabulary)")
                continue
            near = most_similar(model, vocab, w, k=cfg.k)
            found[(mode, w)] = near
            cells.append(", ".join(f"{x} {c:.2f}" for x, c in near))
        lines = [wrap(c, width - 4) for c in cells]
        for row in range(max(len(x) for x in lines)):
            label = w if row == 0 else ""
            print((f"   {label:<11}" + "".join(
                f"{(x[row] if row < len(x) else ''):<{width}}" for x in lines)).rstrip())
    return found


def wrap(text, width):
    """Cut 'a 0.71, b 0.70, ...' into lines of at most `width` characters."""
    lines, line = [], ""
    for part in text.split(", "):
        if line and len(line) + len(part) + 2 > width:
            lines.append(line + ",")
            line = part
        else:
            line = f"{line}, {part}" if line else part
    return lines + [line]


# %%
# -- 2. a 2-D picture -----------------------------------------------------------------------
def pca_2d(vectors):
    """Project rows onto their first two principal axes (SVD of the centred matrix)."""
    X = vectors - vectors.mean(axis=0)
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    explained = s[:2] ** 2 / (s ** 2).sum()
    return X @ vt[:2].T, explained                        # (N, 2), fractions of variance


def plot_pca(models, path):
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 6), squeeze=False)
    for ax, (mode, (model, vocab, _)) in zip(axes[0], models.items()):
        chosen = [(g, w) for g, ws in GROUPS.items() for w in ws.split() if w in vocab]
        if len(chosen) < 4:  # a tiny text: show its most frequent words instead
            chosen = [("frequent", w) for w in vocab.itos[:30]]
        v = model.vectors()[[vocab.stoi[w] for _, w in chosen]].astype(np.float64)
        v /= np.linalg.norm(v, axis=1, keepdims=True)    # cosine geometry
        xy, explained = pca_2d(v)
        colours = {g: f"C{i}" for i, g in enumerate(dict.fromkeys(g for g, _ in chosen))}
        for (g, w), (x, y) in zip(chosen, xy):
            ax.scatter(x, y, color=colours[g], s=20)
            ax.annotate(w, (x, y), fontsize=9, color=colours[g],
                        xytext=(3, 3), textcoords="offset points")
        for g, c in colours.items():
            ax.scatter([], [], color=c, label=g)
        ax.legend(loc="best", fontsize=8)
        ax.set(title=f"{mode}: PCA of unit word vectors "
                     f"({explained.sum():.0%} of their variance)",
               xlabel="principal axis 1", ylabel="principal axis 2")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


# %%
# -- 3. the embedding layer -----------------------------------------------------------------
def section_embedding(path):
    V, C = 10, 4
    tx.manual_seed(0)
    emb = nn.Embedding(V, C)
    idx = tx.tensor([[1, 3, 3, 7]])                      # (B=1, T=4) token ids; 3 twice
    out = emb(idx)                                       # (1, 4, C): rows 1, 3, 3, 7 of W
    via_one_hot = F.one_hot(idx, V) @ emb.weight         # (1, 4, V) @ (V, C) -> (1, 4, C)
    W = emb.weight.numpy()
    print(f"   idx = {idx.tolist()[0]}, W: ({V}, {C}); out = Embedding(idx): {out.shape}")
    print(f"   out == W[idx] (row selection):    max |difference| = "
          f"{max_diff(out, W[idx.numpy()]):.1e}")
    print(f"   out == one_hot(idx) @ W:          max |difference| = "
          f"{max_diff(out, via_one_hot):.1e}")
    G = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    (out * tx.tensor(G)).sum().backward()              # d loss / d out = G
    grad = emb.weight.grad                              # (V, C)
    expected = np.zeros((V, C), np.float32)
    np.add.at(expected, idx.numpy()[0], G[0])          # each use adds its row of G
    used = np.bincount(idx.numpy()[0], minlength=V)
    print("   the gradient of sum(out * G) with respect to W, row by row:")
    print(f"   {'row':>5} {'used':>5} {'|grad row|':>11}")
    for r in range(V):
        print(f"   {r:>5} {used[r]:>5} {np.linalg.norm(grad[r]):>11.4f}")
    print(f"   rows never used get exactly zero: {bool((grad[used == 0] == 0).all())}; "
          f"row 3 (used twice) = G[0, 1] + G[0, 2]: "
          f"{np.allclose(grad[3], G[0, 1] + G[0, 2])}; all rows as expected: "
          f"{np.allclose(grad, expected)}")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 4))
    ax1.imshow(W, cmap="RdBu", vmin=-np.abs(W).max(), vmax=np.abs(W).max(), aspect="auto")
    ax1.set(title="W (the embedding table)", xlabel="embedding dim", ylabel="token id",
            xticks=range(C), yticks=range(V))
    lim = np.abs(grad).max()
    ax2.imshow(grad, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax2.set(title=f"dL/dW after Embedding({idx.tolist()[0]})", xlabel="embedding dim",
            xticks=range(C), yticks=range(V))
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return {"lookup_vs_rows": max_diff(out, W[idx.numpy()]),
            "lookup_vs_one_hot": max_diff(out, via_one_hot),
            "unused_rows_zero": bool((grad[used == 0] == 0).all()),
            "grad_rows_as_expected": bool(np.allclose(grad, expected))}


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    t0 = time.perf_counter()
    text, source = load_book(cfg, smoke_chars=40_000, smoke_start=None)
    print(f"Text: {source}, {len(text):,} characters\n")
    print(f"1. word2vec (negative sampling, K={cfg.negatives}, window {cfg.window}, "
          f"{cfg.n_embd}-d vectors, {cfg.epochs} epoch(s), Adam lr {cfg.lr})")
    models = train_modes(cfg, text)
    vocab = next(iter(models.values()))[1]
    print(f"   vocabulary: {len(vocab):,} words seen at least {cfg.min_count} times; "
          f"most frequent: {', '.join(vocab.itos[:8])}")
    print_neighbours(cfg, models)
    print("\n2. A 2-D picture of chosen words")
    path = out / "word2vec_pca.png"
    plot_pca(models, path)
    print(f"   saved {path}")
    print("\n3. nn.Embedding: the learned lookup table of a transformer (wte)")
    path = out / "embedding_grad.png"
    facts = section_embedding(path)
    print(f"   saved {path}")
    print(f"\nDone in {time.perf_counter() - t0:.1f} s.")
    return {**facts, "vocabulary": len(vocab), "word2vec_loss": {
        mode: [float(np.mean(losses[:10])), float(np.mean(losses[-10:]))]
        for mode, (_, _, losses) in models.items()}}


# %%
if __name__ == "__main__":
    main()
