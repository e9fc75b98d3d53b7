"""Device: where arrays live and which library computes on them (`xp`); the few places
where NumPy and CuPy differ are its methods. This is the base class, with the plain `xp`
code every backend could run; the backends (cpu, strict, cuda) and `get_device(name)`,
which gives the one Device of each name, are in backends.py.

Introduced in lesson 01 (every tensor has a device).
"""
from __future__ import annotations

import numpy as np

from ..erf import erf as _np_erf
from .strict import unwrap


ALL_ROWS = (slice(None),)         # row_pieces when the rows go in one piece


class Device:
    """Where arrays live, and how its library differs: one subclass per backend
    (`CpuDevice`, `StrictDevice`, `CudaDevice`). Use `get_device(name)`; devices are
    singletons, compare with `is`. What this base class does is the plain `xp` code every
    backend could run; a subclass overrides what its library does differently or faster."""

    name = ""
    cuda_kernels = False         # whether the dispatch sends this device's ops to CUDA kernels

    def __init__(self):
        self._ones_cache = {}          # cached constant vectors (ones, means)
        self.seed(0)

    def __repr__(self):
        return f"Device({self.name!r})"

    def __str__(self):
        return self.name

    # -- host <-> device (each backend its own) -------------------------------------------
    def asarray(self, x, dtype=None):
        """Any array-like (NumPy, CuPy, list, scalar) -> an array on this device."""
        raise NotImplementedError

    def to_host(self, x) -> np.ndarray:
        """An array of this device -> a NumPy array (a copy when it crosses devices)."""
        raise NotImplementedError

    def is_own(self, x) -> bool:
        """Whether `x` is an array of this device's kind."""
        raise NotImplementedError

    def _own(self, x):
        """A result of NumPy code as an array of this device."""
        return x

    # -- the few library differences: the plain xp code here --------------------------------
    def scatter_add(self, target, indices, values):
        """target[indices] += values, adding repeated indices up (in place)."""
        np.add.at(unwrap(target), unwrap(indices), unwrap(values))

    PIECE = 1 << 16   # values: 256 KB of float32 per array, several arrays fit in L2

    def pieces(self, *arrays):
        """The arrays (of one shape) in matching pieces for a chain of elementwise passes
        (see CpuDevice.pieces); here the whole arrays, once. -> [(a, b, ...)]"""
        return [arrays]

    def row_pieces(self, n_rows, row_size):
        """Slices over n_rows rows for row-wise work piece by piece; here all rows."""
        return ALL_ROWS

    def sum_last(self, x):
        """Σ over the last axis, keepdims: (..., n) -> (..., 1)."""
        return x.sum(axis=-1, keepdims=True)

    def means(self, n, dtype):
        """A cached (n,) array of 1/n: x @ means is the mean of a vector x, one BLAS call
        instead of a sum and a scaling."""
        key = (n, dtype, "means")                     # beside CpuDevice._ones' (n, dtype)
        if key not in self._ones_cache:
            self._ones_cache[key] = self.xp.full(n, 1 / n, dtype=dtype)
        return self._ones_cache[key]

    def sum_rows(self, x):
        """Σ over every axis but the last: (..., n) -> (n,)."""
        return x.reshape(-1, x.shape[-1]).sum(axis=0)            # (..., n) -> (N, n)

    def max_last(self, x):
        """max over the last axis, keepdims."""
        return x.max(axis=-1, keepdims=True)

    def erf(self, x):
        return self._own(_np_erf(unwrap(x)))

    # -- random numbers: one generator per device, seeded by tinytx.manual_seed ---------
    # NumPy's PCG64 here; the cuda device's is cuRAND's Philox, whose state is (seed,
    # offset) (backend/gpu.py). Either state is plain JSON, so a resume replays every draw.
    def seed(self, seed: int):
        self._rng = np.random.default_rng(seed)

    def randn(self, shape, dtype):
        return self._own(self._rng.standard_normal(shape, dtype=dtype))

    def rand(self, shape, dtype):
        """Uniform in [0, 1)."""
        return self._own(self._rng.random(shape, dtype=dtype))

    def randint(self, low, high, shape):
        return self._own(self._rng.integers(low, high, shape))

    def philox_key(self) -> int:
        """A fresh 63-bit key for a counter-based generator (Philox) run inside a kernel,
        e.g. attention dropout: made on the host from this device's generator, so it
        costs no wait for the device and replays exactly on resume."""
        return int(np.random.Generator(self._rng.bit_generator).integers(2 ** 63))

    def get_rng_state(self):
        """JSON-serialisable state of this device's generator (for exact resume)."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state):
        if state is not None:
            self._rng.bit_generator.state = state
