"""CuPy, the cuda device's array library: optional, imported on first use, never by
`import tinytx`; and the cuda device's random generator.

Introduced in lesson 01 (devices); docs/cuda.md tells how to install CuPy.
"""
from __future__ import annotations

import math
import sys
import weakref

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
    """The cuda device's one random generator: cuRAND's Philox4x32-10 (counter-based), whose
    whole state is (seed, offset), so it saves as JSON and a CUDA resume replays exactly.

    Philox computes its n-th 32-bit value from (seed, n) alone, no state carried between
    values. So each draw of n values sets the generator's absolute offset to `offset`,
    generates there, and advances `offset` past what it used (whole blocks of four values,
    two per float64), and no two draws share a value. One cuRAND generator is created per
    device, on the first draw, and runs on CuPy's current stream; nothing waits for the GPU.

        state = {"bit_generator": "Philox4x32-10 (cuRAND)", "seed": int, "offset": int}

    `philox_key()` gives a kernel its own Philox key (e.g. for dropout inside a kernel),
    derived on the host from (seed, offset), which it also advances.
    """

    NAME = "Philox4x32-10 (cuRAND)"

    def __init__(self, seed: int):
        self._handle, self._seeded = None, None
        self.manual_seed(seed)

    def manual_seed(self, seed: int):
        self.seed, self.offset = int(seed) % 2 ** 64, 0

    @property
    def state(self) -> dict:
        return {"bit_generator": self.NAME, "seed": self.seed, "offset": self.offset}

    @state.setter
    def state(self, state: dict):
        if not (isinstance(state, dict) and state.get("bit_generator") == self.NAME and all(
                isinstance(state.get(k), int) and state[k] >= 0 for k in ("seed", "offset"))):
            raise ValueError(f"cuda generator state: expected {{'bit_generator': "
                             f"{self.NAME!r}, 'seed': int, 'offset': int}}, got {state!r:.200}")
        self.seed, self.offset = state["seed"], state["offset"]

    # -- draws --------------------------------------------------------------------------------
    def standard_normal(self, shape, dtype):
        n, dtype = _size(shape), _float(dtype)
        out = _cupy.empty(n + n % 2, dtype)             # cuRAND makes normals in pairs
        self._fill("generateNormal" if dtype == np.float32 else "generateNormalDouble", out,
                   0.0, 1.0)
        return out[:n].reshape(shape)

    def random(self, shape, dtype):
        """Uniform in [0, 1): cuRAND gives (0, 1], so 1 becomes 0 (as CuPy does)."""
        dtype = _float(dtype)
        out = _cupy.empty(_size(shape), dtype)
        self._fill("generateUniform" if dtype == np.float32 else "generateUniformDouble", out)
        return _cupy.where(out == 1, dtype.type(0), out).reshape(shape)

    def integers(self, low, high, shape):
        """int64 in [low, high): two 32-bit values make 64 random bits, taken modulo the
        range (a bias below range/2^64)."""
        if not high > low:
            raise ValueError(f"integers: high must be > low, got low={low}, high={high}")
        bits = _cupy.empty(2 * _size(shape), np.uint32)
        self._fill("generate", bits)
        value = bits.view(np.uint64) % np.uint64(high - low)
        return (value.astype(np.int64) + np.int64(low)).reshape(shape)

    def philox_key(self) -> int:
        """A 63-bit key for a Philox generator inside a kernel, made on the host from
        (seed, offset); takes one block of the offsets, so keys never repeat."""
        key = int(np.random.default_rng([self.seed, self.offset]).integers(2 ** 63))
        self.offset += 4
        return key

    def _fill(self, function, out, *args):
        """Fill `out` with cuRAND's `function` at `offset`, then advance `offset` past the
        32-bit values used, in whole Philox blocks of four."""
        if out.size == 0:
            return
        curand = _cupy.cuda.curand
        if self._handle is None:
            self._handle = curand.createGenerator(curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
            weakref.finalize(self, curand.destroyGenerator, self._handle)
        if self._seeded != self.seed:
            curand.setPseudoRandomGeneratorSeed(self._handle, self.seed)
            self._seeded = self.seed
        curand.setGeneratorOffset(self._handle, self.offset)
        getattr(curand, function)(self._handle, out.data.ptr, out.size, *args)
        self.offset += -(-out.nbytes // 16) * 4


def _size(shape):
    return math.prod(shape) if isinstance(shape, (tuple, list)) else int(shape)


def _float(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"cuda random numbers: dtype must be float32 or float64, got {dtype}")
    return dtype
