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

MODULES = (attention, layer_norm, cross_entropy, gelu, embedding, adamw, lstm)


def kernels(dtype):
    """(name, kernel, argument types) of every kernel, from each file's specializations."""
    for module in MODULES:
        yield from module.specializations(np.dtype(dtype))


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
