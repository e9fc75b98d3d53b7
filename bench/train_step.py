"""Training throughput of a GPT step (forward + backward + AdamW), tinytx vs PyTorch eager.

    python bench/train_step.py                    # "tiny", "small" and the main job's default
    python bench/train_step.py --configs seed-small      # the report's model (slow on CPU)
    python bench/train_step.py --configs tiny --steps 10 --profile

Each side runs in its own worker process (so neither thread pool spins while the other
works), and the parent interleaves them step by step: tinytx, PyTorch, PyTorch, tinytx, …
so that a slow spell of a shared machine hits both. Printed per config:
  - tokens/s, the median over the timed steps, for both sides, and the ratio;
  - peak memory of training: the workers' peak resident memory (VmHWM, reset after the
    model is built) minus their memory then, so optimizer state, gradients, activations
    and every temporary of a step count, the parameters and the libraries do not;
  - the fraction of the machine's float32 GEMM peak each side reaches: model FLOPs per
    token (6 N + 12 L T C, nanoGPT's estimate) × tokens/s ÷ the GEMM rate NumPy measures
    on large square matrices with the same threads.
Both sides use the same thread count and the same malloc settings (each worker calls
tinytx.backend.configure_process, as tinytx's scripts do: PyTorch's CPU tensors come from
malloc too, and gain from it). --profile prints where tinytx's time goes, per op type.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CONFIGS = {  # name: (n_layer, n_head, n_embd, block_size, batch, vocab, dropout)
    "tiny": (4, 4, 128, 128, 16, 512, 0.0),
    "small": (6, 6, 384, 256, 8, 4096, 0.0),
}


def _example_configs():
    """The main job's presets, read from examples/train_quixote.py (one source of truth).
    seed-small is timed with micro-batches of 8 (its 2 x 32 accumulation has the same
    cost per token)."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "examples" / "train_quixote.py"
    spec = importlib.util.spec_from_file_location("train_quixote", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    for name, c in module.CONFIGS.items():
        m, t = c.model, c.train
        batch = 8 if name == "seed-small" else t.batch_size
        CONFIGS[name] = (m.n_layer, m.n_head, m.n_embd, m.block_size, batch, c.vocab_size,
                         m.dropout)


_example_configs()


def make_batch(rng, B, T, V):
    x = rng.integers(0, V, (B, T))
    return x, np.roll(x, -1, axis=1)


def tinytx_step_fn(cfg, threads):
    import tinytx as tx
    from tinytx.models import GPT, GPTConfig
    from tinytx.optim import AdamW
    n_layer, n_head, n_embd, T, B, V, dropout = cfg
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=T, vocab_size=V, n_layer=n_layer, n_head=n_head,
                          n_embd=n_embd, dropout=dropout))
    opt = AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)

    def step(x, y):
        _, loss = model(tx.tensor(x), tx.tensor(y))
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()
    return step, model


def torch_step_fn(cfg, threads, device="cpu"):
    """The same GPT in PyTorch eager (SDPA attention); device "cpu" or "cuda"."""
    import torch
    from torch_gpt import torch_gpt
    torch.set_num_threads(threads)
    n_layer, n_head, n_embd, T, B, V, dropout = cfg
    model = torch_gpt(n_layer, n_head, n_embd, T, V, dropout).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)

    def step(x, y):
        loss = model(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()
    return step, model


def _status_kib(field):
    """A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: its peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def worker(side, name, threads):
    """Build one side's model, then serve the parent: "step" runs one training step and
    prints its seconds; "mem" prints the peak resident memory since the model was built,
    above the memory then (MiB); "gemm" prints the float32 GEMM rate with the worker's
    threads (NumPy fixes its thread count when it loads); "quit" ends."""
    from tinytx.backend import configure_process
    configure_process(plots=False)      # both sides: a script's malloc settings
    cfg = CONFIGS[name]
    make = tinytx_step_fn if side == "tinytx" else torch_step_fn
    step, _ = make(cfg, threads)
    rng = np.random.default_rng(0)
    T, B, V = cfg[3], cfg[4], cfg[5]
    base = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:    # reset VmHWM to the current RSS
        f.write("5")
    for line in sys.stdin:
        command = line.strip()
        if command == "step":
            x, y = make_batch(rng, B, T, V)
            t0 = time.perf_counter()
            step(x, y)
            print(time.perf_counter() - t0, flush=True)
        elif command == "mem":
            print((_status_kib("VmHWM") - base) / 1024, flush=True)
        elif command == "gemm":
            print(gemm_peak(), flush=True)
        else:
            return


class Worker:
    def __init__(self, side, name, threads):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        self.side = side
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", side, "--configs", name, "--threads",
             str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.side} worker died (see its error above)")
        return float(line)

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


def gemm_peak(n=2048, repeats=5):
    """The machine's float32 GEMM rate (FLOP/s): median of `repeats` n×n @ n×n matmuls."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times)


def flops_per_token(cfg):
    """nanoGPT's estimate: 6 N (forward + backward through every weight, N without the
    position embeddings) + 12 L T C (the attention scores and their use)."""
    n_layer, _, C, T, _, V, _ = cfg
    n_params = V * C + n_layer * (12 * C * C + 13 * C) + 2 * C
    return 6 * n_params + 12 * n_layer * T * C


def profile(cfg, steps=2):
    """Where one tinytx step's time goes: wall time of each op type's forward and backward."""
    import tinytx as tx
    from tinytx.autograd import topological_order
    from tinytx.function import Function
    step, model = tinytx_step_fn(cfg, None)
    T, B, V = cfg[3], cfg[4], cfg[5]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        step(*make_batch(rng, B, T, V))
    times = {}

    def add(key, t0):
        times[key] = times.get(key, 0.0) + time.perf_counter() - t0

    original_call = Function.__call__

    def timed_call(self, *inputs):
        t0 = time.perf_counter()
        out = original_call(self, *inputs)
        add((type(self).__name__, "forward"), t0)
        return out

    def timed(backward, name):
        def run(*gys):
            t0 = time.perf_counter()
            out = backward(*gys)
            add((name, "backward"), t0)
            return out
        return run

    x, y = make_batch(rng, B, T, V)
    Function.__call__ = timed_call
    try:
        t0 = time.perf_counter()
        _, loss = model(tx.tensor(x), tx.tensor(y))
        forward_wall = time.perf_counter() - t0
    finally:
        Function.__call__ = original_call
    for fn in topological_order(loss._ctx):
        fn.backward = timed(fn.backward, type(fn).__name__)  # shadows the class method
    t0 = time.perf_counter()
    loss.backward()
    backward_wall = time.perf_counter() - t0
    total = sum(times.values())
    print(f"  profile of one step: forward {1e3 * forward_wall:.1f} ms, backward "
          f"{1e3 * backward_wall:.1f} ms; by op:")
    for (name, phase), t in sorted(times.items(), key=lambda kv: -kv[1])[:16]:
        print(f"    {name:>22} {phase:<8} {1e3 * t:8.2f} ms  {100 * t / total:5.1f}%")


def compare(name, steps, threads, sides):
    cfg = CONFIGS[name]
    n_layer, n_head, n_embd, T, B, V, dropout = cfg
    print(f"== {name}: {n_layer} layers, {n_head} heads, {n_embd} wide, block {T}, batch {B}, "
          f"vocab {V}, dropout {dropout}; {steps} steps per side, interleaved")
    workers = [Worker(side, name, threads) for side in sides]
    try:
        for w in workers:                           # warm-up: allocations, optimizer state
            w.ask("step"), w.ask("step")
        times = {w.side: [] for w in workers}
        for i in range(steps):
            for w in (workers if i % 2 == 0 else workers[::-1]):
                times[w.side].append(w.ask("step"))
        mem = {w.side: w.ask("mem") for w in workers}
        peak = workers[0].ask("gemm")
    finally:
        for w in workers:
            w.close()
    tok_s = {side: B * T / statistics.median(ts) for side, ts in times.items()}
    fpt = flops_per_token(cfg)
    print(f"  float32 GEMM rate (NumPy, 2048 x 2048, {threads} threads): "
          f"{peak / 1e9:.1f} GFLOP/s; model {fpt / 1e6:.1f} MFLOP per token")
    for side in sides:
        print(f"  {side:>7}: {tok_s[side]:9.0f} tokens/s   peak memory {mem[side]:7.1f} MiB   "
              f"{100 * fpt * tok_s[side] / peak:4.1f}% of GEMM peak")
    if len(sides) == 2:
        print(f"  ratio tinytx/pytorch: speed {tok_s['tinytx'] / tok_s['torch']:.2f}x, "
              f"peak memory {mem['tinytx'] / mem['torch']:.2f}x")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=["tiny", "small", "default"],
                   choices=list(CONFIGS))
    p.add_argument("--steps", type=int, default=7, help="timed steps per side (median)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    p.add_argument("--profile", action="store_true")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--worker", choices=["tinytx", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.configs[0], args.threads)
    try:
        import torch  # noqa: F401
        sides = ["tinytx"] if args.no_torch else ["tinytx", "torch"]
    except ImportError:
        sides = ["tinytx"]
    for name in args.configs:
        compare(name, args.steps, args.threads, sides)
        if args.profile:
            profile(CONFIGS[name])


if __name__ == "__main__":
    main()
