"""What every CUDA kernel file shares: the guarded numba import, dtypes, launch sizes,
and the launch itself.

Introduced in docs/cuda.md. numba is imported here, on first use of a CUDA kernel, never
by `import tinytx` (the kernel files import this module; nothing else does). In numba's
CUDA simulator (NUMBA_ENABLE_CUDASIM=1) each CUDA thread is a Python thread, so the
default tile and block sizes are tiny there and GPU-sized on a GPU.

Every kernel is launched by `launch`: on CuPy's current stream (so it is ordered with
CuPy's own work, with no wait between them) and reading CuPy's arrays without the CUDA
array interface's default synchronisation (which would make the host wait for the stream
at every launch). It also counts the launch (`tinytx.kernels.dispatch.counting`).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..dispatch import COUNTS


def numba_cuda():
    """The `numba.cuda` module, or one clear error naming what is missing."""
    try:
        from numba import cuda
    except ImportError as e:
        raise ImportError("tinytx CUDA kernels need numba-cuda: pip install 'tinytx[cuda12]' "
                          "(or cuda13), or 'numba numba-cuda' for the CPU simulator "
                          f"(import failed: {e})") from e
    return cuda


def simulated() -> bool:
    """True when numba runs kernels in its CUDA simulator on the CPU."""
    from numba import config
    return bool(config.ENABLE_CUDASIM)


def tile(size=None) -> int:
    """Rows per attention tile: `size`, else 64 on a GPU and 4 in the simulator."""
    return size or (4 if simulated() else 64)


def threads(size=None) -> int:
    """Threads per block for the row kernels (a power of two for the tree reductions)."""
    n = size or (8 if simulated() else 128)
    if n & (n - 1):
        raise ValueError(f"threads per block must be a power of two, got {n}")
    return n


def float_type(dtype):
    """The numba scalar type of a float32/float64 array dtype."""
    import numba
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return numba.float32
    if dtype == np.float64:
        return numba.float64
    raise TypeError(f"CUDA kernels take float32 or float64 arrays, got {dtype}")


def jit_for(ft):
    """`cuda.jit` for a kernel that computes in `ft`: fastmath for float32, float64 exact.

    fastmath flushes denormals to zero, divides and takes square roots to ~2 ulp, uses
    __expf/__logf (a few ulp where exp(x) is near 1, more only where it is tiny), fuses
    multiply-adds, and lets the compiler assume no NaN or infinity in arithmetic (so the
    maxima start at the lowest finite number, not -inf). tanh keeps its accurate version.
    By these bounds the row and elementwise kernels stay within the tests' 1e-5 of the
    CPU kernels; the simulator does not model fastmath, so only a GPU run of
    tests/test_cuda_kernels.py (TINYTX_CUDA_TESTS=gpu) measures it.
    """
    import numba
    return cuda.jit(fastmath=ft == numba.float32)


def grid(n, block) -> int:
    """Blocks of `block` threads needed to cover n items."""
    return max(1, math.ceil(n / block))


def cached(factory):
    """Memoise a kernel factory: one compiled kernel per (sizes, dtype, flags)."""
    return functools.lru_cache(maxsize=None)(factory)


cuda = numba_cuda()


def launch(kernel, blocks, threads_per_block, *args):
    """kernel[blocks, threads_per_block](*args) on CuPy's current stream, without a host
    sync; in the simulator, as it is (its arrays are NumPy's)."""
    COUNTS["launches"] += 1
    if simulated():
        return kernel[blocks, threads_per_block](*args)
    args = [cuda.as_cuda_array(a, sync=False) if hasattr(a, "__cuda_array_interface__")
            else a for a in args]
    kernel[blocks, threads_per_block, _current_stream()](*args)


def _current_stream():
    """numba's handle on CuPy's current stream (one per stream pointer)."""
    import cupy
    return _stream(cupy.cuda.get_current_stream().ptr)


@functools.lru_cache(maxsize=None)
def _stream(ptr):
    return cuda.external_stream(ptr)


# Tree reductions of buf[0:n] (shared memory, one value per thread, n a power of two) by
# halving strides. Every thread of the block must call them (they synchronise); all get the
# result. Module-level device functions: the simulator swaps `cuda` in module globals only.

@cuda.jit(device=True, inline="always")
def block_sum(buf, t, n):
    cuda.syncthreads()
    stride = n // 2
    while stride > 0:
        if t < stride:
            buf[t] += buf[t + stride]
        cuda.syncthreads()
        stride //= 2
    total = buf[0]
    cuda.syncthreads()               # everyone has read buf[0] before it is reused
    return total


@cuda.jit(device=True, inline="always")
def block_max(buf, t, n):
    cuda.syncthreads()
    stride = n // 2
    while stride > 0:
        if t < stride and buf[t + stride] > buf[t]:
            buf[t] = buf[t + stride]
        cuda.syncthreads()
        stride //= 2
    top = buf[0]
    cuda.syncthreads()
    return top


def reducers():
    """The device functions (block_sum, block_max)."""
    return block_sum, block_max
