"""The row CUDA kernels (layer_norm, cross_entropy) as issue 20 wants them, checked
without a GPU:

  * LayerNorm's backward is row-parallel (blocks of rows, per-block partial sums of gw
    and gb, then a second kernel adds them): equal to the CPU kernel for 1 row, a
    multiple of the rows per block, one more, and many blocks;
  * cross-entropy validates its targets on the device: an out-of-range target gives a
    NaN loss, which the trainer's NaN guard stops on; ignore_index, all rows ignored,
    an empty batch and float16 logits still equal the CPU kernel.

That no wrapper reads a device value on the host is tests/test_cuda_host_reads.py; the
PTX of every kernel (no f64 in float32, no spills, shared memory within 48 KB) is checked
with all the others in tests/test_cuda_static.py. Kernels run in numba's CUDA simulator
(tests/cudasim.py sets NUMBA_ENABLE_CUDASIM=1 before numba is imported).
"""
import numpy as np
import pytest
from cudasim import assert_close, run, simulator_only

import tinytx as tx
from tinytx.kernels.cross_entropy import CrossEntropy
from tinytx.kernels.cuda import cross_entropy, layer_norm
from tinytx.kernels.layer_norm import layer_norm as cpu_layer_norm

simulator_only()


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
    assert_close(run(layer_norm.layer_norm, inputs), run(cpu_layer_norm, inputs), dtype)


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
    assert_close(got, ref, dtype)
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


def test_the_dispatch_sends_rows_too_wide_for_the_kernel_elsewhere():
    import types
    from tinytx.kernels.dispatch import OPS, pick
    gpu = types.SimpleNamespace(cuda_kernels=True)
    narrow, wide = tx.zeros(2, 768), tx.zeros(2, 8192)
    assert pick("layer_norm", gpu, narrow, tx.ones(768)) is OPS["layer_norm"].cuda
    assert pick("layer_norm", gpu, wide, tx.ones(8192)) is OPS["layer_norm"].cpu
