"""The backends: CpuDevice (NumPy), StrictDevice (NumPy arrays that refuse silent mixing,
for the tests), CudaDevice (CuPy), each a subclass of Device (device.py) overriding what
its library does differently or faster; and `get_device(name)`, which gives the one
Device of each name.

Introduced in lesson 01 (every tensor has a device).
"""
from __future__ import annotations

import numpy as np

from . import gpu
from .device import ALL_ROWS, Device
from .strict import StrictArray, StrictModule, count_host_read, unwrap


class CpuDevice(Device):
    """NumPy arrays; the row reductions and elementwise chains tuned for the CPU's cache
    and BLAS."""

    name = "cpu"
    xp = np

    def asarray(self, x, dtype=None):
        return np.asarray(_from_other_device(x), dtype=dtype)

    def to_host(self, x) -> np.ndarray:
        return np.asarray(_from_other_device(x))

    def is_own(self, x) -> bool:
        return type(x) is np.ndarray

    def scatter_add(self, target, indices, values):
        if getattr(indices, "ndim", 0) == 1 and indices.dtype.kind in "iu" and (
                values.ndim == target.ndim >= 2):
            _scatter_rows(unwrap(target), unwrap(indices), unwrap(values))
        else:
            super().scatter_add(target, indices, values)

    def pieces(self, *arrays):
        """The arrays (of one shape) in matching pieces of PIECE values each: 1-D views of
        their flattened values that write through, when all are C-contiguous; else the
        whole arrays, once. A chain of elementwise passes run piece by piece reads main
        memory once and the cache after that: the optimizer's update and the GELU of the
        MLP run ~1.5-4x faster so, with the same results bit for bit.
        -> [(a_piece, b_piece, ...), ...]"""
        if arrays[0].size <= self.PIECE or not all(a.flags.c_contiguous for a in arrays):
            return [arrays]
        flat = [a.reshape(-1) for a in arrays]                   # (...) -> (n,), views
        n, size = flat[0].size, self.PIECE
        return [tuple(a[i:i + size] for a in flat) for i in range(0, n, size)]

    def row_pieces(self, n_rows, row_size):
        """Slices over n_rows rows of row_size values, about PIECE values each (row-wise
        work such as LayerNorm's, piece by piece)."""
        if n_rows * row_size <= self.PIECE:
            return ALL_ROWS
        step = max(1, self.PIECE // max(row_size, 1))
        return [slice(i, i + step) for i in range(0, n_rows, step)]

    # the hot loops of softmax and LayerNorm
    def sum_last(self, x):
        """Σ over the last axis as a matrix-vector product with ones, which BLAS runs ~7x
        faster than NumPy's reduction along a short contiguous axis (0.03 vs 0.23 ms for
        8192 rows of 128)."""
        return (x @ self._ones(x.shape[-1], x.dtype))[..., None]

    def sum_rows(self, x):
        """Σ over every axis but the last, as ones @ rows."""
        rows = x.reshape(-1, x.shape[-1])                       # (..., n) -> (N, n)
        return self._ones(rows.shape[0], x.dtype) @ rows

    def max_last(self, x):
        """np.fmax.reduce is ~1.5x faster than .max (NaN still propagates: it reaches the
        output through exp(x - max))."""
        return self._own(np.fmax.reduce(unwrap(x), axis=-1, keepdims=True))

    def _ones(self, n, dtype):
        key = (n, np.dtype(dtype))
        if key not in self._ones_cache:
            self._ones_cache[key] = self.xp.ones(n, dtype=dtype)
        return self._ones_cache[key]


class StrictDevice(CpuDevice):
    """NumPy arrays that refuse to mix silently with host arrays, as CuPy's do: the tests'
    stand-in for a GPU (backend/strict.py). Every read into the host is counted."""

    name = "strict"
    xp = StrictModule()
    pieces, row_pieces = Device.pieces, Device.row_pieces     # as on a GPU: whole arrays

    def asarray(self, x, dtype=None):
        return StrictArray(np.asarray(unwrap(_from_cupy(x)), dtype=dtype))

    def to_host(self, x) -> np.ndarray:
        if isinstance(x, StrictArray):
            count_host_read("to_host")      # counted, as it would wait for a GPU
        return np.asarray(unwrap(x))

    def is_own(self, x) -> bool:
        return isinstance(x, StrictArray)

    def _own(self, x):
        return StrictArray(x)


class CudaDevice(Device):
    """CuPy arrays on the GPU; CuPy is loaded when this device is first asked for."""

    name = "cuda"
    cuda_kernels = True

    def __init__(self):
        self.xp = gpu.load_cupy()
        self._rng = None
        super().__init__()

    def asarray(self, x, dtype=None):
        return self.xp.asarray(unwrap(x), dtype=dtype)

    def to_host(self, x) -> np.ndarray:
        return self.xp.asnumpy(x)

    def is_own(self, x) -> bool:
        return isinstance(x, self.xp.ndarray)

    def scatter_add(self, target, indices, values):
        import cupyx
        cupyx.scatter_add(target, indices, values)

    def erf(self, x):
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(x)

    def seed(self, seed: int):
        if self._rng is None:
            self._rng = gpu.CudaGenerator(seed)        # one per device, made once
        else:
            self._rng.manual_seed(seed)

    def philox_key(self) -> int:
        return self._rng.philox_key()

    def get_rng_state(self):
        return self._rng.state

    def set_rng_state(self, state):
        if state is not None:
            self._rng.state = state


def _from_cupy(x):
    """A CuPy array copied to the host; anything else as it is."""
    cupy = gpu.loaded_cupy()
    return cupy.asnumpy(x) if cupy is not None and isinstance(x, cupy.ndarray) else x


def _from_other_device(x):
    """`_from_cupy`, and a strict array's NumPy array (a read into the host: counted)."""
    if isinstance(x, StrictArray):
        count_host_read("asarray")          # strict -> host: what waits for a GPU
        return unwrap(x)
    return _from_cupy(x)


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
BACKENDS = {"cpu": CpuDevice, "cuda": CudaDevice, "strict": StrictDevice}
DEVICE_NAMES = tuple(BACKENDS)


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
        _DEVICES[name] = BACKENDS[name]()
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
