"""Crash safety: a training process killed (SIGKILL) at any moment, even in the middle of
writing a checkpoint, leaves a checkpoint that loads, and resuming from it ends
bit-identical to a run that was never interrupted (weights and loss.csv).

The run is tests/crash_train.py. Kills land at fixed points inside checkpoint saves (after
the temporary files are written; between the arrays' rename and the JSON's) and at random
moments.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinytx.checkpoint import load_checkpoint
from tinytx.train import read_rows

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import crash_train  # noqa: E402


def _start(out, crash=None):
    # every run sees the same environment: not the user's TINYTX_* settings (the
    # module-scoped reference run starts before conftest's isolation of each test does)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINYTX_")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    env.pop("CRASH", None)
    if crash:
        env["CRASH"] = crash
    return subprocess.Popen([sys.executable, str(HERE / "crash_train.py"), str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    return out.strip().splitlines()[-1]


def _logged(out):
    """loss.csv without the timing columns (they differ between runs)."""
    return [repr([r[k] for k in ("kind", "step", "train_loss", "val_loss", "lr",
                                 "grad_norm")]) for r in read_rows(Path(out) / "loss.csv")]


def _surviving_checkpoint_loads(out):
    if (Path(out) / "last.json").exists():
        meta = load_checkpoint(Path(out) / "last", crash_train.model(), restore_rng=False)
        assert meta["step"] % crash_train.CONFIG.eval_interval == 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    t0 = time.perf_counter()
    final = _finish(_start(out))
    return final, _logged(out), time.perf_counter() - t0


KILLS = ["tmp:1", "between:1", "tmp:4", "between:5", "between:8", "random", "random"]


@pytest.mark.parametrize("kill", KILLS, ids=[f"{k}-{i}" for i, k in enumerate(KILLS)])
def test_killed_run_resumes_bit_identical(kill, reference, tmp_path):
    final, logged, seconds = reference
    proc = _start(tmp_path, crash=None if kill == "random" else kill)
    if kill == "random":
        time.sleep(np.random.default_rng().uniform(0.2, seconds))
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=300)
    assert proc.returncode in (-signal.SIGKILL, 0)   # 0: the random kill came too late
    _surviving_checkpoint_loads(tmp_path)
    assert _finish(_start(tmp_path)) == final         # resumed (or restarted) to the end
    assert _logged(tmp_path) == logged
