"""The CUDA attention forward kernel: online softmax over key tiles, one launch.

Introduced in lesson 05 (tinytx/kernels/cuda/flash_attention.py has the formulas and the
tiles; docs/cuda.md draws them). A block per query tile (grid (Tq/BQ, N)); Q·c·log2(e)
stays in shared memory; per key tile: K, V in; S = Q Kᵀ; the row maximum over the TX
threads of a row through shared memory (numba's simulator has no warp shuffles); online
softmax m' = max(m, max S), α = 2^(m − m'), l = α l + Σ 2^(S − m'), O = α O + P̃ V with
P̃ staged in shared memory. 4 barriers per key tile. Saves L = m + log2 l per query.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .common import cached, numba_cuda
from .flash_attention_layout import cdiv, constants, options
from .flash_attention_tiles import (draw_keep, load_key_mask, load_rows, mask_tile, tile_ab,
                                    tile_abt)

cuda = numba_cuda()


@cached
def forward_kernel(BQ, BK, TY, TX, D, DV, ft, causal, masked, dropout):
    F, ZERO, ONE, MASK, NOKEY, L2E = constants(ft)
    NT, RQ, RK, CV = TY * TX, BQ // TY, BK // TX, cdiv(DV, TX)
    D1, VW, BK1 = D + 1, CV * TX, BK + 1                 # row widths: padded by one
    KEEP = (BQ, BK) if dropout else (1, 4)

    @cuda.jit(**options(NT, ft, masked and dropout))
    def forward(q, k, v, kmask, scale, key0, key1, thresh, inv_keep, o, lse):
        # q (N, Tq, D), k (N, Tk, D), v (N, Tk, DV), kmask (N, Tk) uint8
        #   -> o (N, Tq, DV), lse (N, Tq): a block per query tile
        n, t = cuda.blockIdx.y, cuda.threadIdx.x
        ty, tx = t // TX, t % TX
        Tq, Tk = q.shape[1], k.shape[1]
        off = Tk - Tq                                    # query i sees keys j <= i + off
        tq = cuda.gridDim.x - 1 - cuda.blockIdx.x if causal else cuda.blockIdx.x
        i0 = tq * BQ                                     # causal: the longest rows first
        qs = cuda.shared.array((BQ, D1), ft)
        ks = cuda.shared.array((BK, D1), ft)
        vs = cuda.shared.array((BK, VW), ft)
        ps = cuda.shared.array((BQ, BK1), ft)
        red = cuda.shared.array((BQ, TX), ft)            # per-thread row maxima, then sums
        kms = cuda.shared.array(BK, numba.uint8)
        keep = cuda.shared.array(KEEP, numba.uint8)
        s = cuda.local.array((RQ, RK), ft)
        acc = cuda.local.array((RQ, CV), ft)
        m = cuda.local.array(RQ, ft)
        l = cuda.local.array(RQ, ft)
        av = cuda.local.array(RQ, ft)
        k0, k1, th, inv = np.uint32(key0), np.uint32(key1), np.uint32(thresh), F(inv_keep)
        load_rows(q, n, i0, BQ, D, F(scale) * L2E, t, NT, qs)
        for r in range(RQ):
            m[r], l[r] = MASK, ZERO
            for c in range(CV):
                acc[r, c] = ZERO
        kend = min(Tk, max(min(i0 + BQ, Tq) + off, 0)) if causal else Tk
        for j0 in range(0, kend, BK):
            load_rows(k, n, j0, BK, D, ONE, t, NT, ks)
            load_rows(v, n, j0, BK, DV, ONE, t, NT, vs)
            if dropout:
                draw_keep(n, i0, j0, BQ, BK, k0, k1, th, t, NT, keep)
            edge = j0 + BK > Tk or (causal and j0 + BK - 1 > i0 + off)
            if masked:
                edge = load_key_mask(kmask, n, j0, BK, t, NT, kms) != 0 or edge
            else:
                cuda.syncthreads()
            tile_abt(s, qs, ks, D, ty, tx, TY, TX, RQ, RK, av)     # S = Q Kᵀ
            if edge:
                mask_tile(s, i0, j0, ty, tx, TY, TX, RQ, RK, Tk, off, causal, masked, kms, MASK)
            for r in range(RQ):
                top = s[r, 0]
                for c in range(1, RK):
                    top = max(top, s[r, c])
                red[ty + TY * r, tx] = top
            cuda.syncthreads()
            for r in range(RQ):                          # the online softmax update
                row = ty + TY * r
                m_new = m[r]
                for x in range(TX):
                    m_new = max(m_new, red[row, x])
                alpha = math.exp2(m[r] - m_new)
                l[r] *= alpha
                for c in range(CV):
                    acc[r, c] *= alpha
                for c in range(RK):
                    p = ZERO
                    if m_new > MASK:                     # else every key so far is masked
                        p = math.exp2(s[r, c] - m_new)
                    l[r] += p
                    if dropout and keep[row, tx + TX * c] == 0:
                        p = ZERO
                    ps[row, tx + TX * c] = p
                m[r] = m_new
            cuda.syncthreads()
            tile_ab(acc, ps, vs, BK, ty, tx, TY, TX, RQ, CV, av)   # O += P̃ V
            cuda.syncthreads()
        for r in range(RQ):                              # l: the sum over the row's threads
            red[ty + TY * r, tx] = l[r]
        cuda.syncthreads()
        for r in range(RQ):
            i = i0 + ty + TY * r
            total = ZERO
            for x in range(TX):
                total += red[ty + TY * r, x]
            w = inv / total if total > ZERO else ZERO
            if i < Tq:
                for c in range(CV):
                    if tx + TX * c < DV:
                        o[n, i, tx + TX * c] = acc[r, c] * w
                if tx == 0:
                    lse[n, i] = m[r] + math.log2(total) if total > ZERO else NOKEY
    return forward
