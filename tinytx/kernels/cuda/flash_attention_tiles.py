"""The CUDA attention kernels' device functions: loading tiles, drawing dropout, tile
products, masking.

Introduced in lesson 05 with the kernels (tinytx/kernels/cuda/flash_attention.py). Every
thread of a block calls each of them; thread (ty, tx) of a TY × TX block holds rows
ty + TY·r and keys (or columns) tx + TX·c of a tile in registers. They are inlined into
the kernels (`inline="always"`), so a float32 kernel stays float32 through them.
"""
from __future__ import annotations

import functools

import numpy as np

from . import philox
from .common import numba_cuda

cuda = numba_cuda()
philox_dev = cuda.jit(device=True, inline="always")(philox.philox4x32)
dev = functools.partial(cuda.jit, device=True, inline="always")


@dev
def load_rows(src, n, r0, R, C, scale, t, nt, dst):
    """dst[:R, :C] = scale · src[n, r0:r0 + R] (rows past the end are 0), coalesced."""
    T = src.shape[1]
    for e in range(t, R * C, nt):
        r, c = e // C, e % C
        if r0 + r < T:
            dst[r, c] = src[n, r0 + r, c] * scale
        else:
            dst[r, c] = 0


@dev
def load_key_mask(kmask, n, j0, BK, t, nt, kms):
    """kms[:BK] = the keys' "may attend" bytes; -> nonzero when one of them is 0. Ends
    with the block's barrier."""
    padded = 0
    for jj in range(t, BK, nt):
        allowed = 1
        if j0 + jj < kmask.shape[1]:
            allowed = kmask[n, j0 + jj]
        kms[jj] = allowed
        if allowed == 0:
            padded = 1
    return cuda.syncthreads_or(padded)


@dev
def draw_keep(n, i0, j0, BQ, BK, k0, k1, thresh, t, nt, keep):
    """keep[:BQ, :BK] = whether element (n, i0 + r, j0 + c) survives dropout: a Philox
    call per 4 keys, on counter (j // 4, i, n, 0)."""
    quads = BK // 4
    for e in range(t, BQ * quads, nt):
        r, g = e // quads, e % quads
        w0, w1, w2, w3 = philox_dev(np.uint32(j0 // 4 + g), np.uint32(i0 + r), np.uint32(n),
                                    np.uint32(0), k0, k1)
        keep[r, 4 * g] = w0 >= thresh
        keep[r, 4 * g + 1] = w1 >= thresh
        keep[r, 4 * g + 2] = w2 >= thresh
        keep[r, 4 * g + 3] = w3 >= thresh


@dev
def tile_abt(acc, a, b, depth, ty, tx, TY, TX, RQ, RK, av):
    """acc[r, c] = Σ_d a[ty + TY·r, d] b[tx + TX·c, d]   (S = Q Kᵀ, dP = dO Vᵀ)"""
    for r in range(RQ):
        for c in range(RK):
            acc[r, c] = 0
    for d in range(depth):
        for r in range(RQ):
            av[r] = a[ty + TY * r, d]
        for c in range(RK):
            y = b[tx + TX * c, d]
            for r in range(RQ):
                acc[r, c] += av[r] * y


@dev
def tile_ab(acc, a, b, depth, ty, tx, TY, TX, RQ, C, av):
    """acc[r, c] += Σ_x a[ty + TY·r, x] b[x, tx + TX·c]   (O += P̃ V, dQ = dS K; with
    a = P̃ᵀ or dSᵀ, a transposed view: dV += P̃ᵀ dO, dK += dSᵀ Q)"""
    for x in range(depth):
        for r in range(RQ):
            av[r] = a[ty + TY * r, x]
        for c in range(C):
            y = b[x, tx + TX * c]
            for r in range(RQ):
                acc[r, c] += av[r] * y


@dev
def mask_tile(s, i0, j0, ty, tx, TY, TX, RQ, RK, Tk, off, causal, masked, kms, fill):
    """s[r, c] = fill where key j may not be seen by query i (an edge tile only)."""
    for r in range(RQ):
        for c in range(RK):
            j = j0 + tx + TX * c
            if (j >= Tk or (causal and j > i0 + ty + TY * r + off)
                    or (masked and kms[tx + TX * c] == 0)):
                s[r, c] = fill

