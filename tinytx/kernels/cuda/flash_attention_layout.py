"""The CUDA attention kernels' layouts: tile sizes, shared memory, registers, compile options.

Introduced in lesson 05 with the kernels (tinytx/kernels/cuda/flash_attention.py, whose
docstring draws the tiles; docs/cuda.md derives the sizes). A layout is (BQ, BK, TY, TX):
a block owns a BQ × BK tile of scores and has TY × TX threads. Each dtype and head size
takes the first layout of FORWARD / BACKWARD whose static shared memory fits in 48 KB and
whose accumulators fit in 96 registers (`gpu_layout`); numba's simulator takes tiles of 4
and 2 × 2 threads, so that a test crosses several tiles at tiny sizes (`layout`).
"""
from __future__ import annotations

import functools
import math

import numba
import numpy as np

from .common import simulated, tile

MASKED, NO_KEY, LOG2E = -1e30, 1e30, 1.4426950408889634
SMEM = 48 * 1024
REG_CAP = 168                  # registers a thread (float32): 3 blocks of 128 threads per SM
# (BQ, BK, TY, TX), best first; the first whose shared memory and accumulators fit is used
FORWARD = ((64, 64, 16, 8), (64, 32, 16, 8), (32, 32, 16, 8), (32, 16, 16, 8),
           (16, 8, 16, 8), (8, 8, 8, 8))
BACKWARD = ((32, 64, 16, 8), (32, 32, 16, 8), (16, 32, 16, 8), (16, 16, 16, 8), (8, 8, 8, 8))
DELTA = (8, 16)                                   # rows per block, lanes per row (R, CW)


def cdiv(a, b):
    return -(-a // b)


def smem_bytes(backward, BQ, BK, TX, D, DV, size):
    """Static shared memory of a kernel with this layout (with the masks' bytes)."""
    CD, CV = cdiv(D, TX), cdiv(DV, TX)
    if backward:                                  # ks vs qs dos, ls dls, ps dss
        words = ((BK + BQ) * max(D + 1, CD * TX) + BK * (DV + 1) + BQ * max(DV + 1, CV * TX)
                 + 2 * BQ + 2 * BQ * (BK + 1))
    else:                                         # qs ks, vs, ps, red
        words = (BQ + BK) * (D + 1) + BK * CV * TX + BQ * (BK + 1) + BQ * TX
    return words * size + BK + BQ * BK


def registers(backward, BQ, BK, TY, TX, D, DV, size):
    """32-bit registers of a thread's accumulators."""
    RQ, RK, CD, CV = BQ // TY, BK // TX, cdiv(D, TX), cdiv(DV, TX)
    if backward:                                  # dK, dV rows + max(S and dP, dQ)
        return (BK // TY * (CD + CV) + max(2 * RQ * RK, RQ * CD)) * size // 4
    return RQ * (RK + CV) * size // 4             # S and O


@functools.lru_cache(maxsize=None)
def gpu_layout(backward, D, DV, size):
    """The first (BQ, BK, TY, TX) of BACKWARD or FORWARD within 48 KB of shared memory
    and 96 registers of accumulators, or None when none fits (huge head sizes)."""
    for BQ, BK, TY, TX in BACKWARD if backward else FORWARD:
        if (smem_bytes(backward, BQ, BK, TX, D, DV, size) <= SMEM
                and registers(backward, BQ, BK, TY, TX, D, DV, size) <= 96):
            return BQ, BK, TY, TX
    return None


def layout(backward, D, DV, size, block=None):
    """The layout a call uses: `block` (BQ, BK) or (BQ, BK, TY, TX) if given, tiles of 4
    and 2 × 2 threads in numba's simulator, else `gpu_layout`."""
    if block is None and not simulated():
        return gpu_layout(backward, D, DV, size)
    BQ, BK = (block or (tile(), tile()))[:2]
    cap_y, cap_x = (2, 2) if simulated() else (16, 8)
    TY, TX = (block[2:] if block and len(block) == 4
              else (math.gcd(BQ, BK, cap_y), math.gcd(BK, cap_x)))
    if BK % 4 or BQ % TY or BK % TY or BK % TX:
        raise ValueError(f"cuda attention: block {block} needs BK a multiple of 4 (a Philox "
                         f"call gives 4 keys) and TY dividing BQ and BK, TX dividing BK")
    if not simulated() and smem_bytes(backward, BQ, BK, TX, D, DV, size) > SMEM:
        raise ValueError(f"cuda attention: block {block} needs more than 48 KB of shared "
                         f"memory at head size {D}; take smaller tiles or the default")
    return BQ, BK, TY, TX


def options(NT, ft, heavy=False):
    """cuda.jit's options: fastmath for float32, and launch bounds (threads per block,
    blocks per SM) that cap float32 kernels at 168 registers a thread, 3 blocks of 128
    threads per SM; `heavy` ones (key mask and dropout together) at 255, 2 blocks, where
    168 would spill. float64 kernels (for checks) take what they need; the simulator takes
    no bounds."""
    f32 = ft == numba.float32
    if simulated():
        return dict(fastmath=f32)
    cap = 255 if heavy or not f32 else REG_CAP
    return dict(fastmath=f32, launch_bounds=(NT, max(1, 65536 // (NT * cap))))


def constants(ft):
    """The kernels' typed constants: float32 kernels never see a float64."""
    F = np.float32 if ft == numba.float32 else np.float64
    return F, F(0), F(1), F(MASKED), F(NO_KEY), F(LOG2E)
