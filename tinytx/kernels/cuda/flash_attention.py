"""Softmax attention on the GPU, FlashAttention-2 style (mirrors kernels/flash_attention.py
and kernels/softmax_attention.py; introduced in lesson 05, drawn and derived in docs/cuda.md).

Per (batch·head) n, with c the scale, scores kept in base 2 (s = log2(e)·c·q·k, so that
exp becomes the GPU's exp2), Z the dropout mask and 1/(1-p) its scale:
    O = (Z/(1-p) ⊙ softmax(S)) V,  saved L_i = m_i + log2 l_i (the row's log-sum-exp)
    dV = P̃ᵀ dO,  dP = (dO Vᵀ) ⊙ Z/(1-p),  dS = P ⊙ (dP − δ),  δ_i = Σ_d dO_id O_id
    dQ = c dS K,  dK = c dSᵀ Q
Launches: forward 1 (`forward`); backward 2 (`delta` for δ, then `backward`).

The files:
    flash_attention.py           this one: the op (CudaAttention), the key-padding mask,
                                 `supports`, `attention` (the dispatch's entry)
    flash_attention_layout.py    tile sizes per dtype and head size, shared memory,
                                 registers, compile options, typed constants
    flash_attention_tiles.py     the device functions: load a tile, draw dropout, tile
                                 products, mask an edge tile
    flash_attention_forward.py   the forward kernel (online softmax)
    flash_attention_backward.py  the δ kernel and the backward kernel (dQ, dK, dV)

Tiles and threads. A block owns a BQ × BK tile of scores, its TY × TX threads a micro-tile
each: thread (ty, tx) holds rows ty + TY·r and keys (or columns) tx + TX·c in registers,
for every product of the kernels. Operands sit in shared memory, rows padded by one so that
a warp reading one column of several rows hits distinct banks; global loads are coalesced
(consecutive threads, consecutive elements of a row). The forward kernel takes a block per
query tile, the backward one a block per key tile (their files say how each goes).

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

import numba
import numpy as np

from ...function import Function
from ..softmax_attention import constant_tensor, prepare
from . import philox
from .common import float_type, grid, launch, simulated
from .flash_attention_backward import backward_kernel, delta_kernel
from .flash_attention_forward import forward_kernel
from .flash_attention_layout import DELTA, gpu_layout, layout


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
    """The CUDA kernels with the arguments of `tinytx.kernels.softmax_attention.attention`
    (masks may vary over keys only; see `supports`). Dropout draws a fresh Philox key from the
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
    return op(q, k, v, constant_tensor(kmask, q.device))


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
