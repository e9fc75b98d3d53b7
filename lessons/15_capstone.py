# %%
r"""Lesson 15 — The capstone: your GPT, built from your own pieces, on a text of your choice
(beyond the report: the capstone).

The exercises of lessons 01, 08, 11 and 14 each asked for one piece of the engine and
checked it alone. Here they run together, for real: a byte-level GPT (vocabulary 256, so
its loss in nats divided by ln 2 is bits per byte) whose every block runs your
`block_forward` (with your `layer_norm` and `mlp`), whose forward is your `gpt_forward`,
whose loss, forward and backward, is your `cross_entropy_ignoring` (gpt_forward's own
loss is left unused), trained on batches from your `xy_batch` by your `train_step` with an
optimizer whose update is your `adamw_step`, and sampled by your `sample` with your
`top_k_filter` and `top_p_filter`. This lesson:

  1. takes each piece from your file in lessons/exercises/ — or ours from
     lessons/solutions/ while yours is still the stub — and prints whose runs;
  2. checks each of your pieces against tinytx on the model about to be trained (a
     float64 copy of its first weights): the GPT's loss, logits and every gradient
     against tinytx's own GPT (with your blocks; with your forward; with your
     cross-entropy), two optimizer steps against optim.AdamW, a training step
     from micro-batches against one on the whole batch, the sampler's tokens against
     tinytx.generate with the same random numbers. A piece that differs stops the
     lesson, with one line naming it: nothing is trained on a wrong piece;
  3. trains the GPT on the first 90% of the text (warmup + cosine, clipping, AdamW);
  4. measures bits per byte on fixed windows of the held-out last 10% as it trains, and
     draws the curves (capstone_loss.png);
  5. writes a sample of 300 bytes (temperature 0.8, top-k and top-p) with your sampler;
  6. saves the model to out/lessons/15/gpt.* (a plain tinytx GPT: sample it again with
     `python examples/sample.py --checkpoint=out/lessons/15/gpt`).

The model is tinytx's GPT (tinytx/models/gpt.py: its weights, their GPT-2 names, its init
and checkpoint format) with its forwards replaced by yours; the optimizer is tinytx's
Optimizer base class (tinytx/optim/optimizers.py: param groups, state) with your
adamw_step as its update. The defaults (2 layers, 4 heads, 128 wide, 64 bytes of context,
800 steps of 16 x 64 bytes) are sized to train in about a minute on a 2-core CPU.

Run:
    python lessons/15_capstone.py                      # Don Quixote, your pieces
    python lessons/15_capstone.py --data=my_text.txt   # any UTF-8 text (the more the better)
    python lessons/15_capstone.py --use=ours           # our pieces only, to compare
    python lessons/15_capstone.py --exercises=DIR      # answers from another folder
    python lessons/15_capstone.py --smoke              # a tiny model, for the tests
                                    # (into out/lessons/15/smoke: never over the real gpt)

Expected output (abridged; the full run's output is lessons/expected/15_capstone.txt;
measured on the whole book, the exercises still stubs so every piece ours, seed 1337,
one run):
    1. The pieces: yours from lessons/exercises, ours where yours is still the stub
       piece                   lesson  runs
       layer_norm                  08  ours  (yours is still the stub)
       ...
       cross_entropy_ignoring      01  ours  (yours is still the stub)
       adamw_step                  01  ours  (yours is still the stub)
       train_step                  14  ours  (yours is still the stub)
       (the loss trained on: cross_entropy_ignoring of gpt_forward's logits; gpt_forward's
       own loss is not used for training)
    2. Your pieces against tinytx, on this GPT (437,760 parameters; float64 copies of its
       first weights):
       (no piece of yours to check: every piece is ours)
       (with all eleven yours and right: "layer_norm + mlp + block_forward: the same as
       tinytx's", ... one line per check; a wrong one ends the lesson, e.g.
       "layer_norm + mlp + block_forward: the GPT's loss differs from tinytx's by 0.041;
       run `python -m lessons.check block`")
    3. Don Quixote (Gutenberg #996): 2,318,061 bytes; 2,086,255 to train on, the last
       231,806 held out
       step    0  bits per byte: train     -  held-out 8.014
       step  400  bits per byte: train 2.882  held-out 2.765
       step  800  bits per byte: train 2.462  held-out 2.428
    4. held-out: 2.428 bits per byte on 128 windows of 64 bytes (untrained: 8.014; 8 is a
       uniform guess)
    5. 300 bytes from your sampler (temperature 0.8, top-k 20, top-p 0.95) after 'ed to
       me here, and unable to mak':
       'e would my conce as that says, as will so in a his well that the is her of the
       shill and the a now, and me in he door pusany the puptice stances, and the as ...'
    6. saved out/lessons/15/gpt.safetensors and .json

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 2 s.

Exercises (no new code to check: the lesson runs your answers to lessons 01, 08, 11 and
14, in lessons/exercises/mlp_lm.py, lessons/exercises/block.py,
lessons/exercises/gpt_quixote.py and lessons/exercises/data_parallel.py; check them
with `python -m lessons.check NN`)
  1. Train your GPT on a text of your choice (--data=PATH: a novel, your notes, source
     code, a language other than English) and report its bits per byte. Predict first:
     will it be lower or higher than the book's, and why? (How repetitive is the text,
     how many distinct bytes does it use, how large is it?)
  2. Change the sizes: --n_layer, --n_embd, --block_size, --max_iters. Which buys the most
     bits per byte for the same minutes of training? Keep the runs under two minutes.
  3. Run it with --use=yours and with --use=ours: are the bits per byte the same to the
     last digit, and should they be? Which of your pieces is slower than ours, and why?
"""
from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
from tinytx import optim
from tinytx.checkpoint import model_record, save_checkpoint
from tinytx.course import load_book, save_figure, setup
from tinytx.data import get_batch, load_text, train_val_split
from tinytx.function import Function
from tinytx.generate import generate
from tinytx.models import GPT, GPTConfig
from tinytx.tokenizer import BasicTokenizer

# lessons/ (a notebook has no __file__; its kernel runs in the notebook's folder)
LESSONS = Path(globals().get("__file__", "15_capstone.py")).resolve().parent
PIECES = {   # exercises file: (its lesson, the functions the capstone runs)
    "block": ("08", ("layer_norm", "mlp", "block_forward")),
    "gpt_quixote": ("11", ("xy_batch", "gpt_forward", "top_k_filter", "top_p_filter",
                           "sample")),
    "mlp_lm": ("01", ("cross_entropy_ignoring", "adamw_step")),
    "data_parallel": ("14", ("train_step",)),
}


@dataclass
class Config:
    data: str = ""                 # any UTF-8 text file ("" = Don Quixote)
    use: str = "yours"             # yours where written, else ours; or "ours": ours only
    exercises: str = ""            # a folder of answers ("" = lessons/exercises)
    out_dir: str = "out/lessons/15"
    smoke: bool = False            # a tiny model for ~20 steps, for the tests
    # the model: bytes in, bytes out (vocabulary 256)
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    # the loop
    batch_size: int = 16
    micro_batches: int = 2         # train_step's micro-batches (lesson 14)
    max_iters: int = 800
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_iters: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 100
    eval_windows: int = 128        # fixed held-out windows, the same at every evaluation
    seed: int = 1337
    # sampling
    prompt: str = ""               # "" = the held-out text's first 32 bytes
    sample_bytes: int = 300
    temperature: float = 0.8
    top_k: int = 20
    top_p: float = 0.95


SMOKE = dict(n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, max_iters=20,
             warmup_iters=2, eval_interval=10, eval_windows=16, sample_bytes=40)


# %%
# -- 1. the pieces: yours where written, else ours ------------------------------------------
def load_file(path: Path, name: str):
    """The Python file `path` as a module named `name` (a lesson imports no lessons.*)."""
    if not path.is_file():
        sys.exit(f"15_capstone.py: no file {path} (--exercises names the folder of answers)")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_stub(function) -> bool:
    """Whether a function is still the exercise's stub: after its docstring, its body is
    only `raise NotImplementedError(...)`."""
    body = ast.parse(inspect.getsource(function)).body[0].body
    code = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return (len(code) == 1 and isinstance(code[0], ast.Raise)
            and "NotImplementedError" in ast.unparse(code[0]))


def choose_pieces(exercises: Path, use: str):
    """Each function of PIECES, yours (from exercises/) or ours (from solutions/).
    -> (pieces {function: the function}, whose {function: (yours | ours, why, file)})."""
    if use not in ("yours", "ours"):
        sys.exit(f"15_capstone.py: --use must be yours or ours, got {use!r}")
    pieces, whose = {}, {}
    for file, (_, functions) in PIECES.items():
        ours = load_file(LESSONS / "solutions" / f"{file}.py", f"ours_{file}")
        yours = load_file(exercises / f"{file}.py", f"yours_{file}") if use == "yours" else None
        chosen = {}
        for name in functions:
            mine = getattr(yours, name, None)
            if yours is not None and mine is None:
                sys.exit(f"15_capstone.py: {exercises / file}.py has no function {name}")
            why = ("--use=ours" if yours is None else
                   "yours is still the stub" if is_stub(mine) else "")
            chosen[name] = getattr(ours, name) if why else mine
            whose[name] = ("ours" if why else "yours", why, file)
        for module in (ours, yours):        # a piece calls the chosen ones: your
            if module is not None:          # block_forward our layer_norm until yours is written
                vars(module).update(chosen)
        pieces.update(chosen)
    return pieces, whose


def show_pieces(whose):
    print("   piece                   lesson  runs")
    for lesson, functions in PIECES.values():
        for name in functions:
            who, why, _ = whose[name]
            print(f"   {name:<22} {lesson:>7}  {who}" + (f"  ({why})" if why else ""))
    print("   (the loss trained on: cross_entropy_ignoring of gpt_forward's logits; "
          "gpt_forward's\n   own loss is not used for training)")


# %%
# -- the GPT run by the pieces, and the optimizer run by adamw_step -------------------------
def run_block(block_forward, block, n_head, x):
    return block_forward(x, dict(block.named_parameters()), n_head)


def run_gpt(gpt_forward, model, idx, targets=None):
    """gpt_forward wants targets; the sampler has none: zeros stand in, the loss is dropped."""
    if targets is None:
        return gpt_forward(model, idx, tx.zeros(idx.shape, dtype="int64"))[0], None
    return gpt_forward(model, idx, targets)


IGNORE = -1      # the ignore_index given to your cross-entropy: no byte is -1


class YourCrossEntropy(Function):
    """The mean cross-entropy of logits (N, V) and targets (N,) by your
    cross_entropy_ignoring (lesson 01), which returns its gradient too: forward keeps
    it, backward scales it by the upstream gradient (the targets get none)."""

    def __init__(self, cross_entropy_ignoring):
        self.cross_entropy_ignoring = cross_entropy_ignoring

    def forward(self, logits, targets):
        loss, self.dlogits = self.cross_entropy_ignoring(logits, targets, IGNORE)
        return np.asarray(loss, dtype=logits.dtype)

    def backward(self, gy):
        return np.asarray(self.dlogits, dtype=gy.dtype) * gy, None


def with_your_loss(cross_entropy_ignoring, forward, idx, targets=None):
    """forward's logits, and the loss of them by your cross-entropy (forward's own loss,
    F.cross_entropy's, is not used)."""
    logits, loss = forward(idx, targets)
    if targets is None:
        return logits, loss
    B, T, V = logits.shape
    rows = logits.reshape(B * T, V)                                 # (B, T, V) -> (B·T, V)
    flat = targets.reshape(B * T)                                   # (B, T) -> (B·T,)
    return logits, YourCrossEntropy(cross_entropy_ignoring)(rows, flat)   # backward: (B·T, V)


def assemble(config, block_forward=None, gpt_forward=None, cross_entropy_ignoring=None):
    """tinytx's GPT (its weights, their names, its init) whose forward is gpt_forward,
    each block's forward block_forward and the loss cross_entropy_ignoring's; tinytx's
    own where None. The forwards are set on the instances, so the model stays a GPT: its
    checkpoint loads as tinytx's own."""
    model = GPT(config)
    if block_forward is not None:
        for block in model.transformer.h:
            block.forward = functools.partial(run_block, block_forward, block, config.n_head)
    if gpt_forward is not None:
        model.forward = functools.partial(run_gpt, gpt_forward, model)
    if cross_entropy_ignoring is not None:
        model.forward = functools.partial(with_your_loss, cross_entropy_ignoring, model.forward)
    return model


class YourAdamW(optim.Optimizer):
    """AdamW whose update is adamw_step, one parameter at a time on its NumPy arrays;
    tinytx's Optimizer keeps the param groups (decay_groups, set_lr) and the state."""

    _state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, adamw_step, lr, betas, eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=0.0))
        self.adamw_step = adamw_step

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        new, state["exp_avg"], state["exp_avg_sq"] = self.adamw_step(
            p.data, grad, state["exp_avg"], state["exp_avg_sq"], state["step"], group["lr"],
            group["betas"], group["eps"], group["weight_decay"])
        p.data = np.asarray(new, dtype=p.data.dtype)     # float32 stays float32


def batch(xy_batch, ids, starts, block_size):
    """xy_batch's X and Y as int Tensors (B, T)."""
    return tuple(tx.tensor(np.asarray(a, dtype=np.int64)) for a in
                 xy_batch(ids, starts, block_size))


# %%
# -- 2. each of your pieces against tinytx, on the model about to be trained ----------------
def copy_gpt(model, **forwards):
    """A float64 GPT with the model's weights, run by the given forwards (else tinytx's)."""
    copy = assemble(model.config, **forwards)
    copy.load_state_dict(model.state_dict())
    return copy.to(dtype="float64")


def gpt_difference(model, x, y, **forwards):
    """What differs (beyond float64 rounding) between tinytx's GPT and the same weights run
    by the given forwards: the loss, the logits, a weight's gradient; or None."""
    results = []
    for gpt in (copy_gpt(model, **forwards), copy_gpt(model)):
        logits, loss = gpt(x, y)
        loss.backward()
        results.append({"the GPT's loss": loss.numpy(), "the logits": logits.numpy(),
                        **{f"the gradient of {n}": p.grad for n, p in gpt.named_parameters()}})
    for what, want in results[1].items():
        got = results[0][what]
        if got is None:
            return f"{what} is missing: is the weight used, with tinytx ops?"
        if np.shape(got) != np.shape(want):
            return f"{what} has shape {np.shape(got)}, tinytx's {np.shape(want)}"
        err = float(np.abs(got - want).max())
        if not err < 1e-8:
            return f"{what} differs from tinytx's by {err:.2g}"
    return None


def xy_difference(xy_batch, ids, T, seed):
    starts = np.random.default_rng(seed).integers(0, len(ids) - T, size=4)
    windows = np.stack([ids[s:s + T + 1] for s in starts])         # (B, T + 1)
    X, Y = (np.asarray(a) for a in xy_batch(ids, starts, T))
    if not (np.array_equal(X, windows[:, :-1]) and np.array_equal(Y, windows[:, 1:])):
        return "X or Y differs from the windows ids[s : s + T] and ids[s + 1 : s + T + 1]"
    return None


def adamw_difference(adamw_step, model, x, y, cfg):
    """Two steps of YourAdamW against optim.AdamW, the same gradients, float64 copies."""
    yours, reference = copy_gpt(model), copy_gpt(model)
    betas = (cfg.beta1, cfg.beta2)
    optimizers = [YourAdamW(optim.decay_groups(yours, cfg.weight_decay), adamw_step,
                            lr=cfg.lr, betas=betas),
                  optim.AdamW(optim.decay_groups(reference, cfg.weight_decay), lr=cfg.lr,
                              betas=betas)]
    for step in (1, 2):
        reference.zero_grad()
        reference(x, y)[1].backward()
        for p, q in zip(yours.parameters(), reference.parameters()):
            p.grad = q.grad.copy()
        for opt in optimizers:
            opt.step()
        err = max(np.abs(p.numpy() - q.numpy()).max()
                  for p, q in zip(yours.parameters(), reference.parameters()))
        if not err < 1e-10:
            return f"after step {step} the weights differ from optim.AdamW's by {err:.2g}"
    return None


def train_step_difference(train_step, model, x, y):
    """One SGD step from micro-batches of 1 and B-1 rows against tinytx's on the whole
    batch, clipped to 0.01 so that the clipping counts."""
    yours, reference = copy_gpt(model), copy_gpt(model)
    loss = train_step(yours, optim.SGD(yours.parameters(), lr=1.0),
                      [(x[:1], y[:1]), (x[1:], y[1:])], 0.01)
    want = reference(x, y)[1]
    want.backward()
    optim.clip_grad_norm(list(reference.parameters()), 0.01)
    optim.SGD(reference.parameters(), lr=1.0).step()
    if not abs(float(loss) - want.item()) < 1e-10:
        return f"it returned the loss {float(loss):.6f}, the whole batch's is {want.item():.6f}"
    err = max(np.abs(p.numpy() - q.numpy()).max()
              for p, q in zip(yours.parameters(), reference.parameters()))
    if not err < 1e-10:
        return f"the weights differ from a step on the whole batch by {err:.2g}"
    return None


def sample_difference(sample, model, prompt, cfg):
    """20 tokens from tinytx's GPT with the model's weights, its matrices x10: the same as
    generate's? (Logits of spread ~2, not ~0.1: the temperature and the filters count.)"""
    reference = copy_gpt(model)
    for w in reference.parameters():
        w.data = w.data * 10 if w.ndim == 2 else w.data
    for options in (dict(top_k=cfg.top_k), dict(top_p=cfg.top_p),
                    dict(top_k=cfg.top_k, top_p=cfg.top_p)):
        got = [int(t) for t in sample(reference, prompt, 20, temperature=cfg.temperature,
                                      rng=np.random.default_rng(cfg.seed), **options)]
        want = generate(reference, [prompt], 20, temperature=cfg.temperature,
                        rng=np.random.default_rng(cfg.seed), use_cache=False,
                        **options).numpy()[0].tolist()
        if got != want:
            return (f"with {options} it drew {got[len(prompt):]}, tinytx's generate "
                    f"{want[len(prompt):]}")
    return None


def check_pieces(pieces, whose, model, train_ids, cfg):
    """Check each of your pieces against tinytx (ours are checked by the tests); stop at
    the first that differs. -> the pieces checked."""
    x, y = get_batch(train_ids, 3, model.config.block_size, np.random.default_rng(cfg.seed))
    prompt = train_ids[:8].tolist()
    checks = [   # (the pieces one check runs, the check)
        (("layer_norm", "mlp", "block_forward"),
         lambda: gpt_difference(model, x, y, block_forward=pieces["block_forward"])),
        (("gpt_forward",), lambda: gpt_difference(model, x, y, gpt_forward=pieces["gpt_forward"])),
        (("cross_entropy_ignoring",), lambda: gpt_difference(
            model, x, y, cross_entropy_ignoring=pieces["cross_entropy_ignoring"])),
        (("xy_batch",), lambda: xy_difference(pieces["xy_batch"], train_ids, cfg.block_size,
                                              cfg.seed)),
        (("adamw_step",), lambda: adamw_difference(pieces["adamw_step"], model, x, y, cfg)),
        (("train_step",), lambda: train_step_difference(pieces["train_step"], model, x, y)),
        (("top_k_filter", "top_p_filter", "sample"),
         lambda: sample_difference(pieces["sample"], model, prompt, cfg)),
    ]
    checked = []
    for names, check in checks:
        mine = [n for n in names if whose[n][0] == "yours"]
        if not mine:
            continue
        try:
            problem = check()
        except Exception as e:           # your piece crashed: say which, and how
            problem = f"{type(e).__name__}: {e}"
        if problem:
            sys.exit(f"{' + '.join(mine)}: {problem}; run `python -m lessons.check "
                     f"{whose[mine[0]][2]}`")
        print(f"   {' + '.join(mine)}: the same as tinytx's")
        checked += mine
    if not checked:
        print("   (no piece of yours to check: every piece is ours)")
    return checked


# %%
# -- 3. and 4. the text, the training loop and the held-out curve -------------------------
def read_text(cfg):
    """The text as bytes (NumPy ids 0..255) and where it came from."""
    if cfg.data:
        try:
            text, source = load_text(cfg.data), cfg.data
        except (OSError, ValueError) as e:
            sys.exit(f"15_capstone.py: --data: {e}")
    else:
        text, source = load_book(cfg, copies=3)
    ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    need = 10 * (cfg.block_size + 1)      # 10% held out must hold one window
    if len(ids) < need:
        sys.exit(f"15_capstone.py: {source} has {len(ids):,} bytes; a block_size of "
                 f"{cfg.block_size} needs at least {need:,}")
    return ids, source


def held_out_loss(model, windows):
    """The mean loss over the fixed held-out windows (no gradients, no dropout)."""
    model.eval()
    with tx.no_grad():
        total = sum(model(x, y)[1].item() * y.size for x, y in windows)
    model.train()
    return total / sum(y.size for _, y in windows)


def train(model, pieces, train_ids, windows, cfg):
    """Warmup + cosine, your xy_batch, your train_step, your adamw_step. -> rows of the
    curve: step, train and held-out bits per byte."""
    opt = YourAdamW(optim.decay_groups(model, cfg.weight_decay), pieces["adamw_step"],
                    lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    rng = np.random.default_rng(cfg.seed)
    rows, losses = [], []
    for step in range(cfg.max_iters + 1):
        if step % cfg.eval_interval == 0 or step == cfg.max_iters:
            val = held_out_loss(model, windows) / math.log(2)
            train_bpb = float(np.mean(losses)) / math.log(2) if losses else math.nan
            rows.append(dict(step=step, train=train_bpb, val=val))
            shown = "    -" if math.isnan(train_bpb) else f"{train_bpb:.3f}"
            print(f"   step {step:4d}  bits per byte: train {shown}  held-out {val:.3f}")
            losses = []
        if step == cfg.max_iters:
            break
        optim.set_lr(opt, optim.lr_schedule(step, lr=cfg.lr, min_lr=cfg.min_lr,
                                            warmup_steps=cfg.warmup_iters,
                                            decay_steps=cfg.max_iters))
        starts = rng.integers(0, len(train_ids) - cfg.block_size, size=cfg.batch_size)
        micro_batches = [batch(pieces["xy_batch"], train_ids, s, cfg.block_size)
                         for s in np.array_split(starts, cfg.micro_batches)]
        losses.append(pieces["train_step"](model, opt, micro_batches, cfg.grad_clip))
    return rows


def plot_curve(rows, path, source):
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [r["step"] for r in rows]
    ax.plot(steps[1:], [r["train"] for r in rows[1:]], marker=".",
            label="train (mean since the last evaluation)")
    ax.plot(steps, [r["val"] for r in rows], marker=".", label="held-out (fixed windows)")
    ax.axhline(8, color="gray", ls=":", label="8 bits: a uniform guess over 256 bytes")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per byte")
    ax.set_title(f"Lesson 15: your GPT on {source[:50]}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    t_start = time.perf_counter()
    exercises = Path(cfg.exercises) if cfg.exercises else LESSONS / "exercises"
    print(f"1. The pieces: yours from {cfg.exercises or 'lessons/exercises'}, ours where "
          f"yours is still the stub")
    pieces, whose = choose_pieces(exercises, cfg.use)
    show_pieces(whose)

    ids, source = read_text(cfg)
    train_ids, val_ids = train_val_split(ids, 0.1)
    tx.manual_seed(cfg.seed)
    config = GPTConfig(block_size=cfg.block_size, vocab_size=256, n_layer=cfg.n_layer,
                       n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=0.0)
    model = assemble(config, pieces["block_forward"], pieces["gpt_forward"],
                     pieces["cross_entropy_ignoring"])
    print(f"\n2. Your pieces against tinytx, on this GPT ({model.num_parameters():,} "
          f"parameters; float64 copies of its first weights):")
    checked = check_pieces(pieces, whose, model, train_ids, cfg)

    print(f"\n3. {source}: {len(ids):,} bytes; {len(train_ids):,} to train on, the last "
          f"{len(val_ids):,} held out")
    print(f"   {cfg.n_layer} layers, {cfg.n_head} heads, {cfg.n_embd} wide, block "
          f"{cfg.block_size}; {cfg.max_iters} steps of {cfg.batch_size} x {cfg.block_size} "
          f"bytes in {cfg.micro_batches} micro-batches")
    starts = np.linspace(0, len(val_ids) - cfg.block_size - 1, cfg.eval_windows).astype(np.int64)
    windows = [batch(pieces["xy_batch"], val_ids, s, cfg.block_size)
               for s in np.array_split(starts, math.ceil(cfg.eval_windows / cfg.batch_size))]
    t_train = time.perf_counter()
    rows = train(model, pieces, train_ids, windows, cfg)
    train_s = time.perf_counter() - t_train
    bpb = rows[-1]["val"]
    plot_curve(rows, out / "capstone_loss.png", source)
    tokens = cfg.max_iters * cfg.batch_size * cfg.block_size
    print(f"   {train_s:.0f} s, {tokens / train_s:,.0f} tokens/s (a token is a byte)")

    print(f"\n4. held-out: {bpb:.3f} bits per byte on {cfg.eval_windows} windows of "
          f"{cfg.block_size} bytes (untrained: {rows[0]['val']:.3f}; 8 is a uniform guess)")
    print(f"   saved {out / 'capstone_loss.png'}")

    prompt = list(cfg.prompt.encode("utf-8")) if cfg.prompt else val_ids[:32].tolist()
    sampled = pieces["sample"](model, prompt, cfg.sample_bytes, temperature=cfg.temperature,
                               top_k=cfg.top_k, top_p=cfg.top_p,
                               rng=np.random.default_rng(cfg.seed))
    text = bytes(sampled[len(prompt):]).decode("utf-8", errors="replace")
    print(f"\n5. {cfg.sample_bytes} bytes from your sampler (temperature {cfg.temperature}, "
          f"top-k {cfg.top_k}, top-p {cfg.top_p}) after "
          f"{bytes(prompt).decode('utf-8', errors='replace')!r}:\n   {text!r}")

    runs = {name: who for name, (who, _, _) in whose.items()}
    save_checkpoint(out / "gpt", model, step=cfg.max_iters,
                    config={**model_record(model, BasicTokenizer()),   # bytes: no merges
                            "lesson": 15, "smoke": cfg.smoke, "bits_per_byte": bpb,
                            "pieces": runs})
    print(f"\n6. saved {out / 'gpt'}.safetensors and .json: python examples/sample.py "
          f"--checkpoint={out / 'gpt'}")
    print(f"\nDone in {time.perf_counter() - t_start:.0f} s.")
    return {"pieces": runs, "checked": checked,
            "untrained_bpb": rows[0]["val"], "bits_per_byte": bpb,
            "train_bpb": [r["train"] for r in rows[1:]], "train_seconds": train_s,
            "sample_bytes": len(sampled) - len(prompt)}


# %%
if __name__ == "__main__":
    main()
