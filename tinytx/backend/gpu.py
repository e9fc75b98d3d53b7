"""CuPy, the cuda device's array library: optional, imported on first use, never by
`import tinytx`; and the cuda device's random generator.

Introduced in lesson 01 (devices); docs/cuda.md tells how to install CuPy.
"""
from __future__ import annotations

import sys

import numpy as np

_cupy = _cupyx = None     # CuPy is optional and imported on first use, never by `import tinytx`
_cupy_error = None        # why it could not be imported, for the error message


def load_cupy():
    """CuPy, imported the first time the cuda device is asked for; None when it cannot load."""
    global _cupy, _cupyx, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy
            import cupyx
            import cupyx.scipy.special  # noqa: F401  (erf)
            _cupy, _cupyx = cupy, cupyx
        except Exception as e:  # ImportError, or a build that cannot load its CUDA libraries
            _cupy_error = e
    return _cupy


def loaded_cupy():
    """CuPy if something has imported it already (else no array can be a CuPy array)."""
    return sys.modules.get("cupy") if _cupy is None else _cupy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    if load_cupy() is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False



def why_no_cuda() -> str:
    """Why the cuda device cannot be used (for the error of get_device("cuda"))."""
    if _cupy is None:
        return (f"CuPy could not be imported ({_cupy_error}); install it with "
                "pip install 'tinytx[cuda12]' (or cuda13, matching your CUDA driver)")
    return "CuPy found no CUDA GPU or no working NVIDIA driver"


class CudaGenerator:
    """The cuda device's random numbers, with a state that can be saved (exact resume).

    CuPy's generators do not expose their state, so a NumPy generator (whose state is
    plain JSON) draws a fresh 63-bit seed for every CuPy draw: restoring the NumPy state
    restores every later draw. The price is one small CuPy generator set-up per draw.
    """

    def __init__(self, seed):
        self.bit_generator = np.random.default_rng(seed).bit_generator

    def _draw(self):
        seed = int(np.random.Generator(self.bit_generator).integers(2 ** 63))
        return _cupy.random.default_rng(seed)

    def standard_normal(self, shape, dtype):
        return self._draw().standard_normal(shape, dtype=dtype)

    def random(self, shape, dtype):
        return self._draw().random(shape, dtype=dtype)

    def integers(self, low, high, shape):
        return self._draw().integers(low, high, shape)
