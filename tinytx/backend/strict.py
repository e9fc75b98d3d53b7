"""The strict device's arrays: NumPy arrays that, like CuPy's, refuse to mix silently with
host arrays. It exists for the tests: a CPU-only CI catches device-mixing bugs with it
(docs/autograd.md).

Introduced in lesson 01 with the devices.

Every read of a strict array's values into the host (what waits for the GPU on the cuda
device) is counted in `HOST_READS`, by kind and by the line that asked for it, so a test
can hold a training step to the reads its caller asked for:

    >>> with counting_host_reads() as reads:
    ...     x = StrictArray(np.arange(3.0))
    ...     total = float(x.sum())
    >>> sum(reads.values()), next(iter(reads)).split(" at ")[0]
    (1, 'float')
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter

import numpy as np

# "<kind> at <file>:<line>" -> count: every read of a strict array into the host, with the
# first caller outside the backend (kinds: bool int float index item tolist tobytes repr
# to_host asarray). `counting_host_reads()` clears it; it counts at all times.
HOST_READS = Counter()
_BACKEND = os.path.dirname(__file__) + os.sep


def count_host_read(kind: str):
    """Count one host read of `kind`, at the first caller outside tinytx/backend."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_BACKEND):
        frame = frame.f_back
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else "?"
    HOST_READS[f"{kind} at {where}"] += 1


@contextlib.contextmanager
def counting_host_reads():
    """Clear `HOST_READS` and yield it: the strict arrays' host reads inside the block."""
    HOST_READS.clear()
    yield HOST_READS


class StrictArray(np.lib.mixins.NDArrayOperatorsMixin):
    """An array of the strict device: a NumPy array inside, refusing the host the way a
    CuPy array does.

    Operators, methods and NumPy functions work as usual between StrictArrays and Python
    or NumPy scalars, and reductions give 0-d arrays (not NumPy scalars), as CuPy's do.
    Refused with a TypeError, as CuPy refuses them:
      * implicit conversion to NumPy: `np.asarray(a)`, `np.array(a)`, `np.asarray([a, b])`;
      * mixing in host arrays, 0-d ones included: `a + np.ones(3)`, `a * np.array(2.0)`;
      * indexing with a host array: `a[np.array([0, 2])]`.
    `Device.to_host` and `Device.asarray` are the explicit transfers. Reading values into
    the host (`float(a)`, `bool(a)`, `a.item()`, `a.tolist()`, `repr(a)` …) works, as on
    CuPy where it waits for the GPU, and is counted in `HOST_READS`.
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
            kwargs["out"] = unwrap(out)
        return _wrap(getattr(ufunc, method)(*unwrap(inputs), **unwrap(kwargs)))

    def __array_function__(self, func, types, args, kwargs):
        _refuse_host(args)
        _refuse_host(tuple(kwargs.values()))
        return _wrap(func(*unwrap(args), **unwrap(kwargs)))

    def __getitem__(self, key):
        _refuse_host(key if isinstance(key, tuple) else (key,))
        return _wrap(self.a[unwrap(key)])

    def __setitem__(self, key, value):
        _refuse_host((key if isinstance(key, tuple) else (key,)) + (value,))
        self.a[unwrap(key)] = unwrap(value)

    def __getattr__(self, name):  # shape, dtype, T, reshape, astype, sum, … of the array
        if name == "a" or name.startswith("__"):  # `a` unset (copy, pickle); no
            raise AttributeError(name)              # __array_interface__ & co for NumPy
        attr = getattr(self.a, name)
        if name in _READS:
            count_host_read(name)
        if not callable(attr):
            return _wrap(attr) if isinstance(attr, np.ndarray) else attr

        def method(*args, **kwargs):
            _refuse_host(args)
            _refuse_host(tuple(kwargs.values()))
            return _wrap(attr(*unwrap(args), **unwrap(kwargs)))
        return method

    def __len__(self):
        return len(self.a)

    def __iter__(self):
        return (_wrap(row) for row in self.a)

    def __float__(self):
        count_host_read("float")
        return float(self.a)

    def __int__(self):
        count_host_read("int")
        return int(self.a)

    def __index__(self):
        count_host_read("index")
        return self.a.__index__()

    def __bool__(self):
        count_host_read("bool")
        return bool(self.a)

    def __repr__(self):
        count_host_read("repr")
        return f"strict_{self.a!r}"


_READS = {"item", "tolist", "tobytes"}   # the methods that copy values to the host


def _refuse_host(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            _refuse_host(v)
        elif isinstance(v, np.ndarray):
            raise TypeError("strict device: implicit conversion between a host (NumPy) "
                            f"array of shape {v.shape} and a device array is not allowed; "
                            "move it with Device.asarray() first")


def unwrap(v):
    if isinstance(v, StrictArray):
        return v.a
    if isinstance(v, (list, tuple)):
        return type(v)(unwrap(x) for x in v)
    if isinstance(v, dict):
        return {k: unwrap(x) for k, x in v.items()}
    return v


def _wrap(v):
    if isinstance(v, np.ndarray):
        return StrictArray(v)
    if isinstance(v, np.generic):  # CuPy reductions return 0-d arrays, never scalars
        return StrictArray(np.asarray(v))
    if isinstance(v, (list, tuple)):
        return type(v)(_wrap(x) for x in v)
    return v


class StrictModule:
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
            return _wrap(attr(*unwrap(args), **unwrap(kwargs)))
        return call

    __name__ = "tinytx.strict_numpy"
