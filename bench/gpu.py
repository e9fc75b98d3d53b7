"""The CUDA path on a real GPU: its tests, attention checked and timed, seed-small tokens/s.

    python bench/gpu.py --out OUT_DIR       # on a GPU machine (bench/device_check.sh runs it)
    python bench/gpu.py --simulate          # the same code on the CPU in numba's simulator

Five sections, in this order, each printed as a table and added to OUT_DIR/gpu.json as
soon as it ends (a timeout keeps what finished; OUT_DIR defaults to $OUT, else out/gpu):
  check      causal attention at T = 700 (not a multiple of the tile): the output and
             dq, dk, dv of the CUDA kernel against the composed ops on CuPy
  attention  causal attention, B 4, H 12, T 2048, D 64: forward and forward + backward,
             ms and TFLOP/s, for the kernel, composed CuPy, PyTorch SDPA fp32 (and bf16,
             as context); useful FLOPs: 4·B·H·T²·D/2 forward, 2.5 times that backward
  training   seed-small (examples/train_quixote.py; micro-batch 8) tokens/s of one
             training step (forward, backward, clip at 1.0, AdamW): tinytx with its
             kernels, tinytx composed on CuPy, PyTorch eager fp32; dropout 0.2 and 0
  capture    GPT "tiny" at batch 1: a forward eager, replayed (tinytx.capture) and as a
             CUDA graph; a cached decode step eager and replayed (gpu_capture.py)
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

The files: this one (the run, the sizes, the tests section), gpu_attention.py (check,
attention), gpu_training.py (training, with the PyTorch GPT of torch_gpt.py),
gpu_capture.py (capture), gpu_timing.py (interleaved rounds, ratios).
"""
import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

if "--simulate" in sys.argv:                 # numba reads it on import
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import tinytx as tx  # noqa: E402
from tinytx.kernels import dispatch  # noqa: E402

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
    p.add_argument("--sections", nargs="+",
                   default=["check", "attention", "training", "capture", "tests"])
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
    # the sections beside this file (bench/ is on sys.path when it runs as a script; a test
    # that loads this file for SEED_SMALL alone does not need them)
    from gpu_attention import attention_timing, check
    from gpu_capture import capture_timing
    from gpu_training import training

    def seconds_left():
        return max(60.0, args.budget - (time.perf_counter() - t0))
    sections = {"tests": lambda: run_tests(sizes, at, args.out, seconds_left()),
                "check": lambda: check(sizes, at),
                "attention": lambda: attention_timing(sizes, at),
                "training": lambda: training(sizes, at),
                "capture": lambda: capture_timing(sizes, at)}
    ok = True
    if args.simulate:               # 4x faster simulated kernels, same results
        from tinytx.kernels.cuda.simulator import wait_patiently
        wait_patiently()
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
