"""What every CUDA kernel test file does first, and the two helpers they all use.

numba reads NUMBA_ENABLE_CUDASIM when it is imported, so importing this module sets it
(unless numba was imported already, or TINYTX_CUDA_TESTS=gpu asks for the real GPU), then
imports numba-cuda; the test module that imports it is skipped when numba-cuda is not
installed, when numba was imported without the simulator, or when TINYTX_CUDA_TESTS=gpu
(bench/device_check.sh) finds no GPU. In the simulator the kernels run on NumPy arrays on
the cpu device; on a GPU on CuPy arrays on the cuda device (DEVICE).

    from cudasim import DEVICE, assert_close, numba, run    # first, before tinytx
"""
import os
import sys

import numpy as np
import pytest

GPU = os.environ.get("TINYTX_CUDA_TESTS") == "gpu"
if not GPU and "numba" not in sys.modules:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
numba = pytest.importorskip("numba", reason="numba-cuda is not installed (pip install numba numba-cuda)")
pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
import tinytx as tx  # noqa: E402

if GPU and not tx.cuda_available():
    pytest.skip("TINYTX_CUDA_TESTS=gpu but no GPU is present", allow_module_level=True)
if not GPU and not numba.config.ENABLE_CUDASIM:
    pytest.skip("numba was imported without NUMBA_ENABLE_CUDASIM=1", allow_module_level=True)
SIMULATED = bool(numba.config.ENABLE_CUDASIM)

if SIMULATED:                  # 4x faster simulated kernels (tinytx/kernels/cuda/simulator.py)
    from tinytx.kernels.cuda.simulator import wait_patiently
    wait_patiently()
DEVICE = "cuda" if GPU else "cpu"
TOL = {"float32": 1e-5, "float64": 1e-10}


def simulator_only():
    """Skip the calling test module unless the kernels run in numba's simulator (its tests
    patch the kernels' launches or the cpu device)."""
    if not SIMULATED:
        pytest.skip("these tests run in numba's CUDA simulator only", allow_module_level=True)


def run(fn, inputs, seed=0):
    """fn on Tensors made from `inputs` on DEVICE (float arrays want a gradient; Tensors
    pass as they are) -> the outputs and the input gradients under one random upstream
    gradient, as NumPy arrays."""
    xs = [tx.tensor(a, device=DEVICE, requires_grad=a.dtype.kind == "f")
          if isinstance(a, np.ndarray) else a for a in inputs]
    ys = fn(*xs)
    ys = ys if isinstance(ys, tuple) else (ys,)          # the LSTM cell gives (h, c)
    rng = np.random.default_rng(seed)
    loss = sum((y * tx.tensor(rng.standard_normal(y.shape).astype(y.dtype), device=DEVICE)).sum()
               for y in ys)
    loss.backward()
    return [y.numpy() for y in ys] + [x.device.to_host(x.grad) for x in xs
                                      if isinstance(x, tx.Tensor) and x.requires_grad]


def assert_close(got, want, tol):
    """Every array of `got` equals `want`'s to `tol`: a number, or a dtype's name (TOL)."""
    tol = TOL.get(tol, tol)
    for x, y in zip(got, want, strict=True):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)
