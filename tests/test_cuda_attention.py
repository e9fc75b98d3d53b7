"""The CUDA attention kernels (tinytx/kernels/cuda/flash_attention*.py) beyond the shared
cases of tests/test_cuda_kernels.py: attention dropout against a composed reference that uses the
same Philox mask (forward and every gradient), the mask's determinism, head sizes 32, 64
and 128, the GPU tile layouts, the launch count, and the PTX of every float32
specialization (no f64 instruction, no spills, static shared memory within 48 KB).

Like test_cuda_kernels.py, the kernels run in numba's CUDA simulator (tests/cudasim.py sets
NUMBA_ENABLE_CUDASIM before numba is imported), or on a GPU with TINYTX_CUDA_TESTS=gpu.
"""
import numpy as np
import pytest
from cudasim import DEVICE, assert_close, numba, run

import tinytx as tx
import tinytx.functional as F
from tinytx.kernels import dispatch
from tinytx.kernels.cuda import philox
from tinytx.kernels.cuda.flash_attention import CudaAttention, attention, gpu_layout, key_padding
from tinytx.kernels.softmax_attention import attention as cpu_attention


def qkv(B, H, Tq, Tk, D, Dv, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in [(B, H, Tq, D), (B, H, Tk, D), (B, H, Tk, Dv)]]


def padding(B, Tk):
    """Keys Tk-2, Tk-1 of batch 0 padded; every key of the last batch padded."""
    m = np.ones((B, 1, 1, Tk), bool)
    m[0, ..., Tk - 2:] = False
    m[-1] = False
    return tx.tensor(m, device=DEVICE)


def next_key(device):
    """The key the next `device.philox_key()` will draw (the generator is put back)."""
    state = device.get_rng_state()
    key = device.philox_key()
    device.set_rng_state(state)
    return key


def same_mask_reference(keep, p, **kwargs):
    """F.scaled_dot_product_attention's maths with the dropout mask `keep` (B, H, Tq, Tk)
    given: O = (P ⊙ keep/(1-p)) V with P the composed reference's weights."""
    def fn(q, k, v):
        _, w = F.scaled_dot_product_attention(q, k, v, return_weights=True, **kwargs)
        z = tx.tensor((keep / (1 - p)).astype(q.dtype), device=DEVICE)
        return F.matmul(w * z, v)
    return fn


DROPOUT_CASES = {
    "T6-not-tile": ((1, 2, 6, 6, 4, 4), dict()),
    "Tq7-Tk5-causal": ((1, 2, 7, 5, 4, 4), dict(is_causal=True)),
    "Tq5-Tk9-causal-pad": ((2, 1, 5, 9, 4, 3), dict(is_causal=True, pad=True)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("case", list(DROPOUT_CASES))
def test_dropout_equals_the_same_mask_reference(case, p, dtype):
    (B, H, Tq, Tk, D, Dv), kw = DROPOUT_CASES[case]
    kw = dict(kw)
    if kw.pop("pad", False):
        kw["mask"] = padding(B, Tk)
    arrays = qkv(B, H, Tq, Tk, D, Dv, dtype)
    key = next_key(tx.get_device(DEVICE))                # what the kernel will draw
    keep = philox.keep_mask(key, p, B * H, Tq, Tk).reshape(B, H, Tq, Tk)
    got = run(lambda q, k, v: attention(q, k, v, dropout_p=p, **kw), arrays)
    assert_close(got, run(same_mask_reference(keep, p, **kw), arrays), dtype)


def test_dropout_off_when_not_training():
    arrays = qkv(1, 2, 6, 6, 4, 4, "float64")
    got = run(lambda q, k, v: attention(q, k, v, dropout_p=0.5, training=False), arrays)
    assert_close(got, run(cpu_attention, arrays), "float64")


def mask_seen_by_the_kernel(key, p, N=2, Tq=5, Tk=12):
    """The kernel's keep mask, read off its output: with q = 0 every allowed key has weight
    1/Tk, and v = I (Tk × Tk) makes O[i, j] = keep_ij / ((1-p) Tk)."""
    q = tx.tensor(np.zeros((1, N, Tq, 4)), device=DEVICE)
    k = tx.tensor(np.random.default_rng(0).standard_normal((1, N, Tk, 4)), device=DEVICE)
    v = tx.tensor(np.broadcast_to(np.eye(Tk), (1, N, Tk, Tk)).copy(), device=DEVICE)
    o = CudaAttention(1.0, dropout_p=p, key=key)(q, k, v).numpy()[0]
    return np.round(o * (1 - p) * Tk, 9)


def test_dropout_mask_is_deterministic_per_key():
    key, p = 2 ** 62 + 12345, 0.5
    a, b, c = (mask_seen_by_the_kernel(k, p) for k in (key, key, key + 1))
    np.testing.assert_array_equal(a, philox.keep_mask(key, p, 2, 5, 12))
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.2                          # another key, another mask
    assert 0.3 < a.mean() < 0.7


def test_philox_matches_random123_known_answers():
    cases = [((0,) * 6, (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
             ((0xFFFFFFFF,) * 6, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
             ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344, 0xA4093822, 0x299F31D0),
              (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for args, words in cases:
        assert tuple(int(w) for w in philox.philox4x32(*map(np.uint32, args))) == words


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("D", [32, 64, 128])
def test_head_sizes(D, dtype):
    """Causal + padding at head sizes 32, 64, 128 equal the CPU kernel; with dropout, the
    same-mask reference."""
    B, H, Tq, Tk = 2, 1, 5, 6
    arrays = qkv(B, H, Tq, Tk, D, D, dtype, seed=D)
    kw = dict(is_causal=True, mask=padding(B, Tk))
    assert_close(run(lambda *x: attention(*x, **kw), arrays), run(lambda *x: cpu_attention(*x, **kw), arrays), dtype)
    keep = philox.keep_mask(next_key(tx.get_device(DEVICE)), 0.3, B * H, Tq, Tk)
    assert_close(run(lambda *x: attention(*x, dropout_p=0.3, **kw), arrays),
                 run(same_mask_reference(keep.reshape(B, H, Tq, Tk), 0.3, **kw), arrays), dtype)


@pytest.mark.parametrize("layout", [(8, 8, 4, 2), (8, 16, 2, 4), (16, 8, 4, 2)])
def test_micro_tiles_of_several_rows_and_keys(layout):
    """Layouts with several threads per row (the row max and sum through shared memory)
    and several rows and keys per thread, with partial tiles, causal, padding, dropout."""
    B, H, Tq, Tk, D = 2, 1, 19, 21, 5
    arrays = qkv(B, H, Tq, Tk, D, 3, "float64")
    key, mask = 77, padding(B, Tk)
    keep = philox.keep_mask(key, 0.25, B * H, Tq, Tk).reshape(B, H, Tq, Tk)
    op = lambda q, k, v: CudaAttention(D ** -0.5, True, 0.25, key, layout)(q, k, v, _kmask(mask, B, Tk))
    assert_close(run(op, arrays), run(same_mask_reference(keep, 0.25, is_causal=True, mask=mask), arrays),
                 "float64")


def _kmask(mask, B, Tk):
    return tx.tensor(key_padding(mask, (B, 1, 1, Tk)), device=DEVICE)


def test_a_gpu_layout_in_the_simulator():
    """The float32 layout of head size 32 on the GPU (128 threads; 64 × 64 forward tiles,
    32 × 64 backward), at T past one tile."""
    B, H, T, D = 1, 1, 70, 32
    arrays = qkv(B, H, T, T, D, D, "float32")
    fwd, bwd = gpu_layout(False, D, D, 4), gpu_layout(True, D, D, 4)
    assert fwd == (64, 64, 16, 8) and bwd == (32, 64, 16, 8)

    class Op(CudaAttention):
        def _sizes(self, backward, q, v):
            return (*(bwd if backward else fwd), D, D, numba.float32, True, False, False)
    got = run(lambda *x: Op(D ** -0.5, causal=True)(*x), arrays)
    assert_close(got, run(lambda *x: cpu_attention(*x, is_causal=True), arrays), "float32")


def test_one_launch_forward_two_backward():
    arrays = [tx.tensor(a, device=DEVICE, requires_grad=True) for a in qkv(1, 2, 6, 6, 4, 4, "float32")]
    with dispatch.counting() as counts:
        y = attention(*arrays, dropout_p=0.2, is_causal=True)
        assert counts["launches"] == 1
        y.sum().backward()
        assert counts["launches"] == 3


# The PTX of every kernel of this file (no f64 in float32, no spills, shared memory
# within 48 KB) is checked with all the others in tests/test_cuda_static.py.
