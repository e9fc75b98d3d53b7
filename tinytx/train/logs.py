"""Training logs: loss.csv and loss.png, rewritten at each evaluation.

Introduced in lesson 10. The CSV has one row per evaluation; the picture shows the train
and validation loss against the step (the report's loss curves).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

COLUMNS = ("step", "train_loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s")


def read_rows(path) -> list[dict]:
    """The rows of a loss.csv as dicts of floats (empty if the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def write_rows(path, rows):
    """Write all rows atomically (a resumed run drops rows past its checkpoint's step)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row[k]) for k in COLUMNS})
    os.replace(tmp, path)


def _fmt(v):
    """Integers as integers; floats in full (repr round-trips), so a resumed run's rows
    are the very numbers it logged."""
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 1e15 else repr(v)


def plot_losses(rows, path, title="loss"):
    """Train and validation loss against step, saved as a PNG (atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["train_loss"] for r in rows], label="train", marker=".")
    ax.plot(steps, [r["val_loss"] for r in rows], label="validation", marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
