"""Softmax cross-entropy on the GPU, with ignore_index (mirrors kernels/cross_entropy.py;
introduced in lesson 10, explained in docs/cuda.md).

Forward: a block per row i of the logits z (N, V); its threads stride over V and reduce
in shared memory, first the maximum, then Σ exp(z − max):
    L_i = max_i + log Σ_v exp(z_iv − max_i),   loss_i = L_i − z_i[t_i]
    loss = (1/n) Σ_i w_i loss_i,  w_i = 0 for ignored rows (t_i = ignore_index), else 1
Only L (N floats) is saved: backward recomputes the probabilities from it, so they are
never stored (the CPU kernel does the same).
Backward (a thread per element): gz_iv = gy · w_i/n · (exp(z_iv − L_i) − [v = t_i])
float16 logits run the float32 kernels on a float32 copy (made in forward and again in
backward, never kept): the loss is float32 and the gradient is rounded to float16 once,
as in the CPU kernel and PyTorch's autocast.
Shapes: logits (..., V), targets (...) int -> a scalar (float32 for float16 logits)
"""
from __future__ import annotations

import math

from ...function import Function
from ...functional.convert import upcast_dtype
from .common import cached, float_type, grid, launch, numba_cuda, reducers, threads

cuda = numba_cuda()


@cached
def forward_kernel(NT, ft):
    block_sum, block_max = reducers()

    @cuda.jit
    def forward(z, t, lse, loss):
        # z (N, V), t (N,) -> lse (N,), loss (N,) per row (0 for ignored rows, t < 0)
        r, k = cuda.blockIdx.x, cuda.threadIdx.x
        V = z.shape[1]
        buf = cuda.shared.array(NT, ft)
        top = -math.inf
        for c in range(k, V, NT):
            top = max(top, z[r, c])
        buf[k] = top
        top = block_max(buf, k, NT)
        part = 0.0
        for c in range(k, V, NT):
            part += math.exp(z[r, c] - top)
        buf[k] = part
        L = top + math.log(block_sum(buf, k, NT))
        if k == 0:
            lse[r] = L
            loss[r] = L - z[r, t[r]] if t[r] >= 0 else 0.0
    return forward


@cached
def backward_kernel():
    @cuda.jit
    def backward(z, t, lse, scale, gz):
        # gz_iv = scale_i · (exp(z_iv − L_i) − [v = t_i]); scale_i = gy·w_i/n
        e = cuda.grid(1)
        V = z.shape[1]
        if e < z.shape[0] * V:
            r, c = e // V, e % V
            g = 0.0
            if t[r] >= 0:
                g = math.exp(z[r, c] - lse[r])
                if c == t[r]:
                    g -= 1.0
            gz[r, c] = g * scale[r]
    return backward


class CudaCrossEntropy(Function):
    def __init__(self, ignore_index=-100, n_threads=None):
        self.ignore_index, self.nt = ignore_index, threads(n_threads)

    def forward(self, logits, targets):
        xp, V = self.xp, logits.shape[-1]
        self.shape = logits.shape
        self.z = xp.ascontiguousarray(logits.reshape(-1, V))      # (..., V) -> (N, V)
        t = targets.reshape(-1)                                   # (...) -> (N,)
        valid = t != self.ignore_index
        if bool(((t < 0) | (t >= V))[valid].any()):
            raise IndexError(f"cross_entropy: targets must lie in [0, {V}) or equal "
                             f"ignore_index={self.ignore_index}")
        self.t = xp.where(valid, t, -1).astype(xp.int64)          # -1 marks ignored rows
        ct = upcast_dtype(logits.dtype)                           # float16 -> float32
        self.w = valid.astype(ct) / max(int(valid.sum()), 1)
        N = self.z.shape[0]
        self.lse, loss = xp.empty(N, ct), xp.empty(N, ct)
        if N:                                     # a grid of 0 blocks is a CUDA launch error
            launch(forward_kernel(self.nt, float_type(ct)), N, self.nt,
                   self.z.astype(ct, copy=False), self.t, self.lse, loss)
        return (loss * self.w).sum()

    def backward(self, gy):
        z = self.z.astype(self.lse.dtype, copy=False)             # float32/64: no copy
        gz = self.xp.empty_like(z)
        scale = self.w * gy
        launch(backward_kernel(), grid(z.size, self.nt), self.nt, z, self.t, self.lse, scale,
               gz)
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
    ft, n2, n1, i1 = _types(dtype)
    yield "cross_entropy.forward", forward_kernel(128, ft), (n2, i1, n1, n1)
    yield "cross_entropy.backward", backward_kernel(), (n2, i1, n1, n1, n2)


def _types(dtype):
    import numba
    ft = numba.from_dtype(dtype)
    return ft, ft[:, ::1], ft[::1], numba.int64[::1]
