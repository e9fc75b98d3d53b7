"""The library leaves the process alone (issue 24): importing tinytx and training a model
changes no process-wide setting — malloc options, matplotlib's backend, BLAS thread pools,
environment variables — until a script calls `tinytx.backend.configure_process`.

Run in a fresh interpreter with spies on glibc's mallopt and matplotlib.use."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CODE = r'''
import ctypes, json, os, sys, tempfile
calls = {"mallopt": [], "matplotlib.use": []}
RealCDLL = ctypes.CDLL
class SpyCDLL:
    def __init__(self, name, *args, **kwargs):
        self._lib = RealCDLL(name, *args, **kwargs)
    def __getattr__(self, attr):
        f = getattr(self._lib, attr)
        if attr != "mallopt":
            return f
        return lambda *a: calls["mallopt"].append(a) or f(*a)
ctypes.CDLL = SpyCDLL
import matplotlib
real_use = matplotlib.use
matplotlib.use = lambda *a, **k: calls["matplotlib.use"].append(a) or real_use(*a, **k)
from threadpoolctl import threadpool_info
pools = lambda: sorted((p["internal_api"], p["num_threads"]) for p in threadpool_info())
env, threads = dict(os.environ), pools()

import numpy as np
import tinytx as tx
from tinytx.models import GPT, GPTConfig
from tinytx.train import Trainer, TrainConfig
data = np.random.default_rng(0).integers(0, 11, 300)
def batch(split, rng):
    i = rng.integers(0, 280, 2)
    return tx.tensor(np.stack([data[j:j + 8] for j in i])), tx.tensor(np.stack([data[j + 1:j + 9] for j in i]))
model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
Trainer(model, TrainConfig(max_iters=2, eval_interval=2, eval_iters=1, progress=False),
        batch, tempfile.mkdtemp()).train()
library = {"calls": {k: len(v) for k, v in calls.items()}, "env": dict(os.environ) == env,
           "threads": pools() == threads}
done = tx.backend.configure_process(threads=1)
script = {"calls": {k: len(v) for k, v in calls.items()}, "done": done,
          "threads": [n for _, n in pools()]}
print(json.dumps({"library": library, "script": script}))
'''


def test_importing_and_training_change_nothing_until_a_script_opts_in():
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLBACKEND", "TINYTX_MALLOC_TUNE", "OMP_NUM_THREADS",
                        "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["library"] == {"calls": {"mallopt": 0, "matplotlib.use": 0}, "env": True,
                              "threads": True}, got
    script = got["script"]
    assert script["calls"]["matplotlib.use"] == 1 and script["done"]["plots"] == "Agg"
    if sys.platform.startswith("linux") and script["done"]["malloc"]:
        assert script["calls"]["mallopt"] == 2
    assert script["done"]["threads"] == 1 and set(script["threads"]) <= {1}
