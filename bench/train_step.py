"""Training throughput of a GPT step (forward + backward + AdamW), tinytx vs PyTorch eager.

    python bench/train_step.py                    # "tiny", "small" and the main job's default
    python bench/train_step.py --configs seed-small      # the report's model (slow on CPU)
    python bench/train_step.py --configs tiny --steps 10 --profile

Prints tokens/s (median over timed steps) and peak memory of one step (tracemalloc, NumPy
allocations) for tinytx; if PyTorch is installed, the identical model in PyTorch eager with
the same thread count, and the ratio. PyTorch runs in a child process with the environment
as it was (tinytx's malloc tuning, see tinytx.backend.keep_freed_memory, would speed it up
too). --profile prints where tinytx's time goes, per op type.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import tinytx as tx
from tinytx.autograd import topological_order
from tinytx.models import GPT, GPTConfig
from tinytx.optim import AdamW

CONFIGS = {  # name: (n_layer, n_head, n_embd, block_size, batch, vocab)
    "tiny": (4, 4, 128, 128, 16, 512),
    "small": (6, 6, 384, 256, 8, 4096),
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
        batch = 8 if name == "seed-small" else c.batch_size
        CONFIGS[name] = (c.n_layer, c.n_head, c.n_embd, c.block_size, batch, c.vocab_size)


_example_configs()


def make_batch(rng, B, T, V):
    x = rng.integers(0, V, (B, T))
    return x, np.roll(x, -1, axis=1)


def tinytx_step_fn(cfg, device="cpu"):
    n_layer, n_head, n_embd, T, B, V = cfg
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=T, vocab_size=V, n_layer=n_layer, n_head=n_head,
                          n_embd=n_embd, dropout=0.0)).to(device)
    opt = AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)

    def step(x, y):
        _, loss = model(tx.tensor(x, device=device), tx.tensor(y, device=device))
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()
    return step, model


def torch_step_fn(cfg, threads, device="cpu"):
    """The same GPT in PyTorch eager (SDPA attention); device "cpu" or "cuda"."""
    import torch
    from torch import nn as tnn
    torch.set_num_threads(threads)
    n_layer, n_head, n_embd, T, B, V = cfg

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = tnn.LayerNorm(n_embd), tnn.LayerNorm(n_embd)
            self.c_attn, self.c_proj = tnn.Linear(n_embd, 3 * n_embd), tnn.Linear(n_embd, n_embd)
            self.mlp = tnn.Sequential(tnn.Linear(n_embd, 4 * n_embd), tnn.GELU(approximate="tanh"),
                                      tnn.Linear(4 * n_embd, n_embd))

        def forward(self, x):
            Bx, Tx, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(n_embd, dim=2)
            q, k, v = (t.view(Bx, Tx, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.c_proj(y.transpose(1, 2).reshape(Bx, Tx, C))
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = tnn.Embedding(V, n_embd), tnn.Embedding(T, n_embd)
            self.h = tnn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = tnn.LayerNorm(n_embd)
            self.lm_head = tnn.Linear(n_embd, V, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
            for b in self.h:
                x = b(x)
            logits = self.lm_head(self.ln_f(x))
            return torch.nn.functional.cross_entropy(logits.view(-1, V), targets.view(-1))

    model = TorchGPT().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)

    def step(x, y):
        loss = model(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()
    return step


def time_steps(step, cfg, steps, warmup=2):
    T, B, V = cfg[3], cfg[4], cfg[5]
    rng = np.random.default_rng(0)
    for _ in range(warmup):
        step(*make_batch(rng, B, T, V))
    times = []
    for _ in range(steps):
        x, y = make_batch(rng, B, T, V)
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    return B * T / statistics.median(times)


def peak_memory(step, cfg):
    T, B, V = cfg[3], cfg[4], cfg[5]
    x, y = make_batch(np.random.default_rng(0), B, T, V)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    step(x, y)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 2**20


def profile(model, cfg):
    """Where one step's time goes: wall time of each op type's forward and backward."""
    from tinytx.function import Function
    T, B, V = cfg[3], cfg[4], cfg[5]
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

    x, y = make_batch(np.random.default_rng(0), B, T, V)
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
        print(f"    {name:>18} {phase:<8} {1e3 * t:8.2f} ms  {100 * t / total:5.1f}%")


def torch_tokens_per_s(name, steps, threads):
    """PyTorch's tokens/s, measured in a fresh process (stock malloc, its own threads)."""
    out = subprocess.run([sys.executable, __file__, "--torch-child", name, "--steps",
                          str(steps), "--threads", str(threads)], capture_output=True,
                         text=True, check=True, env={**os.environ, "TINYTX_MALLOC_TUNE": "0"})
    return float(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=["tiny", "small", "default"],
                   choices=list(CONFIGS))
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    p.add_argument("--profile", action="store_true")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--torch-child", choices=list(CONFIGS), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_child:
        cfg = CONFIGS[args.torch_child]
        print(time_steps(torch_step_fn(cfg, args.threads), cfg, args.steps))
        return
    try:
        import torch  # noqa: F401
        have_torch = not args.no_torch
    except ImportError:
        have_torch = False
    for name in args.configs:
        cfg = CONFIGS[name]
        n_layer, n_head, n_embd, T, B, V = cfg
        print(f"== {name} (malloc tuned: {tx.backend.MALLOC_TUNED}): {n_layer} layers, {n_head} heads, {n_embd} wide, block {T}, "
              f"batch {B}, vocab {V}")
        step, model = tinytx_step_fn(cfg)
        ours = time_steps(step, cfg, args.steps)
        mem = peak_memory(step, cfg)
        print(f"  tinytx : {ours:9.0f} tokens/s   peak memory of a step {mem:7.1f} MiB")
        if have_torch:
            theirs = torch_tokens_per_s(name, args.steps, args.threads)
            print(f"  pytorch: {theirs:9.0f} tokens/s   ({args.threads} threads, eager)")
            print(f"  ratio tinytx/pytorch: {ours / theirs:.2f}x")
        if args.profile:
            profile(model, cfg)


if __name__ == "__main__":
    main()
