"""The row and elementwise CUDA kernels (layer_norm, cross_entropy, gelu, embedding, lstm)
as issue 20 wants them, checked without a GPU:

  * float32 kernels compute in float32: their PTX (compiled as launched, fastmath
    included) has no f64 instruction, and ptxas spills nothing (registers printed);
  * LayerNorm's backward is row-parallel (blocks of rows, per-block partial sums of gw
    and gb, then a second kernel adds them): equal to the CPU kernel for 1 row, a
    multiple of the rows per block, one more, and many blocks;
  * cross-entropy validates its targets on the device: an out-of-range target gives a
    NaN loss, which the trainer's NaN guard stops on; ignore_index, all rows ignored,
    an empty batch and float16 logits still equal the CPU kernel;
  * no wrapper reads a device value on the host (on a GPU each read waits for it):
    each op runs forward and backward on arrays that, like CuPy's, answer bool(), int(),
    float(), .item(), boolean-mask indexing … only by a wait, which here raises HostRead.

Kernels run in numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1 set before numba is
imported, as in tests/test_cuda_kernels.py); the PTX is compiled in a subprocess without
the simulator and skips when libNVVM/NVRTC are missing.
"""
import contextlib
import operator
import os
import pathlib
import sys

import numpy as np
import pytest

if "numba" not in sys.modules:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
numba = pytest.importorskip("numba", reason="numba-cuda is not installed (pip install numba numba-cuda)")
pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
import tinytx as tx  # noqa: E402

if not numba.config.ENABLE_CUDASIM:
    pytest.skip("numba was imported without NUMBA_ENABLE_CUDASIM=1", allow_module_level=True)

from tinytx.backend import get_device  # noqa: E402
from tinytx.kernels import dispatch  # noqa: E402
from tinytx.kernels.cuda import (attention, cross_entropy, embedding, gelu,  # noqa: E402
                                 layer_norm, lstm)
from tinytx.kernels.cross_entropy import CrossEntropy  # noqa: E402
from tinytx.kernels.layer_norm import layer_norm as cpu_layer_norm  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = (layer_norm, cross_entropy, gelu, embedding, lstm)
TOL = {"float32": 1e-5, "float64": 1e-10}


def run(fn, inputs, seed=0):
    """fn on Tensors made from `inputs` (float arrays want a gradient) -> the outputs and
    the input gradients under one random upstream gradient, as NumPy arrays."""
    xs = [tx.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
          for a in inputs]
    ys = fn(*xs)
    ys = ys if isinstance(ys, tuple) else (ys,)
    rng = np.random.default_rng(seed)
    sum((y * tx.tensor(rng.standard_normal(y.shape).astype(y.dtype))).sum() for y in ys).backward()
    return [y.numpy() for y in ys] + [x.device.to_host(x.grad) for x in xs
                                      if isinstance(x, tx.Tensor) and x.requires_grad]


def assert_close(a, b, tol):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


# The PTX of every kernel of this file (no f64 in float32, no spills, shared memory
# within 48 KB) is checked with all the others in tests/test_cuda_static.py.


# -- LayerNorm: the row-parallel backward ------------------------------------------------------

R = layer_norm.rows_per_block(1)        # rows per backward block in the simulator


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_rows", [1, 2 * R, 2 * R + 1, 4 * R + 1])
@pytest.mark.parametrize("C", [3, 11])          # fewer columns than threads; not a multiple
def test_layer_norm_backward_equals_cpu_for_any_number_of_rows(n_rows, C, dtype):
    """1 row, a multiple of the rows per block R, one more, and 5 blocks (more partial
    rows than the sum kernel's 4 groups of threads), forward and backward."""
    assert layer_norm.rows_per_block(n_rows) == R        # the blocks below hold R rows each
    rng = np.random.default_rng(n_rows + C)
    inputs = [rng.standard_normal((n_rows, C)).astype(dtype) * 3 + 1,
              rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)]
    assert_close(run(layer_norm.layer_norm, inputs), run(cpu_layer_norm, inputs), TOL[dtype])


def test_layer_norm_backward_sums_the_partial_rows_deterministically():
    """Rows per block is a choice of grouping: other choices give gw, gb equal to 1e-5,
    and the same choice gives the same bits."""
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((9, 11)).astype("float32"),
              rng.standard_normal(11).astype("float32"), rng.standard_normal(11).astype("float32")]
    ref = run(cpu_layer_norm, inputs)
    for rows in (2, 9):
        def fn(*a, rows=rows):
            return layer_norm.layer_norm(*a, n_rows_per_block=rows)
        got = run(fn, inputs)
        assert_close(got, ref, 1e-5)
        again = run(fn, inputs)
        assert all(np.array_equal(a, b) for a, b in zip(got, again))


def test_layer_norm_empty_batch():
    """Zero rows: no launch (a grid of 0 blocks fails on a GPU), gw and gb are 0."""
    inputs = [np.zeros((0, 5), np.float32), np.ones(5, np.float32), np.zeros(5, np.float32)]
    y, gx, gw, gb = run(layer_norm.layer_norm, inputs)
    assert y.shape == gx.shape == (0, 5) and not gw.any() and not gb.any()


def test_layer_norm_too_wide_for_shared_memory_is_a_clear_error():
    layer_norm.check_width(6016, 128, np.float32)                      # fits
    with pytest.raises(ValueError, match=r"at most 6016 columns in float32 .*C = 6017"):
        layer_norm.check_width(6017, 128, np.float32)


# -- cross-entropy: targets checked on the device ---------------------------------------------

def _logits(shape, dtype="float32", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype) * 2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("targets,ignore_index", [
    ([[1, -100, 4], [0, 6, -100]], -100),            # some rows ignored
    ([[3, 1, 3], [0, 3, 6]], 3),                     # ignore_index is a class index
    ([[-100, -100, -100], [-100, -100, -100]], -100),  # every row ignored: loss 0, gradient 0
])
def test_cross_entropy_equals_cpu(targets, ignore_index, dtype):
    z, t = _logits((2, 3, 7), dtype), tx.tensor(np.array(targets))
    got = run(lambda z: cross_entropy.cross_entropy(z, t, ignore_index=ignore_index), [z])
    ref = run(lambda z: CrossEntropy(ignore_index)(z, t), [z])
    assert_close(got, ref, TOL[dtype])
    if ignore_index == -100 and np.all(np.array(targets) == -100):
        assert got[0] == 0 and not got[1].any()


def test_cross_entropy_mean_over_more_rows_than_threads():
    """The last block's sum strides over many rows (21 rows, 8 threads), int32 targets."""
    z = _logits((21, 5), seed=3)
    t = np.random.default_rng(3).integers(0, 5, 21).astype(np.int32)
    t[[2, 9, 20]] = -100
    t = tx.tensor(t)
    assert_close(run(lambda z: cross_entropy.cross_entropy(z, t), [z]),
                 run(lambda z: CrossEntropy()(z, t), [z]), 1e-5)


def test_cross_entropy_empty_batch_and_float16():
    empty = run(lambda z: cross_entropy.cross_entropy(z, tx.tensor(np.zeros((0,), np.int64))),
                [np.zeros((0, 5), np.float32)])
    assert empty[0] == 0 and empty[1].shape == (0, 5)
    z, t = _logits((4, 9), "float16"), tx.tensor(np.array([1, -100, 8, 0]))
    got = run(lambda z: cross_entropy.cross_entropy(z, t), [z])
    ref = run(lambda z: CrossEntropy()(z, t), [z])
    assert got[0].dtype == np.float32 and got[1].dtype == np.float16
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-6)
    np.testing.assert_allclose(got[1].astype(np.float32), ref[1].astype(np.float32), atol=1e-3)


@pytest.mark.parametrize("bad", [7, -1, 100])
def test_an_out_of_range_target_gives_a_nan_loss(bad):
    """Where the CPU kernel raises IndexError, the CUDA kernel (which never reads the
    targets on the host) makes that row's loss and gradient NaN; the other rows' gradient
    stays finite."""
    z, t = _logits((3, 7)), tx.tensor(np.array([1, bad, -100]))
    loss, gz = run(lambda z: cross_entropy.cross_entropy(z, t), [z])
    assert np.isnan(loss) and np.isnan(gz[1]).all()
    assert np.isfinite(gz[0]).all() and not gz[2].any()
    with pytest.raises(IndexError, match=r"\[0, 7\)"):
        CrossEntropy()(tx.tensor(z), t)


def test_the_trainers_nan_guard_reports_an_out_of_range_target(tmp_path):
    from tinytx.train import Trainer, TrainConfig, TrainingDiverged
    tx.manual_seed(0)
    model = tx.nn.Linear(4, 5)

    def get_batch(split, rng):
        x = tx.tensor(rng.standard_normal((2, 4)).astype(np.float32))
        return x, tx.tensor(np.array([1, 5 if split == "train" else 2]))   # 5: out of range

    def loss_fn(model, batch):
        return cross_entropy.cross_entropy(model(batch[0]), batch[1])

    config = TrainConfig(max_iters=2, eval_interval=10, log_interval=1, eval_iters=1,
                         warmup_iters=0, progress=False)
    with pytest.raises(TrainingDiverged, match="step 0: the loss is nan"):
        Trainer(model, config, get_batch, tmp_path, loss_fn=loss_fn).train()


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

    for module in MODULES + (attention,):
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
        "attention": (lambda: attention.CudaAttention(0.5, causal=True, dropout_p=0.2, key=7),
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


def test_the_dispatch_sends_rows_too_wide_for_the_kernel_elsewhere():
    import types
    from tinytx.kernels.dispatch import OPS, pick
    gpu = types.SimpleNamespace(cuda_kernels=True)
    narrow, wide = tx.zeros(2, 768), tx.zeros(2, 8192)
    assert pick("layer_norm", gpu, narrow, tx.ones(768)) is OPS["layer_norm"].cuda
    assert pick("layer_norm", gpu, wide, tx.ones(8192)) is OPS["layer_norm"].cpu
