"""Generation speed: greedy tokens/s with and without the KV cache (and PyTorch eager).

    python bench/generate.py              # 256 new tokens, GPT "tiny" with block 128 and 512
    python bench/generate.py --quick      # 64 new tokens, one run each (a few seconds)

The model is GPT "tiny" (4 layers, 4 heads, 128 wide, vocab 512, random weights; speed
does not depend on what the weights learned), batch 1, a 16-token prompt, greedy
decoding. Two block sizes:
    block 128   256 new tokens run past the block: once the context is full the cache is
                refilled from the cropped context every step (docs/generation.md), so
                the cache helps only for the first ~112 tokens
    block 512   the cache is used for all 256 tokens
Each row prints the median tokens/s over --repeats runs and, in parentheses, the best
(on a shared machine the steadier number). If PyTorch is installed the same
weights run in a plain eager PyTorch loop, without and with a simple KV cache of its own,
and the benchmark checks that all four loops produce the same tokens. Takes < 2 minutes.
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import tinytx as tx
from tinytx.generate import generate
from tinytx.models import GPT, GPTConfig


def torch_gpt(model):
    """A functional PyTorch copy of a tinytx GPT -> run(prompt, n, use_cache) -> ids."""
    import torch
    import torch.nn.functional as TF
    c, sd = model.config, {k: torch.from_numpy(np.array(v)) for k, v in
                           model.state_dict().items()}
    H, C = c.n_head, c.n_embd

    def block(x, i, past):
        p = f"transformer.h.{i}."
        B, T, _ = x.shape
        h = TF.layer_norm(x, (C,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
        q, k, v = (h @ sd[p + "attn.c_attn.weight"] + sd[p + "attn.c_attn.bias"]).split(C, 2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            if past[i] is not None:
                k, v = torch.cat([past[i][0], k], 2), torch.cat([past[i][1], v], 2)
            past[i] = (k, v)
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        y = y.transpose(1, 2).reshape(B, T, C) @ sd[p + "attn.c_proj.weight"]
        x = x + y + sd[p + "attn.c_proj.bias"]
        h = TF.layer_norm(x, (C,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"])
        h = TF.gelu(h @ sd[p + "mlp.c_fc.weight"] + sd[p + "mlp.c_fc.bias"], approximate="tanh")
        return x + h @ sd[p + "mlp.c_proj.weight"] + sd[p + "mlp.c_proj.bias"]

    def forward(idx, start, past):
        x = sd["transformer.wte.weight"][idx] + sd["transformer.wpe.weight"][
            start:start + idx.shape[1]]
        for i in range(c.n_layer):
            x = block(x, i, past)
        x = TF.layer_norm(x[:, -1], (C,), sd["transformer.ln_f.weight"],
                          sd["transformer.ln_f.bias"])
        return x @ sd["transformer.wte.weight"].T               # (B, V), last position

    @torch.no_grad()
    def run(prompt, n, use_cache):
        ids, past, cached = torch.tensor([prompt]), None, 0
        for _ in range(n):
            if use_cache and past is not None and cached < c.block_size:
                logits = forward(ids[:, -1:], cached, past)      # the new token only
            else:                                               # first step, or full
                past = [None] * c.n_layer if use_cache else None
                logits = forward(ids[:, -c.block_size:], 0, past)
            cached = min(ids.shape[1], c.block_size)
            ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], 1)
        return ids[0].numpy()
    return run


def measure(runs, repeats, warmup):
    """Seconds of each run over `repeats` rounds, the runs taking turns in every round (so
    a change in the machine's load hits them all alike), after one short warm-up each.
    -> {name: (times, output of the last run)}"""
    for fn in runs.values():
        fn(warmup)
    times, outs = {name: [] for name in runs}, {}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            outs[name] = fn(None)
            times[name].append(time.perf_counter() - t0)
    return {name: (times[name], outs[name]) for name in runs}


def make_model(block_size):
    tx.manual_seed(0)                                   # the same weights in every process
    return GPT(GPTConfig(block_size=block_size, vocab_size=512, n_layer=4, n_head=4,
                         n_embd=128, dropout=0.0))


def prompt_ids():
    return np.random.default_rng(0).integers(0, 512, 16).tolist()


def torch_child(block_size, n, repeats):
    """In a fresh process (PyTorch's OpenMP threads would otherwise spin beside NumPy's
    BLAS threads): print the PyTorch loops' times and tokens as JSON."""
    run = torch_gpt(make_model(block_size))
    runs = {f"pytorch eager, {kind}": (lambda m, c=(kind == "KV cache"):
                                       run(prompt_ids(), m or n, c))
            for kind in ("no cache", "KV cache")}
    res = measure(runs, repeats, warmup=8)
    print(json.dumps({k: (t, o.tolist()) for k, (t, o) in res.items()}))


def torch_results(block_size, n, repeats):
    out = subprocess.run([sys.executable, __file__, "--torch-child", str(block_size),
                          "--new-tokens", str(n), "--repeats", str(repeats)],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "TINYTX_MALLOC_TUNE": "0"})
    return {k: (t, np.array(o)) for k, (t, o) in
            json.loads(out.stdout.strip().splitlines()[-1]).items()}


def _ratio(best, who):
    return f"{best[who + ', no cache'] / best[who + ', KV cache']:.1f}x"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--torch-child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.new_tokens, args.repeats = 64, 1
    n = args.new_tokens
    if args.torch_child:
        return torch_child(args.torch_child, n, args.repeats)
    have_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    prompt = prompt_ids()
    for block_size in (128, 512):
        model = make_model(block_size)
        print(f"== GPT tiny (4 layers, 4 heads, 128 wide, vocab 512), block {block_size}: "
              f"{n} new tokens after a {len(prompt)}-token prompt, batch 1, greedy; "
              f"median (best) of {args.repeats}")
        runs = {f"tinytx, {kind}": (lambda m, c=(kind == "KV cache"): generate(
            model, prompt, m or n, greedy=True, use_cache=c).numpy()[0])
            for kind in ("no cache", "KV cache")}
        results = measure(runs, args.repeats, warmup=8)
        if have_torch:
            results.update(torch_results(block_size, n, args.repeats))
        for name, (times, _) in results.items():
            print(f"  {name:<24} {n / statistics.median(times):7.0f} tokens/s"
                  f"   ({n / min(times):6.0f})")
        best = {k: min(t) for k, (t, _) in results.items()}
        line = f"  KV cache speed-up (best times): tinytx {_ratio(best, 'tinytx')}"
        if have_torch:
            line += (f", pytorch {_ratio(best, 'pytorch eager')}; tinytx/pytorch with the "
                     f"cache {best['pytorch eager, KV cache'] / best['tinytx, KV cache']:.2f}x")
        print(line)
        outs = [out for _, out in results.values()]
        print(f"  every loop gives the same tokens: "
              f"{all(np.array_equal(outs[0], o) for o in outs[1:])}")


if __name__ == "__main__":
    main()
