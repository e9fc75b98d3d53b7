"""Small data-parallel runs for tests/test_distributed.py, under `mpiexec -n 2`.

    mpiexec -n 2 python tests/ddp_worker.py equal OUT   # DDP, ZeRO-1, resumes: npz files
    mpiexec -n 2 python tests/ddp_worker.py kill OUT    # rank 1 dies (SIGKILL) mid-run
    mpiexec -n 2 python tests/ddp_worker.py hang OUT    # rank 1 stops answering
    mpiexec -n 2 python tests/ddp_worker.py raise OUT   # rank 1 fails with an error

The model is a tiny float64 GPT (task "lm") or Seq2Seq on padded pairs of random lengths
(task "pairs": every rank's shard has its own number of target tokens); the one-process
reference is `train(out)` without a communicator, which the test runs in its own process.
"""
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

import tinytx as tx
from tinytx.config import run_main
from tinytx.distributed import ParallelConfig, data_parallel, init
from tinytx.models import GPT, GPTConfig, Seq2Seq, Seq2SeqConfig
from tinytx.tasks.seq2seq import random_pair_batch, seq2seq_loss, target_tokens
from tinytx.train import Trainer, TrainConfig

V, T, B = 17, 8, 4           # vocabulary, block, global batch (rows)
DATA = np.random.default_rng(0).integers(0, V, 400)


def get_batch(split, rng):
    ids = DATA[:300] if split == "train" else DATA[300:]
    i = rng.integers(0, len(ids) - T - 1, B)
    return (tx.tensor(np.stack([ids[j:j + T] for j in i])),
            tx.tensor(np.stack([ids[j + 1:j + T + 1] for j in i])))


_rng = np.random.default_rng(1)
PAIRS = [(list(_rng.integers(3, V, _rng.integers(2, 7))),          # [BOS]=1 tgt [EOS]=2
          [1, *_rng.integers(3, V, _rng.integers(1, 7)), 2]) for _ in range(60)]


def get_pairs(split, rng):
    return random_pair_batch(PAIRS[:50] if split == "train" else PAIRS[50:], B, rng, 0)


def build(task, dropout):
    """(model, get_batch, the Trainer's loss options) of a task."""
    tx.manual_seed(0)
    if task == "pairs":
        return (Seq2Seq(Seq2SeqConfig(vocab_size=V, n_embd=16, n_head=2, n_encoder_layer=1,
                                      n_decoder_layer=1, dropout=dropout, block_size=T)),
                get_pairs, {"loss_fn": seq2seq_loss, "count_targets": target_tokens})
    return (GPT(GPTConfig(block_size=T, vocab_size=V, n_layer=1, n_head=2, n_embd=16,
                          dropout=dropout)), get_batch, {})


def train(out, comm=None, zero=False, dropout=0.0, steps=6, resume=False, on_step=None,
          task="lm"):
    """Train the tiny model `steps` steps (schedule of 6) into `out`; returns the Trainer."""
    model, batches, loss = build(task, dropout)
    model = model.to(dtype="float64")
    if comm is not None and comm.rank > 0:       # the broadcast from rank 0 must fix this
        for p in model.parameters():
            p.data += 1.0
    cfg = ParallelConfig(bucket_mb=0.002, zero=zero)     # ~500 values: several buckets
    trainer = Trainer(model, TrainConfig(max_iters=steps, lr_decay_iters=6, grad_accum=2,
                                         eval_interval=3, eval_iters=2, warmup_iters=2,
                                         lr=3e-3, log_interval=1, progress=False),
                      batches, out, tokens_per_batch=B * T,
                      parallel=data_parallel(model, comm, cfg, seed=7), **loss)
    if resume:
        trainer.resume()
    if on_step:
        trainer.on_eval = None
        step, trainer.train_step = trainer.train_step, lambda: (on_step(trainer), step())[1]
    trainer.train()
    return trainer


def save_params(trainer, path, **more):
    params = {n: p.numpy() for n, p in trainer.model.named_parameters()}
    np.savez(path, **params)
    if more:
        Path(path).with_suffix(".json").write_text(json.dumps(more))


def equal(out):
    comm = init(timeout_s=60)
    runs = {"ddp": {}, "pairs": {"task": "pairs"}, "zero": {"zero": True},
            "full": {"dropout": 0.1}}
    for name, kw in runs.items():
        trainer = train(out / name, comm, **kw)
        p = trainer.parallel
        info = {"world_size": comm.world_size, "buckets": len(p.buckets),
                "started_in_backward": p.started_in_backward}
        if p.zero:
            info.update(p.zero_optimizer.memory)
        if comm.rank == 0:
            save_params(trainer, out / f"{name}.npz", **info)
    for name, kw in {"split": {"dropout": 0.1}, "zero_split": {"zero": True}}.items():
        train(out / name, comm, steps=3, **kw)
        tx.manual_seed(999)                 # resume must restore every rank's generator
        resumed = train(out / name, comm, resume=True, **kw)
        if comm.rank == 0:
            save_params(resumed, out / f"{name}.npz")


def fail(how, out):
    comm = init(timeout_s=5)

    def on_step(trainer):
        if comm.rank == 1 and trainer.step == 2:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if how == "hang":
                time.sleep(600)
            raise ValueError("rank 1 read a broken batch")
    train(out, comm, on_step=on_step)


def main(argv=None):
    how, out = sys.argv[1], Path(sys.argv[2])
    equal(out) if how == "equal" else fail(how, out)


if __name__ == "__main__":
    sys.exit(run_main(main))
