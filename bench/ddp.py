"""Data-parallel throughput: 1 process x 2 threads against 2 processes x 1 thread.

    python bench/ddp.py                              # the main job's model and "small"
    python bench/ddp.py --configs tiny --steps 2 --rounds 1        # a quick check
    python bench/ddp.py --device cuda                # GPUs: 1 GPU against NCCL over 2

On a 2-core machine both sides use both cores: one process with 2 BLAS threads, or two
processes (`mpiexec -n 2`, tinytx.distributed.DataParallel over MPI) with 1 thread each,
each computing half of every batch. The step is the Trainer's: forward and backward over
this process's rows (gradients all-reduced in buckets during backward), clipping, AdamW.
The configs (n_layer, n_head, n_embd, block, batch, vocab) are bench/train_step.py's; the
batch is the global batch, the same on both sides.

The two sides are launched in turns (1 process, 2 processes, 2 processes, 1 process, ...)
so that a slow spell of a shared machine hits both. Printed per config: tokens/s of each
side (the median over all timed steps of all its runs) and their ratio, and for the
2-process side the fraction of the step spent waiting for communication (the median of
DataParallel.finish()'s wait over the step time: what the overlap did not hide).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from train_step import CONFIGS

HERE = Path(__file__).resolve().parent


def worker(name, steps, threads, device):
    """Time `steps` training steps (after 2 warm-up steps); rank 0 prints one JSON line
    {"step_s": [...], "wait_s": [...], "world": N}."""
    import numpy as np

    import tinytx as tx
    from tinytx import optim
    from tinytx.backend import configure_process
    from tinytx.distributed import ParallelConfig, data_parallel, start
    from tinytx.models import GPT, GPTConfig
    from tinytx.train import accumulate_gradients
    configure_process(threads=threads if device == "cpu" else None, plots=False)
    n_layer, n_head, n_embd, T, B, V, dropout = CONFIGS[name]
    comm = start(ParallelConfig(), device)
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=T, vocab_size=V, n_layer=n_layer, n_head=n_head,
                          n_embd=n_embd, dropout=dropout)).to(device)
    parallel = data_parallel(model, comm, ParallelConfig(), seed=0)
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-4)
    rng, times, waits = np.random.default_rng(0), [], []
    for i in range(steps + 2):
        x = rng.integers(0, V, (B, T))
        batch = (tx.tensor(x, device=device), tx.tensor(np.roll(x, -1, 1), device=device))
        batch = parallel.shard(batch) if parallel else batch
        before = parallel.comm_wait_s if parallel else 0.0
        t0 = time.perf_counter()
        loss = accumulate_gradients(model, [batch], parallel=parallel)
        optim.clip_grad_norm(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        float(loss)                                   # wait for the device
        if i >= 2:
            times.append(time.perf_counter() - t0)
            waits.append((parallel.comm_wait_s if parallel else 0.0) - before)
    if comm is None or comm.rank == 0:
        world = comm.world_size if comm else 1
        print(json.dumps({"step_s": times, "wait_s": waits, "world": world}))


def run(name, procs, args):
    """One run of `procs` processes; returns its JSON record."""
    threads = 2 // procs if args.device == "cpu" else 1
    cmd = [sys.executable, str(HERE / "ddp.py"), "--worker", name, "--steps",
           str(args.steps), "--threads", str(threads), "--device", args.device]
    if procs > 1:
        cmd = [args.mpiexec, "-n", str(procs)] + cmd
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=["default", "small"])
    p.add_argument("--steps", type=int, default=5, help="timed steps per run")
    p.add_argument("--rounds", type=int, default=2, help="runs of each side (alternating)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--mpiexec", default=str(Path(sys.executable).parent / "mpiexec"))
    p.add_argument("--worker")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.steps, args.threads, args.device)
    if not os.path.exists(args.mpiexec):
        raise SystemExit(f"--mpiexec: {args.mpiexec} not found (pip install -e '.[mpi]')")
    sides = {1: "1 process x 2 threads", 2: "2 processes x 1 thread"}
    if args.device != "cpu":
        sides = {1: "1 GPU", 2: "2 GPUs (NCCL)"}
    print(f"{'config':10s} {sides[1]:>24s} {sides[2]:>24s} {'ratio':>7s} {'comm wait':>10s}")
    for name in args.configs:
        steps, waits = {1: [], 2: []}, []
        for r in range(args.rounds):
            for procs in ((1, 2) if r % 2 == 0 else (2, 1)):
                rec = run(name, procs, args)
                steps[procs] += rec["step_s"]
                if procs == 2:
                    waits += [w / s for w, s in zip(rec["wait_s"], rec["step_s"])]
        tokens = CONFIGS[name][3] * CONFIGS[name][4]            # T x global batch
        tok_s = {k: tokens / statistics.median(v) for k, v in steps.items()}
        print(f"{name:10s} {tok_s[1]:>17,.0f} tok/s {tok_s[2]:>17,.0f} tok/s "
              f"{tok_s[2] / tok_s[1]:>6.2f}x {statistics.median(waits):>9.1%}")


if __name__ == "__main__":
    main()
