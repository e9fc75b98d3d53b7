"""The CUDA kernels of tinytx/kernels/cuda run in numba's CUDA simulator and equal their
CPU references, forward and backward (float32 to 1e-5, float64 to 1e-10), on tiny shapes
with tiles of 4: T not a multiple of the tile, Tq != Tk, causal + padding, fully masked
rows. The dispatch's table (tinytx.kernels.dispatch.OPS) drives the cases, and a CPU fused
kernel without a checked CUDA counterpart fails here.

tests/cudasim.py sets NUMBA_ENABLE_CUDASIM before numba is imported (and skips when it
cannot). With TINYTX_CUDA_TESTS=gpu (bench/device_check.sh) the same tests run on a real
GPU instead, on CuPy arrays, against the CPU fused kernels' xp code running on CuPy.
"""
import pathlib

import numpy as np
import pytest
from cudasim import DEVICE, assert_close, run

import tinytx as tx
from tinytx.gradcheck import gradcheck
from tinytx.kernels.dispatch import OPS, pick


def _t(a):
    """An integer or bool Tensor on the device under test."""
    return tx.tensor(a, device=DEVICE)


# -- the cases: name -> list of (id, make(dtype, rng) -> (inputs, kwargs)) -------------------

def _qkv(B, H, Tq, Tk, D, Dv=None):
    def make(dtype, rng):
        shapes = [(B, H, Tq, D), (B, H, Tk, D), (B, H, Tk, Dv or D)]
        return [rng.standard_normal(s).astype(dtype) for s in shapes]
    return make


def _padding(B, Tk, empty_batch=True):
    m = np.ones((B, 1, 1, Tk), bool)
    m[0, ..., Tk - 2:] = False                         # padded keys
    if empty_batch:
        m[-1] = False                                  # every key padded: fully masked rows
    return _t(m)


def attention_cases():
    return {
        "T6-not-tile": (_qkv(1, 2, 6, 6, 4), dict()),
        "Tq7-Tk5-causal": (_qkv(1, 2, 7, 5, 4), dict(is_causal=True)),       # rows 0, 1 masked
        "Tq5-Tk9-causal-pad": (_qkv(2, 1, 5, 9, 4, 3), dict(is_causal=True, mask=_padding(2, 9))),
        "pad-dot": (_qkv(2, 1, 5, 6, 4), dict(mask=_padding(2, 6), similarity="dot")),
        "cosine": (_qkv(1, 1, 5, 5, 4), dict(similarity="cosine", is_causal=True)),
    }


def _layer_norm(dtype, rng):
    return [rng.standard_normal((3, 2, 11)).astype(dtype) * 3 + 1,
            rng.standard_normal(11).astype(dtype), rng.standard_normal(11).astype(dtype)], {}


def _cross_entropy(dtype, rng):
    t = rng.integers(0, 13, (2, 5))
    t[0, 1] = t[1, 4] = -100                           # ignored rows
    return [rng.standard_normal((2, 5, 13)).astype(dtype) * 2, _t(t)], {}


def _lstm(dtype, rng):
    B, H, I = 3, 5, 4
    shapes = [(B, I), (B, H), (B, H), (H + I, 4 * H), (4 * H,)]
    return [rng.standard_normal(s).astype(dtype) for s in shapes], {}


def _bias_gelu(dtype, rng):
    return [rng.standard_normal((3, 4, 7)).astype(dtype) * 2, rng.standard_normal(7).astype(dtype)], {}


def _embedding(dtype, rng):
    idx = _t(np.array([[1, 3, 1], [0, 3, 3]]))  # repeated tokens: the atomic adds
    return [idx, rng.standard_normal((5, 6)).astype(dtype)], {}


def _single(make):
    return {"": (make, None)}


CASES = {
    "attention": attention_cases(),
    "flash_attention": attention_cases(),
    "layer_norm": _single(_layer_norm),
    "cross_entropy": _single(_cross_entropy),
    "lstm_cell": _single(_lstm),
    "bias_gelu": _single(_bias_gelu),
    "embedding": _single(_embedding),
}
FUNCTION_CASES = [(name, case) for name, cases in CASES.items() for case in cases]


def _inputs(make, kwargs, dtype):
    got = make(dtype, np.random.default_rng(0))
    return got if kwargs is None else (got, kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,case", FUNCTION_CASES, ids=[f"{n}-{c}" if c else n for n, c in FUNCTION_CASES])
def test_cuda_kernel_equals_cpu_reference(name, case, dtype):
    """Forward and every input gradient of the CUDA kernel equal the CPU fused kernel's
    (or, where there is none, the composed reference's)."""
    entry = OPS[name]
    make, kwargs = CASES[name][case]
    inputs, kwargs = _inputs(make, kwargs, dtype)
    ref, cuda_fn = entry.cpu or entry.composed, entry.cuda
    assert_close(run(lambda *x: cuda_fn(*x, **kwargs), inputs),
                 run(lambda *x: ref(*x, **kwargs), inputs), dtype)


def test_fully_masked_rows_give_zero_output_and_gradient():
    from tinytx.kernels.cuda.flash_attention import attention
    inputs = _qkv(2, 1, 5, 6, 4)("float64", np.random.default_rng(1))
    o, dq, dk, dv = run(lambda *x: attention(*x, mask=_padding(2, 6)), inputs)
    assert np.all(o[-1] == 0) and np.all(dq[-1] == 0) and np.all(dk[-1] == 0) and np.all(dv[-1] == 0)
    assert np.all(dk[0, :, -2:] == 0) and np.all(dv[0, :, -2:] == 0)     # padded keys
    assert np.abs(o[0]).min() > 0


def test_an_empty_batch_through_the_embedding_kernel():
    """No launch on zero rows (a grid of 0 blocks is a launch error on a GPU)."""
    from tinytx.kernels.cuda.embedding import embedding
    weight = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    out, grad = run(lambda i, w: embedding(i, w), [_t(np.zeros((0, 3), np.int64)), weight])
    assert out.shape == (0, 3, 6) and grad.shape == (5, 6) and not grad.any()


def test_cuda_kernels_pass_gradcheck():
    """float64 central differences, random upstream gradient, for the elementwise and
    row kernels (attention is pinned to the CPU kernels, which are gradient-checked)."""
    from tinytx.kernels.cuda.gelu import bias_gelu
    from tinytx.kernels.cuda.layer_norm import layer_norm
    rng = np.random.default_rng(2)
    x, w, b = (tx.tensor(rng.standard_normal(s), device=DEVICE, requires_grad=True)
               for s in [(2, 5), 5, 5])
    gradcheck(lambda x, w, b: layer_norm(x, w, b), [x, w, b])
    gradcheck(bias_gelu, [x, b])


def test_adamw_kernel_equals_optimizer():
    """Three AdamW steps by the kernel equal tinytx.optim.AdamW's (float64 to 1e-10)."""
    from tinytx.kernels.cuda.adamw import adamw_step
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal((3, 5))
    grads = [rng.standard_normal((3, 5)) for _ in range(3)]
    w = tx.tensor(p0.copy(), requires_grad=True)
    opt = tx.optim.AdamW([w], lr=0.1, weight_decay=0.1)
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, 1):
        w.grad = g.copy()
        opt.step()
        adamw_step(p, g, m, v, t, lr=0.1, weight_decay=0.1)
    np.testing.assert_allclose(p, w.numpy(), rtol=1e-10, atol=1e-10)


def test_every_cpu_fused_kernel_has_a_checked_cuda_counterpart():
    """Adding a CPU fused kernel, or a dispatch entry, without its CUDA check fails here."""
    kernels_dir = pathlib.Path(tx.__file__).parent / "kernels"
    cpu_modules = {p.stem for p in kernels_dir.glob("*.py")} - {"__init__", "dispatch",
                                                                 "cuda_ops"}
    registered = {e.cpu.__module__.rsplit(".", 1)[1] for e in OPS.values() if e.cpu}
    assert cpu_modules <= registered, f"CPU fused kernels missing from the dispatch: {cpu_modules - registered}"
    for name, entry in OPS.items():
        if entry.cuda is None:
            assert entry.why, f"{name}: no CUDA kernel and no reason given"
            continue
        checked = name in CASES or name in ("adam", "lstm_step", "linear_gelu")  # own tests
        assert checked, f"{name}: CUDA kernel {entry.cuda.__name__} has no simulator check in CASES"


def test_dispatch_picks_the_cuda_kernel_on_cuda_only():
    import types
    q, w = tx.zeros(1, 1, 3, 4), tx.ones(4)
    gpu, cpu = types.SimpleNamespace(cuda_kernels=True), tx.get_device("cpu")
    assert pick("layer_norm", gpu, q, w) is OPS["layer_norm"].cuda
    assert pick("layer_norm", cpu, q, w) is OPS["layer_norm"].cpu
    assert pick("layer_norm", gpu, q, None) is OPS["layer_norm"].composed   # no weight
    assert pick("attention", gpu, q, q, q) is OPS["attention"].cuda
    assert pick("attention", gpu, q, q, q, dropout_p=0.1) is OPS["attention"].cuda
    per_query = _t(np.tril(np.ones((3, 3), bool)))           # a mask that varies over queries
    assert pick("attention", gpu, q, q, q, mask=per_query) is OPS["attention"].cpu
    assert pick("linear", gpu, q, w) is OPS["linear"].cpu
    with tx.nn.fused.fused(False):
        assert pick("layer_norm", gpu, q, w) is OPS["layer_norm"].composed


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_step_equals_cpu(dtype):
    """The sequence step (x_t's part precomputed) with the CUDA gates, as the LSTM runs it."""
    from tinytx.kernels.cuda.lstm import lstm_step
    from tinytx.kernels.lstm import lstm_step as cpu_lstm_step
    rng = np.random.default_rng(4)
    B, H = 3, 5
    inputs = [rng.standard_normal(s).astype(dtype) for s in [(B, 4 * H), (B, H), (B, H), (H, 4 * H)]]
    assert_close(run(lstm_step, inputs), run(cpu_lstm_step, inputs), dtype)
