"""Shared fixtures: every op test runs on each device.

"strict" is a CPU device whose arrays refuse silent mixing with NumPy arrays (as CuPy's
do), so device bugs show up on a CPU-only CI; "cuda" runs only where CuPy sees a GPU.
"""
from pathlib import Path

import numpy as np
import pytest

import tinytx as tx

DEVICES = ["cpu", "strict"] + (["cuda"] if tx.cuda_available() else [])
QUIXOTE = Path(__file__).resolve().parents[2] / "shared" / "data" / "quixote.txt"


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
