"""Tensor: an array, its gradient, and the Function that made it.

Introduced in lesson 00. A Tensor wraps an array of its device (`data`), remembers the
Function that produced it (`_ctx`) and, after `backward()`, holds `grad` (an array of
the same shape, on the same device). Backward is one iterative sweep over the graph in
reverse topological order, so a chain of 100,000 ops neither recurses nor slows down
quadratically.

Tensor knows nothing of the ops: they are built on it. Its operators and op methods
(`x + y`, `x @ w`, `x[i]`, `x.sum()`, `x.T`, `x.to("cuda")`) are given to it by
`tinytx/functional/tensor_methods.py`, which `import tinytx` runs.

    >>> import tinytx as tx
    >>> x = tx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)
"""
from __future__ import annotations

import contextlib

import numpy as np

from .autograd import count_hooked, run_backward
from .backend import Device, device_of, get_device

_grad_enabled = True

# The capture recording a step now (tinytx.capture), or None: every op reports to it
# (function.py), and a read of a tensor's values into Python is refused (`_host_read`).
RECORDING = [None]


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def no_grad():
    """Context manager (or decorator) in which ops record no graph: for evaluation and
    sampling, where it saves the memory of everything backward would need."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def as_dtype(dtype):
    return None if dtype is None else np.dtype(dtype)


class Tensor:
    __slots__ = ("data", "grad", "requires_grad", "device", "_ctx", "_index", "_grad_hooks",
                 "__weakref__")
    __array_priority__ = 1000  # so `ndarray * Tensor` defers to Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, device=None, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        dev = get_device(device) if device is not None else device_of(data)
        dtype = as_dtype(dtype)
        if dtype is None and not hasattr(data, "dtype"):
            probe = np.asarray(data)  # Python lists and scalars: floats become float32
            dtype = np.dtype(np.float32) if probe.dtype.kind == "f" else probe.dtype
        arr = dev.asarray(data, dtype=dtype)
        if arr is data or getattr(arr, "base", None) is not None:
            arr = arr.copy()  # like torch.tensor: never share memory with the caller's array
        if requires_grad and arr.dtype.kind not in "fc":
            raise TypeError(f"requires_grad: only floating tensors can require a gradient, "
                            f"got dtype {arr.dtype}")
        self.data, self.device, self.requires_grad = arr, dev, requires_grad
        self.grad, self._ctx, self._index = None, None, 0

    @classmethod
    def _make(cls, array, device: Device, requires_grad: bool):
        """Wrap an op's result without conversion (it must already be on `device`)."""
        if not device.is_own(array):
            if isinstance(array, np.generic):
                array = np.asarray(array)  # NumPy reductions return scalars
            if not device.is_own(array):
                raise TypeError(f"an op returned {type(array).__name__} for device "
                                f"{device}: ops must compute with the device's xp")
        t = cls.__new__(cls)
        t.data, t.device, t.requires_grad = array, device, requires_grad
        t.grad, t._ctx, t._index = None, None, 0
        return t

    # -- properties ------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._ctx is None)

    def __len__(self):
        return self.data.shape[0]

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        dev = "" if self.device is get_device() else f", device='{self.device}'"
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        return f"tensor({body}{dev}{grad})"

    def numpy(self) -> np.ndarray:
        """A NumPy copy of the data, on the host."""
        _host_read("numpy()")
        return np.array(self.device.to_host(self.data))

    def item(self):
        if self.size != 1:
            raise ValueError(f"item(): only a tensor with one element has an item, "
                             f"got shape {self.shape}")
        _host_read("item() (or bool(), int(), float())")
        return self.device.to_host(self.data).item()

    def __bool__(self):
        return bool(self.item())

    def tolist(self):
        _host_read("tolist()")
        return self.device.to_host(self.data).tolist()

    def detach(self) -> Tensor:
        """The same data, cut off from the graph."""
        return Tensor._make(self.data, self.device, False)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    # -- autograd ------------------------------------------------------------------------
    def retain_grad(self):
        """Keep `grad` on this non-leaf tensor after backward (leaves always keep it)."""
        if self._ctx is not None:
            self._ctx.retain(self._index, self)

    def register_grad_hook(self, hook):
        """Call `hook(self)` in every backward sweep once this leaf's `.grad` is final for
        that sweep (after its last accumulation), while the rest of the graph is still
        being differentiated; data-parallel training starts its all-reduce from here.
        Returns a function that removes the hook."""
        if self._ctx is not None:
            raise RuntimeError("register_grad_hook: only a leaf tensor (a parameter) has a "
                               "final gradient; this one was made by an op")
        self._grad_hooks = (getattr(self, "_grad_hooks", None) or []) + [hook]
        count_hooked(+1)

        def remove():
            if any(h is hook for h in self._grad_hooks):
                self._grad_hooks = [h for h in self._grad_hooks if h is not hook]
                count_hooked(-1)
        return remove

    def backward(self, gradient=None, retain_graph: bool = False):
        """Accumulate d(self)/d(leaf) into `leaf.grad` for every leaf that requires grad.

        Args:
            gradient: the upstream gradient, same shape as self; needed unless self has
                one element.
            retain_graph: keep the saved arrays so backward can run through the graph again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad (no input "
                               "had requires_grad=True, or it was made under no_grad())")
        if gradient is None:
            if self.size != 1:
                raise RuntimeError(f"backward(): a gradient must be passed for a tensor "
                                   f"of shape {self.shape} (only one-element tensors get "
                                   f"an implicit gradient of 1); call .sum() first or "
                                   f"pass gradient=")
            gradient = self.device.xp.ones_like(self.data)
        else:
            gradient = gradient.data if isinstance(gradient, Tensor) else gradient
            gradient = self.device.asarray(gradient, dtype=self.dtype)
            if gradient.shape != self.shape:
                raise ValueError(f"backward(): gradient has shape {gradient.shape}, "
                                 f"expected the tensor's shape {self.shape}")
        run_backward(self, gradient, retain_graph)

    # -- comparisons (not differentiable: they make boolean constants) ---------------------
    def _compare(self, other, op):
        a, b = self.data, other.data if isinstance(other, Tensor) else other
        if isinstance(other, Tensor) and other.device is not self.device:
            raise RuntimeError(f"comparison: tensors on different devices: "
                               f"{self.device} and {other.device}")
        return Tensor._make(op(a, b), self.device, False)

    __lt__ = lambda self, o: self._compare(o, lambda a, b: a < b)
    __le__ = lambda self, o: self._compare(o, lambda a, b: a <= b)
    __gt__ = lambda self, o: self._compare(o, lambda a, b: a > b)
    __ge__ = lambda self, o: self._compare(o, lambda a, b: a >= b)
    __eq__ = lambda self, o: self._compare(o, lambda a, b: a == b)
    __ne__ = lambda self, o: self._compare(o, lambda a, b: a != b)
    __hash__ = object.__hash__

    def argmax(self, axis=None):
        return Tensor._make(self.device.xp.argmax(self.data, axis=axis), self.device, False)


def _host_read(what: str):
    """Refuse a host read while a step is captured: a replay could not repeat it."""
    if RECORDING[0] is not None:
        RECORDING[0].refuse(f"Tensor.{what}")


def to_tensors(inputs, op_name: str):
    """Inputs of an op -> Tensors on one device. Python numbers become constants of the
    first tensor's dtype; an input on another device is an error naming both devices."""
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    ref = next((x for x in tensors if x.dtype.kind == "f"), tensors[0] if tensors else None)
    if ref is None:
        raise TypeError(f"{op_name}: expected at least one Tensor input, got "
                        f"{[type(x).__name__ for x in inputs]}")
    device, out = ref.device, []
    for x in inputs:
        if not isinstance(x, Tensor):
            if isinstance(x, (bool, int, float, np.generic)):
                x = Tensor._make(device.xp.asarray(x, dtype=_constant_dtype(ref, x)),
                                 device, False)
            else:
                x = Tensor(x)  # a raw array keeps its own device, checked below
        if x.device is not device:
            raise RuntimeError(f"{op_name}: inputs are on different devices: "
                               f"{device} and {x.device}; move them with .to(device)")
        out.append(x)
    return out, device


def _constant_dtype(ref: Tensor, c):
    if ref.dtype.kind == "f" or isinstance(c, (bool, int, np.integer)):
        return ref.dtype
    return np.float32


# -- factories ----------------------------------------------------------------------------
def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A Tensor from a list, a number or an array (floats default to float32)."""
    return Tensor(data, requires_grad=requires_grad, device=device, dtype=dtype)


def _shape(shape):
    """zeros(2, 3) and zeros((2, 3)) mean the same."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _filled(fill, shape, dtype, device, requires_grad):
    dev = get_device(device)
    shape = _shape(shape)
    data = dev.xp.full(shape, fill, dtype=as_dtype(dtype) or np.float32)
    return Tensor._make(data, dev, requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(1, shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(fill_value, (shape,), dtype, device, requires_grad)


def zeros_like(t: Tensor, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=t.dtype, device=t.device, requires_grad=requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from the device's generator (seed with tinytx.manual_seed)."""
    dev = get_device(device)
    shape = _shape(shape)
    return Tensor._make(dev.randn(shape, as_dtype(dtype) or np.float32), dev, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1)."""
    dev = get_device(device)
    shape = _shape(shape)
    return Tensor._make(dev.rand(shape, as_dtype(dtype) or np.float32), dev, requires_grad)


def randint(low, high, shape, device=None) -> Tensor:
    """Integers in [low, high) (int64)."""
    dev = get_device(device)
    return Tensor._make(dev.randint(low, high, tuple(shape)), dev, False)


def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    dev = get_device(device)
    if stop is None:
        start, stop = 0, start
    return Tensor._make(dev.xp.arange(start, stop, step, dtype=as_dtype(dtype)), dev, False)
