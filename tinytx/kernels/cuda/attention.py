"""Softmax attention on the GPU, FlashAttention-2 style (mirrors kernels/attention.py and
kernels/flash_attention.py; introduced in lesson 04, drawn and derived in docs/cuda.md).

Forward: a thread block owns a tile of BQ query rows (one thread per row) and streams the
keys and values through shared memory BK rows at a time. For each key tile, a thread
computes its row's scores s_j = c·q·k_j (allowed keys only), their maximum, and updates
the online softmax (m running max, l denominator, a accumulator):
    m' = max(m, max_j s_j),  α = exp(m − m'),  l = α·l + Σ_j exp(s_j − m'),
    a  = α·a + Σ_j exp(s_j − m')·v_j,  m = m'
and finally o = a / l and L = m + log l (the row's log-sum-exp, saved for backward). A row
with no allowed key gets o = 0 and L = +inf. Causal: a block stops after the last key its
last row may see (j <= i + Tk − Tq), so tiles above the diagonal are never loaded.

Backward recomputes P_ij = exp(c·q_i·k_j − L_i) tile by tile, with δ_i = Σ_d dO_id·O_id:
    dP_ij = dO_i·v_j,   dS_ij = P_ij (dP_ij − δ_i)
    dQ_i = c Σ_j dS_ij k_j                   (kernel `dq`: a block per query tile)
    dK_j = c Σ_i dS_ij q_i,  dV_j = Σ_i P_ij dO_i   (kernel `dkv`: a block per key tile)
Two kernels instead of FlashAttention-2's atomic adds into dQ: each output row is written
by exactly one thread, so the result is deterministic (the price: P is recomputed twice).
A fully masked row has L = +inf, so P = 0 and every gradient through it is 0.

Masks: `is_causal` and/or a key-padding mask (bool "may attend", broadcastable to
(B, H, 1, Tk)). Cosine similarity normalises q and k before the op (as on the CPU).
Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> (B, H, Tq, Dv)
"""
from __future__ import annotations

import math

from ...function import Function
from ..attention import _as_tensor, prepare
from .common import cached, float_type, grid, launch, numba_cuda, tile

cuda = numba_cuda()
INF = math.inf


def key_end(i_last, Tq, Tk, causal):
    """The number of keys a block must visit: all, or up to its last row's diagonal."""
    if not causal:
        return Tk
    return min(Tk, max(i_last + Tk - Tq + 1, 0))


def load_kv(k, v, n, j0, t, n_threads, k_tile, v_tile):
    """Thread t of the block copies rows t, t + n_threads, … of the key/value tile that
    starts at key j0 into shared memory (rows past Tk repeat the last key, never used)."""
    Tk = k.shape[1]
    for jj in range(t, k_tile.shape[0], n_threads):
        j = min(j0 + jj, Tk - 1)
        for d in range(k_tile.shape[1]):
            k_tile[jj, d] = k[n, j, d]
        for d in range(v_tile.shape[1]):
            v_tile[jj, d] = v[n, j, d]


load_kv_dev = cuda.jit(device=True, inline="always")(load_kv)
key_end_dev = cuda.jit(device=True, inline="always")(key_end)


@cached
def forward_kernel(BQ, BK, D, DV, ft, causal, masked):
    @cuda.jit
    def forward(q, k, v, kmask, scale, o, lse):
        # q (N, Tq, D), k (N, Tk, D), v (N, Tk, DV), kmask (N, Tk) uint8 -> o (N, Tq, DV), lse (N, Tq)
        n, t = cuda.blockIdx.y, cuda.threadIdx.x
        Tq, Tk = q.shape[1], k.shape[1]
        i = cuda.blockIdx.x * BQ + t                     # this thread's query row
        live = i < Tq
        k_tile = cuda.shared.array((BK, D), ft)
        v_tile = cuda.shared.array((BK, DV), ft)
        q_row = cuda.local.array(D, ft)
        acc = cuda.local.array(DV, ft)
        s = cuda.local.array(BK, ft)
        for d in range(D):
            q_row[d] = q[n, i, d] * scale if live else 0
        for d in range(DV):
            acc[d] = 0
        m, l = -INF, 0.0
        last = min(cuda.blockIdx.x * BQ + BQ, Tq) - 1
        for j0 in range(0, key_end_dev(last, Tq, Tk, causal), BK):
            load_kv_dev(k, v, n, j0, t, BQ, k_tile, v_tile)   # the block loads the tile
            cuda.syncthreads()
            if live:
                m_tile = -INF
                for jj in range(BK):                     # scores of the allowed keys
                    j = j0 + jj
                    s[jj] = -INF
                    if j < Tk and (not causal or j <= i + Tk - Tq) and (not masked or kmask[n, j]):
                        dot = 0.0
                        for d in range(D):
                            dot += q_row[d] * k_tile[jj, d]
                        s[jj] = dot
                        m_tile = max(m_tile, dot)
                if m_tile > -INF:                        # online softmax update
                    m_new = max(m, m_tile)
                    alpha = math.exp(m - m_new) if m > -INF else 0.0
                    l *= alpha
                    for d in range(DV):
                        acc[d] *= alpha
                    for jj in range(BK):
                        if s[jj] > -INF:
                            p = math.exp(s[jj] - m_new)
                            l += p
                            for d in range(DV):
                                acc[d] += p * v_tile[jj, d]
                    m = m_new
            cuda.syncthreads()                           # the tile is read before reloading
        if live:
            for d in range(DV):
                o[n, i, d] = acc[d] / l if l > 0 else 0
            lse[n, i] = m + math.log(l) if l > 0 else INF
    return forward


@cached
def dq_kernel(BQ, BK, D, DV, ft, causal, masked):
    @cuda.jit
    def dq(q, k, v, kmask, scale, do, lse, delta, dq_out):
        # a block per query tile, a thread per query row: dQ_i = c Σ_j dS_ij k_j
        n, t = cuda.blockIdx.y, cuda.threadIdx.x
        Tq, Tk = q.shape[1], k.shape[1]
        i = cuda.blockIdx.x * BQ + t
        live = i < Tq
        k_tile = cuda.shared.array((BK, D), ft)
        v_tile = cuda.shared.array((BK, DV), ft)
        q_row = cuda.local.array(D, ft)
        do_row = cuda.local.array(DV, ft)
        acc = cuda.local.array(D, ft)
        for d in range(D):
            q_row[d] = q[n, i, d] * scale if live else 0
            acc[d] = 0
        for d in range(DV):
            do_row[d] = do[n, i, d] if live else 0
        L = lse[n, i] if live else INF
        dl = delta[n, i] if live else 0.0
        last = min(cuda.blockIdx.x * BQ + BQ, Tq) - 1
        for j0 in range(0, key_end_dev(last, Tq, Tk, causal), BK):
            load_kv_dev(k, v, n, j0, t, BQ, k_tile, v_tile)   # the block loads the tile
            cuda.syncthreads()
            if live and L < INF:
                for jj in range(BK):
                    j = j0 + jj
                    if j < Tk and (not causal or j <= i + Tk - Tq) and (not masked or kmask[n, j]):
                        sc, dp = 0.0, 0.0
                        for d in range(D):
                            sc += q_row[d] * k_tile[jj, d]
                        for d in range(DV):
                            dp += do_row[d] * v_tile[jj, d]
                        ds = math.exp(sc - L) * (dp - dl)   # dS = P (dP − δ)
                        for d in range(D):
                            acc[d] += ds * k_tile[jj, d]
            cuda.syncthreads()
        if live:
            for d in range(D):
                dq_out[n, i, d] = acc[d] * scale
    return dq


@cached
def dkv_kernel(BQ, BK, D, DV, ft, causal, masked):
    @cuda.jit
    def dkv(q, k, v, kmask, scale, do, lse, delta, dk, dv):
        # a block per key tile, a thread per key row: dK_j = c Σ_i dS_ij q_i, dV_j = Σ_i P_ij dO_i
        n, t = cuda.blockIdx.y, cuda.threadIdx.x
        Tq, Tk = q.shape[1], k.shape[1]
        j = cuda.blockIdx.x * BK + t
        live = j < Tk and (not masked or kmask[n, min(j, Tk - 1)])
        q_tile = cuda.shared.array((BQ, D), ft)
        do_tile = cuda.shared.array((BQ, DV), ft)
        stats = cuda.shared.array((BQ, 2), ft)           # L_i and δ_i of the tile's rows
        k_row = cuda.local.array(D, ft)
        v_row = cuda.local.array(DV, ft)
        dk_acc = cuda.local.array(D, ft)
        dv_acc = cuda.local.array(DV, ft)
        jr = min(j, Tk - 1)
        for d in range(D):
            k_row[d] = k[n, jr, d]
            dk_acc[d] = 0
        for d in range(DV):
            v_row[d] = v[n, jr, d]
            dv_acc[d] = 0
        first = 0                                        # causal: rows before the tile's
        if causal:                                       # first key never see it
            first = max(cuda.blockIdx.x * BK - (Tk - Tq), 0) // BQ * BQ
        for i0 in range(first, Tq, BQ):
            for ii in range(t, BQ, BK):
                i = min(i0 + ii, Tq - 1)
                for d in range(D):
                    q_tile[ii, d] = q[n, i, d] * scale
                for d in range(DV):
                    do_tile[ii, d] = do[n, i, d]
                stats[ii, 0] = lse[n, i]
                stats[ii, 1] = delta[n, i]
            cuda.syncthreads()
            if live:
                for ii in range(BQ):
                    i = i0 + ii
                    if i < Tq and (not causal or j <= i + Tk - Tq) and stats[ii, 0] < INF:
                        sc, dp = 0.0, 0.0
                        for d in range(D):
                            sc += q_tile[ii, d] * k_row[d]
                        for d in range(DV):
                            dp += do_tile[ii, d] * v_row[d]
                        p = math.exp(sc - stats[ii, 0])
                        ds = p * (dp - stats[ii, 1])
                        for d in range(D):
                            dk_acc[d] += ds * q_tile[ii, d]   # q_tile holds c·q
                        for d in range(DV):
                            dv_acc[d] += p * do_tile[ii, d]
            cuda.syncthreads()
        if j < Tk:
            for d in range(D):
                dk[n, j, d] = dk_acc[d]
            for d in range(DV):
                dv[n, j, d] = dv_acc[d]
    return dkv


class CudaAttention(Function):
    """softmax(c·QKᵀ, masked) V by the kernels above. Inputs q, k, v (B, H, T, D) of one
    shape apart from T and Dv; optional key mask (N, Tk) uint8 with N = B·H."""

    def __init__(self, scale, causal=False, block_q=None, block_k=None):
        self.scale, self.causal = float(scale), causal
        self.bq, self.bk = tile(block_q), tile(block_k)

    def _sizes(self, q, v, masked):
        return (self.bq, self.bk, q.shape[-1], v.shape[-1], float_type(q.dtype),
                self.causal, masked)

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
        kern = forward_kernel(*self._sizes(q, v, self.masked))
        launch(kern, (grid(Tq, self.bq), N), self.bq, self.q, self.k, self.v, self.kmask,
               self.scale, self.o, self.lse)
        return self.o.reshape(B, H, Tq, v.shape[-1])     # (N, Tq, Dv) -> (B, H, Tq, Dv)

    def backward(self, do):
        xp, q, k, v, o = self.xp, self.q, self.k, self.v, self.o
        do = xp.ascontiguousarray(do.reshape(o.shape))   # (B, H, Tq, Dv) -> (N, Tq, Dv)
        delta = (do * o).sum(axis=-1)                    # δ: (N, Tq)
        dq, dk, dv = xp.empty_like(q), xp.empty_like(k), xp.empty_like(v)
        sizes, N, args = self._sizes(q, v, self.masked), q.shape[0], (do, self.lse, delta)
        launch(dq_kernel(*sizes), (grid(q.shape[1], self.bq), N), self.bq,
               q, k, v, self.kmask, self.scale, *args, dq)
        launch(dkv_kernel(*sizes), (grid(k.shape[1], self.bk), N), self.bk,
               q, k, v, self.kmask, self.scale, *args, dk, dv)
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
    if (dropout_p and training) or q.ndim != 4 or q.dtype.kind != "f":
        return False
    if q.shape[:2] != k.shape[:2] or k.shape[:2] != v.shape[:2] or q.dtype.itemsize == 2:
        return False
    return mask is None or key_padding(mask, q.shape[:3] + (k.shape[2],)) is not None


def attention(q, k, v, mask=None, similarity="scaled_dot", dropout_p=0.0, training=True,
              is_causal=False, scale=None, block_size=None):
    """The CUDA kernel with the arguments of `tinytx.kernels.attention.attention`
    (dropout must be off; masks may vary over keys only; see `supports`)."""
    if dropout_p and training:
        raise NotImplementedError("cuda attention: attention dropout is not supported; "
                                  "use tinytx.kernels.attention.attention")
    q, k, c, mask = prepare(q, k, v, mask, similarity, scale, is_causal=False)
    bq, bk = (block_size, block_size) if not isinstance(block_size, tuple) else block_size
    op = CudaAttention(c, is_causal, bq, bk)
    if mask is None:
        return op(q, k, v)
    kmask = key_padding(mask, q.shape[:3] + (k.shape[2],))
    if kmask is None:
        raise ValueError(f"cuda attention: mask of shape {mask.shape} varies over queries; "
                         "the kernel takes key-padding masks (B, 1, 1, Tk) and is_causal")
    return op(q, k, v, _as_tensor(kmask, q.device))

def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched: what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    ft, n3, n2, u8, f = _types(dtype)
    for causal in (False, True):
        for masked in (False, True):
            sizes = (64, 64, 64, 64, ft, causal, masked)
            yield "attention.forward", forward_kernel(*sizes), (n3, n3, n3, u8, f, n3, n2)
            yield "attention.dq", dq_kernel(*sizes), (n3, n3, n3, u8, f, n3, n2, n2, n3)
            yield "attention.dkv", dkv_kernel(*sizes), (n3, n3, n3, u8, f, n3, n2, n2, n3, n3)


def _types(dtype):
    import numba
    ft = numba.from_dtype(dtype)
    return ft, ft[:, :, ::1], ft[:, ::1], numba.uint8[:, ::1], numba.float64
