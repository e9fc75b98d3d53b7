"""Fused kernels equal their composed references in F, forward and backward, and pass
float64 gradient checks with a random upstream gradient."""
import numpy as np
import pytest

import tinytx as tx
import tinytx.functional as F
from tinytx.kernels.cross_entropy import cross_entropy as fused_cross_entropy
from tinytx.kernels.layer_norm import layer_norm as fused_layer_norm
from tinytx.kernels.linear import linear as fused_linear
from tinytx.kernels.linear_gelu import linear_gelu as fused_linear_gelu


def _pair(fn_a, fn_b, inputs, device):
    """Outputs and input gradients of two implementations under one random upstream."""
    results = []
    for fn in (fn_a, fn_b):
        rng = np.random.default_rng(0)  # the same upstream gradient for both
        xs = [tx.tensor(x, device=device, requires_grad=x.dtype.kind == "f") for x in inputs]
        y = fn(*xs)
        w = tx.tensor(rng.standard_normal(y.shape), device=device)
        (y * w).sum().backward()
        results.append((y.numpy(), [x.numpy() if x.grad is None else
                                    x.device.to_host(x.grad) for x in xs if x.requires_grad]))
    return results


def _assert_same(a, b, tol=1e-10):
    np.testing.assert_allclose(a[0], b[0], rtol=tol, atol=tol)
    for ga, gb in zip(a[1], b[1]):
        np.testing.assert_allclose(ga, gb, rtol=tol, atol=tol)


@pytest.mark.parametrize("bias, piece, shape", [(True, None, (2, 5, 7)),
                                                (False, None, (2, 5, 7)),
                                                (True, 20, (2, 5, 7)), (True, None, (1, 1, 7)),
                                                (False, None, (7,))])
def test_layer_norm_matches_composed(device, bias, piece, shape, monkeypatch):
    """piece=20: rows of 7 go in pieces of 2 rows (Device.row_pieces), the last one short.
    One row ((1, 1, 7), (7,)): the decode step's path, on the row as a vector."""
    if piece:
        monkeypatch.setattr(type(device), "PIECE", piece)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    w, b = rng.standard_normal(7), rng.standard_normal(7)
    ins = [x, w, b] if bias else [x, w]
    fused, composed = _pair(fused_layer_norm, F.layer_norm, ins, device)
    _assert_same(fused, composed)


@pytest.mark.parametrize("rows", [(3,), (1, 1)])
def test_layer_norm_gradcheck(device, rng, rows):
    x, w, b = (tx.tensor(rng.standard_normal(s), device=device, requires_grad=True)
               for s in [rows + (6,), (6,), (6,)])
    assert tx.gradcheck(fused_layer_norm, [x, w, b])


@pytest.mark.parametrize("ignore, piece, dtype", [(False, None, "float64"),
                                                  (True, None, "float64"),
                                                  (True, 20, "float64"), (True, 20, "float16")])
def test_cross_entropy_matches_composed(device, ignore, piece, dtype, monkeypatch):
    """piece=20: rows of 9 go in pieces of 2 rows (Device.row_pieces), the last one short.
    float16: logits near 1e3, both worked in float32; the float16 gradients may differ
    by their last bit (each rounds its own float32 value once)."""
    if piece:
        monkeypatch.setattr(type(device), "PIECE", piece)
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4, 9)) * 2
    if dtype == "float16":
        logits = (logits + 1000).astype(dtype)
    t = rng.integers(0, 9, (3, 4))
    if ignore:
        t[0, 1] = t[2, 3] = -1
    fa = lambda z: fused_cross_entropy(z, tx.tensor(t, device=device), ignore_index=-1)
    fb = lambda z: F.cross_entropy(z, tx.tensor(t, device=device), ignore_index=-1)
    fused, composed = _pair(fa, fb, [logits], device)
    assert fused[0].dtype == composed[0].dtype == ("float32" if dtype == "float16" else dtype)
    assert fused[1][0].dtype == composed[1][0].dtype == dtype
    _assert_same(fused, composed, tol=1e-3 if dtype == "float16" else 1e-10)


def test_cross_entropy_gradcheck(device, rng):
    z = tx.tensor(rng.standard_normal((5, 7)), device=device, requires_grad=True)
    t = tx.tensor([0, 6, 3, -100, 3], device=device)
    assert tx.gradcheck(lambda z: fused_cross_entropy(z, t), [z])


@pytest.mark.parametrize("rows", [2, 0])
def test_cross_entropy_all_ignored_is_zero(device, rows):
    """No counted target (every one ignored, or an empty batch): loss 0, gradient 0."""
    z = tx.randn(rows, 3, dtype="float64", device=device, requires_grad=True)
    t = tx.tensor(np.full(rows, -100), device=device)
    for ce in (fused_cross_entropy, F.cross_entropy):
        z.grad = None
        loss = ce(z, t)
        loss.backward()
        g = z.device.to_host(z.grad)
        assert loss.item() == 0.0 and g.shape == (rows, 3) and not g.any()


def test_cross_entropy_bad_targets(device):
    z = tx.randn(2, 3, device=device)
    for ce in (fused_cross_entropy, F.cross_entropy):
        with pytest.raises(IndexError, match=r"\[0, 3\)"):
            ce(z, tx.tensor([0, 3], device=device))
        with pytest.raises(ValueError, match="do not match"):
            ce(z, tx.tensor([0, 1, 2], device=device))


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_composed(device, bias):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    ins = [x, w, b] if bias else [x, w]
    fused, composed = _pair(fused_linear, F.linear, ins, device)
    _assert_same(fused, composed)


def test_linear_gradcheck_and_shape_error(device, rng):
    x, w, b = (tx.tensor(rng.standard_normal(s), device=device, requires_grad=True)
               for s in [(2, 3, 4), (4, 5), (5,)])
    assert tx.gradcheck(fused_linear, [x, w, b])
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(5, 5\)"):
        fused_linear(x, tx.randn(5, 5, dtype="float64", device=device))


@pytest.mark.parametrize("bias, piece", [(True, None), (False, None), (True, 5)])
def test_linear_gelu_matches_composed(device, bias, piece, monkeypatch):
    """piece=5: the GELU runs in pieces of 5 values (Device.pieces), the last one short."""
    if piece:
        monkeypatch.setattr(type(device), "PIECE", piece)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)) * 2, rng.standard_normal((4, 6)), rng.standard_normal(6)
    ins = [x, w, b] if bias else [x, w]
    composed = lambda *a: F.gelu(F.linear(*a), approximate="tanh")
    fused, reference = _pair(fused_linear_gelu, composed, ins, device)
    _assert_same(fused, reference)


def test_linear_gelu_gradcheck_and_saved_memory(device, rng):
    x, w, b = (tx.tensor(rng.standard_normal(s), device=device, requires_grad=True)
               for s in [(2, 3, 4), (4, 5), (5,)])
    assert tx.gradcheck(fused_linear_gelu, [x, w, b])
    saved = {k for k, v in vars(fused_linear_gelu(x, w, b)._ctx).items()
             if hasattr(v, "shape") and v.shape == (2, 3, 5)}
    assert saved == {"h"}, f"saves {saved}: only x @ W + b should be kept (4C wide)"
