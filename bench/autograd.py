"""Backward time of a long chain of ops: it must grow linearly with the number of nodes.

    python bench/autograd.py            # chains of 10k and 100k ops, 5 repeats each

Prints the median forward and backward time per size, time per node, and the ratio of
the two sizes (linear growth gives a ratio near 10).
"""
import argparse
import statistics
import time

import tinytx as tx


def chain(n):
    x = tx.tensor([1.0], requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * 1.0001
    t1 = time.perf_counter()
    y.sum().backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def main():
    tx.backend.configure_process(plots=False)      # as tinytx's scripts: malloc kept
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    medians = {}
    print(f"{'nodes':>8} {'forward s':>10} {'backward s':>11} {'backward us/node':>17}")
    for n in args.sizes:
        runs = [chain(n) for _ in range(args.repeats)]
        fwd = statistics.median(r[0] for r in runs)
        bwd = statistics.median(r[1] for r in runs)
        medians[n] = bwd
        print(f"{n:>8} {fwd:>10.3f} {bwd:>11.3f} {1e6 * bwd / n:>17.2f}")
    if len(args.sizes) >= 2:
        a, b = args.sizes[0], args.sizes[-1]
        print(f"backward time ratio {b}/{a} nodes: {medians[b] / medians[a]:.2f} "
              f"(linear: {b / a:.0f})")


if __name__ == "__main__":
    main()
