"""Softmax attention on the GPU, FlashAttention-2 style (mirrors kernels/attention.py;
introduced in lesson 04, drawn and derived in docs/cuda.md).

Per (batch·head) n, with c the scale, scores kept in base 2 (s = log2(e)·c·q·k, so that
exp becomes the GPU's exp2), Z the dropout mask and 1/(1-p) its scale:
    O = (Z/(1-p) ⊙ softmax(S)) V,  saved L_i = m_i + log2 l_i (the row's log-sum-exp)
    dV = P̃ᵀ dO,  dP = (dO Vᵀ) ⊙ Z/(1-p),  dS = P ⊙ (dP − δ),  δ_i = Σ_d dO_id O_id
    dQ = c dS K,  dK = c dSᵀ Q
Launches: forward 1 (`forward`); backward 2 (`delta` for δ, then `backward`).

Tiles and threads. A block owns a BQ × BK tile of scores, its TY × TX threads a micro-tile
each: thread (ty, tx) holds rows ty + TY·r and keys (or columns) tx + TX·c in registers,
for every product of the kernels. Operands sit in shared memory, rows padded by one so that
a warp reading one column of several rows hits distinct banks; global loads are coalesced
(consecutive threads, consecutive elements of a row).
  forward   a block per query tile (grid (Tq/BQ, N)); Q·c·log2(e) stays in shared memory;
            per key tile: K, V in; S = Q Kᵀ; the row maximum over the TX threads of a row
            through shared memory (numba's simulator has no warp shuffles); online softmax
            m' = max(m, max S), α = 2^(m − m'), l = α l + Σ 2^(S − m'), O = α O + P̃ V
            with P̃ staged in shared memory. 4 barriers per key tile.
  backward  FlashAttention-2's split: a block per key tile keeps K, V and its dK, dV rows;
            it streams the query tiles that can see its keys and computes S and dP once
            per (query tile, key tile) pair, P̃ and dS into shared memory, then
            dV += P̃ᵀ dO, dK += dSᵀ (cQ), and dQ += c dS K by atomic adds into dq (zeroed
            first). Atomics rather than a second pass: a second kernel would compute QKᵀ
            again, and partial dQ per key tile would need (Tk/BK) copies of dq. dK, dV are
            deterministic; dQ's float adds arrive in any order (last-bit differences run
            to run). 3 barriers per pair.
  delta     δ = rowsum(dO ⊙ O): R rows × CW lanes per block, a shared-memory sum.

Masks are tested only on edge tiles: the causal diagonal (j > i + Tk − Tq), the last
partial key tile, and in `masked` kernels a key tile with a padded key (found by the
barrier after the load, cuda.syncthreads_or). Causal tiles past a query tile's last
diagonal are never visited. Masked scores are a finite -1e30 (fastmath may assume no
infinities); a row with no allowed key gets O = 0 and L = 1e30, so P = 0 in backward.

Dropout: element (n, i, j) is kept when word j % 4 of Philox4x32-10((j // 4, i, n, 0),
key) is at least p·2³² (philox.py): drawn in the kernel into a BQ × BK byte tile, a
Philox call per 4 keys, and drawn again in backward instead of stored.

Float32 kernels compute in float32 only (typed constants, scalars cast at entry) with
fastmath, and launch bounds that hold them to 168 registers (3 blocks of 128 threads per
SM; 255 for key mask + dropout, which would spill at 168); float64 ones (for checks)
without either. Shared memory stays within 48 KB static: each dtype and head size takes
the first layout of FORWARD / BACKWARD that fits (`gpu_layout`), not dynamic shared memory.
Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> (B, H, Tq, Dv)
"""
from __future__ import annotations

import functools
import math

import numba
import numpy as np

from ...function import Function
from ..attention import _as_tensor, prepare
from . import philox
from .common import cached, float_type, grid, launch, numba_cuda, simulated, tile

cuda = numba_cuda()
MASKED, NO_KEY, LOG2E = -1e30, 1e30, 1.4426950408889634
SMEM = 48 * 1024
REG_CAP = 168                  # registers a thread (float32): 3 blocks of 128 threads per SM
# (BQ, BK, TY, TX), best first; the first whose shared memory and accumulators fit is used
FORWARD = ((64, 64, 16, 8), (64, 32, 16, 8), (32, 32, 16, 8), (32, 16, 16, 8),
           (16, 8, 16, 8), (8, 8, 8, 8))
BACKWARD = ((32, 64, 16, 8), (32, 32, 16, 8), (16, 32, 16, 8), (16, 16, 16, 8), (8, 8, 8, 8))
DELTA = (8, 16)                                   # rows per block, lanes per row (R, CW)

philox_dev = cuda.jit(device=True, inline="always")(philox.philox4x32)
dev = functools.partial(cuda.jit, device=True, inline="always")


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


# -- device functions: every thread of the block calls them ---------------------------------

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
    """acc[r, c] += Σ_x a[ty + TY·r, x] b[x, tx + TX·c]   (O += P̃ V, dQ = dS K)"""
    for x in range(depth):
        for r in range(RQ):
            av[r] = a[ty + TY * r, x]
        for c in range(C):
            y = b[x, tx + TX * c]
            for r in range(RQ):
                acc[r, c] += av[r] * y


@dev
def tile_atb(acc, a, b, depth, ty, tx, TY, TX, RQ, C, av):
    """acc[r, c] += Σ_x a[x, ty + TY·r] b[x, tx + TX·c]   (dV += P̃ᵀ dO, dK += dSᵀ Q)"""
    for x in range(depth):
        for r in range(RQ):
            av[r] = a[x, ty + TY * r]
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
            tile_atb(dv_acc, ps, dos, BQ, ty, tx, TY, TX, RJ, CV, aj)    # dV += P̃ᵀ dO
            tile_atb(dk_acc, dss, qs, BQ, ty, tx, TY, TX, RJ, CD, aj)     # dK += dSᵀ cQ
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


class CudaAttention(Function):
    """Dropout(softmax(c·QKᵀ, masked)) V by the kernels above. Inputs q, k, v (B, H, T, D)
    of one shape apart from T and Dv; optional key mask (N, Tk) uint8 with N = B·H.
    dropout_p > 0 drops with the Philox stream of `key` (an int, `Device.philox_key()`)."""

    def __init__(self, scale, causal=False, dropout_p=0.0, key=0, block=None):
        self.scale, self.causal, self.p, self.block = scale, causal, dropout_p, block
        self.key = philox.split_key(key)

    def _args(self, dtype):
        """The scalar arguments, typed as the kernel's: scale, key0, key1, thresh, inv_keep."""
        F = np.dtype(dtype).type
        return (F(self.scale), *self.key, philox.threshold(self.p), F(1 / (1 - self.p)))

    def _sizes(self, backward, q, v):
        D, DV = q.shape[-1], v.shape[-1]
        return (*layout(backward, D, DV, q.dtype.itemsize, self.block), D, DV,
                float_type(q.dtype), self.causal, self.masked, self.p > 0)

    def forward(self, q, k, v, kmask=None):
        xp = self.xp
        B, H, Tq, D = q.shape
        self.shape, N = q.shape, B * H
        # (B, H, T, D) -> (N, T, D): one grid row per (batch, head)
        self.q, self.k, self.v = (xp.ascontiguousarray(a.reshape(N, a.shape[2], a.shape[3]))
                                  for a in (q, k, v))
        self.kmask = kmask if kmask is not None else xp.ones((1, 1), dtype=xp.uint8)
        self.masked = kmask is not None
        self.o = xp.empty((N, Tq, v.shape[-1]), dtype=q.dtype)
        self.lse = xp.empty((N, Tq), dtype=q.dtype)
        sizes = self._sizes(False, q, v)
        BQ, NT = sizes[0], sizes[2] * sizes[3]
        launch(forward_kernel(*sizes), (grid(Tq, BQ), N), NT, self.q, self.k, self.v,
               self.kmask, *self._args(q.dtype), self.o, self.lse)
        return self.o.reshape(B, H, Tq, v.shape[-1])     # (N, Tq, Dv) -> (B, H, Tq, Dv)

    def backward(self, do):
        xp, q, k, v, o = self.xp, self.q, self.k, self.v, self.o
        do = xp.ascontiguousarray(do.reshape(o.shape))   # (B, H, Tq, Dv) -> (N, Tq, Dv)
        N, Tq, DV = o.shape
        delta = xp.empty((N, Tq), dtype=o.dtype)         # δ = rowsum(dO ⊙ O)
        R, CW = (2, 2) if simulated() else DELTA
        launch(delta_kernel(R, CW, DV, float_type(o.dtype)), grid(N * Tq, R), R * CW,
               o.reshape(N * Tq, DV), do.reshape(N * Tq, DV), delta.reshape(N * Tq))
        dq, dk, dv = xp.zeros_like(q), xp.empty_like(k), xp.empty_like(v)
        sizes = self._sizes(True, q, v)
        BK, NT = sizes[1], sizes[2] * sizes[3]
        launch(backward_kernel(*sizes), (grid(k.shape[1], BK), N), NT, q, k, v, self.kmask,
               *self._args(q.dtype), do, self.lse, delta, dq, dk, dv)
        B, H = self.shape[:2]
        grads = (dq.reshape(self.shape), dk.reshape(B, H, *k.shape[1:]),
                 dv.reshape(B, H, *v.shape[1:]), None)   # (N, T, D) -> (B, H, T, D)
        return grads[:len(self.needs_input_grad)]


def key_padding(mask, shape):
    """A "may attend" mask that varies only over keys -> (N, Tk) uint8 for the kernel, or
    None when it varies over queries (the kernel does not take such masks)."""
    m = mask.data
    B, H, Tq, Tk = shape
    m = m.reshape((1,) * (4 - m.ndim) + m.shape)          # -> 4-D, broadcastable
    if m.shape[-2] != 1:
        return None
    xp = mask.device.xp                                  # (.., 1, Tk) -> (N, Tk)
    return xp.ascontiguousarray(xp.broadcast_to(m, (B, H, 1, Tk)).reshape(B * H, Tk)
                                .astype(xp.uint8))


def supports(q, k, v, mask=None, dropout_p=0.0, training=True, **_):
    """Whether the CUDA kernel covers this call (else the caller uses the CPU fused op)."""
    if q.ndim != 4 or q.dtype not in (np.float32, np.float64) or not 0 <= dropout_p < 1:
        return False
    if q.shape[:2] != k.shape[:2] or k.shape[:2] != v.shape[:2]:
        return False
    D, DV, size = q.shape[-1], v.shape[-1], q.dtype.itemsize
    if not simulated() and None in (gpu_layout(False, D, DV, size), gpu_layout(True, D, DV, size)):
        return False                                     # no layout fits: huge head sizes
    return mask is None or key_padding(mask, q.shape[:3] + (k.shape[2],)) is not None


def attention(q, k, v, mask=None, similarity="scaled_dot", dropout_p=0.0, training=True,
              is_causal=False, scale=None, block_size=None):
    """The CUDA kernels with the arguments of `tinytx.kernels.attention.attention` (masks
    may vary over keys only; see `supports`). Dropout draws a fresh Philox key from the
    device's generator (`Device.philox_key`: on the host, no wait for the device).
    block_size: tiles (BQ, BK) or one int for both (BK a multiple of 4); default per
    dtype and head size (`gpu_layout`), or 4 in numba's simulator."""
    if not 0 <= dropout_p < 1:
        raise ValueError(f"cuda attention: dropout_p must be in [0, 1), got {dropout_p}")
    q, k, c, mask = prepare(q, k, v, mask, similarity, scale, is_causal=False)
    p = dropout_p if training else 0.0
    block = (block_size, block_size) if isinstance(block_size, int) else block_size
    op = CudaAttention(c, is_causal, p, q.device.philox_key() if p > 0 else 0, block)
    if mask is None:
        return op(q, k, v)
    kmask = key_padding(mask, q.shape[:3] + (k.shape[2],))
    if kmask is None:
        raise ValueError(f"cuda attention: mask of shape {mask.shape} varies over queries; "
                         "the kernel takes key-padding masks (B, 1, 1, Tk) and is_causal")
    return op(q, k, v, _as_tensor(kmask, q.device))


def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched (GPU layouts; head sizes 32, 64, 128; causal, masked, dropout):
    what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    ft = numba.from_dtype(dtype)
    n3, n2, n1, u8, u4 = ft[:, :, ::1], ft[:, ::1], ft[::1], numba.uint8[:, ::1], numba.uint32
    scalars = (ft, u4, u4, u4, ft)
    for D in (32, 64, 128):
        yield f"attention.delta.d{D}", delta_kernel(*DELTA, D, ft), (n2, n2, n1)
        for causal in (False, True):
            for masked in (False, True):
                for dropout in (False, True):
                    flags = (ft, causal, masked, dropout)
                    tag = f"d{D}" + "".join(f".{name}" for name, on in zip(
                        ("causal", "masked", "dropout"), flags[1:]) if on)
                    fwd = gpu_layout(False, D, D, dtype.itemsize) + (D, D) + flags
                    bwd = gpu_layout(True, D, D, dtype.itemsize) + (D, D) + flags
                    yield (f"attention.forward.{tag}", forward_kernel(*fwd),
                           (n3, n3, n3, u8, *scalars, n3, n2))
                    yield (f"attention.backward.{tag}", backward_kernel(*bwd),
                           (n3, n3, n3, u8, *scalars, n3, n2, n2, n3, n3, n3))
