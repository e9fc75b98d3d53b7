"""The LSTM cell's gates on the GPU (mirrors kernels/lstm.py; lesson 03, docs/lstm.md).

The matmuls z = [h_{t-1}, x_t] W + b stay with cuBLAS (CuPy); everything after them is
elementwise and fuses into one kernel each way, a thread per (b, h):
    Γ_f, Γ_u, Γ_o = σ(z_f), σ(z_u), σ(z_o),   C̃ = tanh(z_c)
    C_t = Γ_f C_{t-1} + Γ_u C̃,   h_t = Γ_o tanh(C_t)
Backward (given dh, dc; g the saved activated gates, τ = tanh C_t):
    dC = dh Γ_o (1 − τ²) + dc,   dC_{t-1} = dC Γ_f
    dz_f = dC C_{t-1} Γ_f(1−Γ_f),  dz_u = dC C̃ Γ_u(1−Γ_u),  dz_o = dh τ Γ_o(1−Γ_o),
    dz_c = dC Γ_u (1 − C̃²)
float32 kernels compute in float32 (typed ½ and 1; tanh is not approximated by fastmath).
`gates_forward`/`gates_backward` have the signatures of the CPU helpers, and the two
Function classes are the CPU ones with these swapped in.
Shapes: z (B, 4H) in the gate order (forget, update, output, candidate), c_prev (B, H)
"""
from __future__ import annotations

import math

from ..lstm import LSTMCellFunction, LSTMStep, check_cell_shapes
from .common import cached, float_type, grid, jit_for, launch, numba_cuda, threads

cuda = numba_cuda()


@cached
def forward_kernel(ft):
    half, one = ft(0.5), ft(1)

    @jit_for(ft)
    def forward(z, c_prev, h, c, g, tc):
        e = cuda.grid(1)
        H = c_prev.shape[1]
        if e < c_prev.size:
            b, k = e // H, e % H
            f = half * (one + math.tanh(half * z[b, k]))         # σ as F.sigmoid computes it
            u = half * (one + math.tanh(half * z[b, H + k]))
            o = half * (one + math.tanh(half * z[b, 2 * H + k]))
            cand = math.tanh(z[b, 3 * H + k])
            g[b, k], g[b, H + k], g[b, 2 * H + k], g[b, 3 * H + k] = f, u, o, cand
            cc = f * c_prev[b, k] + u * cand
            c[b, k] = cc
            tc[b, k] = math.tanh(cc)
            h[b, k] = o * tc[b, k]
    return forward


@cached
def backward_kernel(ft):
    one = ft(1)

    @jit_for(ft)
    def backward(dh, dc, g, tc, c_prev, dz, dc_prev):
        e = cuda.grid(1)
        H = c_prev.shape[1]
        if e < c_prev.size:
            b, k = e // H, e % H
            f, u, o, cand = g[b, k], g[b, H + k], g[b, 2 * H + k], g[b, 3 * H + k]
            t = tc[b, k]
            dC = dh[b, k] * o * (one - t * t) + dc[b, k]
            dz[b, k] = dC * c_prev[b, k] * f * (one - f)
            dz[b, H + k] = dC * cand * u * (one - u)
            dz[b, 2 * H + k] = dh[b, k] * t * o * (one - o)
            dz[b, 3 * H + k] = dC * u * (one - cand * cand)
            dc_prev[b, k] = dC * f
    return backward


def gates_forward(xp, z, c_prev):
    """z (B, 4H) -> h, c, the activated gates g (B, 4H), tanh(C): as the CPU helper."""
    z, c_prev = xp.ascontiguousarray(z), xp.ascontiguousarray(c_prev)
    h, c, tc = xp.empty_like(c_prev), xp.empty_like(c_prev), xp.empty_like(c_prev)
    g = xp.empty_like(z)
    nt = threads()
    launch(forward_kernel(float_type(z.dtype)), grid(c.size, nt), nt, z, c_prev, h, c, g, tc)
    return h, c, g, tc


def gates_backward(xp, dh, dc, g, tc, c_prev):
    """dh, dc (B, H) -> dz (B, 4H), dC_{t-1} (B, H): as the CPU helper."""
    dz, dc_prev = xp.empty_like(g), xp.empty_like(c_prev)
    nt = threads()
    launch(backward_kernel(float_type(g.dtype)), grid(c_prev.size, nt), nt,
           xp.ascontiguousarray(dh), xp.ascontiguousarray(dc), g, tc, c_prev, dz, dc_prev)
    return dz, dc_prev


class CudaLSTMCell(LSTMCellFunction):
    gates_forward = staticmethod(gates_forward)
    gates_backward = staticmethod(gates_backward)


class CudaLSTMStep(LSTMStep):
    gates_forward = staticmethod(gates_forward)
    gates_backward = staticmethod(gates_backward)


def lstm_cell(x, h_prev, c_prev, W, b=None):
    """One LSTM step with the CUDA gates; the arguments of `kernels.lstm.lstm_cell`."""
    check_cell_shapes("lstm_cell", x, h_prev, c_prev, W, b)
    return CudaLSTMCell()(*((x, h_prev, c_prev, W) if b is None else (x, h_prev, c_prev, W, b)))


def lstm_step(xw, h_prev, c_prev, W_h):
    """One step of a sequence with the CUDA gates; as `kernels.lstm.lstm_step`."""
    return CudaLSTMStep()(xw, h_prev, c_prev, W_h)

def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched: what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    import numba
    ft = numba.from_dtype(dtype)
    n2 = ft[:, ::1]
    yield "lstm.forward", forward_kernel(ft), (n2, n2, n2, n2, n2, n2)
    yield "lstm.backward", backward_kernel(ft), (n2, n2, n2, n2, n2, n2, n2)
