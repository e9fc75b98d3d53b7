"""Generation speed: tinytx (captured step, and eager) vs PyTorch eager, greedy tokens/s
with a KV cache.

    python bench/generate.py                  # block 128 and 512, batch 1 and 8 (~3 min)
    python bench/generate.py --quick          # 64 new tokens, 2 runs each (~30 s)
    python bench/generate.py --threads 2      # both sides on 2 threads
    python bench/generate.py --no-torch       # tinytx alone
    python bench/generate.py --numpy          # and the loop hand-written in NumPy
    python bench/generate.py --smoke          # 4 new tokens, 1 run: a check that it runs
    python bench/generate.py --blocks 512 --batches 1     # one row of the table

The model is GPT "tiny" (4 layers, 4 heads, 128 wide, vocab 512, random weights: speed
does not depend on what they learned), a 16-token prompt per row, 256 new tokens, greedy.
    block 128   the context fills after 112 new tokens; from then on each step empties
                the cache and refills it from the cropped context (docs/generation.md),
                so most steps are a 128-token forward
    block 512   every new token is one cached step
tinytx runs twice: with the model step captured and replayed (`tinytx.capture`, what
`generate` does by default) and eager (`generate(..., captured=False)`), in one worker.
The PyTorch side runs the same weights in plain eager code under torch.inference_mode,
with the same cache strategy as tinytx: one preallocated (B, H, block, D) buffer per
layer for keys and for values, written in place, attention on the filled part
(F.scaled_dot_product_attention), the same refill when the context is full, and logits
of the last position only. `--torch-cache concat` grows its cache with torch.cat instead.
`--numpy` adds the same loop hand-written in NumPy (`numpy_runner`): what a NumPy engine
could reach with the fewest array calls, to tell tinytx's own overhead from NumPy's.

Each side runs in its own worker process with the same thread count (OMP, OpenBLAS and
MKL variables, torch.set_num_threads) and the same malloc settings (both workers call
tinytx.backend.configure_process, as tinytx's scripts do; PyTorch gains from it too:
~18% at block 128, batch 8); the runs alternate (which
goes first swaps every round), so a change in the machine's load hits both alike. Each
row is the median tokens/s over --repeats runs, the best in parentheses. The no-cache
rows run once (the uncached loop is O(T²) per token). The last line checks that every
loop gave the same tokens: tinytx captured and eager, with and without the cache, and
tinytx and PyTorch.
Default 1 thread: batch-1 decoding of a tiny model is a long chain of small ops, and a
second thread adds hand-off cost on both sides.
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

VOCAB, PROMPT, N_LAYER, N_HEAD, N_EMBD = 512, 16, 4, 4, 128


def make_model(block_size):
    import tinytx as tx
    from tinytx.models import GPT, GPTConfig
    tx.manual_seed(0)                                   # the same weights in every process
    return GPT(GPTConfig(block_size=block_size, vocab_size=VOCAB, n_layer=N_LAYER,
                         n_head=N_HEAD, n_embd=N_EMBD, dropout=0.0))


def prompts(batch):
    return np.random.default_rng(0).integers(0, VOCAB, (batch, PROMPT))


def model_weights(block, to_array):
    """The tinytx model's weights as `to_array(ndarray)`s: -> (the state dict, one dict
    per layer with the layer's prefix cut from its names)."""
    sd = {k: to_array(np.array(v)) for k, v in make_model(block).state_dict().items()}
    h = [{k[len(f"transformer.h.{i}."):]: v for k, v in sd.items()
          if k.startswith(f"transformer.h.{i}.")} for i in range(N_LAYER)]
    return sd, h


def next_feed(ids, length, block, use_cache):
    """The cache strategy of the PyTorch and NumPy sides, tinytx's Stepper's: ids (B, T)
    with `length` positions cached -> (the tokens to feed, their first position)."""
    if use_cache and length and length + 1 <= block:
        return ids[:, -1:], length                                    # the new token only
    return ids[:, -block:], 0                                         # first step, or full


# -- the sides: run(block, batch, n, use_cache) -> token ids (batch, PROMPT + n) ----------

def tinytx_runner():
    from tinytx.generate import generate
    models = {}

    def run(block, batch, n, use_cache, captured=True):
        if block not in models:
            models[block] = make_model(block)
        model = models[block]
        return generate(model, prompts(batch), n, greedy=True, use_cache=use_cache,
                        captured=captured).numpy()
    return run


def numpy_runner():
    """The same loop hand-written in NumPy, with as few array calls as I could (about 50
    per layer, where tinytx's 12 ops make about 70): the floor for a NumPy engine, run with
    the same cache strategy as the PyTorch side (preallocated, refilled when full)."""
    from tinytx.functional.activations import GELU_A, GELU_C
    models = {}
    f32 = np.float32

    def layer_norm(x, w, b, means):                     # one call per line, no out=
        y = x - (x @ means)[..., None]
        y *= 1 / np.sqrt(((y * y) @ means)[..., None] + f32(1e-5))
        y *= w
        y += b
        return y

    def gelu(h):                                        # tanh form, as GPT-2's
        t = h * h
        t *= f32(GELU_C * GELU_A)
        t += f32(GELU_C)
        t *= h
        np.tanh(t, out=t)
        t += 1
        t *= h
        t *= f32(0.5)
        return t

    def linear(x, w, b):
        y = x @ w
        y += b
        return y

    def block_fwd(x, w, k_all, v_all, start, means):
        B, T, C = x.shape
        D = C // N_HEAD
        h = layer_norm(x, w["ln_1.weight"], w["ln_1.bias"], means).reshape(B * T, C)
        qkv = linear(h, w["attn.c_attn.weight"], w["attn.c_attn.bias"])
        qkv = qkv.reshape(B, T, 3, N_HEAD, D).transpose(2, 0, 3, 1, 4)  # 3 x (B, H, T, D)
        k_all[:, :, start:start + T], v_all[:, :, start:start + T] = qkv[1], qkv[2]
        k, v = k_all[:, :, :start + T], v_all[:, :, :start + T]
        s = (qkv[0] * f32(D ** -0.5)) @ k.swapaxes(-1, -2)               # (B, H, T, S)
        if T > 1:                                                        # causal
            s += np.triu(np.full((T, start + T), -np.inf, f32), 1 + start)
        s -= s.max(-1, keepdims=True)
        np.exp(s, out=s)
        y = s @ v
        y /= s.sum(-1, keepdims=True)
        y = y.transpose(0, 2, 1, 3).reshape(B * T, C)          # (B, H, T, D) -> (B·T, C)
        x = x + linear(y, w["attn.c_proj.weight"], w["attn.c_proj.bias"]).reshape(B, T, C)
        h = layer_norm(x, w["ln_2.weight"], w["ln_2.bias"], means).reshape(B * T, C)
        h = gelu(linear(h, w["mlp.c_fc.weight"], w["mlp.c_fc.bias"]))
        return x + linear(h, w["mlp.c_proj.weight"], w["mlp.c_proj.bias"]).reshape(B, T, C)

    def run(block, batch, n, use_cache):
        if block not in models:
            models[block] = model_weights(block, lambda a: a)
        sd, h = models[block]
        wte, wpe = sd["transformer.wte.weight"], sd["transformer.wpe.weight"]
        C = wte.shape[1]
        means = np.full(C, 1 / C, f32)
        ids = prompts(batch)
        cache = [[np.empty((batch, N_HEAD, block, C // N_HEAD), f32) for _ in range(2)]
                 for _ in range(N_LAYER)]
        length = 0
        for _ in range(n):
            feed, start = next_feed(ids, length, block, use_cache)
            x = wte[feed] + wpe[start:start + feed.shape[1]]
            for w, (k_all, v_all) in zip(h, cache):
                x = block_fwd(x, w, k_all, v_all, start, means)
            length = start + feed.shape[1]
            x = layer_norm(x[:, -1], sd["transformer.ln_f.weight"],
                           sd["transformer.ln_f.bias"], means)
            ids = np.concatenate([ids, (x @ wte.T).argmax(-1)[:, None]], 1)
        return ids
    return run


def torch_runner(cache_kind):
    """The same GPT in eager PyTorch, on the weights of the tinytx model."""
    import torch
    import torch.nn.functional as TF
    models = {}

    def weights(block):
        return model_weights(block, torch.from_numpy)

    def block_fwd(x, w, cache, start, block):
        B, T, C = x.shape
        h = TF.layer_norm(x, (C,), w["ln_1.weight"], w["ln_1.bias"])
        q, k, v = torch.addmm(w["attn.c_attn.bias"], h.view(B * T, C), w["attn.c_attn.weight"]
                              ).view(B, T, 3, N_HEAD, C // N_HEAD).unbind(2)  # 3 x (B, T, H, D)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))              # (B, H, T, D)
        if cache_kind == "concat":
            if start:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        else:                                                         # preallocated
            if cache[0] is None or cache[0].shape[0] != B:
                cache[:] = [torch.empty(B, N_HEAD, block, C // N_HEAD) for _ in range(2)]
            cache[0][:, :, start:start + T] = k
            cache[1][:, :, start:start + T] = v
            k, v = cache[0][:, :, :start + T], cache[1][:, :, :start + T]
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        y = y.transpose(1, 2).reshape(B * T, C)                       # (B, H, T, D) -> (B·T, C)
        x = x + torch.addmm(w["attn.c_proj.bias"], y, w["attn.c_proj.weight"]).view(B, T, C)
        h = TF.layer_norm(x, (C,), w["ln_2.weight"], w["ln_2.bias"]).view(B * T, C)
        h = TF.gelu(torch.addmm(w["mlp.c_fc.bias"], h, w["mlp.c_fc.weight"]), approximate="tanh")
        return x + torch.addmm(w["mlp.c_proj.bias"], h, w["mlp.c_proj.weight"]).view(B, T, C)

    @torch.inference_mode()
    def run(block, batch, n, use_cache):
        if block not in models:
            models[block] = weights(block)
        sd, h = models[block]
        wte, wpe = sd["transformer.wte.weight"], sd["transformer.wpe.weight"]
        ids = torch.from_numpy(prompts(batch))
        caches, length = [[None, None] for _ in range(N_LAYER)], 0
        for _ in range(n):
            feed, start = next_feed(ids, length, block, use_cache)
            x = wte[feed] + wpe[start:start + feed.shape[1]]
            for w, cache in zip(h, caches):
                x = block_fwd(x, w, cache, start, block)
            length = start + feed.shape[1]
            x = TF.layer_norm(x[:, -1], (x.shape[-1],), sd["transformer.ln_f.weight"],
                              sd["transformer.ln_f.bias"])
            ids = torch.cat([ids, (x @ wte.T).argmax(-1, keepdim=True)], 1)
        return ids.numpy()
    return run


def worker(side, threads, cache_kind):
    """Answer one JSON request per stdin line: [block, batch, n, use_cache, captured] ->
    {"seconds": ..., "ids": [...]}."""
    from tinytx.backend import configure_process
    configure_process(plots=False)      # on both sides: a script's malloc settings
    if side == "pytorch":
        import torch
        torch.set_num_threads(threads)
        run = torch_runner(cache_kind)
    else:
        run = numpy_runner() if side == "numpy" else tinytx_runner()
    for line in sys.stdin:
        block, batch, n, use_cache, captured = json.loads(line)
        t0 = time.perf_counter()
        ids = run(block, batch, n, use_cache, *([captured] if side == "tinytx" else []))
        seconds = time.perf_counter() - t0
        print(json.dumps({"seconds": seconds, "ids": ids.tolist()}), flush=True)


class Worker:
    """A child process running one side, with the thread count fixed in its environment."""

    def __init__(self, side, threads, cache_kind):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads),
               "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", side, "--threads", str(threads),
             "--torch-cache", cache_kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=env)

    def __call__(self, block, batch, n, use_cache=True, captured=True):
        self.proc.stdin.write(json.dumps([block, batch, n, use_cache, captured]) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        return reply["seconds"], np.array(reply["ids"])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def interleaved(sides, case, n, repeats):
    """Alternate the sides run by run (who goes first swaps each round), after one short
    warm-up each. -> {name: (seconds list, ids of the last run)}"""
    for fn in sides.values():
        fn(*case, 8)
    times, ids = {name: [] for name in sides}, {}
    names = list(sides)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            seconds, ids[name] = sides[name](*case, n)
            times[name].append(seconds)
    return {name: (times[name], ids[name]) for name in names}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--torch-cache", choices=["prealloc", "concat"], default="prealloc")
    p.add_argument("--blocks", type=int, nargs="+", default=[128, 512],
                   help="block sizes to run (default: 128 512)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8],
                   help="batch sizes to run (default: 1 8)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--smoke", action="store_true", help="4 new tokens, 1 run: does it run?")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--numpy", action="store_true",
                   help="also run the loop hand-written in NumPy (the floor of a NumPy "
                        "engine: as few array calls as possible)")
    p.add_argument("--worker", choices=["tinytx", "pytorch", "numpy"],
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.threads, args.torch_cache)
    if args.quick:
        args.new_tokens, args.repeats = 64, 2
    if args.smoke:
        args.new_tokens, args.repeats = 4, 1
    n = args.new_tokens
    have_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    ours = Worker("tinytx", args.threads, args.torch_cache)
    sides = {"tinytx": lambda block, batch, m: ours(block, batch, m),
             "eager": lambda block, batch, m: ours(block, batch, m, captured=False)}
    if have_torch:
        theirs = Worker("pytorch", args.threads, args.torch_cache)
        sides["pytorch"] = lambda block, batch, m: theirs(block, batch, m)
    if args.numpy:
        floor = Worker("numpy", args.threads, args.torch_cache)
        sides["numpy"] = lambda block, batch, m: floor(block, batch, m)
    cache = {"prealloc": "preallocated", "concat": "torch.cat"}[args.torch_cache]
    print(f"== GPT tiny (4 layers, 4 heads, 128 wide, vocab {VOCAB}): {n} new tokens after "
          f"a {PROMPT}-token prompt, greedy; {args.threads} thread(s) per side; tokens/s, "
          f"median (best) of {args.repeats}, runs interleaved; PyTorch eager KV cache: "
          f"{cache}")
    ratios = ["tinytx", "eager"] + ["numpy"] * args.numpy
    heads = ["tinytx captured", "tinytx eager"] + ["pytorch KV cache"] * have_torch + [
        "hand NumPy"] * args.numpy + [f"{'captured' if k == 'tinytx' else k}/pytorch"
                                      for k in ratios if have_torch]
    print(f"  {'block':>5} {'batch':>5}  " + "  ".join(f"{h:>17}" for h in heads)
          + f"  {'tinytx no cache (1 run)':>23}")
    same = True
    for block in args.blocks:
        for batch in args.batches:
            res = interleaved(sides, (block, batch), n, args.repeats)
            seconds, plain = ours(block, batch, n, use_cache=False)
            rate = {k: batch * n / statistics.median(t) for k, (t, _) in res.items()}
            best = {k: batch * n / min(t) for k, (t, _) in res.items()}
            cols = [f"{rate[k]:8.0f} ({best[k]:6.0f})" for k in res]
            if have_torch:
                cols += [f"{rate[k] / rate['pytorch']:.2f}x" for k in ratios]
            print(f"  {block:>5} {batch:>5}  " + "  ".join(f"{c:>17}" for c in cols)
                  + f"  {batch * n / seconds:23.0f}")
            outs = [ids for _, ids in res.values()] + [plain]
            same &= all(np.array_equal(outs[0], o) for o in outs[1:])
    print(f"  every loop gives the same tokens: {same}")
    for w in [ours] + [theirs] * have_torch + [floor] * args.numpy:
        w.close()


if __name__ == "__main__":
    main()
