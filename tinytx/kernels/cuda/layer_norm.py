"""LayerNorm on the GPU: a block per row, shared-memory tree reductions (mirrors
kernels/layer_norm.py; introduced in lesson 07, explained in docs/cuda.md).

Forward, over the last axis of size C (each of the block's threads strides over C):
    μ = mean(x),  σ = sqrt(mean((x-μ)²) + eps),  x̂ = (x-μ)/σ,  y = x̂·w + b
saving only μ and 1/σ per row (x̂ is recomputed in backward, cheaper than storing it).
Backward, with ĝ = gy·w:
    gx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)) / σ           (kernel `backward_rows`: a block per row)
    gw = Σ_rows gy·x̂,  gb = Σ_rows gy               (kernel `backward_cols`: a thread per column)
Shapes: x (..., C), w (C,), b (C,) -> y (..., C)
"""
from __future__ import annotations

import math

from ...function import Function
from .common import cached, float_type, grid, launch, numba_cuda, reducers, threads

cuda = numba_cuda()


@cached
def forward_kernel(NT, ft):
    block_sum, _ = reducers()

    @cuda.jit
    def forward(x, w, b, eps, y, mean, rstd):
        # x (N, C), w (C,), b (C,) -> y (N, C), mean (N,), rstd (N,)
        r, t = cuda.blockIdx.x, cuda.threadIdx.x
        C = x.shape[1]
        buf = cuda.shared.array(NT, ft)
        part = 0.0
        for c in range(t, C, NT):
            part += x[r, c]
        buf[t] = part
        mu = block_sum(buf, t, NT) / C
        part = 0.0
        for c in range(t, C, NT):
            part += (x[r, c] - mu) * (x[r, c] - mu)
        buf[t] = part
        rs = 1.0 / math.sqrt(block_sum(buf, t, NT) / C + eps)
        for c in range(t, C, NT):
            y[r, c] = (x[r, c] - mu) * rs * w[c] + b[c]
        if t == 0:
            mean[r], rstd[r] = mu, rs
    return forward


@cached
def backward_rows_kernel(NT, ft):
    block_sum, _ = reducers()

    @cuda.jit
    def backward_rows(x, w, gy, mean, rstd, gx):
        # gx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)) / σ for row r
        r, t = cuda.blockIdx.x, cuda.threadIdx.x
        C = x.shape[1]
        buf = cuda.shared.array(NT, ft)
        mu, rs = mean[r], rstd[r]
        part = 0.0
        for c in range(t, C, NT):
            part += gy[r, c] * w[c]
        buf[t] = part
        g_mean = block_sum(buf, t, NT) / C
        part = 0.0
        for c in range(t, C, NT):
            part += gy[r, c] * w[c] * (x[r, c] - mu) * rs
        buf[t] = part
        gx_mean = block_sum(buf, t, NT) / C
        for c in range(t, C, NT):
            xhat = (x[r, c] - mu) * rs
            gx[r, c] = (gy[r, c] * w[c] - g_mean - xhat * gx_mean) * rs
    return backward_rows


@cached
def backward_cols_kernel():
    @cuda.jit
    def backward_cols(x, gy, mean, rstd, gw, gb):
        # a thread per column c: gw_c = Σ_r gy·x̂, gb_c = Σ_r gy (deterministic, no atomics)
        c = cuda.grid(1)
        if c < x.shape[1]:
            sw, sb = 0.0, 0.0
            for r in range(x.shape[0]):
                sw += gy[r, c] * (x[r, c] - mean[r]) * rstd[r]
                sb += gy[r, c]
            gw[c], gb[c] = sw, sb
    return backward_cols


class CudaLayerNorm(Function):
    def __init__(self, eps=1e-5, n_threads=None):
        self.eps, self.nt = eps, threads(n_threads)

    def forward(self, x, weight, bias=None):
        xp, C = self.xp, x.shape[-1]
        self.shape = x.shape
        self.x = xp.ascontiguousarray(x.reshape(-1, C))          # (..., C) -> (N, C)
        self.w = weight
        b = bias if bias is not None else xp.zeros_like(weight)
        N = self.x.shape[0]
        y = xp.empty_like(self.x)
        self.mean, self.rstd = xp.empty(N, x.dtype), xp.empty(N, x.dtype)
        launch(forward_kernel(self.nt, float_type(x.dtype)), N, self.nt,
               self.x, weight, b, self.eps, y, self.mean, self.rstd)
        return y.reshape(self.shape)                             # (N, C) -> (..., C)

    def backward(self, gy):
        xp, x = self.xp, self.x
        gy = xp.ascontiguousarray(gy.reshape(x.shape))           # (..., C) -> (N, C)
        gx, gw, gb = xp.empty_like(x), xp.empty_like(self.w), xp.empty_like(self.w)
        launch(backward_rows_kernel(self.nt, float_type(x.dtype)), x.shape[0], self.nt,
               x, self.w, gy, self.mean, self.rstd, gx)
        launch(backward_cols_kernel(), grid(x.shape[1], self.nt), self.nt,
               x, gy, self.mean, self.rstd, gw, gb)
        return (gx.reshape(self.shape), gw, gb)[:len(self.needs_input_grad)]


def layer_norm(x, weight, bias=None, eps=1e-5, n_threads=None):
    """The CUDA LayerNorm with the arguments of `tinytx.kernels.layer_norm.layer_norm`."""
    op = CudaLayerNorm(eps, n_threads)
    return op(x, weight) if bias is None else op(x, weight, bias)

def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched: what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    ft, n2, n1, f = _types(dtype)
    yield "layer_norm.forward", forward_kernel(128, ft), (n2, n1, n1, f, n2, n1, n1)
    yield "layer_norm.backward_rows", backward_rows_kernel(128, ft), (n2, n1, n2, n1, n1, n2)
    yield "layer_norm.backward_cols", backward_cols_kernel(), (n2, n2, n1, n1, n1, n1)


def _types(dtype):
    import numba
    ft = numba.from_dtype(dtype)
    return ft, ft[:, ::1], ft[::1], numba.float64
