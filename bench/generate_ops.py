"""Where a generation step's time goes: tinytx's ops against PyTorch's, one by one.

    python bench/generate_ops.py                 # batch 1 and 8: the decode step and the
                                                 # 128-token forward of a refill
    python bench/generate_ops.py --batch 1 --no-torch

The model is bench/generate.py's GPT "tiny" (4 layers, 128 wide). For each step shape
(a one-token decode step at block 512 with 100 cached positions, and the 128-token
forward that refills the cache at block 128) it captures the step as `generate` does and
prints, per op type of the replayed program:
    in replay   µs per call timed inside the replayed sequence (each op between the
                others, as generation runs it; the timer adds ~0.3 µs a call)
    alone       µs per call of the same op on the same arrays, called again and again
                (its caches and branch predictors warm: the floor of its calls)
    pytorch     the PyTorch call doing the same work on the same shapes, alone
                (F.layer_norm, torch.addmm, addmm + F.gelu, F.scaled_dot_product_attention,
                the cache writes and head reshapes as bench/generate.py's PyTorch side)
then the replayed step's median without timers. One thread, both sides in this process
(with tinytx's malloc settings, as bench/generate.py's workers);
times are the minimum of 5 repeats (alone) or the median over the replays (in replay).
"""
import argparse
import collections
import os
import sys
import time
import timeit

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import N_HEAD, make_model

import tinytx as tx
from tinytx.backend import configure_process
from tinytx.capture.program import _array
from tinytx.generate.stepper import gpt_stepper, inference


def captured_step(block, batch):
    """Run generation up to a captured program of the shape asked for -> (program, its
    input arrays, a function that sets the cache back before each replay)."""
    model = make_model(block)
    stepper = gpt_stepper(model)
    cached = 100 if block == 512 else block + 1        # block 128: every step refills
    ids = np.random.default_rng(0).integers(0, 512, (batch, cached))
    with inference(model):
        for _ in range(4):                              # eager, record, record: a program
            ids = np.concatenate([ids, stepper(ids).argmax(-1)[:, None]], 1)
    program = list(stepper.forward.programs.values())[-1]
    feed = ids[:, -1:] if block == 512 else ids[:, -block:]
    length = stepper.cache.length - 1 if block == 512 else 0

    def rewind():
        for layer in stepper.cache.layers:
            layer.length = length
    return model, program, [tx.Tensor(feed).data], rewind


def replay_times(program, arrays, rewind, replays):
    """-> ({op index: µs per call timed in the replay (median)}, the input arrays of each
    op, the replay's median µs without timers)"""
    in_replay, inputs = collections.defaultdict(list), {}

    def timed(i, forward):
        def run(*a):
            t0 = time.perf_counter()
            y = forward(*a)
            in_replay[i].append(time.perf_counter() - t0)
            inputs[i] = a
            return y
        return run
    space = {f"f{i}": timed(i, op.forward) for i, op in enumerate(program.ops)}
    space["array"] = _array
    exec(compile(program.source, "<timed replay>", "exec"), space)
    plain = []
    for _ in range(replays):
        rewind()
        space["replay"](arrays, program.outside)
        rewind()
        t0 = time.perf_counter()
        program.forward(arrays, program.outside)
        plain.append(time.perf_counter() - t0)
    return {i: np.median(ts) for i, ts in in_replay.items()}, inputs, np.median(plain)


def alone_calls(program, inputs, rewind):
    """{op index: a call of that op on the arrays it had in the replay}"""
    calls = {}
    for i, op in enumerate(program.ops):
        if getattr(op, "stateful", False):          # the cache's write: back to its place
            calls[i] = lambda op=op, a=inputs[i]: (rewind(), op.forward(*a))
        else:
            calls[i] = lambda op=op, a=inputs[i]: op.forward(*a)
    return calls


def best_of_rounds(calls, n, rounds=5):
    """{key: f} -> {key: the fastest µs per call}, the keys taking turns round by round,
    so that a slow spell of a shared machine hits them all."""
    best = {}
    for _ in range(rounds):
        for key, f in calls.items():
            t = min(timeit.repeat(f, number=n, repeat=2)) / n
            best[key] = min(best.get(key, t), t)
    return best


def torch_calls(model, batch, T, cached):
    """PyTorch's call for each op type on the step's shapes -> {op type: f}; the linear
    layers' three shapes (c_attn, c_proj, mlp.c_proj) as three keys."""
    import torch
    import torch.nn.functional as TF
    torch.set_num_threads(1)
    C, H = model.config.n_embd, N_HEAD
    D = C // H
    x, h, w = torch.randn(batch * T, C), torch.randn(batch * T, 4 * C), torch.randn(C)
    qkv = torch.randn(batch, T, 3 * C)
    k_all = torch.randn(batch, H, cached + T, D)
    q, y = torch.randn(batch, H, T, D), torch.randn(batch, H, T, D)
    fc = (torch.randn(C, 4 * C), torch.randn(4 * C))

    def split_and_store():
        qh, kh, vh = (t.transpose(1, 2) for t in qkv.view(batch, T, 3, H, D).unbind(2))
        k_all[:, :, cached:cached + T] = kh
        k_all[:, :, cached:cached + T] = vh
        return qh
    calls = {"LayerNormFunction": lambda: TF.layer_norm(x, (C,), w, w),
             "LinearGELUFunction": lambda: TF.gelu(torch.addmm(fc[1], x, fc[0]),
                                                   approximate="tanh"),
             "OneQueryAttention" if T == 1 else "SoftmaxAttention":
                 lambda: TF.scaled_dot_product_attention(q, k_all, k_all, is_causal=T > 1),
             "SplitHeads + CacheAppend": split_and_store,
             "MergeHeads": lambda: y.transpose(1, 2).reshape(batch * T, C),
             "Add": lambda: x + x}
    for j, (a, b, c) in enumerate([(x, torch.randn(C, 3 * C), torch.randn(3 * C)),
                                   (x, torch.randn(C, C), w), (h, torch.randn(4 * C, C), w)]):
        calls[("LinearFunction", j)] = lambda a=a, b=b, c=c: torch.addmm(c, a, b)
    return calls


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    p.add_argument("--replays", type=int, default=300)
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args()
    configure_process(plots=False)             # the malloc settings of tinytx's scripts
    for batch in args.batch:
        for block, what in ((512, "one-token decode step, 100 cached"),
                            (128, "128-token forward of a refill")):
            model, program, arrays, rewind = captured_step(block, batch)
            T = 1 if block == 512 else block
            with tx.no_grad():
                in_replay, inputs, plain = replay_times(
                    program, arrays, rewind, args.replays if T == 1 else args.replays // 20)
                calls = alone_calls(program, inputs, rewind)
                if not args.no_torch:
                    calls.update(torch_calls(model, batch, T, 100 if T == 1 else 0))
                best = best_of_rounds(calls, 500 if T == 1 else 10)
            theirs = collections.defaultdict(list)
            for key, t in best.items():
                if not isinstance(key, int):
                    theirs[key[0] if isinstance(key, tuple) else key].append(t)
            rows = collections.defaultdict(lambda: ([], []))
            for i, op in enumerate(program.ops):
                rows[type(op).__name__][0].append(in_replay[i])
                rows[type(op).__name__][1].append(best[i])
            print(f"== batch {batch}, {what}: {len(program.ops)} ops, replay median "
                  f"{plain * 1e6:.0f} us (timed op by op: {sum(in_replay.values()) * 1e6:.0f})")
            print(f"  {'op':24} {'calls':>5} {'in replay':>10} {'alone':>8} {'pytorch':>8}")
            for name, (rep, alone) in sorted(rows.items(), key=lambda kv: -sum(kv[1][0])):
                torch_us = f"{np.mean(theirs[name]) * 1e6:8.1f}" if name in theirs else ""
                print(f"  {name:24} {len(rep):5d} {np.mean(rep) * 1e6:10.1f} "
                      f"{np.mean(alone) * 1e6:8.1f} {torch_us:>8}")
            if "SplitHeads + CacheAppend" in theirs:
                print(f"  {'pytorch: split heads and write the cache':49} "
                      f"{theirs['SplitHeads + CacheAppend'][0] * 1e6:8.1f}")


if __name__ == "__main__":
    main()
