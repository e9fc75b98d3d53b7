"""The multi-tensor AdamW kernel (tinytx/kernels/cuda/adamw.py) in numba's CUDA simulator:
several steps over tensors of different sizes and step counts equal the composed reference
(float32 to 1e-6 relative, float64 to 1e-12), in one launch per call; its float32 PTX has
no f64 instruction.

tests/cudasim.py sets NUMBA_ENABLE_CUDASIM before numba is imported (and skips when it
cannot), as for every CUDA test file.
"""
import types

import numpy as np
import pytest
from cudasim import simulator_only

import tinytx as tx
from tinytx.kernels import dispatch
from tinytx.kernels.adam import adam_composed

simulator_only()
RTOL = {"float32": 1e-6, "float64": 1e-12}
SHAPES = [(3, 5), (17,), (), (0,), (4, 3, 2), (9,)]   # 8 threads a block here: several


def _tensors(dtype, rng):
    ps = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    return ps, ms, vs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_kernel_equals_composed_in_one_launch(dtype, weight_decay):
    rng = np.random.default_rng(0)
    ps, ms, vs = _tensors(dtype, rng)
    ref = [[a.copy() for a in arrays] for arrays in (ps, ms, vs)]
    steps = [0, 4, 1, 0, 9, 2]                       # step counts differ per tensor
    hyper = dict(lr=0.05, betas=(0.9, 0.95), eps=1e-8, weight_decay=weight_decay,
                 decoupled=True)
    for _ in range(3):
        gs = [rng.standard_normal(p.shape).astype(dtype) for p in ps]
        steps = [t + 1 for t in steps]
        adam_composed(ref[0], gs, ref[1], ref[2], steps, **hyper)
        with dispatch.simulating_cuda(), dispatch.counting() as counts:
            dispatch.run("adam", ps, gs, ms, vs, steps, **hyper, device="cpu")
        assert counts["launches"] == 1 and counts["adam:cuda"] == 1
        for got, want in zip(ps + ms + vs, ref[0] + ref[1] + ref[2]):
            np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-3)


def test_adamw_optimizer_steps_through_the_kernel():
    """AdamW on a small model with its ops sent to the CUDA kernels equals the CPU's."""
    def train(simulate):
        tx.manual_seed(3)
        model = tx.nn.Sequential(tx.nn.Linear(5, 7), tx.nn.Linear(7, 2))
        opt = tx.optim.AdamW(tx.optim.decay_groups(model, 0.1), lr=1e-2)
        x = tx.randn(4, 5)
        for _ in range(3):
            y = model(x)
            (y * y).sum().backward()
            with dispatch.simulating_cuda() if simulate else dispatch.fused(), \
                    dispatch.counting() as counts:
                opt.step()
            assert counts["launches"] == (2 if simulate else 0)   # one per group
            opt.zero_grad()
        return [p.numpy() for p in model.parameters()]
    for got, want in zip(train(True), train(False)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


GPU = types.SimpleNamespace(cuda_kernels=True)      # a device whose ops go to CUDA kernels


def test_adam_kernel_covers_one_float_dtype_only():
    p32, p64 = np.zeros(3, np.float32), np.zeros(3, np.float64)
    args = ([p32, p64], [p32, p64], [p32, p64], [p32, p64], [1, 1], 0.1, (0.9, 0.99), 1e-8,
            0.0, True)
    assert dispatch.pick("adam", GPU, *args) is dispatch.OPS["adam"].cpu
    one = [[p32]] * 4 + [[1], 0.1, (0.9, 0.99), 1e-8, 0.0]
    assert dispatch.pick("adam", GPU, *one, True) is dispatch.OPS["adam"].cuda
    assert dispatch.pick("adam", GPU, *one, False) is dispatch.OPS["adam"].cpu  # Adam (L2)
    half = np.zeros(3, np.float16)
    assert dispatch.pick("adam", GPU, *[[half]] * 4, [1], 0.1, (0.9, 0.99), 1e-8, 0.0,
                         True) is dispatch.OPS["adam"].cpu


# The PTX of every kernel of this file (no f64 in float32, no spills, shared memory
# within 48 KB) is checked with all the others in tests/test_cuda_static.py.
