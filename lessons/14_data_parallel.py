# %%
"""Lesson 14 — Training beyond one process: all-reduce, data parallelism, overlap
(after lesson 11's GPT: how nanoGPT's and llm.c's training scales to many processes;
beyond the report).

When one process is too slow, run N copies of the training, give each a different shard
of every batch, and average their gradients before each step: every copy then takes the
step one process would take on the whole batch. The averaging is an *all-reduce*: every
rank ends with the sum of every rank's array. This lesson:

  1. builds all-reduce from scratch on NumPy arrays in one process — naive (everyone sends
     to rank 0, which sends the sum back) and ring (reduce-scatter, then all-gather
     around a ring) — and counts the bytes each rank sends: the naive root sends
     (W-1)·n values, a ring rank 2·(W-1)/W·n, whatever W;
  2. shows why averaging gradients over shards is the big batch's gradient (a GPT in
     float64: equal shards agree to ~1e-16) and why unequal shards need weights (tinytx
     weighs each by its target tokens: `tinytx.train.accumulate_gradients`);
  3. runs the real thing: `mpiexec -n 2` processes with tinytx.distributed.DataParallel
     (MPI through mpi4py), checks the parameters against one process with the same
     global batch, and draws one step as a timeline from the measured times: backward,
     and each gradient bucket's all-reduce, started while backward is still running.

docs/distributed.md explains buckets, overlap, ZeRO-1, NCCL and what breaks; the code is
tinytx/distributed/ (ddp.py, buckets.py, mpi.py) and Tensor.register_grad_hook
(tinytx/tensor.py, tinytx/autograd.py). Section 3 needs `pip install -e '.[mpi]'`; without
mpi4py it says so and is skipped.

Run:
    python lessons/14_data_parallel.py                 # the whole lesson
    python lessons/14_data_parallel.py --smoke         # a few seconds, for the tests
    python lessons/14_data_parallel.py --bucket_mb=1000   # one bucket: no overlap

Expected output (abridged; the full run's output is lessons/expected/14_data_parallel.txt;
every number is measured, the times in ms vary from run to run and machine to machine):
    1. All-reduce of W arrays of 1,000,000 float64 values, from scratch
         W method max |error|  bytes sent (all ranks)  bytes sent by the busiest rank
         2 naive      0.0e+00              16,000,000                       8,000,000
         2 ring       0.0e+00              16,000,000                       8,000,000
         4 naive      0.0e+00              48,000,000                      24,000,000
         4 ring       1.8e-15              48,000,000                      12,000,000
         8 naive      0.0e+00             112,000,000                      56,000,000
         8 ring       3.6e-15             112,000,000                      14,000,000
    2. ... the mean of the 4 shard gradients against the batch of 8: max |difference| 5.6e-17
       unequal shards (3 and 5 rows): the plain mean is off by 4.1e-02; their gradients
       summed, each loss weighted by its target tokens (...): 5.6e-17
    3. 4 AdamW steps, global batch 8: 2 processes x 4 rows against 1 process x 8 rows:
       parameters' max |difference| 1.8e-13
       the last step on rank 0: forward to 17.3 ms, backward to 35.5 ms, gradients
       averaged at 41.1 ms
         bucket 0: all-reduce started at   18.1 ms (during backward), seen done at   19.0 ms
         ... (25 buckets, every one started during backward)
       saved out/lessons/14/timeline.png

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 4 s (most of it starting the two MPI processes).

Exercises (your code goes in lessons/exercises/data_parallel.py; check it with
`python -m lessons.check data_parallel`; our answers are in
lessons/solutions/data_parallel.py)
  1. Implement `recursive_doubling_allreduce(arrays)` (W a power of two; a list of W
     equal-length arrays -> (the W results, bytes sent by each rank), as section 1's
     functions return): log2 W steps; at step s = 0, 1, ... every rank r swaps its whole
     partial sum with rank r XOR 2^s and adds what it gets. Checked against np.sum, the
     order of its additions, and the bytes each rank sends (log2(W)·n values). Add it to
     section 1's table: against the ring, which sends less and which needs fewer steps?
  2. Implement `shard_weights(counts)`: DataParallel averages the W ranks' gradients (it
     divides their sum by W), so with unequal shards each rank must weigh its mean loss
     first. Given the target tokens of every rank's shard, return each rank's weight, so
     that the averaged gradient is the mean over all the global batch's tokens (section 2
     weighs shards that are summed, in one process); checked on unequal shards of a GPT.
  3. Implement `train_step(model, optimizer, micro_batches, grad_clip)`: one step of
     lesson 11's loop from micro-batches of different sizes, the gradients accumulated
     with each loss weighted by its tokens, then clipped, then the step; checked over
     three steps against tinytx's step on the whole batch. Why must the gradients be
     cleared before the first micro-batch but not between them, and why clip only after
     the last?
  4. Predict, then run: `--bucket_mb=1000` (one bucket) and `--bucket_mb=0` (one per
     parameter). How does the timeline change, and what does each cost?
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
from tinytx import optim
from tinytx.course import max_diff, save_figure, section, setup
from tinytx.distributed import DataParallel, init, shard_batch
from tinytx.models import GPT, GPTConfig   # (lesson 11 explains it)
from tinytx.train import accumulate_gradients

# this file, which mpiexec starts as each rank of section 3 (a notebook has no __file__;
# its kernel runs in the notebook's folder)
LESSON = Path(globals().get("__file__", "14_data_parallel.py")).resolve()


@dataclass
class Config:
    out_dir: str = "out/lessons/14"
    n: int = 1_000_000               # values per array in section 1
    worlds: str = "2,4,8"            # W, the simulated ranks of section 1
    n_layer: int = 4                 # the GPT of sections 2 and 3 (float64)
    n_embd: int = 64
    block_size: int = 32
    batch_size: int = 8              # the global batch
    steps: int = 4                   # section 3's training steps
    bucket_mb: float = 0.05          # small buckets: several of them, to see the overlap
    worker: str = ""                 # (internal) run as one rank of section 3, write here
    smoke: bool = False


SMOKE = dict(n=10_000, worlds="2,4", n_layer=2, n_embd=32, block_size=16, steps=2,
             bucket_mb=0.01)
VOCAB = 64
NO_MPI = "mpi4py or mpiexec is not installed (pip install -e '.[mpi]')"


# %%
# -- 1. all-reduce from scratch ---------------------------------------------------------------
def naive_allreduce(arrays):
    """Ranks 1..W-1 send their arrays to rank 0, which adds them up and sends the sum to
    each. Returns (the W results, bytes sent by each rank)."""
    W, sent = len(arrays), np.zeros(len(arrays))
    total = arrays[0].copy()
    for r in range(1, W):
        total += arrays[r]
        sent[r] += arrays[r].nbytes
    sent[0] += (W - 1) * total.nbytes
    return [total.copy() for _ in range(W)], sent


def ring_allreduce(arrays):
    """Ranks in a ring, each array cut into W chunks. Reduce-scatter: in step s rank r
    sends chunk (r - s) mod W to rank r+1, which adds it to its own; after W-1 steps rank
    r holds the whole sum of chunk r+1. All-gather: the summed chunks go round the ring
    once more, copied instead of added. Returns (the W results, bytes sent by each)."""
    W, sent = len(arrays), np.zeros(len(arrays))
    chunks = [np.array_split(a.copy(), W) for a in arrays]      # chunks[rank][chunk]
    for add in (True, False):                                   # reduce-scatter, all-gather
        for s in range(W - 1):
            c = [(r - s) % W if add else (r + 1 - s) % W for r in range(W)]
            msgs = [chunks[r][c[r]].copy() for r in range(W)]   # all send at once
            for r in range(W):
                right = (r + 1) % W
                chunks[right][c[r]] = chunks[right][c[r]] + msgs[r] if add else msgs[r]
                sent[r] += msgs[r].nbytes
    return [np.concatenate(ch) for ch in chunks], sent


def section_allreduce(cfg):
    section(f"1. All-reduce of W arrays of {cfg.n:,} float64 values, from scratch")
    print(f"   {'W':>3} {'method':<6} {'max |error|':>11} {'bytes sent (all ranks)':>23} "
          f"{'bytes sent by the busiest rank':>31}")
    rng, facts = np.random.default_rng(0), {"n": cfg.n}
    for W in [int(w) for w in cfg.worlds.split(",")]:
        arrays = [rng.standard_normal(cfg.n) for _ in range(W)]
        exact = np.sum(arrays, axis=0)
        for name, fn in (("naive", naive_allreduce), ("ring", ring_allreduce)):
            results, sent = fn(arrays)
            err = max(max_diff(res, exact) for res in results)
            print(f"   {W:>3} {name:<6} {err:>11.1e} {sent.sum():>23,.0f} {sent.max():>31,.0f}")
            facts[f"{name}_{W}"] = {"error": err, "busiest": sent.max(), "total": sent.sum()}
    print("   Both move the same bytes in all, but the naive root sends (W-1)·n values while\n"
          "   a ring rank sends 2·(W-1)/W·n: under 2n however many ranks, so with a link per\n"
          "   rank the ring's time hardly grows with W. It pays in steps instead: 2·(W-1)\n"
          "   messages one after the other, each with its latency. MPI libraries pick by\n"
          "   message size (a ring or reduce-scatter for long arrays, few steps for short\n"
          "   ones: exercise 1); NCCL uses rings and trees.")
    return facts


# %%
# -- 2. shards and the big batch --------------------------------------------------------------
def tiny_gpt(cfg):
    tx.manual_seed(0)
    return GPT(GPTConfig(block_size=cfg.block_size, vocab_size=VOCAB, n_layer=cfg.n_layer,
                         n_head=4, n_embd=cfg.n_embd)).to(dtype="float64")


def batch_of(cfg, step):
    rng = np.random.default_rng(step)
    x = rng.integers(0, VOCAB, (cfg.batch_size, cfg.block_size))
    return tx.tensor(x), tx.tensor(np.roll(x, -1, axis=1))


def flat_grads(model):
    return np.concatenate([p.grad.ravel() for p in model.parameters()])


def gradients(model, x, y):
    """The gradient of the mean loss over the batch (x, y), all parameters in one vector."""
    model.zero_grad()
    model(x, y)[1].backward()
    return flat_grads(model)


def section_shards(cfg):
    section("2. Why the mean of the shards' gradients is the big batch's gradient")
    model, (x, y) = tiny_gpt(cfg), batch_of(cfg, 0)
    big = gradients(model, x, y)
    W = 4
    shards = [shard_batch((x, y), r, W) for r in range(W)]
    mean = np.mean([gradients(model, *s) for s in shards], axis=0)
    print(f"   loss = mean over the batch's tokens, so its gradient is the mean of the tokens'\n"
          f"   gradients; {W} equal shards of {cfg.batch_size // W} rows, each the mean of its "
          f"own: the mean of\n   the {W} shard gradients against the batch of {cfg.batch_size}: "
          f"max |difference| {max_diff(mean, big):.1e}")
    a, b = (x[:3], y[:3]), (x[3:], y[3:])         # unequal shards: 3 and 5 rows
    plain = (gradients(model, *a) + gradients(model, *b)) / 2
    model.zero_grad()
    accumulate_gradients(model, [a, b], counts=[a[1].size, b[1].size])   # target tokens
    weighted = flat_grads(model)
    print(f"   unequal shards (3 and 5 rows): the plain mean is off by "
          f"{max_diff(plain, big):.1e}; their gradients summed,\n   each loss weighted by "
          f"its target tokens (accumulate_gradients with counts): "
          f"{max_diff(weighted, big):.1e}\n"
          f"   (padded batches are the same story; and DataParallel averages the ranks'\n"
          f"   gradients instead of summing them: exercise 2)")
    return {"equal_shards": max_diff(mean, big), "unequal_plain": max_diff(plain, big),
            "unequal_weighted": max_diff(weighted, big)}


# %%
# -- 3. the real thing: mpiexec -n 2 ----------------------------------------------------------
def train(cfg, comm=None):
    """cfg.steps AdamW steps of the tiny GPT on the global batches (this rank's shard of
    each with `comm`) -> (model, the last step's phase times on perf_counter's clock,
    its buckets' (start, seen done) times)."""
    model = tiny_gpt(cfg)
    ddp = DataParallel(model, comm, bucket_mb=cfg.bucket_mb) if comm else None
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    for step in range(cfg.steps):
        batch = batch_of(cfg, step)
        x, y = shard_batch(batch, comm.rank, comm.world_size) if comm else batch
        t = [time.perf_counter()]
        loss = model(x, y)[1]
        t.append(time.perf_counter())
        loss.backward()                  # the buckets' all-reduces start in here
        t.append(time.perf_counter())
        if ddp:
            ddp.finish()                 # wait for the rest, write the averaged gradients
        t.append(time.perf_counter())
        opt.step()
        opt.zero_grad()
    return model, t, (ddp.bucket_times if ddp else [])


def worker(cfg):
    """One rank of section 3 (started by mpiexec); rank 0 writes what it measured."""
    comm = init(timeout_s=120)
    model, t, buckets = train(cfg, comm=comm)
    if comm.rank == 0:
        params = np.concatenate([p.data.ravel() for p in model.parameters()])
        np.save(Path(cfg.worker).with_suffix(".npy"), params)
        Path(cfg.worker).write_text(json.dumps({
            "phases": [b - t[0] for b in t], "world": comm.world_size,
            "buckets": [[s - t[0], d - t[0]] for s, d in buckets]}))


def draw_timeline(record, path):
    f, b, w = [1e3 * x for x in record["phases"][1:]]         # ms: forward, backward, wait
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.3 * len(record["buckets"])))
    ax.broken_barh([(0, f), (f, b - f), (b, w - b)], (0, 0.8),
                   facecolors=["tab:gray", "tab:blue", "tab:red"])
    for k, (start, done) in enumerate(record["buckets"]):
        ax.broken_barh([(1e3 * start, 1e3 * (done - start))], (k + 1, 0.8),
                       facecolors="tab:green")
    ax.set_yticks([0.4] + [k + 1.4 for k in range(len(record["buckets"]))])
    ax.set_yticklabels(["rank 0"] + [f"bucket {k}" for k in range(len(record["buckets"]))])
    ax.set_xlabel("ms since the forward began (gray forward, blue backward, red waiting; "
                  "green: a bucket's all-reduce)")
    ax.set_title(f"one training step on {record['world']} processes")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def find_mpiexec():
    """mpiexec beside this Python (the mpich wheel's) or on PATH; None without mpi4py."""
    try:
        import mpi4py  # noqa: F401   (only to know whether section 3 can run)
    except ImportError:
        return None
    return (shutil.which("mpiexec", path=str(Path(sys.executable).parent))
            or shutil.which("mpiexec"))


def section_mpi(cfg, out):
    section("3. The real thing: mpiexec -n 2 with tinytx.distributed.DataParallel")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        print(f"   {NO_MPI}: skipped")
        return {"ran": False, "skipped": NO_MPI}
    record_path = out / "rank0.json"
    args = [f"--{k}={getattr(cfg, k)}" for k in ("n_layer", "n_embd", "block_size",
                                                  "batch_size", "steps", "bucket_mb")]
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, str(LESSON),
                           f"--worker={record_path}", f"--out_dir={out}", *args],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mpiexec failed:\n{done.stderr[-2000:]}")
    record = json.loads(record_path.read_text())
    single, _, _ = train(cfg)
    ours = np.concatenate([p.data.ravel() for p in single.parameters()])
    diff = max_diff(np.load(record_path.with_suffix(".npy")), ours)
    print(f"   {cfg.steps} AdamW steps, global batch {cfg.batch_size}: 2 processes x "
          f"{cfg.batch_size // 2} rows against 1 process x {cfg.batch_size} rows:\n"
          f"   parameters' max |difference| {diff:.1e}")
    forward, backward, waited = (1e3 * x for x in record["phases"][1:])
    print(f"   the last step on rank 0: forward to {forward:.1f} ms, backward to "
          f"{backward:.1f} ms, gradients averaged at {waited:.1f} ms")
    for k, (start, seen) in enumerate(record["buckets"]):
        print(f"     bucket {k}: all-reduce started at {1e3 * start:6.1f} ms "
              f"({'during' if start * 1e3 < backward else 'after'} backward), seen done at "
              f"{1e3 * seen:6.1f} ms")
    print("   (\"seen done\": MPI reports completion when asked, and tinytx asks at each\n"
          "   gradient hook and while waiting, so a bar may end later than the transfer did.\n"
          "   A long red bar is mostly the other rank arriving late: an all-reduce needs both,\n"
          "   so every step waits for the slowest rank — on a shared 2-core machine, often.)")
    path = out / "timeline.png"
    draw_timeline(record, path)
    print(f"   saved {path}")
    during = sum(s * 1e3 < backward for s, _ in record["buckets"])
    return {"ran": True, "max_diff": diff, "buckets": len(record["buckets"]),
            "started_during_backward": during}


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    if cfg.worker:
        return worker(cfg)
    t0 = time.perf_counter()
    facts = {"allreduce": section_allreduce(cfg), "shards": section_shards(cfg),
             "mpi": section_mpi(cfg, out)}
    print(f"\nDone in {time.perf_counter() - t0:.1f} s.")
    return facts


# %%
if __name__ == "__main__":
    main()
