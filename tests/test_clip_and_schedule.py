"""Gradient clipping (clip_grad_norm: the global norm on the device, the same bits as the
host computation it replaced, non-finite norms reported and not applied) and the learning
rate schedule (warmup + cosine)."""
import math

import numpy as np
import pytest

import tinytx as tx
from tinytx import nn, optim


def with_grad(device, rng, shape):
    """A float64 parameter of zeros with a random gradient."""
    p = nn.Parameter(tx.zeros(*shape, dtype="float64", device=device))
    p.grad = device.asarray(rng.standard_normal(shape))
    return p


def test_clip_grad_norm(device, rng):
    ps = [with_grad(device, rng, shape) for shape in [(3, 4), (5,), (2, 2, 2)]]
    ps.append(nn.Parameter(tx.zeros(2, device=device)))  # grad None: skipped
    grads = [device.to_host(p.grad).copy() for p in ps[:3]]
    norm = math.sqrt(sum((g ** 2).sum() for g in grads))
    got = optim.clip_grad_norm(ps, max_norm=norm * 2)
    assert device.is_own(got) and got.shape == () and got.dtype == np.float64  # no read
    assert float(got) == pytest.approx(norm)
    for p, g in zip(ps, grads):  # below max_norm: a factor of exactly 1
        np.testing.assert_array_equal(device.to_host(p.grad), g)
    kept = [p.grad for p in ps[:3]]
    got = optim.clip_grad_norm(ps, max_norm=1.0)
    assert float(got) == pytest.approx(norm, rel=1e-12)
    new = math.sqrt(sum(float((device.to_host(p.grad) ** 2).sum()) for p in ps[:3]))
    assert new == pytest.approx(1.0, rel=1e-5)
    for k, g in zip(kept, grads):  # out of place: the old arrays are unchanged
        np.testing.assert_array_equal(device.to_host(k), g)
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        optim.clip_grad_norm(ps, 0)


def _clip_on_the_host(grads, max_norm, eps=1e-6):
    """clip_grad_norm as it was when it read the norm into the host (the bits to keep)."""
    total = 0
    for g in grads:
        g32 = g.astype(np.promote_types(g.dtype, np.float32), copy=False)
        total = total + (g32 * g32).sum()
    norm = math.sqrt(float(total))
    if math.isfinite(norm) and norm > max_norm:
        grads = [g * g.dtype.type(max_norm / (norm + eps)) for g in grads]
    return norm, grads


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_clip_grad_norm_keeps_the_host_computation_bit_for_bit(dtype):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(s).astype(dtype) for s in [(7, 3), (11,), ()]]
    norm0 = _clip_on_the_host(grads, math.inf)[0]
    for max_norm in [0.5, norm0, np.nextafter(norm0, 0), 2 * norm0, math.inf]:
        ps = [nn.Parameter(tx.zeros(*g.shape, dtype=dtype)) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = g.copy()
        norm, want = _clip_on_the_host(grads, max_norm)
        assert float(optim.clip_grad_norm(ps, max_norm)) == norm
        for p, w in zip(ps, want):
            np.testing.assert_array_equal(p.grad, w)
            assert p.grad.dtype == w.dtype


def test_clip_grad_norm_non_finite_is_reported_not_applied(device):
    p = nn.Parameter(tx.zeros(2, device=device))
    p.grad = device.asarray(np.array([np.inf, 1.0], dtype=np.float32))
    assert float(optim.clip_grad_norm([p], 1.0)) == math.inf
    np.testing.assert_array_equal(device.to_host(p.grad), [np.inf, 1.0])
    p.grad = device.asarray(np.array([np.nan, 1.0], dtype=np.float32))
    assert math.isnan(float(optim.clip_grad_norm([p], 1.0)))
    assert float(device.to_host(p.grad)[1]) == 1.0


def test_schedule_values():
    kw = dict(lr=1.0, min_lr=0.1, warmup_steps=10, decay_steps=110)
    assert optim.lr_schedule(0, **kw) == pytest.approx(1 / 11)   # ~0, never exactly 0
    assert optim.lr_schedule(9, **kw) == pytest.approx(10 / 11)
    assert optim.lr_schedule(10, **kw) == 1.0                    # warmup end: the peak
    assert optim.lr_schedule(60, **kw) == pytest.approx(0.55)    # mid-cosine
    assert optim.lr_schedule(110, **kw) == pytest.approx(0.1)
    assert optim.lr_schedule(10_000, **kw) == 0.1
    lrs = [optim.lr_schedule(s, **kw) for s in range(200)]
    assert all(a <= b for a, b in zip(lrs[:11], lrs[1:11]))       # rises, then ...
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))        # ... never rises again
    assert optim.lr_schedule(0, lr=1.0, min_lr=0.0, warmup_steps=0, decay_steps=0) == 0.0
    with pytest.raises(ValueError, match="warmup_steps <= decay_steps"):
        optim.lr_schedule(0, lr=1.0, min_lr=0.1, warmup_steps=5, decay_steps=2)
