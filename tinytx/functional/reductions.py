"""Reductions: sum, mean, max, var over an axis (or all axes), with keepdims.

Introduced in lesson 01. The backward of each reduction spreads the incoming gradient
back over the reduced axes (`_expand`).
"""
from __future__ import annotations

import math

from ..function import Function


def _axes(axis, ndim):
    """axis (None, int or tuple, negatives allowed) -> a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def _expand(xp, gy, x_shape, axes, keepdims):
    """The gradient of a reduction's output, broadcast back to the input's shape."""
    if not keepdims:
        gy = xp.expand_dims(gy, axes)
    return xp.broadcast_to(gy, x_shape)


class Sum(Function):
    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape, self.axes = x.shape, _axes(self.axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _expand(self.xp, gy, self.shape, self.axes, self.keepdims)


class Mean(Sum):
    def forward(self, x):
        y = super().forward(x)
        self.n = math.prod(x.shape[a] for a in self.axes)
        return y / x.dtype.type(self.n)

    def backward(self, gy):
        return super().backward(gy / gy.dtype.type(self.n))


class Max(Function):
    """Maximum along axes; ties share the gradient equally."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x, self.axes = x, _axes(self.axis, x.ndim)
        self.y = x.max(axis=self.axes, keepdims=True)
        return self.y if self.keepdims else self.y.squeeze(axis=self.axes)

    def backward(self, gy):
        is_max = self.x == self.y
        share = is_max / is_max.sum(axis=self.axes, keepdims=True)
        return share.astype(gy.dtype) * _expand(self.xp, gy, self.x.shape, self.axes,
                                                self.keepdims)


class Var(Function):
    """Variance (divisor N - ddof); backward: gx = gy·2(x - mean)/(N - ddof)."""

    def __init__(self, axis=None, keepdims=False, ddof=0):
        self.axis, self.keepdims, self.ddof = axis, keepdims, ddof

    def forward(self, x):
        self.axes = _axes(self.axis, x.ndim)
        self.xc = x - x.mean(axis=self.axes, keepdims=True)
        self.n = math.prod(x.shape[a] for a in self.axes) - self.ddof
        return (self.xc * self.xc).sum(axis=self.axes, keepdims=self.keepdims) / self.n

    def backward(self, gy):
        g = _expand(self.xp, gy, self.xc.shape, self.axes, self.keepdims)
        return g * self.xc * (2 / self.n)


def sum(x, axis=None, keepdims=False):
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims=False):
    return Mean(axis, keepdims)(x)


def max(x, axis=None, keepdims=False):
    return Max(axis, keepdims)(x)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance along `axis`; ddof=0 is the population variance LayerNorm uses."""
    return Var(axis, keepdims, ddof)(x)
