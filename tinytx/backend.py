"""Devices and their array modules: where tensors live and which library computes on them.

Introduced in lesson 01 (every tensor has a device). A `Device` is a small value that
carries `xp`, the NumPy-like module that computes on its arrays:

    cpu     NumPy
    cuda    CuPy (optional; asking for it without CuPy or a GPU raises one clear error)
    strict  NumPy arrays that, like CuPy's, refuse to mix silently with host arrays.
            It exists for the tests: a CPU-only CI catches device-mixing bugs with it.

The few places where NumPy and CuPy differ (scatter-add, host transfer, random numbers,
erf) are methods here, so ops never branch on the library.

    >>> from tinytx.backend import get_device
    >>> get_device("cpu").xp.__name__
    'numpy'
"""
from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

from .erf import erf as _np_erf

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


def _loaded_cupy():
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


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the OS.

    NumPy allocates a fresh array for every temporary. glibc serves large blocks with
    mmap and unmaps them on free, so each temporary of a training step costs page faults
    that zero its memory again: in a GELU backward that is 4x the arithmetic. Keeping
    freed memory (what PyTorch's and CuPy's caching allocators do) removes that cost; the
    price is that the process keeps its peak memory until it exits. Done once at import
    on Linux with glibc; set TINYTX_MALLOC_TUNE=0 to leave malloc alone.
    """
    if os.environ.get("TINYTX_MALLOC_TUNE", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(mallopt(M_MMAP_THRESHOLD, 1 << 30) and mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1))


MALLOC_TUNED = keep_freed_memory()


# ---------------------------------------------------------------------------------------
# The strict CPU device: NumPy arrays that behave like CuPy's at the host boundary.
# ---------------------------------------------------------------------------------------

class StrictArray(np.lib.mixins.NDArrayOperatorsMixin):
    """An array of the strict device: a NumPy array inside, refusing the host the way a
    CuPy array does.

    Operators, methods and NumPy functions work as usual between StrictArrays and Python
    or NumPy scalars, and reductions give 0-d arrays (not NumPy scalars), as CuPy's do.
    Refused with a TypeError, as CuPy refuses them:
      * implicit conversion to NumPy: `np.asarray(a)`, `np.array(a)`, `np.asarray([a, b])`;
      * mixing in host arrays, 0-d ones included: `a + np.ones(3)`, `a * np.array(2.0)`;
      * indexing with a host array: `a[np.array([0, 2])]`.
    `Device.to_host` and `Device.asarray` are the explicit transfers.
    """

    __slots__ = ("a",)

    def __init__(self, array: np.ndarray):
        self.a = array  # the NumPy array inside

    def __array__(self, dtype=None, copy=None):
        raise TypeError("strict device: implicit conversion of a device array to a NumPy "
                        "array is not allowed (as with CuPy); use Device.to_host() or "
                        "Tensor.numpy()")

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        _refuse_host(inputs + (out or ()))
        if out is not None:
            kwargs["out"] = _unwrap(out)
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs)))

    def __array_function__(self, func, types, args, kwargs):
        _refuse_host(args)
        _refuse_host(tuple(kwargs.values()))
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    def __getitem__(self, key):
        _refuse_host(key if isinstance(key, tuple) else (key,))
        return _wrap(self.a[_unwrap(key)])

    def __setitem__(self, key, value):
        _refuse_host((key if isinstance(key, tuple) else (key,)) + (value,))
        self.a[_unwrap(key)] = _unwrap(value)

    def __getattr__(self, name):  # shape, dtype, T, reshape, astype, sum, … of the array
        if name == "a" or name.startswith("__"):  # `a` unset (copy, pickle); no
            raise AttributeError(name)              # __array_interface__ & co for NumPy
        attr = getattr(self.a, name)
        if not callable(attr):
            return _wrap(attr) if isinstance(attr, np.ndarray) else attr

        def method(*args, **kwargs):
            _refuse_host(args)
            _refuse_host(tuple(kwargs.values()))
            return _wrap(attr(*_unwrap(args), **_unwrap(kwargs)))
        return method

    def __len__(self):
        return len(self.a)

    def __iter__(self):
        return (_wrap(row) for row in self.a)

    def __float__(self):
        return float(self.a)

    def __int__(self):
        return int(self.a)

    def __index__(self):
        return self.a.__index__()

    def __bool__(self):
        return bool(self.a)

    def __repr__(self):
        return f"strict_{self.a!r}"


def _refuse_host(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            _refuse_host(v)
        elif isinstance(v, np.ndarray):
            raise TypeError("strict device: implicit conversion between a host (NumPy) "
                            f"array of shape {v.shape} and a device array is not allowed; "
                            "move it with Device.asarray() first")


def _unwrap(v):
    if isinstance(v, StrictArray):
        return v.a
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(x) for x in v)
    if isinstance(v, dict):
        return {k: _unwrap(x) for k, x in v.items()}
    return v


def _wrap(v):
    if isinstance(v, np.ndarray):
        return StrictArray(v)
    if isinstance(v, np.generic):  # CuPy reductions return 0-d arrays, never scalars
        return StrictArray(np.asarray(v))
    if isinstance(v, (list, tuple)):
        return type(v)(_wrap(x) for x in v)
    return v


def memory_owner(a):
    """The array that owns a's memory (views point to it through `.base`): two arrays of
    one device share memory when they have the same owner."""
    a = _unwrap(a)
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


class _StrictModule:
    """`xp` of the strict device: NumPy's namespace whose results are StrictArrays and
    whose functions refuse plain host arrays, except the explicit transfers."""

    _transfers = {"asarray", "array", "ascontiguousarray"}

    def __getattr__(self, name):
        attr = getattr(np, name)
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes, constants (np.float32, np.pi, np.newaxis)

        def call(*args, **kwargs):
            if name not in self._transfers:
                _refuse_host(args)
                _refuse_host(tuple(kwargs.values()))  # out=, where= …
            return _wrap(attr(*_unwrap(args), **_unwrap(kwargs)))
        return call

    __name__ = "tinytx.strict_numpy"


# ---------------------------------------------------------------------------------------
# Device
# ---------------------------------------------------------------------------------------

class Device:
    """Where arrays live. Use `get_device(name)`; devices are singletons, compare with `is`."""

    def __init__(self, name: str):
        self.name = name
        self._ones_cache = {}
        self.xp = _cupy if name == "cuda" else np if name == "cpu" else _StrictModule()
        self.seed(0)

    def __repr__(self):
        return f"Device({self.name!r})"

    def __str__(self):
        return self.name

    # -- host <-> device --------------------------------------------------------------
    def asarray(self, x, dtype=None):
        """Any array-like (NumPy, CuPy, list, scalar) -> an array on this device."""
        if self.name == "cuda":
            return _cupy.asarray(x, dtype=dtype)
        cupy = _loaded_cupy()
        if cupy is not None and isinstance(x, cupy.ndarray):
            x = cupy.asnumpy(x)
        x = np.asarray(_unwrap(x), dtype=dtype)
        return StrictArray(x) if self.name == "strict" else x

    def to_host(self, x) -> np.ndarray:
        """An array of this device -> a NumPy array (a copy when it crosses devices)."""
        if self.name == "cuda":
            return _cupy.asnumpy(x)
        return np.asarray(_unwrap(x))

    def is_own(self, x) -> bool:
        """Whether `x` is an array of this device's kind."""
        if self.name == "cuda":
            return isinstance(x, _cupy.ndarray)
        if self.name == "strict":
            return isinstance(x, StrictArray)
        return type(x) is np.ndarray

    # -- the few library differences ------------------------------------------------------
    def scatter_add(self, target, indices, values):
        """target[indices] += values, adding repeated indices up (in place)."""
        if self.name == "cuda":
            _cupyx.scatter_add(target, indices, values)
        elif getattr(indices, "ndim", 0) == 1 and indices.dtype.kind in "iu" and (
                values.ndim == target.ndim >= 2):
            _scatter_rows(_unwrap(target), _unwrap(indices), _unwrap(values))
        else:
            np.add.at(_unwrap(target), _unwrap(indices), _unwrap(values))

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
        return self._own(np.fmax.reduce(_unwrap(x), axis=-1, keepdims=True))

    def _ones(self, n, dtype):
        key = (n, np.dtype(dtype))
        if key not in self._ones_cache:
            self._ones_cache[key] = self.xp.ones(n, dtype=dtype)
        return self._ones_cache[key]

    def erf(self, x):
        if self.name == "cuda":
            import cupyx.scipy.special
            return cupyx.scipy.special.erf(x)
        return self._own(_np_erf(_unwrap(x)))

    # -- random numbers: one generator per device, seeded by tinytx.manual_seed ---------
    def seed(self, seed: int):
        self._rng = CudaGenerator(seed) if self.name == "cuda" else np.random.default_rng(seed)

    def randn(self, shape, dtype):
        return self._own(self._rng.standard_normal(shape, dtype=dtype))

    def rand(self, shape, dtype):
        """Uniform in [0, 1)."""
        return self._own(self._rng.random(shape, dtype=dtype))

    def randint(self, low, high, shape):
        return self._own(self._rng.integers(low, high, shape))

    def _own(self, x):
        return StrictArray(x) if self.name == "strict" else x

    def get_rng_state(self):
        """JSON-serialisable state of this device's generator (for exact resume)."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state):
        if state is not None:
            self._rng.bit_generator.state = state


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


def _scatter_rows(target, rows, values):
    """target[rows] += values for whole rows (an embedding's backward) on NumPy: sort the
    rows, sum each run of equal rows with one reduceat, add once per distinct row. Several
    times faster than np.add.at, which handles one element at a time."""
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # first of each run
    target[rows[starts]] += np.add.reduceat(values[order], starts, axis=0)


_DEVICES: dict[str, Device] = {}
DEVICE_NAMES = ("cpu", "cuda", "strict")


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
        if name == "cuda" and not cuda_available():
            why = (f"CuPy could not be imported ({_cupy_error}); install it with "
                   "pip install 'tinytx[cuda12]' (or cuda13, matching your CUDA driver)"
                   if _cupy is None else "CuPy found no CUDA GPU or no working NVIDIA driver")
            raise RuntimeError(f"device 'cuda' was asked for, but {why}; use device='cpu'")
        _DEVICES[name] = Device(name)
    return _DEVICES[name]


def device_of(array) -> Device:
    """The Device an array belongs to (a StrictArray is 'strict', a CuPy array 'cuda')."""
    if isinstance(array, StrictArray):
        return get_device("strict")
    cupy = _loaded_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return get_device("cuda")
    return get_device("cpu")


def manual_seed(seed: int):
    """Seed the random generators of every device (parameter init, dropout, sampling)."""
    for name in ("cpu", "strict") + (("cuda",) if cuda_available() else ()):
        get_device(name).seed(seed)

