"""Device: where arrays live and which library computes on them (`xp`); the few places
where NumPy and CuPy differ are its methods. `get_device(name)` gives the one Device of
each name.

Introduced in lesson 01 (every tensor has a device).
"""
from __future__ import annotations

import numpy as np

from ..erf import erf as _np_erf
from . import gpu
from .strict import StrictArray, StrictModule, count_host_read, unwrap


_ALL_ROWS = (slice(None),)


class Device:
    """Where arrays live. Use `get_device(name)`; devices are singletons, compare with `is`."""

    def __init__(self, name: str):
        self.name = name
        self._ones_cache = {}
        self.xp = gpu.load_cupy() if name == "cuda" else np if name == "cpu" else StrictModule()
        self.seed(0)

    def __repr__(self):
        return f"Device({self.name!r})"

    def __str__(self):
        return self.name

    # -- host <-> device --------------------------------------------------------------
    def asarray(self, x, dtype=None):
        """Any array-like (NumPy, CuPy, list, scalar) -> an array on this device."""
        if self.name == "cuda":
            return self.xp.asarray(x, dtype=dtype)
        cupy = gpu.loaded_cupy()
        if cupy is not None and isinstance(x, cupy.ndarray):
            x = cupy.asnumpy(x)
        if self.name == "cpu" and isinstance(x, StrictArray):
            count_host_read("asarray")        # strict -> host: what waits for a GPU
        x = np.asarray(unwrap(x), dtype=dtype)
        return StrictArray(x) if self.name == "strict" else x

    def to_host(self, x) -> np.ndarray:
        """An array of this device -> a NumPy array (a copy when it crosses devices)."""
        if self.name == "cuda":
            return self.xp.asnumpy(x)
        if isinstance(x, StrictArray):
            count_host_read("to_host")        # counted, as it would wait for a GPU
        return np.asarray(unwrap(x))

    def is_own(self, x) -> bool:
        """Whether `x` is an array of this device's kind."""
        if self.name == "cuda":
            return isinstance(x, self.xp.ndarray)
        if self.name == "strict":
            return isinstance(x, StrictArray)
        return type(x) is np.ndarray

    # -- the few library differences ------------------------------------------------------
    def scatter_add(self, target, indices, values):
        """target[indices] += values, adding repeated indices up (in place)."""
        if self.name == "cuda":
            import cupyx
            cupyx.scatter_add(target, indices, values)
        elif getattr(indices, "ndim", 0) == 1 and indices.dtype.kind in "iu" and (
                values.ndim == target.ndim >= 2):
            _scatter_rows(unwrap(target), unwrap(indices), unwrap(values))
        else:
            np.add.at(unwrap(target), unwrap(indices), unwrap(values))

    # -- elementwise work in cache-sized pieces ----------------------------------------
    PIECE = 1 << 16   # values: 256 KB of float32 per array, several arrays fit in L2

    def pieces(self, *arrays):
        """The arrays (of one shape) in matching pieces of PIECE values each: 1-D views of
        their flattened values that write through, on the CPU when all are C-contiguous;
        else the whole arrays, once. A chain of elementwise passes run piece by piece reads
        main memory once and the cache after that: the optimizer's update and the GELU
        of the MLP run ~1.5-4x faster so, with the same results bit for bit.
        -> [(a_piece, b_piece, ...), ...]"""
        if (self.name != "cpu" or arrays[0].size <= self.PIECE
                or not all(a.flags.c_contiguous for a in arrays)):
            return [arrays]
        flat = [a.reshape(-1) for a in arrays]                   # (...) -> (n,), views
        n, size = flat[0].size, self.PIECE
        return [tuple(a[i:i + size] for a in flat) for i in range(0, n, size)]

    def row_pieces(self, n_rows, row_size):
        """Slices over n_rows rows of row_size values, about PIECE values each, on the
        CPU (row-wise work such as LayerNorm's, piece by piece); else all rows at once."""
        if self.name != "cpu" or n_rows * row_size <= self.PIECE:
            return _ALL_ROWS
        step = max(1, self.PIECE // max(row_size, 1))
        return [slice(i, i + step) for i in range(0, n_rows, step)]

    # -- row reductions for the fused kernels (the hot loops of softmax and LayerNorm) ----
    def sum_last(self, x):
        """Σ over the last axis, keepdims: (..., n) -> (..., 1). On the CPU it is a
        matrix-vector product with ones, which BLAS runs ~7x faster than NumPy's
        reduction along a short contiguous axis (0.03 vs 0.23 ms for 8192 rows of 128)."""
        if self.name == "cuda":
            return x.sum(axis=-1, keepdims=True)
        return (x @ self._ones(x.shape[-1], x.dtype))[..., None]

    def sum_rows(self, x):
        """Σ over every axis but the last: (..., n) -> (n,), as ones @ rows on the CPU."""
        rows = x.reshape(-1, x.shape[-1])                       # (..., n) -> (N, n)
        if self.name == "cuda":
            return rows.sum(axis=0)
        return self._ones(rows.shape[0], x.dtype) @ rows

    def max_last(self, x):
        """max over the last axis, keepdims; np.fmax.reduce is ~1.5x faster than .max on
        the CPU (NaN still propagates: it reaches the output through exp(x - max))."""
        if self.name == "cuda":
            return x.max(axis=-1, keepdims=True)
        return self._own(np.fmax.reduce(unwrap(x), axis=-1, keepdims=True))

    def _ones(self, n, dtype):
        key = (n, np.dtype(dtype))
        if key not in self._ones_cache:
            self._ones_cache[key] = self.xp.ones(n, dtype=dtype)
        return self._ones_cache[key]

    def erf(self, x):
        if self.name == "cuda":
            import cupyx.scipy.special
            return cupyx.scipy.special.erf(x)
        return self._own(_np_erf(unwrap(x)))

    # -- random numbers: one generator per device, seeded by tinytx.manual_seed ---------
    # cpu and strict: NumPy's PCG64; cuda: cuRAND's Philox, whose state is (seed, offset)
    # (backend/gpu.py). Either state is plain JSON, so a resume replays every draw.
    def seed(self, seed: int):
        if self.name != "cuda":
            self._rng = np.random.default_rng(seed)
        elif getattr(self, "_rng", None) is None:
            self._rng = gpu.CudaGenerator(seed)        # one per device, made once
        else:
            self._rng.manual_seed(seed)

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
        if self.name == "cuda":
            return self._rng.philox_key()
        return int(np.random.Generator(self._rng.bit_generator).integers(2 ** 63))

    def _own(self, x):
        return StrictArray(x) if self.name == "strict" else x

    def get_rng_state(self):
        """JSON-serialisable state of this device's generator (for exact resume)."""
        if self.name == "cuda":
            return self._rng.state
        return self._rng.bit_generator.state

    def set_rng_state(self, state):
        if state is None:
            return
        if self.name == "cuda":
            self._rng.state = state
        else:
            self._rng.bit_generator.state = state


def _scatter_rows(target, rows, values):
    """target[rows] += values for whole rows (an embedding's backward) on NumPy: sort the
    rows, sum each run of equal rows with one reduceat, add once per distinct row. Several
    times faster than np.add.at, which handles one element at a time."""
    if len(rows) == 0:                          # an empty batch: nothing to add
        return
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # first of each run
    target[rows[starts]] += np.add.reduceat(values[order], starts, axis=0)


_DEVICES: dict[str, Device] = {}
DEVICE_NAMES = ("cpu", "cuda", "strict")


class DeviceUnavailable(RuntimeError):
    """A device was asked for that this machine cannot give (cuda without CuPy or a GPU)."""


def get_device(device: str | Device | None = None) -> Device:
    """The Device for a name ("cpu", "cuda", "strict"); `None` means "cpu"."""
    if isinstance(device, Device):
        return device
    name = "cpu" if device is None else str(device)
    if name == "cuda:0":
        name = "cuda"
    if name not in DEVICE_NAMES:
        raise ValueError(f"device: expected one of {DEVICE_NAMES}, got {device!r}")
    if name not in _DEVICES:
        if name == "cuda" and not gpu.cuda_available():
            raise DeviceUnavailable(f"device 'cuda' was asked for, but "
                                    f"{gpu.why_no_cuda()}; use device='cpu'")
        _DEVICES[name] = Device(name)
    return _DEVICES[name]


def device_of(array) -> Device:
    """The Device an array belongs to (a StrictArray is 'strict', a CuPy array 'cuda')."""
    if isinstance(array, StrictArray):
        return get_device("strict")
    cupy = gpu.loaded_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return get_device("cuda")
    return get_device("cpu")


def manual_seed(seed: int):
    """Seed the random generators of every device (parameter init, dropout, sampling)."""
    for name in ("cpu", "strict") + (("cuda",) if gpu.cuda_available() else ()):
        get_device(name).seed(seed)
