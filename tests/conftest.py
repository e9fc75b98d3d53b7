"""Shared fixtures: every op test runs on each device; no test sees the user's environment.

"strict" is a CPU device whose arrays refuse silent mixing with NumPy arrays (as CuPy's
do), so device bugs show up on a CPU-only CI; "cuda" runs only where CuPy sees a GPU.

`isolated_environment` (autouse) removes every TINYTX_* variable and the thread-count
variables, and points HOME and XDG_CACHE_HOME at a fresh temporary folder, so a user who set
TINYTX_DATA_DIR (as the README tells offline users to) or has a cached book in
~/.cache/tinytx runs the same suite as CI. tests/test_environment.py checks it.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import tinytx as tx

DEVICES = ["cpu", "strict"] + (["cuda"] if tx.cuda_available() else [])
QUIXOTE = Path(__file__).resolve().parents[2] / "shared" / "data" / "quixote.txt"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")


@pytest.fixture(scope="session")
def _mpl_config(tmp_path_factory):
    """One matplotlib config/font-cache folder for the session (a fresh HOME per test
    would make every subprocess rebuild the font cache)."""
    return str(tmp_path_factory.mktemp("matplotlib"))


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path_factory, _mpl_config):
    for name in [n for n in os.environ if n.startswith("TINYTX_")] + list(THREAD_VARS):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")  # not inside tmp_path: tests may list that
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("MPLCONFIGDIR", _mpl_config)


@pytest.fixture(params=DEVICES)
def device(request):
    return tx.get_device(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def quixote_path():
    if not QUIXOTE.exists():
        pytest.skip(f"Don Quixote text not found at {QUIXOTE}")
    return QUIXOTE
