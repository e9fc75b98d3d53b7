"""Where no GPU is, the CUDA path's speed is argued statically (docs/cuda.md): every
kernel compiles to PTX for sm_90, the float32 PTX has no f64 instruction, ptxas
reports no spills and at most 48 KB of static shared memory, and one training step of a
seed-small-shaped GPT stays within its budget of kernel launches.

The PTX checks run tests/cuda_compile_ptx.py in a subprocess (numba must be imported
without its simulator there) and skip only when libNVVM/NVRTC or ptxas are missing, with
the reason; `pip install -e '.[dev]'` brings them (numba-cuda[cu12]). The launch budget
runs the step through the CUDA kernels in numba's simulator (dispatch.simulating_cuda),
so this module sets NUMBA_ENABLE_CUDASIM=1 before numba is imported, as
tests/test_cuda_kernels.py does.
"""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

if "numba" not in sys.modules:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import tinytx as tx  # noqa: E402
from tinytx import optim  # noqa: E402
from tinytx.kernels import dispatch  # noqa: E402
from tinytx.models import GPT, GPTConfig  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAUNCH_BUDGET = 80      # one training step of the GPT below: forward, backward, clip, AdamW


def test_every_kernel_compiles_and_float32_has_no_f64_or_spills(tmp_path, cc="9.0"):
    """Every float32 kernel compiles to PTX for sm_90 (the H100 the device check runs on)
    with no f64 instruction, no ptxas spills and <= 48 KB of static shared memory (the
    script lists each offender with its source lines; run it by hand, e.g. `python
    tests/cuda_compile_ptx.py 8.0`, for other GPUs, the float64 kernels and the table)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if "CUDA_HOME" not in env and pathlib.Path("/usr/local/cuda").exists():
        env["CUDA_HOME"] = "/usr/local/cuda"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    report = tmp_path / "ptx.json"
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "cuda_compile_ptx.py"), cc,
                           "--json", str(report), "--dtypes", "float32"], env=env, capture_output=True, text=True,
                          timeout=600)
    print(done.stdout)                      # the table (pytest -s, or on failure)
    if done.returncode == 77:
        pytest.skip(done.stdout.strip().splitlines()[-1])
    failures, rc = done.stdout.partition("\nFAILED")[2], done.returncode
    assert rc == 0, ("FAILED" + failures)[-12000:] + done.stderr[-3000:]
    kernels = json.loads(report.read_text())["kernels"]
    assert {k["dtype"] for k in kernels} == {"float32"} and len(kernels) >= 62
    assert all(k["registers"] for k in kernels), "ptxas reported no register count"


def _gpt_step(dropout):
    """One training step of the seed-small-shaped GPT at tiny sizes through the CUDA
    kernels in the simulator; returns the dispatch's counts and the launches of the
    forward + backward alone."""
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=32, n_layer=6, n_head=2, n_embd=8,
                          dropout=dropout, bias=True))
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-3)
    x = np.random.default_rng(0).integers(0, 32, (2, 8))              # batch 2, block 8
    with dispatch.simulating_cuda(), dispatch.counting() as counts:
        _, loss = model(tx.tensor(x), tx.tensor(np.roll(x, -1, axis=1)))
        loss.backward()
        forward_backward = counts["launches"]
        optim.clip_grad_norm(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
    return dict(counts), forward_backward


def test_a_training_step_stays_within_its_launch_budget():
    """Seed-small's shape (6 layers, bias, dropout 0.2) at tiny sizes: one forward +
    backward, clip_grad_norm and an AdamW step launch at most LAUNCH_BUDGET kernels: each
    launch is paid for in host time (Python, numba's argument handling, the driver)
    before the GPU does any work, and at seed-small's sizes many kernels are short."""
    numba = pytest.importorskip("numba", reason="numba-cuda is not installed")
    pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
    if not numba.config.ENABLE_CUDASIM:
        pytest.skip("numba was imported without NUMBA_ENABLE_CUDASIM=1")
    counts, forward_backward = _gpt_step(dropout=0.2)
    print(f"launches: {counts['launches']} ({forward_backward} forward + backward, "
          f"{counts['launches'] - forward_backward} clip + AdamW); picks: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "launches"))
    assert counts["launches"] <= LAUNCH_BUDGET, (
        f"one training step launched {counts['launches']} CUDA kernels ({forward_backward} "
        f"in forward + backward), more than the budget of {LAUNCH_BUDGET}; picks: {counts}")
