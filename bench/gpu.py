"""The CUDA path on a real GPU: its tests, attention checked and timed, seed-small tokens/s.

    python bench/gpu.py --out OUT_DIR       # on a GPU machine (bench/device_check.sh runs it)
    python bench/gpu.py --simulate          # the same code on the CPU in numba's simulator

Four sections, in this order, each printed as a table and added to OUT_DIR/gpu.json as
soon as it ends (a timeout keeps what finished; OUT_DIR defaults to $OUT, else out/gpu):
  check      causal attention at T = 700 (not a multiple of the tile): the output and
             dq, dk, dv of the CUDA kernel against the composed ops on CuPy
  attention  causal attention, B 4, H 12, T 2048, D 64: forward and forward + backward,
             ms and TFLOP/s, for the kernel, composed CuPy, PyTorch SDPA fp32 (and bf16,
             as context); useful FLOPs: 4·B·H·T²·D/2 forward, 2.5 times that backward
  training   seed-small (examples/train_quixote.py; micro-batch 8) tokens/s of one
             training step (forward, backward, clip at 1.0, AdamW): tinytx with its
             kernels, tinytx composed on CuPy, PyTorch eager fp32; dropout 0.2 and 0
  tests      the CUDA tests on the GPU: TINYTX_CUDA_TESTS=gpu pytest tests/test_cuda_*.py
             (all but the static one, which needs no GPU), in the time left of --budget
             (default 450 s); the log is OUT_DIR/tests.log
Timed runs are interleaved (each round runs every variant once, in a rotating order) and
the median is reported. All fp32 without TF32 (CuPy's and PyTorch's default for matmuls).

It installs nothing and needs no network, hypothesis or tqdm; PyTorch is optional (its
rows are left out without it). --simulate runs everything at tiny sizes, once, with the
CUDA kernels in numba's simulator on the cpu device (tinytx.kernels.dispatch.
simulating_cuda) and PyTorch on the CPU: tests/test_gpu_bench.py runs it so that this
script works the first time a GPU is found. Exit status 1 when a section fails.
"""
import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

if "--simulate" in sys.argv:                 # numba reads it on import
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np  # noqa: E402

import tinytx as tx  # noqa: E402
from tinytx import optim  # noqa: E402
from tinytx.kernels import dispatch  # noqa: E402
from tinytx.models import GPT, GPTConfig  # noqa: E402
from tinytx.nn.fused import attention  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# examples/train_quixote.py's seed-small (tests/test_gpu_bench.py keeps the two equal):
# n_layer, n_head, n_embd, block_size, vocab_size; timed with micro-batches of 8.
SEED_SMALL = dict(n_layer=6, n_head=6, n_embd=384, block_size=256, vocab_size=24540)


@dataclasses.dataclass
class Sizes:
    check: tuple            # (B, H, T, D) of the attention check
    attention: tuple        # (B, H, T, D) of the attention timing
    model: dict             # GPTConfig fields but dropout
    batch: int
    repeats: int            # timed rounds
    warmup: int             # untimed rounds first (compiles the kernels)
    tests_k: str = ""       # pytest -k expression ("" runs every test)


GPU = Sizes(check=(2, 4, 700, 64), attention=(4, 12, 2048, 64), model=SEED_SMALL, batch=8,
            repeats=10, warmup=2)
SIM = Sizes(check=(1, 2, 11, 4), attention=(1, 2, 8, 4), batch=2, repeats=1, warmup=0,
            model=dict(n_layer=1, n_head=2, n_embd=8, block_size=8, vocab_size=32),
            tests_k="dispatch")


@dataclasses.dataclass
class Where:
    """Where the run happens: the tinytx device, its sync, PyTorch's device (or None)."""
    device: str
    sync: object
    torch: str | None
    simulate: bool
    composed: str           # the row name of tinytx's composed ops


def where(simulate):
    try:
        import torch
        torch_device = "cpu" if simulate else ("cuda" if torch.cuda.is_available() else None)
        torch.backends.cuda.matmul.allow_tf32 = False       # its default; fp32 against fp32
    except ImportError:
        torch_device = None
    if simulate:
        return Where("cpu", lambda: None, torch_device, True, "composed NumPy")
    import cupy
    # cudaDeviceSynchronize waits for every stream of the GPU: CuPy's and PyTorch's
    return Where("cuda", cupy.cuda.Device().synchronize, torch_device, False, "composed CuPy")


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


# -- tests: the CUDA tests on the GPU ---------------------------------------------------

def run_tests(sizes, at, out, seconds):
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_cuda_*.py")
                   if p.name != "test_cuda_static.py")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_ENABLE_CUDASIM", "TINYTX_CUDA_TESTS", "PYTHONPATH")}
    env.update({"NUMBA_ENABLE_CUDASIM": "1"} if at.simulate else {"TINYTX_CUDA_TESTS": "gpu"})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "pytest", "-rfE", "--tb=short", "-p", "no:cacheprovider", "-p",
           "no:hypothesispytest", *files]          # hypothesis: not needed, maybe absent
    cmd += ["-k", sizes.tests_k] if sizes.tests_k else []
    log = out / "tests.log"
    t0 = time.perf_counter()
    with open(log, "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                                timeout=seconds).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    lines = log.read_text().strip().splitlines() or ["(no output)"]
    counts = {w: int(n) for n, w in re.findall(r"(\d+) (passed|failed|skipped|errors?)",
                                               lines[-1])}
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    result = {"files": files, "rc": rc, "summary": lines[-1], "counts": counts,
              "failed": failed[:50], "seconds": round(time.perf_counter() - t0, 1)}
    print(f"\n== tests: {' '.join(files)} on the {'simulator' if at.simulate else 'GPU'} "
          f"(-k {sizes.tests_k!r})\n   {lines[-1]}   (exit {rc}, {result['seconds']} s of at "
          f"most {seconds:.0f})")
    for line in failed[:20]:
        print("   " + line)
    return result, rc in (0, 5) and not failed     # 5: nothing selected


# -- check: attention against the composed ops -------------------------------------------

def qkv(shape, device, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
    q, k, v = (tx.tensor(a, device=device, requires_grad=True) for a in arrays[:3])
    return q, k, v, tx.tensor(arrays[3], device=device)


def attention_backward(fused_on, q, k, v, g):
    """Causal attention forward and backward (upstream gradient g); returns the output."""
    for t in (q, k, v):
        t.grad = None
    with dispatch.fused(fused_on):
        o = attention(q, k, v, is_causal=True)
        o.backward(g)
    return o


def check(sizes, at):
    q, k, v, g = qkv(sizes.check, at.device, seed=1)
    host = q.device.to_host

    def run(fused_on):
        o = attention_backward(fused_on, q, k, v, g)
        return {"o": host(o.data), "dq": host(q.grad), "dk": host(k.grad), "dv": host(v.grad)}
    with dispatch.counting() as counts:
        kernel = run(True)
    picked = counts["attention:cuda"]
    composed = run(False)
    errors = {name: float(np.abs(kernel[name] - composed[name]).max()
                          / max(np.abs(composed[name]).max(), 1e-30)) for name in kernel}
    ok = picked == 1 and all(e <= 1e-4 for e in errors.values())
    B, H, T, D = sizes.check
    print(f"\n== check: causal attention B {B}, H {H}, T {T}, D {D}, fp32: the CUDA kernel "
          f"against {at.composed}; max |difference| / max |composed| (pass: <= 1e-4)")
    print("   " + "   ".join(f"{n} {e:.2e}" for n, e in errors.items())
          + f"   kernel picked {picked}x, {counts['launches']} launches: "
          + ("pass" if ok else "FAIL"))
    return {"shape": sizes.check, "relative_error": errors, "kernel_picked": picked,
            "launches": counts["launches"], "pass": ok}, ok


# -- attention: timed ---------------------------------------------------------------------

def attention_flops(B, H, T, D):
    """Useful FLOPs of causal attention: QK^T and PV, 2·T²·D each per head, half masked."""
    forward = 4 * B * H * T * T * D / 2
    return forward, 3.5 * forward          # backward: five such products, 2.5 x forward


def tinytx_attention_runs(shape, at, fused_on):
    q, k, v, g = qkv(shape, at.device, seed=2)

    def forward():
        with dispatch.fused(fused_on), tx.no_grad():
            attention(q, k, v, is_causal=True)

    return forward, lambda: attention_backward(fused_on, q, k, v, g)


def torch_attention_runs(shape, device, dtype):
    import torch
    F = torch.nn.functional
    gen = torch.Generator(device=device).manual_seed(2)
    q, k, v, g = (torch.randn(shape, generator=gen, device=device).to(dtype) for _ in range(4))
    for t in (q, k, v):
        t.requires_grad_(True)

    def forward():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def forward_backward():
        for t in (q, k, v):
            t.grad = None
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)
    return forward, forward_backward


def attention_timing(sizes, at):
    shape = sizes.attention
    runs = {"tinytx kernel": tinytx_attention_runs(shape, at, True),
            at.composed: tinytx_attention_runs(shape, at, False)}
    if at.torch:
        import torch
        runs["PyTorch SDPA fp32"] = torch_attention_runs(shape, at.torch, torch.float32)
        runs["PyTorch SDPA bf16"] = torch_attention_runs(shape, at.torch, torch.bfloat16)
    flops = attention_flops(*shape)
    result = {}
    for i, phase in enumerate(("forward", "forward_backward")):
        t = interleaved({n: r[i] for n, r in runs.items()}, at.sync, sizes.repeats,
                        sizes.warmup)
        result[phase] = {n: {"ms": 1e3 * s, "tflops": flops[i] / s / 1e12} for n, s in t.items()}
    B, H, T, D = shape
    print(f"\n== attention: causal, B {B}, H {H}, T {T}, D {D} (median of {sizes.repeats}, "
          f"interleaved; bf16 only as context)")
    print(f"   {'':20s} {'forward ms':>11s} {'TFLOP/s':>8s} {'fwd+bwd ms':>11s} {'TFLOP/s':>8s}")
    for name in runs:
        f, fb = result["forward"][name], result["forward_backward"][name]
        print(f"   {name:20s} {f['ms']:11.3f} {f['tflops']:8.2f} {fb['ms']:11.3f} "
              f"{fb['tflops']:8.2f}")
    ratios = ratio_lines(result["forward_backward"], "ms", "tinytx kernel", lower=True)
    result["ratios_forward_backward"] = ratios
    print("   forward + backward: " + "; ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    return result, True


def ratio_lines(rows, key, ours, lower):
    """How many times faster `ours` is than each other row (>1: ours is faster)."""
    mine = rows[ours][key]
    return {f"{ours} vs {name}": (value[key] / mine if lower else mine / value[key])
            for name, value in rows.items() if name != ours and "bf16" not in name}


# -- training: seed-small ----------------------------------------------------------------

def tinytx_training_step(cfg, batch, at, fused_on):
    tx.manual_seed(0)
    model = GPT(cfg).to(at.device)
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-3)
    x, y = (tx.tensor(a, device=at.device) for a in batch)

    def step():
        with dispatch.fused(fused_on):
            _, loss = model(x, y)
            loss.backward()
            optim.clip_grad_norm(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
    return step


def torch_training_step(cfg, batch, device):
    import torch
    torch.manual_seed(0)
    model = torch_gpt(cfg).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    x, y = (torch.as_tensor(a, device=device) for a in batch)

    def step():
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def torch_gpt(c):
    """tinytx's GPT in PyTorch (nanoGPT's layout, SDPA attention, tied lm_head)."""
    import torch
    from torch import nn
    C, V, p = c.n_embd, c.vocab_size, c.dropout

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * C, C), nn.Dropout(p))
            self.drop = nn.Dropout(p)

        def forward(self, x):
            B, T, _ = x.shape
            q, k, v = (t.view(B, T, c.n_head, C // c.n_head).transpose(1, 2)  # (B, H, T, D)
                       for t in self.c_attn(self.ln_1(x)).split(C, dim=2))
            y = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=p if self.training else 0.0)
            x = x + self.drop(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(c.block_size, C)
            self.drop, self.ln_f = nn.Dropout(p), nn.LayerNorm(C)
            self.h = nn.ModuleList([Block() for _ in range(c.n_layer)])
            self.lm_head = nn.Linear(C, V, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, idx, targets):
            pos = torch.arange(idx.shape[1], device=idx.device)
            x = self.drop(self.wte(idx) + self.wpe(pos))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return torch.nn.functional.cross_entropy(logits.view(-1, V), targets.view(-1))
    return TorchGPT()


def training(sizes, at):
    result = {}
    for dropout in (0.2, 0.0):
        cfg = GPTConfig(**sizes.model, dropout=dropout, bias=True)
        rng = np.random.default_rng(0)
        x = rng.integers(0, cfg.vocab_size, (sizes.batch, cfg.block_size))
        batch = (x, np.roll(x, -1, axis=1))
        steps = {"tinytx kernels": tinytx_training_step(cfg, batch, at, True),
                 at.composed: tinytx_training_step(cfg, batch, at, False)}
        if at.torch:
            steps["PyTorch eager"] = torch_training_step(cfg, batch, at.torch)
        with dispatch.counting() as counts:    # only the kernels side launches kernels
            seconds = interleaved(steps, at.sync, sizes.repeats, sizes.warmup)
        tokens, n_steps = sizes.batch * cfg.block_size, sizes.repeats + sizes.warmup
        rows = {n: {"tokens_per_s": tokens / s, "ms": 1e3 * s} for n, s in seconds.items()}
        result[f"dropout {dropout}"] = {
            "rows": rows, "launches_per_step": counts["launches"] / n_steps,
            "picks_per_step": {k: v / n_steps for k, v in counts.items() if k != "launches"},
            "ratios": ratio_lines(rows, "tokens_per_s", "tinytx kernels", lower=False)}
        free_memory(at)
    m = sizes.model
    print(f"\n== training: one step, {m['n_layer']} layers, {m['n_head']} heads, {m['n_embd']} "
          f"wide, block {m['block_size']}, vocab {m['vocab_size']}, batch {sizes.batch} "
          f"(tokens/s, median of {sizes.repeats}, interleaved)")
    names = list(next(iter(result.values()))["rows"])
    print(f"   {'':12s}" + "".join(f"{n:>18s}" for n in names) + "   launches/step")
    for label, r in result.items():
        print(f"   {label:12s}" + "".join(f"{r['rows'][n]['tokens_per_s']:18.0f}" for n in names)
              + f"   {r['launches_per_step']:.0f}")
        print(f"   {'':12s}" + "; ".join(f"{k} {v:.2f}x" for k, v in r["ratios"].items()))
    return result, True


def free_memory(at):
    if not at.simulate:
        import cupy
        cupy.get_default_memory_pool().free_all_blocks()
    if at.torch == "cuda":
        import torch
        torch.cuda.empty_cache()


# -- the run -----------------------------------------------------------------------------

def versions(at):
    from importlib import metadata
    found = {"python": platform.python_version()}
    for name in ("numpy", "numba", "numba-cuda", "cupy-cuda12x", "cupy-cuda13x", "torch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    if not at.simulate:
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        found["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        found["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
    return found


def save(result, path):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str))
    tmp.replace(path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--simulate", action="store_true",
                   help="tiny sizes, once, the CUDA kernels in numba's simulator on the CPU")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out/gpu")))
    p.add_argument("--sections", nargs="+", default=["check", "attention", "training", "tests"])
    p.add_argument("--budget", type=float, default=450,
                   help="seconds for the whole run: the tests get what is left (>= 60)")
    p.add_argument("--tests-k", help="pytest -k expression for the tests")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gpu.json"
    if not args.simulate and not tx.cuda_available():
        print("bench/gpu.py: no GPU present (CuPy missing or sees no CUDA device); nothing "
              "to measure (--simulate runs it in numba's simulator)")
        save({"gpu": False}, path)
        return 0
    sizes = SIM if args.simulate else GPU
    if args.tests_k is not None:
        sizes = dataclasses.replace(sizes, tests_k=args.tests_k)
    at = where(args.simulate)
    result = {"gpu": not args.simulate, "simulate": args.simulate, "versions": versions(at),
              "sizes": dataclasses.asdict(sizes), "errors": {}}
    print(f"bench/gpu.py on {result['versions'].get('gpu', 'the CPU (simulator)')}; PyTorch: "
          f"{at.torch or 'not importable'}; results in {path}")
    def seconds_left():
        return max(60.0, args.budget - (time.perf_counter() - t0))
    sections = {"tests": lambda: run_tests(sizes, at, args.out, seconds_left()),
                "check": lambda: check(sizes, at),
                "attention": lambda: attention_timing(sizes, at),
                "training": lambda: training(sizes, at)}
    ok = True
    with dispatch.simulating_cuda() if args.simulate else contextlib.nullcontext():
        for name in args.sections:
            try:
                result[name], passed = sections[name]()
            except Exception as e:              # one broken section must not hide the rest
                traceback.print_exc()
                result["errors"][name], passed = f"{type(e).__name__}: {e}", False
            ok &= passed
            result["seconds"] = round(time.perf_counter() - t0, 1)
            save(result, path)
    print(f"\nbench/gpu.py: {'all sections passed' if ok else 'FAILED: see above'} in "
          f"{result['seconds']} s; {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
