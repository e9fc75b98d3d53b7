"""The CUDA attention backward kernels: δ = rowsum(dO ⊙ O), then dQ, dK, dV per key tile.

Introduced in lesson 05 (tinytx/kernels/cuda/flash_attention.py has the formulas and the
tiles; docs/cuda.md draws them). Two launches:
  delta     δ = rowsum(dO ⊙ O): R rows × CW lanes per block, a shared-memory sum.
  backward  FlashAttention-2's split: a block per key tile keeps K, V and its dK, dV rows;
            it streams the query tiles that can see its keys and computes S and dP once
            per (query tile, key tile) pair, P̃ and dS into shared memory, then
            dV += P̃ᵀ dO, dK += dSᵀ (cQ), and dQ += c dS K by atomic adds into dq (zeroed
            first). Atomics rather than a second pass: a second kernel would compute QKᵀ
            again, and partial dQ per key tile would need (Tk/BK) copies of dq. dK, dV are
            deterministic; dQ's float adds arrive in any order (last-bit differences run
            to run). 3 barriers per pair. P is recomputed from the saved L as 2^(S − L),
            and the dropout mask drawn again, not stored.
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
def backward_kernel(BQ, BK, TY, TX, D, DV, ft, causal, masked, dropout):
    F, ZERO, ONE, MASK, NOKEY, L2E = constants(ft)
    NT, RQ, RK, RJ, CD, CV = TY * TX, BQ // TY, BK // TX, BK // TY, cdiv(D, TX), cdiv(DV, TX)
    KW, DV1, BK1 = max(D + 1, CD * TX), DV + 1, BK + 1   # row widths: padded by one, and
    QW, OW = KW, max(DV + 1, CV * TX)                    # room for every thread's columns
    KEEP = (BQ, BK) if dropout else (1, 4)

    @cuda.jit(**options(NT, ft, masked and dropout))
    def backward(q, k, v, kmask, scale, key0, key1, thresh, inv_keep, do, lse, delta, dq, dk, dv):
        # a block per key tile: dK, dV of its keys; dQ by atomic adds into dq (zeroed)
        n, t = cuda.blockIdx.y, cuda.threadIdx.x
        ty, tx = t // TX, t % TX
        Tq, Tk = q.shape[1], k.shape[1]
        off = Tk - Tq
        j0 = cuda.blockIdx.x * BK
        ks = cuda.shared.array((BK, KW), ft)
        vs = cuda.shared.array((BK, DV1), ft)
        qs = cuda.shared.array((BQ, QW), ft)          # c·Q
        dos = cuda.shared.array((BQ, OW), ft)
        ls = cuda.shared.array(BQ, ft)
        dls = cuda.shared.array(BQ, ft)
        ps = cuda.shared.array((BQ, BK1), ft)         # P̃ = P ⊙ Z/(1-p)
        dss = cuda.shared.array((BQ, BK1), ft)        # dS
        kms = cuda.shared.array(BK, numba.uint8)
        keep = cuda.shared.array(KEEP, numba.uint8)
        s = cuda.local.array((RQ, RK), ft)
        dp = cuda.local.array((RQ, RK), ft)
        dk_acc = cuda.local.array((RJ, CD), ft)
        dv_acc = cuda.local.array((RJ, CV), ft)
        dq_acc = cuda.local.array((RQ, CD), ft)
        av = cuda.local.array(RQ, ft)
        aj = cuda.local.array(RJ, ft)
        c = F(scale)
        k0, k1, th, inv = np.uint32(key0), np.uint32(key1), np.uint32(thresh), F(inv_keep)
        load_rows(k, n, j0, BK, D, ONE, t, NT, ks)
        load_rows(v, n, j0, BK, DV, ONE, t, NT, vs)
        padded = False
        if masked:
            padded = load_key_mask(kmask, n, j0, BK, t, NT, kms) != 0
        for r in range(RJ):
            for x in range(CD):
                dk_acc[r, x] = ZERO
            for x in range(CV):
                dv_acc[r, x] = ZERO
        first = max(j0 - off, 0) // BQ * BQ if causal else 0   # earlier rows never see j0
        for i0 in range(first, Tq, BQ):
            load_rows(q, n, i0, BQ, D, c, t, NT, qs)
            load_rows(do, n, i0, BQ, DV, ONE, t, NT, dos)
            for ii in range(t, BQ, NT):                  # rows past Tq: P = 0, δ = 0
                ls[ii], dls[ii] = NOKEY, ZERO
                if i0 + ii < Tq:
                    ls[ii], dls[ii] = lse[n, i0 + ii], delta[n, i0 + ii]
            if dropout:
                draw_keep(n, i0, j0, BQ, BK, k0, k1, th, t, NT, keep)
            cuda.syncthreads()
            tile_abt(s, qs, ks, D, ty, tx, TY, TX, RQ, RK, av)       # S = cQ Kᵀ
            tile_abt(dp, dos, vs, DV, ty, tx, TY, TX, RQ, RK, av)    # dP̃ = dO Vᵀ
            if padded or j0 + BK > Tk or (causal and j0 + BK - 1 > i0 + off):
                mask_tile(s, i0, j0, ty, tx, TY, TX, RQ, RK, Tk, off, causal, masked, kms, MASK)
            for r in range(RQ):
                row = ty + TY * r
                for x in range(RK):
                    col = tx + TX * x
                    p = math.exp2(s[r, x] * L2E - ls[row])         # P = 2^(S − L)
                    g = dp[r, x]
                    if dropout:
                        z = inv if keep[row, col] != 0 else ZERO
                        ps[row, col] = p * z
                        g *= z
                    else:
                        ps[row, col] = p
                    dss[row, col] = p * (g - dls[row])           # dS = P (dP − δ)
            cuda.syncthreads()
            tile_ab(dv_acc, ps.T, dos, BQ, ty, tx, TY, TX, RJ, CV, aj)    # dV += P̃ᵀ dO
            tile_ab(dk_acc, dss.T, qs, BQ, ty, tx, TY, TX, RJ, CD, aj)    # dK += dSᵀ cQ
            for r in range(RQ):
                for x in range(CD):
                    dq_acc[r, x] = ZERO
            tile_ab(dq_acc, dss, ks, BK, ty, tx, TY, TX, RQ, CD, av)      # dQ = dS K
            for r in range(RQ):
                i = i0 + ty + TY * r
                for x in range(CD):
                    if i < Tq and tx + TX * x < D:
                        cuda.atomic.add(dq, (n, i, tx + TX * x), dq_acc[r, x] * c)
            cuda.syncthreads()
        for r in range(RJ):
            j = j0 + ty + TY * r
            if j < Tk:
                for x in range(CD):
                    if tx + TX * x < D:
                        dk[n, j, tx + TX * x] = dk_acc[r, x]
                for x in range(CV):
                    if tx + TX * x < DV:
                        dv[n, j, tx + TX * x] = dv_acc[r, x]
    return backward


@cached
def delta_kernel(R, CW, DV, ft):
    F, ZERO = constants(ft)[:2]

    @cuda.jit(fastmath=ft == numba.float32)
    def delta(o, do, out):
        # o, do (M, DV) -> out (M,) = rowsum(o ⊙ do): R rows × CW lanes per block
        t = cuda.threadIdx.x
        rr, lane = t // CW, t % CW
        i = cuda.blockIdx.x * R + rr
        buf = cuda.shared.array((R, CW), ft)
        part = ZERO
        if i < o.shape[0]:
            for d in range(lane, DV, CW):
                part += o[i, d] * do[i, d]
        buf[rr, lane] = part
        cuda.syncthreads()
        if lane == 0 and i < o.shape[0]:
            total = ZERO
            for x in range(CW):
                total += buf[rr, x]
            out[i] = total
    return delta
