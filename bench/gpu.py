"""GPU benchmark: seed-small training tokens/s and attention forward + backward time.

    python bench/gpu.py                        # needs CuPy, numba-cuda and a GPU
    python bench/gpu.py --json out/gpu.json    # also writes the numbers as JSON

Rows (docs/cuda.md): tinytx with the composed CuPy ops (TINYTX_FUSED=0), tinytx with the
hand-written CUDA kernels (the default, fused mode), and, when PyTorch with CUDA is
installed, PyTorch eager with the same model and scaled_dot_product_attention. Prints a
table and the ratios. Without a GPU it says so and exits with status 0.
"""
import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import tinytx as tx
from tinytx.nn.fused import fused

HERE = Path(__file__).resolve().parent


def _train_step_module():
    """bench/train_step.py (its configs and its PyTorch twin of the GPT)."""
    spec = importlib.util.spec_from_file_location("train_step", HERE / "train_step.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def timed(fn, sync, repeats, warmup=2):
    """Median seconds of fn() over `repeats` runs, synchronising the GPU around each."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def training(ts, steps, have_torch):
    """seed-small tokens/s: composed CuPy, our kernels, PyTorch eager CUDA."""
    cfg = ts.CONFIGS["seed-small"]
    T, B, V = cfg[3], cfg[4], cfg[5]
    rng = np.random.default_rng(0)
    batches = [ts.make_batch(rng, B, T, V) for _ in range(4)]
    out = {}
    for name, enabled in (("composed CuPy", False), ("tinytx kernels", True)):
        with fused(enabled):
            step, _ = ts.tinytx_step_fn(cfg, device="cuda")
            out[name] = B * T / timed(lambda: step(*batches[0]), lambda: None, steps)
    if have_torch:
        step = ts.torch_step_fn(cfg, 1, device="cuda")
        out["PyTorch eager"] = B * T / timed(lambda: step(*batches[0]), lambda: None, steps)
    return out


def attention(repeats, have_torch, B=8, H=6, T=256, D=64):
    """Causal attention forward + backward, ms: composed CuPy, our kernel, SDPA."""
    import cupy
    from tinytx.nn import fused as nn_fused
    sync = cupy.cuda.Device().synchronize
    shape = (B, H, T, D)
    q, k, v = (tx.randn(*shape, device="cuda", requires_grad=True) for _ in range(3))
    g = tx.randn(*shape, device="cuda")

    def run(enabled):
        def once():
            with fused(enabled):
                (nn_fused.attention(q, k, v, is_causal=True) * g).sum().backward()
        return once
    out = {"composed CuPy": 1e3 * timed(run(False), sync, repeats),
           "tinytx kernels": 1e3 * timed(run(True), sync, repeats)}
    if have_torch:
        import torch
        tq, tk, tv = (torch.randn(shape, device="cuda", requires_grad=True) for _ in range(3))
        tg = torch.randn(shape, device="cuda")

        def sdpa():
            y = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
            (y * tg).sum().backward()
        out["PyTorch SDPA"] = 1e3 * timed(sdpa, torch.cuda.synchronize, repeats)
    return out


def table(title, unit, rows, higher_is_better):
    print(f"{title}\n  {'':16s} {unit:>12s}  vs PyTorch")
    ref = rows.get("PyTorch eager", rows.get("PyTorch SDPA"))
    for name, value in rows.items():
        ratio = "" if ref is None else (f"{value / ref:6.2f}x" if higher_is_better
                                        else f"{ref / value:6.2f}x")
        print(f"  {name:16s} {value:12.1f}  {ratio}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    result = {"gpu": tx.cuda_available()}
    if not result["gpu"]:
        print("bench/gpu.py: no GPU present (CuPy missing or sees no CUDA device); nothing to measure")
    else:
        try:
            import torch
            have_torch = torch.cuda.is_available()
        except ImportError:
            have_torch = False
        result["training_tokens_per_s"] = training(_train_step_module(), args.steps, have_torch)
        table("seed-small training (6 layers, 384 wide, block 256, batch 8)", "tokens/s",
              result["training_tokens_per_s"], True)
        result["attention_fwd_bwd_ms"] = attention(args.steps * 2, have_torch)
        table("causal attention forward + backward (B 8, H 6, T 256, D 64)", "ms",
              result["attention_fwd_bwd_ms"], False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
