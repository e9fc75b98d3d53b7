"""Embedding backward on the GPU: an atomic scatter-add (lesson 01; reference F.embedding).

Forward is the gather weight[idx] (CuPy indexing, nothing to hand-write). Backward adds
each row of gy into the row of gw its token picked; a token that occurs twice gets both
gradients. A thread per element (n, c) does
    gw[idx_n, c] += gy[n, c]      with cuda.atomic.add,
because two threads may hold the same token and a plain += would lose one of the adds.
(The order of the atomic adds is not fixed, so float32 sums may differ in the last bit.)
The kernel does no float arithmetic but the adds: float32 gradients stay float32, and the
wrapper reads nothing on the host (only shapes) before its one launch.
Shapes: idx (...) int, weight (V, C) -> (..., C)
"""
from __future__ import annotations

from ...functional.layers import EmbeddingFunction
from .common import cached, grid, launch, numba_cuda, threads

cuda = numba_cuda()


@cached
def backward_kernel():
    @cuda.jit
    def backward(idx, gy, gw):
        # idx (N,), gy (N, C) -> gw (V, C), zeroed by the caller
        e = cuda.grid(1)
        C = gy.shape[1]
        if e < gy.shape[0] * C:
            n, c = e // C, e % C
            cuda.atomic.add(gw, (idx[n], c), gy[n, c])
    return backward


class CudaEmbedding(EmbeddingFunction):
    """F.embedding's op (forward: the gather) with the atomic scatter-add backward."""

    def __init__(self, n_threads=None):
        self.nt = threads(n_threads)

    def backward(self, gy):
        xp, C = self.xp, self.weight_shape[-1]
        gw = xp.zeros(self.weight_shape, dtype=gy.dtype)
        g = xp.ascontiguousarray(gy.reshape(-1, C))                 # (..., C) -> (N, C)
        if g.size:                    # an empty batch: no launch (a grid of 0 blocks fails)
            launch(backward_kernel(), grid(g.size, self.nt), self.nt,
                   xp.ascontiguousarray(self.idx.reshape(-1)), g, gw)
        return None, gw


def embedding(idx, weight, n_threads=None):
    """Rows of `weight` picked by `idx`, with the atomic scatter-add backward."""
    return CudaEmbedding(n_threads)(idx, weight)

def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched: what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    n2, i1 = _types(dtype)
    yield "embedding.backward", backward_kernel(), (i1, n2, n2)


def _types(dtype):
    import numba
    return numba.from_dtype(dtype)[:, ::1], numba.int64[::1]
