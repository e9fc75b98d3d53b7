"""Conversions that stay in the graph: a dtype cast and a move to another device.

Introduced in lesson 01 (`Tensor.to`, `.float()`, `.double()`). Like the shape ops they
compute nothing: backward hands the gradient back in the input's dtype, on the input's
device, so `(x * 2).double().sum().backward()` still reaches `x`. `upcast_dtype` says
which dtype a half-precision softmax or cross-entropy is computed in (float32).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_device
from ..function import Function


class AsType(Function):
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.x_dtype)


class ToDevice(Function):
    """x copied to another device (through the host); the gradient goes back the same way."""

    def __init__(self, device):
        self.output_device = get_device(device)

    def forward(self, x):
        return self.output_device.asarray(self.device.to_host(x))

    def backward(self, gy):
        return self.device.asarray(self.output_device.to_host(gy))


def astype(x, dtype):
    """x with another dtype; differentiable (the gradient is cast back).

    >>> import tinytx as tx
    >>> astype(tx.tensor([1.5]), "float64").dtype
    dtype('float64')
    """
    return AsType(dtype)(x)


def upcast_dtype(dtype):
    """The dtype that softmax-like reductions over `dtype` values run in: float32 for the
    half-precision dtypes (float16, and bfloat16 where the array library has one), the
    dtype itself otherwise — the rule of PyTorch's autocast for cross-entropy. In float16
    a log-sum-exp near 1e3 rounds to a multiple of 0.5 and near 3e4 to a multiple of 16,
    more than the whole loss of a confident model.

    >>> upcast_dtype("float16"), upcast_dtype("float64")
    (dtype('float32'), dtype('float64'))
    """
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def to_device(x, device):
    """x on another device ("cpu", "cuda", "strict"); differentiable."""
    return ToDevice(device)(x)
