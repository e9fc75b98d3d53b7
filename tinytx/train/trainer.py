"""The training loop: accumulation, clipping, evaluation, logs, checkpoints, exact resume.

Introduced in lesson 11 (report chapter 7). One optimizer step:

    lr = warmup + cosine schedule(step)
    repeat grad_accum times:  b = a training batch;  (loss_fn(model, b) · n_i / Σn).backward()
    clip the global gradient norm;  AdamW step;  zero the gradients

A step never waits for the device: its loss and gradient norm stay device values until
the next log, where they are read in one transfer and checked. A NaN/inf there stops
training with TrainingDiverged before anything is saved, so `last` stays the last good
checkpoint.

Every `log_interval` steps a train row (loss, lr, gradient norm, tokens/s) goes to
loss.csv. Every `eval_interval` steps the model is evaluated on `eval_iters` held-out
batches (never training batches), a val row is added, loss.png is redrawn, and the
checkpoints `last` and (if the validation loss improved) `best` are saved. A checkpoint
holds everything the next step depends on — weights, AdamW moments, step, the batch
generator's state and the device generators (dropout) — so `resume()` continues exactly
as if training had never stopped. It also records what the model was trained on (the
tokenizer, and the data when the job describes it), and `resume()` refuses to go on with
another tokenizer or other data (`check_resume`, in resume.py). While it trains, the
Trainer holds the out_dir's lock (`tinytx.files.lock_folder`): a second run in the same
folder is refused. With `parallel` (docs/distributed.md) each process trains on its shard
of every batch, the gradients are averaged over the processes, and rank 0 alone writes.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import optim
from ..checkpoint import load_checkpoint, model_record, read_checkpoint_meta, save_checkpoint
from ..files import lock_folder
from ..tensor import no_grad
from .accumulate import accumulate_gradients, lm_loss
from .evaluation import bits_per_byte
from .logs import plot_losses, read_rows, write_rows
from .resume import check_resume, resume_tokenizer


@dataclass
class TrainConfig:
    max_iters: int = 1000          # optimizer steps
    batch_size: int = 16           # sequences per micro-batch
    grad_accum: int = 1            # micro-batches per optimizer step
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    lr_decay_iters: int = 0        # cosine ends here; 0 means max_iters
    weight_decay: float = 0.1      # on matrices and embeddings only
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8              # Adam's ε, added to the root of the second moment
    grad_clip: float = 1.0         # 0 disables clipping
    eval_interval: int = 100
    log_interval: int = 10         # a train row in loss.csv every this many steps
    eval_iters: int = 20
    seed: int = 1337               # the batch generator's seed
    progress: bool = True          # a tqdm progress bar


class TrainingDiverged(RuntimeError):
    """The loss or the gradient norm became NaN or inf."""


class Trainer:
    """Trains `model` on batches from `get_batch(split, rng)` (split "train" or "val");
    `loss_fn(model, batch)` gives a batch's loss (by default `lm_loss`: the batch is the
    model's forward arguments, e.g. (x, y) for a GPT, and forward returns (logits, loss)).

    Args:
        model, config (TrainConfig), get_batch, loss_fn: as above; e.g. a Seq2Seq
            trains on PairBatches with `loss_fn=tinytx.tasks.seq2seq.seq2seq_loss`.
        out_dir: where loss.csv, loss.png, last.* and best.* go.
        tokenizer: the model's tokenizer (or a Hugging Face folder), saved in every
            checkpoint with the model's type and config (tinytx.checkpoint.record), so
            `load_model(out_dir / "best")` rebuilds both.
        meta: more JSON-able entries for the checkpoints' config (the job's options …).
        data: a JSON-able record of the training data (e.g. {"sha256": ..., "characters":
            ...}), saved in the checkpoints and compared on resume (see check_resume).
        on_eval: called as on_eval(trainer, row) after each evaluation (e.g. to sample).
        tokens_per_batch: tokens in one micro-batch (an int), for the logged tokens/s.
        count_targets: count_targets(batch) -> the number of target tokens its loss is a
            mean over; micro-batches are then weighted by it (see accumulate_gradients).
            Needed for padded batches (Seq2Seq pairs) when grad_accum > 1.
        bytes_per_token: UTF-8 bytes per held-out token, to log bits per byte.
        parallel: a tinytx.distributed.DataParallel over `model`, or None. Each rank then
            trains on its shard of every batch `get_batch` draws (the global batch, the
            same on every rank), evaluates its shard of the validation batches, and
            rank 0 alone writes loss.csv, loss.png and checkpoints and calls on_eval.
    """

    def __init__(self, model, config: TrainConfig, get_batch, out_dir, *, loss_fn=lm_loss,
                 tokenizer=None, meta=None, data=None, on_eval=None, tokens_per_batch=None,
                 count_targets=None, bytes_per_token=None, parallel=None):
        for name in ("max_iters", "grad_accum", "eval_interval", "log_interval",
                     "eval_iters"):
            if getattr(config, name) < 1:
                raise ValueError(f"{name}: expected a positive int, got "
                                 f"{getattr(config, name)!r}")
        self.model, self.config, self.parallel = model, config, parallel
        self.get_batch = get_batch if parallel is None else (
            lambda split, rng: parallel.shard(get_batch(split, rng)))
        self.writer = parallel is None or parallel.rank == 0
        self.loss_fn, self.on_eval, self.out_dir = loss_fn, on_eval, Path(out_dir)
        self.meta = {**model_record(model, tokenizer), "data": data, **(meta or {})}
        self.tokens_per_batch, self.count_targets = tokens_per_batch or 0, count_targets
        self.bytes_per_token = bytes_per_token
        self.optimizer = optim.AdamW(optim.decay_groups(model, config.weight_decay),
                                     lr=config.lr, betas=(config.beta1, config.beta2),
                                     eps=config.eps)
        if parallel is not None:
            self.optimizer = parallel.wrap_optimizer(self.optimizer)
        self.rng = np.random.default_rng(config.seed)
        self.step, self.best_val, self.elapsed, self.rows = 0, math.inf, 0.0, []
        self._unread = []          # (step, loss, norm) on the device, not read yet

    # -- checkpoints ------------------------------------------------------------------------
    def save(self, name):
        extra = {"batch_rng": self.rng.bit_generator.state, "best_val": self.best_val,
                 "elapsed_s": self.elapsed}
        if self.parallel:       # every rank's dropout generator (a collective)
            extra = self.parallel.gather_for_save(extra)
        if self.writer:
            save_checkpoint(self.out_dir / name, self.model, self.optimizer, step=self.step,
                            config={**self.meta, "train": asdict(self.config)}, extra=extra)

    def resume(self, name="last", allow_new_data: bool | None = None):
        """Load out_dir/name and continue from its step (a clear error if it is missing,
        or if it was trained on another tokenizer or other data: see check_resume)."""
        resume_tokenizer(self.out_dir / name)          # the checkpoint is there
        saved = read_checkpoint_meta(self.out_dir / name)
        check_resume(saved["config"] or {}, self.meta, self.out_dir / name, allow_new_data)
        meta = load_checkpoint(self.out_dir / name, self.model, self.optimizer)
        self.step, extra = meta["step"], meta["extra"]
        self.rng.bit_generator.state = extra["batch_rng"]
        self.best_val, self.elapsed = extra["best_val"], extra["elapsed_s"]
        if self.parallel:
            self.parallel.restore_after_load(extra)
        self.rows = [r for r in read_rows(self.out_dir / "loss.csv") if r["step"] <= self.step]

    # -- evaluation -------------------------------------------------------------------------
    def estimate_loss(self) -> float:
        """Mean loss over eval_iters validation batches (nanoGPT's estimate_loss; the
        full held-out pass is `tinytx.train.evaluate`), from a generator seeded by the
        step, so evaluation never disturbs the training batches or dropout."""
        rng = np.random.default_rng([self.config.seed, self.step])
        was_training = self.model.training
        self.model.eval()
        with no_grad():
            batches = [self.get_batch("val", rng) for _ in range(self.config.eval_iters)]
            losses = np.array([self.loss_fn(self.model, b).item() for b in batches])
        self.model.train(was_training)
        if self.parallel:     # each rank saw a shard: a batch's loss is Σ loss·n / Σ n
            n = np.array([self.count_targets(b) if self.count_targets else 1
                          for b in batches], dtype=np.float64)
            sums = self.parallel.mean(np.concatenate([losses * n, n]))
            losses = sums[:len(n)] / sums[len(n):]
        return float(np.mean(losses))

    def _log_train(self, losses, lr, grad_norm, tokens_per_s):
        """A train row: mean loss over the last log_interval steps, lr, grad norm."""
        self.rows.append(dict(step=self.step, kind="train", train_loss=float(np.mean(losses)),
                              lr=lr, grad_norm=grad_norm, tokens_per_s=tokens_per_s,
                              elapsed_s=self.elapsed))
        if self.writer:
            write_rows(self.out_dir / "loss.csv", self.rows)

    def _log_eval(self):
        """Evaluate, add a val row, redraw loss.png, save best (if better) and last."""
        val = self.estimate_loss()
        bpb = bits_per_byte(val, self.bytes_per_token)
        row = dict(step=self.step, kind="val", val_loss=val, val_bpb=bpb,
                   elapsed_s=self.elapsed)
        self.rows.append(row)
        if self.writer:
            write_rows(self.out_dir / "loss.csv", self.rows)
            plot_losses(self.rows, self.out_dir / "loss.png")
        if val < self.best_val:
            self.best_val = val
            self.save("best")
        self.save("last")
        if self.on_eval and self.writer:
            self.on_eval(self, row)
        return row

    # -- the loop -----------------------------------------------------------------------------
    def lr_at(self, step):
        c = self.config
        decay = c.lr_decay_iters or c.max_iters
        return optim.lr_schedule(step, lr=c.lr, min_lr=c.min_lr, decay_steps=decay,
                                 warmup_steps=min(c.warmup_iters, decay))  # short runs

    def train_step(self):
        """One optimizer step; returns (mean loss, gradient norm before clipping) as 0-d
        arrays on the device, without waiting for it: they are read, and checked for
        NaN/inf, at the next log (`_read_steps`)."""
        c = self.config
        optim.set_lr(self.optimizer, self.lr_at(self.step))
        batches = [self.get_batch("train", self.rng) for _ in range(c.grad_accum)]
        counts = [self.count_targets(b) for b in batches] if self.count_targets else None
        # a diverging step overflows; _read_steps reports it, NumPy's warnings would not
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss = accumulate_gradients(self.model, batches, counts, self.loss_fn,
                                        self.parallel)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            clip = self.parallel.clip_grad_norm if self.parallel else optim.clip_grad_norm
            norm = clip(params, c.grad_clip if c.grad_clip > 0 else math.inf)
            self.optimizer.step()
        self.optimizer.zero_grad()
        self._unread.append((self.step, loss, norm))
        self.step += 1
        return loss, norm

    def _read_steps(self) -> list[tuple[float, float]]:
        """(loss, norm) of each step since the last read, as floats, in one transfer from
        the device: the one wait for it between logs. A non-finite loss or norm raises
        TrainingDiverged naming the first such step; nothing has been saved since the
        last read, so `last` on disk is the last good checkpoint."""
        steps, self._unread = self._unread, []
        if not steps:
            return []
        dev = next(iter(self.model.parameters())).device
        xp = dev.xp
        values = dev.to_host(xp.stack([xp.asarray(v, dtype=xp.float64)
                                       for _, loss, norm in steps for v in (loss, norm)]))
        if self.parallel:      # the global batch's loss: the mean of the shards' losses
            values = self.parallel.mean(values)
        pairs = [(float(values[2 * i]), float(values[2 * i + 1])) for i in range(len(steps))]
        for (step, _, _), (loss, norm) in zip(steps, pairs):
            if not (math.isfinite(loss) and math.isfinite(norm)):
                raise TrainingDiverged(
                    f"step {step}: the loss is {loss} and the gradient norm {norm}; "
                    f"training stopped without saving, so {self.out_dir / 'last'} is the "
                    f"last good checkpoint. Try a lower --lr or a smaller --grad_clip "
                    f"(on the GPU a target id outside the vocabulary also gives NaN).")
        return pairs

    def train(self):
        """Run until max_iters, holding the out_dir's lock; returns the last evaluation
        row."""
        with lock_folder(self.out_dir) if self.writer else contextlib.nullcontext():
            return self._train()

    def _train(self):
        c, row = self.config, None
        self.model.train()
        if self.step == 0 and not self.rows:
            row = self._log_eval()
        bar = tqdm(total=c.max_iters, initial=self.step,
                   disable=not (c.progress and self.writer),
                   unit="step", dynamic_ncols=True)
        tokens, t0 = 0, time.perf_counter()
        start, elapsed_before = t0, self.elapsed
        while self.step < c.max_iters:
            lr = self.lr_at(self.step)
            self.train_step()
            self.elapsed = elapsed_before + time.perf_counter() - start  # wall, with evals
            tokens += self.tokens_per_batch * c.grad_accum
            bar.update(1)
            evaluate = self.step % c.eval_interval == 0 or self.step == c.max_iters
            if evaluate or self.step % c.log_interval == 0:    # read the device: a log
                read = self._read_steps()
                tok_s = tokens / max(time.perf_counter() - t0, 1e-9)
                self._log_train([loss for loss, _ in read], lr, read[-1][1], tok_s)
                bar.set_postfix(loss=f"{read[-1][0]:.3f}", tok_s=f"{tok_s:,.0f}")
                tokens, t0 = 0, time.perf_counter()
            if evaluate:
                row = self._log_eval()
                if self.writer:
                    bar.write(f"step {self.step}: train {self.rows[-2]['train_loss']:.4f}, "
                              f"val {row['val_loss']:.4f}")
                t0 = time.perf_counter()  # tokens/s counts training, not evaluation
        bar.close()
        return row or [r for r in self.rows if r["kind"] == "val"][-1]
