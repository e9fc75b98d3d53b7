"""No CUDA kernel wrapper reads a device value on the host (on a GPU each read waits for
it), and each op launches as many kernels as its budget, forward and backward: every op
of the row, elementwise and attention files runs on arrays that, like CuPy's, answer
bool(), int(), float(), .item(), boolean-mask indexing … only by a wait, which here
raises HostRead. Issue 20; the kernels run in numba's CUDA simulator (tests/cudasim.py).
"""
import contextlib
import operator

import numpy as np
import pytest
from cudasim import simulator_only

from tinytx.backend import get_device
from tinytx.kernels import dispatch
from tinytx.kernels.cross_entropy import CrossEntropy
from tinytx.kernels.cuda import (cross_entropy, embedding, flash_attention, gelu, layer_norm,
                                 lstm)

simulator_only()
MODULES = (layer_norm, cross_entropy, gelu, embedding, lstm, flash_attention)


# -- no host reads ------------------------------------------------------------------------------

class HostRead(AssertionError):
    """A wrapper read a device value on the host (on a GPU: a wait for the device)."""


_FORBIDDEN = [False]


def _read(what):
    if _FORBIDDEN[0]:
        raise HostRead(f"host read of a device value: {what}")


def _reading(name):
    """ndarray's method `name`, raising HostRead first while host reads are forbidden."""
    def read(self, *args, **kwargs):
        _read(name)
        return getattr(np.ndarray, name)(self, *args, **kwargs)
    return read


class DeviceArray(np.ndarray):
    """A NumPy array standing in for a CuPy array. CuPy answers these only by copying to
    the host, which waits for the GPU; while `no_host_reads()` is on they raise HostRead:
    bool(), int(), float(), complex(), operator.index(), .item(), .tolist(), .nonzero(),
    boolean-mask indexing (the result's size depends on the values). Reductions and
    scalar indexing give 0-d DeviceArrays (as CuPy gives 0-d arrays, not NumPy scalars),
    so `bool(a.any())` and `int(a.sum())` reach __bool__ and __int__."""

    def __array_wrap__(self, array, context=None, return_scalar=False):
        return np.asarray(array).view(DeviceArray)

    def __getitem__(self, key):
        keys = key if isinstance(key, tuple) else (key,)
        if any(getattr(k, "dtype", None) == bool for k in keys):
            _read("boolean-mask indexing")
        out = super().__getitem__(key)
        return out if isinstance(out, np.ndarray) else np.asarray(out).view(DeviceArray)

    __bool__, __int__, __float__ = _reading("__bool__"), _reading("__int__"), _reading("__float__")
    __complex__, __index__ = _reading("__complex__"), _reading("__index__")
    item, tolist, nonzero = _reading("item"), _reading("tolist"), _reading("nonzero")


class DeviceXP:
    """NumPy as an op's `xp`, giving DeviceArrays; functions whose result's size (or
    value, as a Python number) depends on the data count as host reads, as on CuPy."""

    SIZED_BY_DATA = frozenset({"nonzero", "flatnonzero", "argwhere", "unique", "compress",
                               "extract"})

    def __getattr__(self, name):
        f = getattr(np, name)
        if isinstance(f, type) or not callable(f):
            return f

        def call(*args, **kwargs):
            if name in self.SIZED_BY_DATA or (name == "where" and len(args) == 1):
                _read(f"xp.{name}")
            out = f(*args, **kwargs)
            if isinstance(out, (np.generic, int, float)) and any(
                    isinstance(a, DeviceArray) for a in args):
                _read(f"xp.{name} gave a host number")
            return _device(out)
        return call


def _device(a):
    if isinstance(a, tuple):
        return tuple(_device(x) for x in a)
    return a.view(DeviceArray) if isinstance(a, np.ndarray) else a


@contextlib.contextmanager
def no_host_reads(monkeypatch):
    """Forbid host reads; every launch of the row and elementwise files is checked (grid
    sizes are host ints; a float32 kernel gets no Python float, which numba would type
    float64) and gets plain NumPy arrays (a kernel's reads are the device's own)."""
    from tinytx.kernels.cuda import common

    def launch(kernel, blocks, threads_per_block, *args):
        sizes = [*(blocks if isinstance(blocks, tuple) else (blocks,)),
                 *(threads_per_block if isinstance(threads_per_block, tuple) else
                   (threads_per_block,))]
        assert all(type(n) is int for n in sizes), (blocks, threads_per_block)
        if any(getattr(a, "dtype", None) == np.float32 for a in args):
            floats = [a for a in args if isinstance(a, float)]
            assert not floats, f"float32 kernel given float64 scalars {floats}"
        plain = [a.view(np.ndarray) if isinstance(a, DeviceArray) else a for a in args]
        _FORBIDDEN[0] = False                          # the simulated kernel is the device
        try:
            return common.launch(kernel, blocks, threads_per_block, *plain)
        finally:
            _FORBIDDEN[0] = True

    for module in MODULES:
        monkeypatch.setattr(module, "launch", launch)
    _FORBIDDEN[0] = True
    try:
        yield
    finally:
        _FORBIDDEN[0] = False


def forward_backward(op, inputs, monkeypatch, seed=0):
    """op.forward then op.backward on DeviceArrays, as Function.__call__ and
    Tensor.backward would run them, with host reads forbidden -> (outputs, gradients,
    launches in forward, launches in backward)."""
    op.device, op.xp = get_device("cpu"), DeviceXP()
    op.needs_input_grad = tuple(a.dtype.kind == "f" for a in inputs)
    rng = np.random.default_rng(seed)
    with dispatch.counting() as counts, no_host_reads(monkeypatch):
        ys = op.forward(*[_device(np.asarray(a)) for a in inputs])
        ys = ys if isinstance(ys, tuple) else (ys,)
        n_forward = counts["launches"]
        gys = [_device(rng.standard_normal(y.shape).astype(y.dtype)) for y in ys]
        grads = op.backward(*gys)
        n_backward = counts["launches"] - n_forward
    assert all(isinstance(y, DeviceArray) for y in ys)
    assert all(g is None or isinstance(g, DeviceArray) for g in grads)
    return ys, grads, n_forward, n_backward


def _ops():
    rng = np.random.default_rng(0)

    def f(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    B, H, I = 3, 5, 4
    return {  # name: (make the op, inputs, launches forward, launches backward)
        "layer_norm": (layer_norm.CudaLayerNorm, [f(2, 5, 11), f(11), f(11)], 1, 2),
        "cross_entropy": (cross_entropy.CudaCrossEntropy,
                          [f(2, 5, 13), np.array([[1, -100, 12, 0, 3], [-100, 13, 4, -1, 2]])],
                          1, 1),                   # 13 and -1: out of range, still no read
        "bias_gelu": (gelu.CudaBiasGELU, [f(3, 4, 7), f(7)], 1, 1),
        "embedding": (embedding.CudaEmbedding, [np.array([[1, 3, 1], [0, 3, 3]]), f(5, 6)], 0, 1),
        "lstm_cell": (lstm.CudaLSTMCell, [f(B, I), f(B, H), f(B, H), f(H + I, 4 * H), f(4 * H)],
                      1, 1),
        "lstm_step": (lstm.CudaLSTMStep, [f(B, 4 * H), f(B, H), f(B, H), f(H, 4 * H)], 1, 1),
        "attention": (lambda: flash_attention.CudaAttention(0.5, causal=True, dropout_p=0.2,
                                                            key=7),
                      [f(1, 2, 5, 4), f(1, 2, 6, 4), f(1, 2, 6, 4),
                       np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], np.uint8)], 1, 2),
    }


@pytest.mark.parametrize("name", list(_ops()))
def test_no_host_reads_and_launches_per_op(name, monkeypatch):
    """Forward and backward read no device value on the host, and launch as many kernels
    as the op's budget (CuPy's own work, e.g. a matmul or a zero fill, is not counted)."""
    make, inputs, n_forward, n_backward = _ops()[name]
    _, _, got_forward, got_backward = forward_backward(make(), inputs, monkeypatch)
    assert (got_forward, got_backward) == (n_forward, n_backward)


def test_the_host_read_check_catches_a_validation_that_waits(monkeypatch):
    """The CPU kernel validates its targets with bool(((t < 0) | (t >= V))[valid].any()):
    a wait on a GPU, which the check must catch (as it caught the old CUDA wrapper's)."""
    z = np.zeros((4, 3), np.float32)
    with pytest.raises(HostRead, match="boolean-mask|__bool__"):
        forward_backward(CrossEntropy(), [z, np.array([0, 1, -100, 2])], monkeypatch)
    with no_host_reads(monkeypatch):
        valid = _device(np.array([True, False, True]))
        for read in (lambda: int(valid.sum()), lambda: bool(valid.any()),
                     lambda: float(valid.mean()), lambda: valid.sum().item(),
                     lambda: operator.index(valid.sum()), lambda: valid[valid]):
            with pytest.raises(HostRead):
                read()
