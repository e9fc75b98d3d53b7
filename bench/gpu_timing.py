"""How bench/gpu.py times its rows: interleaved rounds, the median, and ratios between rows.

A part of bench/gpu.py (run that); its attention and training sections import this.
"""
import statistics
import time


def interleaved(fns, sync, repeats, warmup):
    """Median seconds of each of fns (name -> callable) over `repeats` rounds; every round
    runs each once, starting one further along each time, so a slow spell hits them all."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    sync()
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            fns[name]()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def ratio_lines(rows, key, ours, lower):
    """How many times faster `ours` is than each other row (>1: ours is faster)."""
    mine = rows[ours][key]
    return {f"{ours} vs {name}": (value[key] / mine if lower else mine / value[key])
            for name, value in rows.items() if name != ours and "bf16" not in name}
