"""Bias + tanh-GELU on the GPU, one elementwise kernel each way (the MLP's c_fc bias and
GPT-2's GELU; lesson 08). Reference: the composed F.gelu(x + b, approximate="tanh").

Forward (a thread per element, x (N, C), b (C,)):
    a = x + b,  u = √(2/π)(a + 0.044715a³),  y = ½a(1 + tanh u)
Backward, with τ = tanh u:
    dy/da = ½(1 + τ) + ½a(1 − τ²)·√(2/π)(1 + 3·0.044715a²)
    gx = gy·dy/da,   gb = Σ_rows gx  (a reduction over rows, done by CuPy)
Nothing is saved but x and b: the kernel recomputes a and τ in backward.
float32 kernels compute in float32 (typed constants; tanh is not approximated by fastmath).
Shapes: x (..., C), b (C,) -> y (..., C)
"""
from __future__ import annotations

import math

from ...function import Function
from ...functional.activations import GELU_A, GELU_C
from .common import cached, float_type, grid, jit_for, launch, numba_cuda, threads

cuda = numba_cuda()


def constants(ft):
    """½, 1, √(2/π), 0.044715 and 3·0.044715 as `ft` numbers."""
    return ft(0.5), ft(1), ft(GELU_C), ft(GELU_A), ft(3 * GELU_A)


@cached
def forward_kernel(ft):
    half, one, c0, k, _ = constants(ft)

    @jit_for(ft)
    def forward(x, b, y):
        e = cuda.grid(1)                      # x, y flattened to (N·C,), b (C,)
        if e < x.size:
            a = x[e] + b[e % b.size]
            y[e] = half * a * (one + math.tanh(c0 * (a + k * a * a * a)))
    return forward


@cached
def backward_kernel(ft):
    half, one, c0, k, k3 = constants(ft)

    @jit_for(ft)
    def backward(x, b, gy, gx):
        e = cuda.grid(1)
        if e < x.size:
            a = x[e] + b[e % b.size]
            tau = math.tanh(c0 * (a + k * a * a * a))
            da = half * (one + tau) + half * a * (one - tau * tau) * c0 * (one + k3 * a * a)
            gx[e] = gy[e] * da
    return backward


class CudaBiasGELU(Function):
    def __init__(self, n_threads=None):
        self.nt = threads(n_threads)

    def forward(self, x, b):
        self.x, self.b = self.xp.ascontiguousarray(x), b
        y = self.xp.empty_like(self.x)
        launch(forward_kernel(float_type(x.dtype)), grid(x.size, self.nt), self.nt,
               self.x.reshape(-1), b, y.reshape(-1))
        return y

    def backward(self, gy):
        x, xp = self.x, self.xp
        gx = xp.empty_like(x)
        launch(backward_kernel(float_type(x.dtype)), grid(x.size, self.nt), self.nt,
               x.reshape(-1), self.b, xp.ascontiguousarray(gy).reshape(-1), gx.reshape(-1))
        gb = self.device.sum_rows(gx.reshape(-1, self.b.shape[0]))  # (..., C) -> (N, C)
        return gx, gb


def bias_gelu(x, b, n_threads=None):
    """gelu(x + b, approximate="tanh") by one kernel; b (C,) matches x's last axis."""
    if b.ndim != 1 or x.shape[-1] != b.shape[0]:
        raise ValueError(f"bias_gelu: bias of shape {b.shape} does not match input of "
                         f"shape {x.shape} (expected ({x.shape[-1]},))")
    return CudaBiasGELU(n_threads)(x, b)

def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched: what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    import numba
    ft = numba.from_dtype(dtype)
    n1 = ft[::1]
    yield "gelu.forward", forward_kernel(ft), (n1, n1, n1)
    yield "gelu.backward", backward_kernel(ft), (n1, n1, n1, n1)
