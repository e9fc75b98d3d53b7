"""What the CUDA path needs besides kernels, tested without a GPU: `import tinytx` loads
neither CuPy nor numba, asking for cuda without them names what is missing, the cuda
generator's state round-trips (exact resume), and bench/device_check.sh stops cleanly on
a machine without a GPU."""
import json
import os
import pathlib
import subprocess
import sys
import types

import numpy as np
import pytest

import tinytx as tx
from tinytx import backend

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if "PYTHONPATH" in os.environ else [])))
    env.update(extra)
    return env


def test_import_tinytx_loads_neither_cupy_nor_numba(tmp_path):
    """Fake `cupy` and `numba` packages that fail on import: importing tinytx (and building
    a model on the CPU) must not touch them."""
    for name in ("cupy", "numba"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise RuntimeError('{name} was imported')\n")
    code = ("import sys, tinytx, tinytx.nn, tinytx.optim, tinytx.kernels.dispatch; "
            "tinytx.nn.Linear(3, 2)(tinytx.randn(1, 3)); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'numba')))")
    env = _env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.skipif(tx.cuda_available(), reason="a GPU is present")
def test_asking_for_cuda_without_it_names_what_is_missing():
    with pytest.raises(RuntimeError, match="CuPy|GPU|driver") as e:
        tx.zeros(2, device="cuda")
    assert "device 'cuda'" in str(e.value) and "device='cpu'" in str(e.value)


def test_cuda_generator_state_round_trips(monkeypatch):
    """The cuda device draws each CuPy generator's seed from a NumPy generator, so saving
    and restoring that state replays the draws (CuPy stood in for by NumPy here)."""
    fake = types.SimpleNamespace(random=types.SimpleNamespace(default_rng=np.random.default_rng))
    monkeypatch.setattr(backend.gpu, "_cupy", fake)
    gen = backend.CudaGenerator(7)
    gen.random((3,), np.float32)
    state = json.loads(json.dumps(gen.bit_generator.state))          # through JSON, as saved
    a = [gen.standard_normal((4,), np.float32), gen.integers(0, 9, (5,))]
    other = backend.CudaGenerator(123)
    other.bit_generator.state = state
    b = [other.standard_normal((4,), np.float32), other.integers(0, 9, (5,))]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(gen.random((4,), np.float32), gen.random((4,), np.float32))


@pytest.mark.parametrize("device", ["strict"] + (["cuda"] if tx.cuda_available() else []))
def test_to_device_and_back(device):
    x = tx.randn(3, 4, dtype="float64")
    y = x.to(device)
    assert y.device.name == device and y.to("cpu").device.name == "cpu"
    np.testing.assert_array_equal(y.to("cpu").numpy(), x.numpy())


@pytest.mark.skipif(tx.cuda_available(), reason="a GPU is present: the script would really run")
def test_device_check_stops_cleanly_without_a_gpu(tmp_path):
    done = subprocess.run(["bash", str(ROOT / "bench" / "device_check.sh"), str(tmp_path)],
                          env=_env(TINYTX_DEVICE_CHECK_NO_INSTALL="1"), capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no GPU" in done.stdout
    result = json.loads((tmp_path / "device_check.json").read_text())
    assert result["gpu"] is False and result["reason"]
