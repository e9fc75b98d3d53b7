"""LayerNorm on the GPU: a block per row forward, blocks of rows backward (mirrors
kernels/layer_norm.py; introduced in lesson 08, explained in docs/cuda.md).

Forward, over the last axis of size C (each of the block's threads strides over C):
    μ = mean(x),  σ = sqrt(mean((x-μ)²) + eps),  x̂ = (x-μ)/σ,  y = x̂·w + b
saving only μ and 1/σ per row (x̂ is recomputed in backward, cheaper than storing it).
Backward, with ĝ = gy·w, in two launches (as llm.c's layernorm_backward):
    `backward_rows`: block k takes rows [kR, kR + R) one after another and writes
        gx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)) / σ            for each of its rows,
        pw[k] = Σ_its rows gy·x̂,  pb[k] = Σ_its rows gy   (its partial sums, (C,) each)
      thread t owns the columns t, t + NT, … of every row, so it adds into its own
      entries of the block's shared-memory accumulators: no atomics, no waiting;
    `backward_sum`: gw = Σ_k pw[k],  gb = Σ_k pb[k] in a fixed order (deterministic).
R (rows per block) grows with the number of rows so that there are at most MAX_BLOCKS
partial sums to add up. gw and gb come out of the pass that computes gx, instead of a
column kernel reading x and gy again with only C threads.
float32 kernels compute in float32: constants are typed, eps is cast on the host.
Shapes: x (..., C), w (C,), b (C,) -> y (..., C)
"""
from __future__ import annotations

import math

import numpy as np

from ...function import Function
from .common import (cached, float_type, jit_for, launch, numba_cuda, reducers, simulated,
                     threads)

cuda = numba_cuda()
MAX_BLOCKS = 512           # partial sums of gw, gb at most (a few per streaming processor)
SHARED_BYTES = 48 * 1024   # static shared memory a block gets without opting in


def rows_per_block(n_rows, size=None):
    """Rows each backward block takes: `size`, else at least 4 (simulator) or 16 (GPU) and
    enough that there are at most MAX_BLOCKS blocks."""
    return size or max(4 if simulated() else 16, math.ceil(n_rows / MAX_BLOCKS))


@cached
def forward_kernel(NT, ft):
    block_sum, _ = reducers()
    zero, one = ft(0), ft(1)

    @jit_for(ft)
    def forward(x, w, b, eps, y, mean, rstd):
        # x (N, C), w (C,), b (C,), eps a scalar of x's dtype -> y (N, C), mean, rstd (N,)
        r, t = cuda.blockIdx.x, cuda.threadIdx.x
        C = x.shape[1]
        inv_c = one / ft(C)
        buf = cuda.shared.array(NT, ft)
        part = zero
        for c in range(t, C, NT):
            part += x[r, c]
        buf[t] = part
        mu = block_sum(buf, t, NT) * inv_c
        part = zero
        for c in range(t, C, NT):
            d = x[r, c] - mu
            part += d * d
        buf[t] = part
        rs = one / math.sqrt(block_sum(buf, t, NT) * inv_c + eps)
        for c in range(t, C, NT):
            y[r, c] = (x[r, c] - mu) * rs * w[c] + b[c]
        if t == 0:
            mean[r], rstd[r] = mu, rs
    return forward


@cached
def backward_rows_kernel(NT, CS, ft):
    """CS: columns the shared accumulators hold (a multiple of NT, at least C)."""
    block_sum, _ = reducers()
    zero, one = ft(0), ft(1)

    @jit_for(ft)
    def backward_rows(x, w, gy, mean, rstd, R, gx, pw, pb):
        # rows [kR, kR + R) of x, gy (N, C) -> their gx; pw[k], pb[k] (C,) their sums
        k, t = cuda.blockIdx.x, cuda.threadIdx.x
        N, C = x.shape
        inv_c = one / ft(C)
        buf = cuda.shared.array(NT, ft)
        acc_w = cuda.shared.array(CS, ft)              # Σ gy·x̂ of column c, at [c]
        acc_b = cuda.shared.array(CS, ft)              # Σ gy, at [c]
        for c in range(t, C, NT):                      # thread t's own columns only
            acc_w[c], acc_b[c] = zero, zero
        for r in range(k * R, min(N, k * R + R)):
            mu, rs = mean[r], rstd[r]
            part_g, part_gx = zero, zero
            for c in range(t, C, NT):
                g, xhat = gy[r, c], (x[r, c] - mu) * rs
                acc_w[c] += g * xhat
                acc_b[c] += g
                part_g += g * w[c]
                part_gx += g * w[c] * xhat
            buf[t] = part_g
            g_mean = block_sum(buf, t, NT) * inv_c
            buf[t] = part_gx
            gx_mean = block_sum(buf, t, NT) * inv_c
            for c in range(t, C, NT):
                xhat = (x[r, c] - mu) * rs
                gx[r, c] = (gy[r, c] * w[c] - g_mean - xhat * gx_mean) * rs
        for c in range(t, C, NT):
            pw[k, c], pb[k, c] = acc_w[c], acc_b[c]
    return backward_rows


def sum_width(NT):
    """Columns per block of backward_sum: NT/4, so that 4 groups of threads share a column."""
    return max(1, NT // 4)


@cached
def backward_sum_kernel(NT, ft):
    """A block adds up W = NT/4 columns: 4 groups of W threads split the partial rows
    (coalesced: a group reads W neighbouring columns), then the groups' sums are added."""
    W = sum_width(NT)
    G = NT // W                                        # groups of W threads
    zero = ft(0)

    @jit_for(ft)
    def backward_sum(pw, pb, gw, gb):
        # pw, pb (n_blocks, C) -> gw, gb (C,): the sums over the partial rows, in order
        t = cuda.threadIdx.x
        j, grp = t % W, t // W
        c = cuda.blockIdx.x * W + j
        C = gw.shape[0]
        sw = cuda.shared.array(NT, ft)
        sb = cuda.shared.array(NT, ft)
        part_w, part_b = zero, zero
        if c < C:
            for i in range(grp, pw.shape[0], G):
                part_w += pw[i, c]
                part_b += pb[i, c]
        sw[t], sb[t] = part_w, part_b
        cuda.syncthreads()
        if grp == 0 and c < C:
            for i in range(1, G):
                part_w += sw[i * W + j]
                part_b += sb[i * W + j]
            gw[c], gb[c] = part_w, part_b
    return backward_sum



def shared_columns(C, NT):
    """Columns the backward's shared accumulators hold: C rounded up to a multiple of NT
    (one compiled kernel per model width)."""
    return NT * max(1, math.ceil(C / NT))


def fits(C, dtype, n_threads=None) -> bool:
    """Whether rows of C values fit the kernel (see check_width); the dispatch sends wider
    ones to the CPU kernel's xp code."""
    NT = threads(n_threads)
    return (2 * shared_columns(C, NT) + NT) * np.dtype(dtype).itemsize <= SHARED_BYTES


def check_width(C, NT, dtype):
    """A clear error where backward_rows' two accumulators of C values (and its NT-value
    reduction buffer) would not fit a block's shared memory: C above 6016 in float32
    at 128 threads (GPT-2 XL has 1600)."""
    if (2 * shared_columns(C, NT) + NT) * np.dtype(dtype).itemsize > SHARED_BYTES:
        most = (SHARED_BYTES // np.dtype(dtype).itemsize - NT) // 2 // NT * NT
        raise ValueError(f"layer_norm: the CUDA kernel takes at most {most} columns in "
                         f"{np.dtype(dtype)} (its gw, gb sums live in shared memory), "
                         f"got C = {C}")


class CudaLayerNorm(Function):
    def __init__(self, eps=1e-5, n_threads=None, n_rows_per_block=None):
        self.eps, self.nt, self.rows_per_block = eps, threads(n_threads), n_rows_per_block

    def forward(self, x, weight, bias=None):
        xp, C = self.xp, x.shape[-1]
        self.shape = x.shape
        self.x = xp.ascontiguousarray(x.reshape(-1, C))          # (..., C) -> (N, C)
        self.w = weight
        b = bias if bias is not None else xp.zeros_like(weight)
        N, ft = self.x.shape[0], float_type(x.dtype)
        check_width(C, self.nt, x.dtype)
        y = xp.empty_like(self.x)
        self.mean, self.rstd = xp.empty(N, x.dtype), xp.empty(N, x.dtype)
        if N:                                     # a grid of 0 blocks is a CUDA launch error
            launch(forward_kernel(self.nt, ft), N, self.nt,
                   self.x, weight, b, x.dtype.type(self.eps), y, self.mean, self.rstd)
        return y.reshape(self.shape)                             # (N, C) -> (..., C)

    def backward(self, gy):
        xp, x, nt = self.xp, self.x, self.nt
        (N, C), ft = x.shape, float_type(x.dtype)
        gy = xp.ascontiguousarray(gy.reshape(x.shape))           # (..., C) -> (N, C)
        R = rows_per_block(N, self.rows_per_block)
        n_blocks = math.ceil(N / R)
        gx, gw, gb = xp.empty_like(x), xp.empty_like(self.w), xp.empty_like(self.w)
        pw, pb = xp.empty((n_blocks, C), x.dtype), xp.empty((n_blocks, C), x.dtype)
        if N:                                     # a grid of 0 blocks is a CUDA launch error
            launch(backward_rows_kernel(nt, shared_columns(C, nt), ft), n_blocks, nt,
                   x, self.w, gy, self.mean, self.rstd, R, gx, pw, pb)
            launch(backward_sum_kernel(nt, ft), math.ceil(C / sum_width(nt)), nt,
                   pw, pb, gw, gb)
        else:
            gw[...], gb[...] = 0, 0
        return (gx.reshape(self.shape), gw, gb)[:len(self.needs_input_grad)]


def layer_norm(x, weight, bias=None, eps=1e-5, n_threads=None, n_rows_per_block=None):
    """The CUDA LayerNorm with the arguments of `tinytx.kernels.layer_norm.layer_norm`."""
    op = CudaLayerNorm(eps, n_threads, n_rows_per_block)
    return op(x, weight) if bias is None else op(x, weight, bias)


def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched (GPU sizes: 128 threads, C = 768 as GPT-2 small's n_embd): what
    tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    import numba
    ft = numba.from_dtype(np.dtype(dtype))
    n2, n1, i = ft[:, ::1], ft[::1], numba.int64
    yield "layer_norm.forward", forward_kernel(128, ft), (n2, n1, n1, ft, n2, n1, n1)
    yield ("layer_norm.backward_rows", backward_rows_kernel(128, shared_columns(768, 128), ft),
           (n2, n1, n2, n1, n1, i, n2, n2, n2))
    yield "layer_norm.backward_sum", backward_sum_kernel(128, ft), (n2, n2, n1, n1)
