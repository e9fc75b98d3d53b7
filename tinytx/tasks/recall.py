"""The long-range recall task of lessons 03 and 04: a recurrent classifier and its loop.

Lesson 03 trains an RNN and an LSTM to output the token seen N steps earlier
(`tinytx.data.toy.recall_task`) and keeps their curves (`save_curves`); lesson 04 puts
an attention model beside them, reusing lesson 03's curves when they were made with the
same options (`load_curve`; training is deterministic, so retraining would print the
same numbers), else training the two again; `steps_to` reads the curves for the table
that `tinytx.course.recall_table` prints in both.

    >>> import numpy as np, tinytx as tx
    >>> model = RecallNet("LSTM", vocab=8, n_embd=8, hidden=16)
    >>> model(tx.tensor(np.zeros((2, 5), dtype=np.int64))).shape
    (2, 8)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..data.toy import recall_task
from ..files import atomic_write_text
from ..tensor import no_grad, tensor


class RecallNet(nn.Module):
    """Embedding -> RNN or LSTM -> Linear on the last hidden state: a guess of token 1."""

    def __init__(self, kind, vocab, n_embd, hidden):
        super().__init__()
        self.kind = kind
        self.wte = nn.Embedding(vocab, n_embd)
        self.rnn = nn.RNN(n_embd, hidden) if kind == "RNN" else nn.LSTM(n_embd, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx):                                      # (B, T) int -> (B, vocab)
        hs, _ = self.rnn(self.wte(idx))                          # (B, T, C) -> (B, T, H)
        return self.head(hs[:, -1])                              # read out after the last token


def accuracy(model, x, y):
    """Share of rows whose most likely token is y."""
    with no_grad():
        return float((model(tensor(x)).numpy().argmax(axis=-1) == y).mean())


def train_recall(model, N, cfg):
    """Train on fresh random batches; -> [(step, held-out accuracy), ...].

    `cfg` has seed, n_test, vocab, lr, steps, batch_size, clip and eval_every."""
    rng = np.random.default_rng(cfg.seed)
    x_test, y_test = recall_task(cfg.n_test, N, cfg.vocab, np.random.default_rng(cfg.seed + 1))
    opt = optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    curve = []
    for step in range(1, cfg.steps + 1):
        x, y = recall_task(cfg.batch_size, N, cfg.vocab, rng)
        loss = F.cross_entropy(model(tensor(x)), tensor(y))
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm(model.parameters(), cfg.clip)
        opt.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            curve.append((step, accuracy(model, x_test, y_test)))
    return curve


def steps_to(curve, level=0.9):
    """The first evaluated step with held-out accuracy >= level, or None."""
    return next((s for s, a in curve if a >= level), None)


# the options a curve depends on, named alike in lessons 03 and 04
CURVE_OPTIONS = ("vocab", "n_embd", "hidden_size", "batch_size", "steps", "lr", "clip",
                 "eval_every", "n_test", "seed")


def _made_with(cfg) -> dict:
    return {k: getattr(cfg, k) for k in CURVE_OPTIONS}


def save_curves(path, results: dict, cfg):
    """Write {(kind, N): curve} to the JSON file `path` with the options that made them."""
    curves = {f"{kind} N={N}": curve for (kind, N), curve in results.items()}
    atomic_write_text(Path(path), json.dumps({"made_with": _made_with(cfg),
                                              "curves": curves}))


def load_curve(path, kind: str, N: int, cfg):
    """The curve of (kind, N) that `save_curves` wrote to `path` with the same options as
    `cfg`; None when there is no such file or curve. (Lesson 03 rewrites the file at every
    run, so a curve is as new as lesson 03's last run.)"""
    try:
        saved = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    curve = saved.get("curves", {}).get(f"{kind} N={N}")
    if saved.get("made_with") != _made_with(cfg) or curve is None:
        return None
    return [tuple(point) for point in curve]
