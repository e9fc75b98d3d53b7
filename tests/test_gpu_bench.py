"""bench/gpu.py and bench/device_check.sh work the first time a GPU is found: the same
code runs end to end here, at tiny sizes, with the CUDA kernels in numba's simulator on
the CPU (TINYTX_DEVICE_CHECK_SIMULATE=1 -> bench/gpu.py --simulate), with hypothesis and
tqdm made unimportable (the GPU machine may lack them). PyTorch's rows run where PyTorch
is installed. On a machine without a GPU the plain commands say so and exit 0
(tests/test_cuda_path.py checks device_check.sh's dry run)."""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

import tinytx as tx
from project_scripts import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
# found, not imported: numba must stay unimported here for the simulator tests of other
# modules, which set NUMBA_ENABLE_CUDASIM=1 before they import it
if importlib.util.find_spec("numba_cuda") is None:
    pytest.skip("numba-cuda is not installed (pip install -e '.[dev]')", allow_module_level=True)


def _env(tmp_path, **extra):
    """No PYTHONPATH to the project (the script sets it), fake hypothesis and tqdm that
    fail on import, and the interpreter running the tests."""
    fakes = tmp_path / "fakes"
    for name in ("hypothesis", "tqdm"):
        (fakes / name).mkdir(parents=True)
        (fakes / name / "__init__.py").write_text(f"raise ImportError('{name} was imported')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_ENABLE_CUDASIM", "OUT")}
    env.update(PYTHONPATH=str(fakes), PYTHON=sys.executable)
    env.update(extra)
    return env


def test_device_check_runs_the_bench_end_to_end_in_the_simulator(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(["bash", str(ROOT / "bench" / "device_check.sh"), str(out)],
                          env=_env(tmp_path, TINYTX_DEVICE_CHECK_SIMULATE="1"),
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    print(done.stdout)
    log = done.stdout + done.stderr
    summary = json.loads((out / "device_check.json").read_text())
    bench = summary["bench"]
    assert summary["gpu"] is False and bench["simulate"] is True, log
    assert bench["errors"] == {}, log
    tests = bench["tests"]
    assert tests["counts"].get("passed", 0) >= 1 and tests["rc"] in (0, 1), log
    assert bench["check"]["pass"] and bench["check"]["kernel_picked"] == 1, log
    for phase in ("forward", "forward_backward"):
        rows = bench["attention"][phase]
        assert {"tinytx kernel", "composed NumPy"} <= set(rows), log
        assert all(r["ms"] > 0 for r in rows.values()), log
    for dropout in ("dropout 0.2", "dropout 0.0"):
        training = bench["training"][dropout]
        assert {"tinytx kernels", "composed NumPy"} <= set(training["rows"]), log
        assert training["launches_per_step"] > 0, log
    assert summary["bench_rc"] == (0 if tests["rc"] == 0 else 1), log
    assert (out / "tests.log").exists() and (out / "gpu.log").exists()


@pytest.mark.skipif(tx.cuda_available(), reason="a GPU is present: the bench would really run")
def test_the_bench_says_no_gpu_and_exits_0(tmp_path):
    env = _env(tmp_path)
    env["PYTHONPATH"] += os.pathsep + str(ROOT)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--out",
                           str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no GPU" in done.stdout
    assert json.loads((tmp_path / "gpu.json").read_text()) == {"gpu": False}


def test_seed_small_is_the_main_jobs():
    """bench/gpu.py names seed-small's shape itself (importing the example would need
    tqdm); it must stay examples/train_quixote.py's."""
    bench = load_script("bench/gpu.py", "bench_gpu")
    example = load_script("examples/train_quixote.py", "train_quixote_for_bench").CONFIGS["seed-small"]
    m = example.model
    assert bench.SEED_SMALL == dict(n_layer=m.n_layer, n_head=m.n_head, n_embd=m.n_embd,
                                    block_size=m.block_size, vocab_size=example.vocab_size)
    assert m.dropout == 0.2 and m.bias
