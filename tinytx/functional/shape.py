"""Shape ops: reshape, transpose, permute, broadcast_to, squeeze, unsqueeze, getitem,
concat, stack, split.

Introduced in lesson 05 (splitting into heads: (B, T, C) -> (B, H, T, D)). None of these
computes anything: backward moves the gradient back to where each element came from.
"""
from __future__ import annotations

from ..function import Function, sum_to
from ..tensor import Tensor


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.x_shape)


class Permute(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        self.axes = tuple(a % x.ndim for a in self.axes) if self.axes else tuple(
            reversed(range(x.ndim)))
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = sorted(range(len(self.axes)), key=lambda i: self.axes[i])
        return gy.transpose(inverse)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        return self.xp.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


class GetItem(Function):
    """x[key]: basic slicing, integer arrays and boolean masks (NumPy's rules).

    Backward writes the gradient back where each element came from; with integer
    arrays an element can be picked twice, so it scatter-adds.
    """

    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.x_shape, self.dtype = x.shape, x.dtype
        return x[self.key]

    def backward(self, gy):
        gx = self.xp.zeros(self.x_shape, dtype=gy.dtype)
        keys = self.key if isinstance(self.key, tuple) else (self.key,)
        if any(hasattr(k, "shape") and k.dtype.kind in "iu" for k in keys):
            self.device.scatter_add(gx, self.key, gy)
        else:
            gx[self.key] = gy
        return gx


class Concat(Function):
    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return self.xp.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        return _split(self.xp, gy, self.sizes, self.axis)


class Stack(Function):
    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        return self.xp.stack(xs, axis=self.axis)

    def backward(self, gy):
        n = gy.shape[self.axis]
        return tuple(self.xp.take(gy, i, axis=self.axis) for i in range(n))


class Split(Function):
    """Cut x along `axis` into pieces of the given sizes (one output per piece)."""

    def __init__(self, sizes, axis):
        self.sizes, self.axis = sizes, axis

    def forward(self, x):
        return _split(self.xp, x, self.sizes, self.axis)

    def backward(self, *gys):
        return self.xp.concatenate(gys, axis=self.axis)


def _split(xp, x, sizes, axis):
    bounds, total = [], 0
    for n in sizes[:-1]:
        total += n
        bounds.append(total)
    return tuple(xp.split(x, bounds, axis=axis))


def _unwrap_key(key):
    """Index tensors inside a key -> their arrays."""
    if isinstance(key, tuple):
        return tuple(_unwrap_key(k) for k in key)
    return key.data if isinstance(key, Tensor) else key


def reshape(x, *shape):
    """Same elements, new shape (one dimension may be -1). reshape(x, 2, 3) or (x, (2, 3))."""
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Reshape(shape)(x)


def transpose(x, dim0=-2, dim1=-1):
    """Swap two axes (by default the last two: the matrix transpose, as in K^T)."""
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute(tuple(axes))(x)


def permute(x, *axes):
    """Reorder all axes, e.g. permute(x, 0, 2, 1, 3): (B, T, H, D) -> (B, H, T, D)."""
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    if sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
        raise ValueError(f"permute: axes {axes} are not a permutation of {x.ndim} axes")
    return Permute(axes)(x)


def broadcast_to(x, shape):
    return BroadcastTo(shape)(x)


def squeeze(x, axis=None):
    """Drop axes of size 1 (all of them, or the one given)."""
    axes = range(x.ndim) if axis is None else [a % x.ndim for a in _as_tuple(axis)]
    for a in axes:
        if axis is not None and x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1")
    return Reshape(tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))(x)


def unsqueeze(x, axis):
    """Insert an axis of size 1 at `axis`."""
    axis = axis % (x.ndim + 1)
    return Reshape(x.shape[:axis] + (1,) + x.shape[axis:])(x)


def getitem(x, key):
    return GetItem(_unwrap_key(key))(x)


def concat(xs, axis=0):
    """Join tensors along an existing axis."""
    return Concat(axis)(*xs)


def stack(xs, axis=0):
    """Join tensors along a new axis."""
    return Stack(axis)(*xs)


def split(x, split_size_or_sections, axis=-1):
    """Split into pieces of size `split_size` (the last may be smaller) or of the given
    sizes, as torch.split: q, k, v = split(qkv, n_embd, axis=2)."""
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = list(split_size_or_sections)
    if sum(sizes) != n:
        raise ValueError(f"split: sizes {sizes} do not add up to the axis length {n}")
    return Split(sizes, axis)(x)


def _as_tuple(a):
    return tuple(a) if isinstance(a, (tuple, list)) else (a,)
