"""What every lesson shares: its options and --smoke mode, headings, comparisons, the book.

Used by lessons/NN_slug.py from lesson 00 on; nothing in the package imports it. A
lesson's options are a dataclass with `--key=value` overrides; `--smoke` (a bool field of
that dataclass) shrinks the run to seconds for the tests, through the lesson's SMOKE dict
of smaller values. `setup` is the lessons' entry point: it applies the process-wide
settings a script opts into (`tinytx.backend.configure_process`: one BLAS thread, since
the lessons' matrices are small and more threads cost more than they save; malloc kept;
matplotlib's file-only backend Agg, so the lessons save PNGs and never open a window,
also on a machine without a display). A lesson's `# %%` lines cut it into cells, so
JupyterLab (with jupytext) and VS Code open it as a notebook; run there (`in_notebook`),
`setup` ignores the kernel's arguments and keeps the notebook's backend, and
`save_figure` shows each picture below its cell as well as saving the PNG.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Config:
    ...     steps: int = 1000
    ...     smoke: bool = False
    ...     out_dir: str = "out/lessons/99"
    >>> import tempfile
    >>> out_dir = tempfile.mkdtemp()
    >>> cfg, out = setup(Config(), dict(steps=30), ["--smoke", f"--out_dir={out_dir}"])
    >>> cfg.steps, out.is_dir()
    (30, True)
    >>> max_diff([1.0, 2.0], [1.0, 2.5])
    0.5
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from .backend import configure_process
from .config import parse_config
from .data import OPENING, load_quixote
from .tasks.recall import steps_to
from .backend import manual_seed
from .tensor import Tensor, randn
from .tokenizer import render_token

CHAPTER_1 = "In a village of La Mancha"   # where chapter 1 starts in the book


def setup(defaults, smoke: dict | None = None, argv=None):
    """A lesson's options: `--key=value` arguments (sys.argv[1:] when argv is None) applied
    to a copy of the dataclass `defaults`. With `--smoke`, every field named in `smoke`
    that the arguments left at its default takes the smoke value (an explicit
    `--steps=100 --smoke` keeps 100), and outputs go to the folder `smoke` inside the
    default `out_dir` (unless --out_dir is given), so that a smoke run never overwrites
    a full run's pictures or checkpoint. Creates `out_dir`.

    Returns: (config, out_dir as a Path).
    """
    configure_process(threads=1, plots=not in_notebook())   # a notebook shows them inline
    if argv is None:               # a notebook kernel's own arguments are not the lesson's
        argv = [] if in_notebook() else sys.argv[1:]
    cfg = parse_config(defaults, argv)
    smoke = smoke or {}
    unknown = sorted(set(smoke) - {f.name for f in dataclasses.fields(cfg)})
    if unknown:
        raise ValueError(f"smoke: {unknown} are not options of {type(cfg).__name__}")
    if cfg.smoke:
        cfg = dataclasses.replace(cfg, **{k: v for k, v in smoke.items()
                                          if getattr(cfg, k) == getattr(defaults, k)})
        if cfg.out_dir == defaults.out_dir:
            cfg = dataclasses.replace(cfg, out_dir=str(Path(defaults.out_dir) / "smoke"))
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return cfg, out


def in_notebook() -> bool:
    """Whether the lesson runs in a Jupyter kernel: opened as a notebook (its `# %%`
    cells) in JupyterLab or VS Code, rather than as `python lessons/NN_slug.py`."""
    return "ipykernel" in sys.modules


def save_figure(fig, path, dpi="figure"):
    """Save a lesson's picture as PNG at `path`; in a notebook also show it below the
    cell. Then close it (a lesson draws many; open figures hold memory)."""
    import matplotlib.pyplot as plt        # after setup() chose the backend

    fig.savefig(path, dpi=dpi)
    if in_notebook():
        from IPython.display import display
        display(fig)
    plt.close(fig)


def section(title: str):
    """Print a lesson's section heading: a blank line, then `== title ======...`."""
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def max_diff(a, b) -> float:
    """The largest |a - b| over all entries; a and b are Tensors, arrays or lists."""
    a, b = (t.numpy() if isinstance(t, Tensor) else np.asarray(t) for t in (a, b))
    return float(np.abs(a - b).max())


def recall_table(results: dict, distances, kinds, steps: int, vocab: int):
    """Print the recall task's results (lessons 03 and 04): for each distance N and model
    kind, the final held-out accuracy and, in brackets, the first step that reached 90%.

    Args:
        results: {(kind, N): [(step, held-out accuracy), ...]} (from `train_recall`).
        steps, vocab: the training steps and the vocabulary size (chance is 1 / vocab).
    """
    print(f"\nheld-out accuracy after {steps} steps (chance {1 / vocab:.1%}); "
          f"in brackets the first step at which it reached 90%")
    print(f"{'N':>4}" + "".join(f"{k:>18}" for k in kinds))
    for N in distances:
        cells = []
        for k in kinds:
            s = steps_to(results[k, N])
            cells.append(f"{results[k, N][-1][1]:7.1%} ({'-' if s is None else s:>5})")
        print(f"{N:>4}" + "".join(f"{c:>18}" for c in cells))


def plot_recall_accuracy(ax, results: dict, distances, kinds, steps: int, vocab: int):
    """The recall task's final held-out accuracy against the distance N, one line per
    model kind, and chance (lessons 03 and 04), on the matplotlib axes `ax`."""
    for k, marker in zip(kinds, "osDx"):
        ax.plot(distances, [results[k, N][-1][1] for N in distances], marker=marker, label=k)
    ax.axhline(1 / vocab, color="gray", ls="--", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xticks(distances, [str(N) for N in distances])
    ax.set_xlabel("distance N (tokens between the first token and the answer)")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Recall the first token, {steps} training steps")
    ax.legend()


def hidden_grad_norms(make_cell, I: int, T: int, seeds, scale: float = 1.0) -> np.ndarray:
    """‖∂L/∂h_(T-k)‖ for k = 0 … T-1 steps back, the geometric mean over fresh recurrent
    cells (lessons 02 and 03). For each seed: `make_cell()`, its weight times `scale`, runs
    over random x (1, T, I) from a zero state; retain_grad() keeps every h_t's gradient;
    L = Σ w ⊗ h_T with w random; one backward. A cell's state is h_t or (h_t, C_t)."""
    logs = []
    for seed in seeds:
        manual_seed(seed)
        cell = make_cell()
        cell.weight.data *= scale
        x = randn(1, T, I)
        state, hs = None, []
        for t in range(T):
            state = cell(x[:, t], state)
            h = state[0] if isinstance(state, tuple) else state   # the LSTM's: (h_t, C_t)
            h.retain_grad()
            hs.append(h)
        (randn(*hs[-1].shape) * hs[-1]).sum().backward()
        logs.append(np.log(np.array([np.linalg.norm(h.grad) for h in hs]) + 1e-300))
    return np.exp(np.mean(logs, axis=0))[::-1]                  # index k = steps back from T


def grad_norm_table(norms: dict):
    """Print hidden_grad_norms' curves {name: (T,)} side by side at a few k, and each
    one's mean factor per step back over the first 20 steps."""
    T = len(next(iter(norms.values())))
    print(f"{'steps back k':>14}" + "".join(f"{name:>14}" for name in norms))
    for k in sorted({k for k in (0, 1, 2, 5, 10, 20, 30, 40, T - 1) if k < T}):
        print(f"{k:>14}" + "".join(f"{n[k]:>14.2e}" for n in norms.values()))
    K = min(T - 1, 20)
    for name, n in norms.items():
        rate = (n[K] / n[0]) ** (1 / K)               # the geometric mean factor per step
        print(f"{name:>14}: ×{rate:.2f} per step back (the mean over k = 0 … {K})")


def show_tokens(vocab, ids, pad=None) -> str:
    """Token ids as `[tok][tok]...` (control characters escaped, `pad` ids as `·`).

    Args: vocab: {id: bytes} (a tokenizer's `.vocab`); ids: an iterable of ints.

        >>> show_tokens({0: b"Don", 1: b" Q", 2: b"\\n"}, [0, 1, 2, 9], pad=9)
        '[Don][ Q][\\\\u000a]·'
    """
    return "".join("·" if i == pad else f"[{render_token(vocab[int(i)])}]" for i in ids)


def load_book(cfg, smoke_chars: int | None = 8000, smoke_start: str | None = CHAPTER_1,
              copies: int = 1, sep: str = ""):
    """Don Quixote for a lesson -> (text, where it came from, for printing).

    The whole book: from `cfg.data`, $TINYTX_DATA_DIR, the cache, or downloaded once. In
    --smoke mode nothing is downloaded and the text is `smoke_chars` characters from
    `smoke_start` (None: from the top; smoke_chars None: the whole book); without a
    local copy it is chapter 1's opening, `copies` times joined by `sep` (the tests
    never use the network). Outside smoke mode a missing book ends the lesson with a
    message saying where to put it.
    """
    try:
        text = load_quixote(cfg.data or None, download=not cfg.smoke)
    except (OSError, ValueError) as e:
        if not cfg.smoke:
            sys.exit(f"{Path(sys.argv[0]).name}: could not load Don Quixote: {e}")
        if copies == 1:
            return OPENING, "two paragraphs of chapter 1 (no local copy of the book)"
        return sep.join([OPENING] * copies), (f"the opening of chapter 1, {copies} times "
                                              f"(no local copy)")
    if not cfg.smoke or smoke_chars is None:
        return text, "Don Quixote (Gutenberg #996)"
    if smoke_start is None:
        return text[:smoke_chars], f"the first {smoke_chars:,} characters of Don Quixote"
    start = max(text.find(smoke_start), 0)
    where = "chapter 1" if smoke_start == CHAPTER_1 else f"the book from {smoke_start!r}"
    return text[start:start + smoke_chars], f"{smoke_chars:,} characters of {where}"
