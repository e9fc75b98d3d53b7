"""float16 cross-entropy is computed in float32, as PyTorch's autocast does (issue 21).

At logits near 1e3 float16 holds the log-sum-exp only to 0.5 and near 3e4 to 16, so a
loss computed in float16 was 1.50 instead of ln 5 = 1.609 for five equal logits at 1e3,
and 0 (with a gradient of 1 on every wrong class) at 3e4. Now the loss is float32 and
equals a float64 reference of the same float16 logits to float32 rounding; the gradient
is float16 and equals the reference to float16 rounding — for the composed op, the CPU
fused kernel and (in numba's CUDA simulator) the CUDA kernel.
"""
import os
import sys

import numpy as np
import pytest

import tinytx as tx
import tinytx.functional as F
from tinytx.functional.convert import upcast_dtype
from tinytx.kernels.cross_entropy import cross_entropy as fused_cross_entropy

# numba reads NUMBA_ENABLE_CUDASIM when it is imported (see tests/test_cuda_kernels.py)
if os.environ.get("TINYTX_CUDA_TESTS") != "gpu" and "numba" not in sys.modules:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"


def _equal(base):
    """The issue's probe: five equal logits, target 2; the loss is ln 5."""
    return lambda rng: (np.full((1, 5), base, np.float16), np.array([2]))


def _spread(base, scale):
    """Logits around `base` that float16 tells apart, with ignored targets."""
    def make(rng):
        z = (base + scale * rng.standard_normal((3, 4, 7))).astype(np.float16)
        t = rng.integers(0, 7, (3, 4))
        t[0, 1] = t[2, 3] = -100
        return z, t
    return make


CASES = {"equal-1e3": _equal(1e3), "equal-3e4": _equal(3e4),
         "spread-1e3": _spread(1e3, 3.0), "spread-3e4": _spread(3e4, 64.0)}


def _reference(z, t, gy):
    """Loss and logits gradient of the mean cross-entropy, in float64, of the float16
    values themselves (so only the rounding of the computation is measured)."""
    V = z.shape[-1]
    z, t = z.astype(np.float64).reshape(-1, V), t.reshape(-1)          # (N, V), (N,)
    valid, rows = t != -100, np.arange(t.size)
    ts, n = np.where(valid, t, 0), max(int(valid.sum()), 1)
    m = z.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=-1, keepdims=True)) + m        # (N, 1)
    loss = ((lse[:, 0] - z[rows, ts]) * valid).sum() / n
    g = np.exp(z - lse)
    g[rows, ts] -= 1
    return loss, gy * g * valid[:, None] / n


def _run(ce, z, t, gy, device="cpu"):
    x = tx.tensor(z, device=device, requires_grad=True)
    loss = ce(x, tx.tensor(t, device=device))
    loss.backward(tx.tensor(np.asarray(gy, loss.dtype), device=device))
    return loss, x.device.to_host(x.grad).reshape(-1, z.shape[-1])


def _check(loss, grad, z, t, gy):
    ref_loss, ref_grad = _reference(z, t, gy)
    # float32 holds the log-sum-exp to half a spacing at max|z| (0.001 at 3e4)
    loss_tol = 2 * float(np.spacing(np.float32(np.abs(z).max())))
    assert abs(loss.item() - ref_loss) <= loss_tol, (loss.item(), ref_loss)
    # float16's rounding of the gradient, plus that log-sum-exp error times the softmax
    np.testing.assert_allclose(grad.astype(np.float64), ref_grad, rtol=2e-3,
                               atol=(1e-3 + loss_tol) * abs(gy) * np.abs(ref_grad).max())
    assert loss.dtype == np.float32 and grad.dtype == np.float16


@pytest.mark.parametrize("impl", ["composed", "fused"])
@pytest.mark.parametrize("case", list(CASES))
def test_float16_cross_entropy_equals_float64_reference(case, impl, device):
    rng = np.random.default_rng(0)
    z, t = CASES[case](rng)
    gy = rng.standard_normal()                         # a random upstream gradient
    ce = F.cross_entropy if impl == "composed" else fused_cross_entropy
    _check(*_run(ce, z, t, gy, device), z, t, gy)


@pytest.mark.parametrize("case", list(CASES))
def test_float16_cuda_cross_entropy_in_simulator(case):
    numba = pytest.importorskip("numba", reason="numba-cuda is not installed")
    pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
    if not numba.config.ENABLE_CUDASIM:
        pytest.skip("numba was imported without NUMBA_ENABLE_CUDASIM=1")
    from tinytx.kernels.cuda.cross_entropy import cross_entropy as cuda_cross_entropy
    rng = np.random.default_rng(0)
    z, t = CASES[case](rng)
    gy = rng.standard_normal()
    _check(*_run(cuda_cross_entropy, z, t, gy), z, t, gy)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float32_and_float64_logits_are_not_cast(dtype, device):
    """No cast in the graph, the loss in the logits' dtype (the bits of the float32 path
    were compared before and after the change: equal)."""
    z = tx.tensor(np.random.default_rng(1).standard_normal((4, 5)).astype(dtype),
                  device=device, requires_grad=True)
    t = tx.tensor([0, 4, 2, 2], device=device)
    for ce in (F.cross_entropy, fused_cross_entropy):
        loss = ce(z, t)
        loss.backward()
        assert loss.dtype == dtype and z.grad.dtype == dtype
    assert upcast_dtype(dtype) == dtype and upcast_dtype("float16") == np.float32
