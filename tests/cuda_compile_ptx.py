"""Compile every CUDA kernel of tinytx/kernels/cuda to PTX for one compute capability.

Run by tests/test_cuda_kernels.py in a subprocess (numba must be imported WITHOUT the
simulator); needs libNVVM and NVRTC, no GPU. Usage: python tests/cuda_compile_ptx.py 9.0
Prints one line per kernel and "compiled N kernels for sm_XY".
"""
import sys

import numba
import numpy as np
from numba import cuda

from tinytx.kernels.cuda import adamw, attention, cross_entropy, embedding, gelu, layer_norm, lstm


def sig(*examples):
    """Numba argument types from example values (arrays of the right rank and dtype)."""
    return tuple(numba.typeof(e) for e in examples)


def kernels(dt):
    a = lambda *shape: np.zeros(shape, dt)                      # noqa: E731
    ft = numba.from_dtype(np.dtype(dt))
    n3, n2, n1, i1, u8 = a(1, 1, 1), a(1, 1), a(1), np.zeros(1, np.int64), np.zeros((1, 1), np.uint8)
    f, i = 1.0, 1
    for causal in (False, True):
        for masked in (False, True):
            sizes = (64, 64, 64, 64, ft, causal, masked)
            yield "attention.forward", attention.forward_kernel(*sizes), sig(n3, n3, n3, u8, f, n3, n2)
            yield "attention.dq", attention.dq_kernel(*sizes), sig(n3, n3, n3, u8, f, n3, n2, n2, n3)
            yield "attention.dkv", attention.dkv_kernel(*sizes), sig(n3, n3, n3, u8, f, n3, n2, n2, n3, n3)
    yield "layer_norm.forward", layer_norm.forward_kernel(128, ft), sig(n2, n1, n1, f, n2, n1, n1)
    yield "layer_norm.backward_rows", layer_norm.backward_rows_kernel(128, ft), sig(n2, n1, n2, n1, n1, n2)
    yield "layer_norm.backward_cols", layer_norm.backward_cols_kernel(), sig(n2, n2, n1, n1, n1, n1)
    yield "cross_entropy.forward", cross_entropy.forward_kernel(128, ft), sig(n2, i1, n1, n1)
    yield "cross_entropy.backward", cross_entropy.backward_kernel(), sig(n2, i1, n1, n1, n2)
    yield "gelu.forward", gelu.forward_kernel(), sig(n1, n1, n1)
    yield "gelu.backward", gelu.backward_kernel(), sig(n1, n1, n1, n1)
    yield "embedding.backward", embedding.backward_kernel(), sig(i1, n2, n2)
    yield "adamw.step", adamw.step_kernel(), sig(n1, n1, n1, n1, f, f, f, f, f, f, f)
    yield "lstm.forward", lstm.forward_kernel(), sig(n2, n2, n2, n2, n2, n2)
    yield "lstm.backward", lstm.backward_kernel(), sig(n2, n2, n2, n2, n2, n2, n2)


def probe(cc):
    """Exit with status 77 and the reason when libNVVM or NVRTC cannot be found."""
    def one(x):
        x[0] = 1.0
    try:
        cuda.compile_ptx(one, (numba.float32[::1],), cc=cc)
    except Exception as e:                      # NvvmSupportError, DynamicLibNotFoundError …
        print(f"SKIP: cannot compile PTX here ({type(e).__name__}: {str(e)[:300]})")
        sys.exit(77)


def main(cc):
    major, minor = (int(x) for x in cc.split("."))
    probe((major, minor))
    count = 0
    for dt in ("float32", "float64"):
        for name, kernel, types in kernels(dt):
            ptx, _ = cuda.compile_ptx(kernel.py_func, types, cc=(major, minor))
            assert ".entry" in ptx, f"{name}: no kernel entry in the PTX"
            print(f"{name:28s} {dt}  {len(ptx):7d} chars of PTX")
            count += 1
    print(f"compiled {count} kernels for sm_{major}{minor}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "9.0")
