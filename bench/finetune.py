"""Finetuning GPT-2 small on a CPU: tinytx against PyTorch eager, tokens/s and peak memory.

    python bench/finetune.py                         # GPT-2 small, 1 x 256 tokens, 2 threads
    python bench/finetune.py --batch 1 --seq 1024 --steps 3     # GPT-2's full context
    python bench/finetune.py --n_layer 2 --seq 64               # a quick look

The model is GPT-2 small's real configuration (12 layers, 768 wide, 12 heads, vocabulary
50257, block 1024) with random weights; a step is what examples/finetune.py does: forward,
cross-entropy, backward, AdamW update. Each framework runs in its own child process (so
each one's peak resident memory, ru_maxrss, is its own: interpreter, library, weights,
AdamW moments and the step's activations), both with the same thread count; the parent
asks them for one step at a time in turn (interleaved, so a busy machine slows both
alike) and prints the medians. PyTorch's side is transformers' GPT2LMHeadModel in eager
mode (no torch.compile); it is skipped when torch or transformers is missing.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time

GPT2_SMALL = dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50257)


def tinytx_worker(conn, cfg, B, T):
    import numpy as np

    import tinytx as tx
    from tinytx import optim
    from tinytx.models import GPT, GPTConfig
    tx.backend.configure_process(plots=False)      # as tinytx's scripts: malloc kept
    tx.manual_seed(0)
    model = GPT(GPTConfig(dropout=0.1, **cfg))
    opt = optim.AdamW(optim.decay_groups(model, 0.01), lr=5e-5)
    rng = np.random.default_rng(0)

    def step():
        x = rng.integers(0, cfg["vocab_size"], (B, T + 1))
        _, loss = model(tx.tensor(x[:, :-1]), tx.tensor(x[:, 1:]))
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()
    serve(conn, step)


def torch_worker(conn, cfg, B, T):
    import torch
    import transformers
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=cfg["n_layer"], n_head=cfg["n_head"], n_embd=cfg["n_embd"],
        n_positions=cfg["block_size"], vocab_size=cfg["vocab_size"])).train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)

    def step():
        x = torch.randint(0, cfg["vocab_size"], (B, T + 1))
        loss = model(x[:, :-1], labels=x[:, :-1]).loss   # HF shifts the labels itself
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()
    serve(conn, step)


def serve(conn, step):
    """Answer "step" with the step's wall seconds, "peak" with ru_maxrss in MiB."""
    import resource
    conn.send("ready")
    while True:
        what = conn.recv()
        if what == "step":
            t0 = time.perf_counter()
            step()
            conn.send(time.perf_counter() - t0)
        else:
            conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            return


def start(ctx, target, cfg, B, T):
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, cfg, B, T), daemon=True)
    proc.start()
    if parent.recv() != "ready":
        raise RuntimeError(f"{target.__name__} did not start")
    return proc, parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4, help="timed steps (after 1 warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n_layer", type=int, default=GPT2_SMALL["n_layer"])
    args = ap.parse_args()
    cfg = {**GPT2_SMALL, "n_layer": args.n_layer}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)      # the children inherit it before numpy loads
    os.environ["BENCH_THREADS"] = str(args.threads)
    ctx = mp.get_context("spawn")
    workers = {"tinytx": start(ctx, tinytx_worker, cfg, args.batch, args.seq)}
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        workers["PyTorch eager"] = start(ctx, torch_worker, cfg, args.batch, args.seq)
    except ImportError:
        print("(torch or transformers not installed: tinytx only)")
    times = {name: [] for name in workers}
    for i in range(args.steps + 1):                  # step 0 is a warm-up, not counted
        for name, (_, conn) in workers.items():
            conn.send("step")
            seconds = conn.recv()
            if i:
                times[name].append(seconds)
    rows = {}
    for name, (proc, conn) in workers.items():
        conn.send("peak")
        rows[name] = (statistics.median(times[name]), conn.recv())
        proc.join()
    tokens = args.batch * args.seq
    print(f"GPT-2 ({cfg['n_layer']} layers, 768 wide, vocab 50257), batch {args.batch} x "
          f"{args.seq} tokens, {args.threads} threads, median of {args.steps} interleaved "
          f"steps (forward + backward + AdamW)")
    print(f"{'':14s} {'s/step':>8s} {'tokens/s':>9s} {'peak RSS MiB':>13s}")
    for name, (sec, peak) in rows.items():
        print(f"{name:14s} {sec:8.2f} {tokens / sec:9.1f} {peak:13.0f}")
    if len(rows) == 2:
        (a, pa), (b, pb) = rows["tinytx"], rows["PyTorch eager"]
        print(f"tinytx / PyTorch: {b / a:.2f}x the tokens/s, {pa / pb:.2f}x the peak memory")


if __name__ == "__main__":
    main()
