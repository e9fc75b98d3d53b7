"""Training word2vec: text -> vocabulary -> batches -> Word2Vec, with Adam or SGD.

Introduced in lesson 07 "Embeddings" (report chapter 5; docs/embeddings.md). The data
steps are `tinytx.data.word2vec`, the model `tinytx.models.word2vec`; this is the loop
that joins them.

    >>> model, vocab, losses = train_word2vec("a b c. a b d. a b c.", min_count=1,
    ...                                       n_embd=4, epochs=1, subsample=0)
    >>> len(vocab), model.vectors().shape
    (4, (4, 4))
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from ..backend import get_device
from ..data.word2vec import (build_vocab, cbow_batches, encode_sentences, noise_distribution,
                             skipgram_batches, subsample_mask, tokenize_sentences)
from ..models.word2vec import Word2Vec, Word2VecConfig
from ..optim import SGD, Adam
from ..tensor import Tensor


def train_word2vec(text: str, *, mode="skipgram", n_embd=64, window=2, negatives=5,
                   min_count=5, max_size=None, subsample=1e-3, epochs=3, lr=None,
                   batch_size=1024, optimizer="adam", seed=0, device=None, progress=False):
    """Tokenize `text`, build the vocabulary and train a Word2Vec on it.

    The defaults are what gave good neighbours fastest on Don Quixote: Adam at 0.01
    beat SGD with word2vec's linearly decaying rate for the same number of steps.

    Args:
        text: the corpus; sentences end at . ! ? and blank lines (no window crosses one).
        mode, n_embd, window, negatives: as Word2VecConfig.
        min_count, max_size: as build_vocab. subsample: t of `subsample_mask` (0: off),
            drawn anew each epoch.
        epochs, batch_size: passes over the corpus; pairs (or centers) per step.
        lr: the learning rate; None: 0.01 for Adam, 0.025·batch_size for SGD (word2vec's
            rate per pair, as the loss is a mean over the batch).
        optimizer: "adam" (constant lr) or "sgd" (lr decays linearly to ~0, as word2vec).
        seed: seeds init (the device generator), subsampling, windows, order, negatives.
        device: where the model trains ("cpu").
        progress: show a progress bar.
    Returns: (model, vocab, losses), losses a list of the per-step training loss.
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"train_word2vec: optimizer must be 'adam' or 'sgd', got "
                         f"{optimizer!r}")
    dev = get_device(device)
    sentences = tokenize_sentences(text)
    vocab = build_vocab((w for s in sentences for w in s), min_count, max_size)
    ids, sent = encode_sentences(sentences, vocab)
    dev.seed(seed)
    model = Word2Vec(Word2VecConfig(len(vocab), n_embd, mode, negatives, window), dev)
    rng = np.random.default_rng(seed)
    if lr is None:
        lr = 0.01 if optimizer == "adam" else 0.025 * batch_size
    opt = (Adam if optimizer == "adam" else SGD)(model.parameters(), lr=lr)
    noise = noise_distribution(vocab.counts)
    make = skipgram_batches if mode == "skipgram" else cbow_batches
    losses, bar = [], tqdm(total=epochs, desc=f"word2vec {mode}", disable=not progress)
    for epoch in range(epochs):
        keep = subsample_mask(ids, vocab.counts, subsample, rng)
        batches = list(make(ids[keep], window, batch_size, negatives, noise, rng,
                            sent[keep]))
        if not batches:
            raise ValueError(f"text: no two known words (min_count={min_count}) share a "
                             f"sentence, so there is nothing to train on")
        for b, arrays in enumerate(batches):
            if optimizer == "sgd":  # linear decay over the whole run, floor 1e-4·lr
                done = (epoch + b / len(batches)) / epochs
                opt.param_groups[0]["lr"] = lr * max(1 - done, 1e-4)
            loss = model(*(Tensor._make(dev.asarray(a), dev, False) for a in arrays))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-len(batches):]):.3f}")
        bar.update()
    bar.close()
    return model, vocab, losses
