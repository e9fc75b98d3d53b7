"""Training logs: loss.csv (a row every log_interval steps and a row per evaluation) and
loss.png (the curves), as described in docs/training.md.

Introduced in lesson 11. loss.csv has one header and two kinds of rows:

    kind=train  every `log_interval` steps: train_loss (mean over those steps), lr,
                grad_norm (before clipping, at that step), tokens_per_s
    kind=val    every evaluation: val_loss (nats per token) and val_bpb (bits per byte,
                when the tokenizer's bytes per token are known)

Cells that do not apply to a row's kind are empty. loss.png draws the train loss (raw and
smoothed), the validation points (bits per byte on a second axis where known) and, in a
panel beside it, the learning rate.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from ..files import atomic_write

COLUMNS = ("step", "kind", "train_loss", "lr", "grad_norm", "tokens_per_s", "val_loss",
           "val_bpb", "elapsed_s")


def read_rows(path) -> list[dict]:
    """The rows of a loss.csv as dicts: kind a str, the rest floats (empty cells NaN);
    [] if the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: v if k == "kind" else float(v or "nan") for k, v in row.items()}
                for row in csv.DictReader(f)]


def write_rows(path, rows):
    """Write all rows atomically (a resumed run drops rows past its checkpoint's step, so
    nothing is logged twice)."""
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _fmt(row.get(k)) for k in COLUMNS})
    atomic_write(path, write)


def _fmt(v):
    """Integers as integers; floats in full (repr round-trips), so a resumed run's rows
    are the very numbers it logged; None and NaN as an empty cell."""
    if v is None or isinstance(v, str):
        return v or ""
    v = float(v)
    if math.isnan(v):
        return ""
    return int(v) if v.is_integer() and abs(v) < 1e15 else repr(v)


def smooth(values, alpha=0.1):
    """Exponential moving average (bias-corrected, like TensorBoard's smoothing)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = (1 - alpha) * avg + alpha * v
        out.append(avg / (1 - (1 - alpha) ** i))
    return out


def plot_losses(rows, path, title="loss"):
    """The train curve (smoothed), validation points and lr beside them, as a PNG
    (written atomically)."""
    from matplotlib.figure import Figure   # no pyplot: the process's backend is left alone
    path = Path(path)
    train = [r for r in rows if r["kind"] == "train" and math.isfinite(r["train_loss"])]
    val = [r for r in rows if r["kind"] == "val"]
    fig = Figure(figsize=(10, 4), dpi=100)
    ax, ax_lr = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    steps, losses = [r["step"] for r in train], [r["train_loss"] for r in train]
    ax.plot(steps, losses, color="C0", alpha=0.25, lw=1)
    alpha = min(1.0, 10 / max(len(losses), 1))  # an average over ~1/10 of the run
    ax.plot(steps, smooth(losses, alpha), color="C0", label="train (smoothed)")
    ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", color="C1",
            label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    bpb = [r for r in val if math.isfinite(r.get("val_bpb", math.nan))]
    if bpb:  # bits/byte is val_loss times a constant: a second scale on the same curve
        k = bpb[0]["val_bpb"] / bpb[0]["val_loss"]
        ax2 = ax.secondary_yaxis("right", functions=(lambda x: x * k, lambda x: x / k))
        ax2.set_ylabel("validation bits per byte")
    ax_lr.plot(steps, [r["lr"] for r in train], color="C2")
    ax_lr.set_xlabel("step")
    ax_lr.set_title("learning rate")
    ax_lr.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
