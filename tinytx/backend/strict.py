"""The strict device's arrays: NumPy arrays that, like CuPy's, refuse to mix silently with
host arrays. It exists for the tests: a CPU-only CI catches device-mixing bugs with it
(docs/autograd.md).

Introduced in lesson 01 with the devices.
"""
from __future__ import annotations

import numpy as np


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
