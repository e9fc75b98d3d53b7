"""Tensor's operators and op shortcuts: `x + y`, `x @ w`, `x[i]`, `x.sum()`, `x.T`, `x.to()`.

Introduced in lesson 00. The ops are built on Tensor (each one takes and returns
Tensors), so tensor.py cannot import them without an import cycle. Instead Tensor is
defined first, the ops on top of it, and this module — run once when `tinytx.functional`
is imported, which `import tinytx` does — gives Tensor its operators. Each one is a plain
call of the op of the same name: `x + y` is exactly `F.add(x, y)`, `x.sum()` is
`F.sum(x)`.

    >>> import tinytx as tx
    >>> x = tx.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x + 1).sum().item()
    7.0
"""
from __future__ import annotations

import numpy as np

from ..backend import get_device
from ..tensor import Tensor, as_dtype
from . import activations as A
from . import arithmetic as M
from . import convert as C
from . import reductions as R
from . import shape as S

# -- operators -------------------------------------------------------------------------------
Tensor.__add__ = lambda self, o: M.add(self, o)
Tensor.__radd__ = lambda self, o: M.add(o, self)
Tensor.__sub__ = lambda self, o: M.sub(self, o)
Tensor.__rsub__ = lambda self, o: M.sub(o, self)
Tensor.__mul__ = lambda self, o: M.mul(self, o)
Tensor.__rmul__ = lambda self, o: M.mul(o, self)
Tensor.__truediv__ = lambda self, o: M.div(self, o)
Tensor.__rtruediv__ = lambda self, o: M.div(o, self)
Tensor.__pow__ = lambda self, p: M.pow(self, p)
Tensor.__matmul__ = lambda self, o: M.matmul(self, o)
Tensor.__rmatmul__ = lambda self, o: M.matmul(o, self)
Tensor.__neg__ = lambda self: M.neg(self)
Tensor.__getitem__ = lambda self, key: S.getitem(self, key)

# -- methods (shortcuts for F.*) ---------------------------------------------------------------
Tensor.sum = lambda self, axis=None, keepdims=False: R.sum(self, axis, keepdims)
Tensor.mean = lambda self, axis=None, keepdims=False: R.mean(self, axis, keepdims)
Tensor.max = lambda self, axis=None, keepdims=False: R.max(self, axis, keepdims)
Tensor.var = lambda self, axis=None, keepdims=False: R.var(self, axis, keepdims)
Tensor.reshape = lambda self, *shape: S.reshape(self, *shape)
Tensor.transpose = lambda self, *axes: S.transpose(self, *axes)
Tensor.permute = lambda self, *axes: S.permute(self, *axes)
Tensor.split = lambda self, split_size_or_sections, axis=-1: S.split(
    self, split_size_or_sections, axis)
Tensor.squeeze = lambda self, axis=None: S.squeeze(self, axis)
Tensor.unsqueeze = lambda self, axis: S.unsqueeze(self, axis)
Tensor.broadcast_to = lambda self, shape: S.broadcast_to(self, shape)
Tensor.T = property(lambda self: S.transpose(self))
Tensor.exp = lambda self: M.exp(self)
Tensor.log = lambda self: M.log(self)
Tensor.sqrt = lambda self: M.sqrt(self)
Tensor.tanh = lambda self: A.tanh(self)
Tensor.sigmoid = lambda self: A.sigmoid(self)
Tensor.relu = lambda self: A.relu(self)
Tensor.softmax = lambda self, axis=-1: A.softmax(self, axis)


# -- conversions (differentiable, like any op) ------------------------------------------------
def to(self, device=None, dtype=None) -> Tensor:
    """A copy on another device and/or with another dtype; differentiable, like any
    op (the gradient flows back to self, cast back and on self's device)."""
    dev = get_device(device) if device is not None else self.device
    dtype = as_dtype(dtype)
    out = self if dev is self.device else C.to_device(self, dev)
    return out if dtype is None or dtype == out.dtype else C.astype(out, dtype)


Tensor.to = to
Tensor.float = lambda self: to(self, dtype=np.float32)
Tensor.double = lambda self: to(self, dtype=np.float64)
