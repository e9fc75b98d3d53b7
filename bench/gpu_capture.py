"""bench/gpu.py's capture section: GPT "tiny" steps eager, replayed (tinytx.capture) and,
where the shapes allow, replayed as one CUDA graph (capture(..., cuda_graph=True)).

A part of bench/gpu.py (run that). Two steps, each timed interleaved, ms per call:
  forward   a fixed-shape no-grad forward, batch 1, 64 tokens: eager, replay, CUDA graph
  decode    one cached decode step, batch 1, after 256 cached tokens: eager and replay
            (its cache append grows every step, so it cannot be a graph: the program
            says why, and the row is left out)
With --simulate the same code runs at tiny sizes in numba's simulator on the CPU, where
the graph row is the plain replay.
"""
import numpy as np
from gpu_timing import interleaved

import tinytx as tx
from tinytx.capture import capture
from tinytx.models import GPT, GPTConfig
from tinytx.nn.kv_cache import KVCache

TINY = dict(n_layer=4, n_head=4, n_embd=128, block_size=512, vocab_size=512)


def capture_timing(sizes, at):
    m = sizes.model if at.simulate else TINY
    tx.manual_seed(0)
    model = GPT(GPTConfig(**m, dropout=0.0)).to(at.device).eval()
    T, cached = (4, 2) if at.simulate else (64, 256)
    x = tx.tensor(np.random.default_rng(0).integers(0, m["vocab_size"], (1, T)),
                  device=at.device)
    result = {}
    with tx.no_grad():
        forward = lambda x: model(x, last_only=True)[0]           # noqa: E731
        graph = capture(forward, cuda_graph=True)
        steps = {"eager": lambda: forward(x), "replay": _replayed(capture(forward), x),
                 "CUDA graph": _replayed(graph, x)}
        result["forward"] = _timed(steps, sizes, at)
        result["forward"]["graph"] = next(iter(graph.programs.values())).why_not or (
            "replayed as a CUDA graph" if not at.simulate else "simulator: plain replay")
        cache = KVCache(m["n_layer"], capacity=m["block_size"])
        model(tx.tensor(np.zeros((1, cached), int), device=at.device), cache=cache)
        one = x[:, :1]

        def step(fn):                    # one decode step at length `cached`, then back
            def run():
                fn(one)
                for layer in cache.layers:
                    layer.length = cached
            return run
        decode = lambda ids: model(ids, cache=cache, last_only=True)[0]   # noqa: E731
        replay = capture(decode)
        for _ in range(4):
            step(replay)()
        result["decode"] = _timed({"eager": step(decode), "replay": step(replay)}, sizes, at)
    print(f"\n== capture: GPT {m['n_layer']} layers, {m['n_embd']} wide, batch 1, {T} tokens "
          f"(forward) and 1 after {cached} (decode), ms per call (median, interleaved)")
    for name, rows in result.items():
        cells = "  ".join(f"{k} {v['ms']:.3f}" for k, v in rows.items() if k != "graph")
        print(f"   {name:8s} {cells}" + (f"   ({rows['graph']})" if "graph" in rows else ""))
    return result, True


def _replayed(step, x):
    """A captured step past its eager and recording calls: every later call replays."""
    for _ in range(4):
        step(x)
    return lambda: step(x)


def _timed(steps, sizes, at):
    repeats = 1 if at.simulate else 20 * sizes.repeats      # ms-long calls: many rounds
    seconds = interleaved(steps, at.sync, repeats, sizes.warmup)
    return {name: {"ms": 1e3 * s} for name, s in seconds.items()}
