"""Softmax cross-entropy on the GPU, with ignore_index (mirrors kernels/cross_entropy.py;
introduced in lesson 11, explained in docs/cuda.md).

Forward: a block per row i of the logits z (N, V); its threads stride over V and reduce
in shared memory, first the maximum, then Σ exp(z − max):
    L_i = max_i + log Σ_v exp(z_iv − max_i),   loss_i = L_i − z_i[t_i]
    loss = (1/n) Σ_i w_i loss_i,  w_i = 0 for ignored rows (t_i = ignore_index), else 1
The mean is taken on the GPU, in the same launch: each block adds 1 to a counter when its
row is written, and the block that finds it was the last sums every row's loss and
counts the rows that are not ignored (n, in a fixed order: deterministic), writing the
loss and 1/max(n, 1) for backward. So forward and backward never wait for the GPU.
Only L (N floats) is saved: backward recomputes the probabilities from it, so they are
never stored (the CPU kernel does the same).
Backward (a block per row): gz_iv = gy · w_i/n · (exp(z_iv − L_i) − [v = t_i])

A target outside [0, V) that is not ignore_index cannot raise here (that would need the
host to read the targets, a wait for the GPU at every step). Its row's loss and gradient
are NaN instead, so the loss is NaN: the trainer's NaN guard (TrainingDiverged) stops at
its next read of the loss, and an evaluation reports a NaN loss. The CPU kernel raises
IndexError for the same targets.

float16 logits run the float32 kernels on a float32 copy (made in forward and again in
backward, never kept): the loss is float32 and the gradient is rounded to float16 once,
as in the CPU kernel and PyTorch's autocast. float32 kernels compute in float32.
Shapes: logits (..., V), targets (...) int -> a scalar (float32 for float16 logits)
"""
from __future__ import annotations

import math

import numpy as np

from ...function import Function
from ...functional.convert import upcast_dtype
from .common import cached, float_type, jit_for, launch, numba_cuda, reducers, threads

cuda = numba_cuda()


@cached
def forward_kernel(NT, ft):
    block_sum, block_max = reducers()
    zero, one, nan = ft(0), ft(1), ft(math.nan)
    lowest = ft(np.finfo(np.dtype(str(ft))).min)   # not -inf: fastmath assumes no infinities

    @jit_for(ft)
    def forward(z, t, ignore, lse, loss, done, out):
        # z (N, V), t (N,) -> lse, loss (N,) per row; out = [mean loss, 1/max(n, 1)];
        # done (1,) int32, zero before the launch: rows finished so far
        r, k = cuda.blockIdx.x, cuda.threadIdx.x
        N, V = z.shape
        buf = cuda.shared.array(NT, ft)
        count = cuda.shared.array(NT, np.int32)
        last = cuda.shared.array(1, np.int32)
        top = lowest
        for c in range(k, V, NT):
            top = max(top, z[r, c])
        buf[k] = top
        top = block_max(buf, k, NT)
        part = zero
        for c in range(k, V, NT):
            part += math.exp(z[r, c] - top)
        buf[k] = part
        L = top + math.log(block_sum(buf, k, NT))
        if k == 0:
            lse[r] = L
            tr = t[r]
            loss[r] = zero if tr == ignore else L - z[r, tr] if 0 <= tr < V else nan
            cuda.threadfence()                         # the row is written before it counts
            last[0] = 1 if cuda.atomic.add(done, 0, 1) == N - 1 else 0
            cuda.threadfence()                         # and the others' rows seen after it
        cuda.syncthreads()
        if last[0]:                                    # every other row is written: the mean
            part, n = zero, 0
            for i in range(k, N, NT):
                part += loss[i]
                n += t[i] != ignore
            buf[k], count[k] = part, n
            total, n = block_sum(buf, k, NT), block_sum(count, k, NT)
            if k == 0:
                inv_n = one / ft(max(n, 1))
                out[0], out[1] = total * inv_n, inv_n
    return forward


@cached
def backward_kernel(NT, ft):
    zero, one, nan = ft(0), ft(1), ft(math.nan)

    @jit_for(ft)
    def backward(z, t, ignore, lse, gy, out, gz):
        # row r: gz = gy/n · (exp(z − L) − onehot(t)), 0 if ignored, NaN if t is out of range
        r, k = cuda.blockIdx.x, cuda.threadIdx.x
        V = z.shape[1]
        tr = t[r]
        if tr == ignore:
            for c in range(k, V, NT):
                gz[r, c] = zero
        elif 0 <= tr < V:
            s, L = gy[0] * out[1], lse[r]
            for c in range(k, V, NT):
                p = math.exp(z[r, c] - L)
                gz[r, c] = (p - one if c == tr else p) * s
        else:
            for c in range(k, V, NT):
                gz[r, c] = nan
    return backward


class CudaCrossEntropy(Function):
    def __init__(self, ignore_index=-100, n_threads=None):
        self.ignore_index, self.nt = ignore_index, threads(n_threads)

    def forward(self, logits, targets):
        xp, V = self.xp, logits.shape[-1]
        self.shape = logits.shape
        self.z = xp.ascontiguousarray(logits.reshape(-1, V))      # (..., V) -> (N, V)
        self.t = xp.ascontiguousarray(targets.reshape(-1), dtype=np.int64)   # (...) -> (N,)
        ct = upcast_dtype(logits.dtype)                           # float16 -> float32
        N = self.z.shape[0]
        self.lse, loss = xp.empty(N, ct), xp.empty(N, ct)
        self.out = xp.zeros(2, ct)                 # [loss, 1/max(n, 1)]; loss 0 if N = 0
        if N:                                     # a grid of 0 blocks is a CUDA launch error
            launch(forward_kernel(self.nt, float_type(ct)), N, self.nt,
                   self.z.astype(ct, copy=False), self.t, np.int64(self.ignore_index),
                   self.lse, loss, xp.zeros(1, np.int32), self.out)
        return self.out[0]                                        # a 0-d view

    def backward(self, gy):
        z = self.z.astype(self.lse.dtype, copy=False)             # float32/64: no copy
        gz = self.xp.empty_like(z)
        gy = self.xp.asarray(gy, dtype=z.dtype).reshape(1)        # 0-d -> (1,), on device
        if z.size:
            launch(backward_kernel(self.nt, float_type(z.dtype)), z.shape[0], self.nt,
                   z, self.t, np.int64(self.ignore_index), self.lse, gy, self.out, gz)
        return gz.astype(self.z.dtype, copy=False).reshape(self.shape), None


def cross_entropy(logits, targets, ignore_index=-100, n_threads=None):
    """The CUDA cross-entropy with the arguments of `tinytx.kernels.cross_entropy`."""
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets of shape {targets.shape} do not match "
                         f"logits of shape {logits.shape} (expected {logits.shape[:-1]})")
    return CudaCrossEntropy(ignore_index, n_threads)(logits, targets)


def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched: what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    import numba
    ft = numba.from_dtype(np.dtype(dtype))
    n2, n1, i1, i = ft[:, ::1], ft[::1], numba.int64[::1], numba.int64
    yield ("cross_entropy.forward", forward_kernel(128, ft),
           (n2, i1, i, n1, n1, numba.int32[::1], n1))
    yield "cross_entropy.backward", backward_kernel(128, ft), (n2, i1, i, n1, n1, n1, n2)
