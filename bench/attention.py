"""Time and peak memory of attention, forward + backward: composed vs fused vs blocked.

    python bench/attention.py            # B=8, H=6, D=64, T=256 and T=1024, float32, causal
    python bench/attention.py --quick    # fewer repeats, T=1024 with B=2 (about 20 s)

For each implementation and size it prints the median (and the minimum) wall time of
forward + backward over several runs and the peak memory they allocate (tracemalloc,
which sees NumPy's allocations; measured in a separate run, minus the inputs), then the
ratios the issue asks for: fused ≥ 1.5× faster than composed, blocked below composed in
peak memory. On a shared machine the minimum is the steadier of the two times.

    composed  F.scaled_dot_product_attention with an explicit causal mask (the reference)
    fused     tinytx.kernels.softmax_attention.attention(is_causal=True)
    blocked   tinytx.kernels.flash_attention.flash_attention(is_causal=True)
"""
import argparse
import statistics
import time
import tracemalloc

import numpy as np

import tinytx as tx
from tinytx.functional.attention import causal_mask, scaled_dot_product_attention
from tinytx.kernels.flash_attention import flash_attention
from tinytx.kernels.softmax_attention import attention


def implementations(T, block_size):
    mask = causal_mask(T)
    return {
        "composed": lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask),
        "fused": lambda q, k, v: attention(q, k, v, is_causal=True),
        "blocked": lambda q, k, v: flash_attention(q, k, v, is_causal=True,
                                                   block_size=block_size),
    }


def make_inputs(B, H, T, D, seed=0):
    rng = np.random.default_rng(seed)
    qkv = [tx.tensor(rng.standard_normal((B, H, T, D), dtype=np.float32), requires_grad=True)
           for _ in range(3)]
    return qkv, rng.standard_normal((B, H, T, D), dtype=np.float32)


def step(fn, qkv, g):
    for x in qkv:
        x.grad = None
    fn(*qkv).backward(g)


def measure(fns, qkv, g, repeats):
    """Median fwd+bwd time and peak traced memory of each fn. The implementations take
    turns in every round, so a change in the machine's load hits them all alike."""
    times = {name: [] for name in fns}
    for name, fn in fns.items():
        step(fn, qkv, g)                               # warm up (caches, page faults)
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            step(fn, qkv, g)
            times[name].append(time.perf_counter() - t0)
    peaks = {}
    for name, fn in fns.items():
        for x in qkv:
            x.grad = None
        tracemalloc.start()
        step(fn, qkv, g)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    for x in qkv:
        x.grad = None
    return {name: (statistics.median(times[name]), min(times[name]), peaks[name])
            for name in fns}


def main():
    tx.backend.configure_process(plots=False)      # as tinytx's scripts: malloc kept
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, smaller T=1024 batch")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--block-size", type=int, default=128)
    args = p.parse_args()
    sizes = [(8, 6, 256, 64), (2 if args.quick else 8, 6, 1024, 64)]
    print(f"{'B':>3} {'H':>3} {'T':>5} {'D':>3}  {'impl':<9} {'fwd+bwd ms':>11} "
          f"{'(min)':>7} {'peak MiB':>9}")
    for B, H, T, D in sizes:
        repeats = args.repeats or (3 if args.quick else 7 if T > 512 else 30)
        qkv, g = make_inputs(B, H, T, D)
        res = measure(implementations(T, args.block_size), qkv, g, repeats)
        for name, (t, t_min, peak) in res.items():
            print(f"{B:>3} {H:>3} {T:>5} {D:>3}  {name:<9} {1e3 * t:>11.1f} "
                  f"{1e3 * t_min:>7.1f} {peak / 2**20:>9.1f}", flush=True)
        (tc, c0, mc), (tf, f0, mf), (tb, b0, mb) = (res[n] for n in ("composed", "fused",
                                                                      "blocked"))
        print(f"  T={T}: speed-up vs composed (median / min): fused {tc / tf:.2f}x / "
              f"{c0 / f0:.2f}x, blocked {tc / tb:.2f}x / {c0 / b0:.2f}x; peak memory vs "
              f"composed: fused {mf / mc:.2f}, blocked {mb / mc:.3f}")


if __name__ == "__main__":
    main()
