"""Parameter, a model's trainable weight, and `abstract_init()`, weights without memory.

Introduced in lesson 01 with Module (tinytx/nn/module.py), which registers a Parameter the
moment it is set as an attribute. Every layer of tinytx makes its weights with
`parameter(make, shape, dtype)`, so that a model can also be built without their memory:
inside `abstract_init()` modules are built without their memory: every weight made with
`parameter(...)` (all of tinytx's layers) is a placeholder with the right shape and dtype
and no data (NumPy's zero-stride `broadcast_to`), as PyTorch's meta device or
accelerate's `init_empty_weights`. `tinytx.checkpoint.load_model` builds such a
model from a checkpoint's config to compare its shapes with the file's before it
allocates a model that large. A placeholder model cannot run.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..backend import get_device
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a trainable weight: a leaf with requires_grad=True.

    A Parameter owns its array (a copy of `data`): optimizers update it in place, which
    must not reach into the array it was made from.

    Args: as `tinytx.tensor` (data, requires_grad=True, device, dtype).
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, device=None, dtype=None):
        super().__init__(data, requires_grad=requires_grad, device=device, dtype=dtype)
        self.data = self.data.copy()

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_ABSTRACT = [False]       # inside abstract_init()


@contextlib.contextmanager
def abstract_init():
    """Build modules whose weights hold no memory (see the module docstring).

    >>> from tinytx import nn
    >>> with nn.abstract_init():
    ...     big = nn.Linear(100_000, 100_000)          # 40 GB if it were real
    >>> big.weight.shape, big.weight.data.strides
    ((100000, 100000), (0, 0))
    """
    before, _ABSTRACT[0] = _ABSTRACT[0], True
    try:
        yield
    finally:
        _ABSTRACT[0] = before


def building_abstract() -> bool:
    """Whether modules are being built inside abstract_init()."""
    return _ABSTRACT[0]


def placeholder(shape, dtype) -> np.ndarray:
    """An array of `shape` and `dtype` that takes no memory (every element the same
    zero, read-only)."""
    return np.broadcast_to(np.zeros((), dtype), tuple(shape))


def parameter(make, shape, dtype, device=None) -> "Parameter":
    """A module's weight: `Parameter(make(), device=device)`, or, inside
    abstract_init(), a placeholder of `shape` and `dtype` (make is not called)."""
    if _ABSTRACT[0]:
        return Parameter._make(placeholder(shape, dtype), get_device("cpu"), True)
    return Parameter(make(), device=device)
