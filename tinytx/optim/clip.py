"""Gradient clipping by global norm.

Introduced in lesson 01. Before each optimizer step, the gradients of all parameters are
seen as one long vector; if its L2 norm exceeds `max_norm`, every gradient is scaled by
the same factor so that the norm becomes `max_norm`. One unlucky batch then cannot throw
the weights far away (GPT-2 and nanoGPT clip at 1.0).

Everything stays on the gradients' device: the norm is a 0-d array there and the factor
is chosen there too (`xp.where`, not a Python `if`), so a training step never waits for
the GPU to tell the host the norm. Read it with `float(norm)` when you want to log it;
that read waits for the device.

    >>> import tinytx as tx
    >>> w = tx.tensor([0.0, 0.0], requires_grad=True)
    >>> (w * tx.tensor([3.0, 4.0])).sum().backward()
    >>> float(clip_grad_norm([w], max_norm=1.0))
    5.0
    >>> w.grad.round(3)
    array([0.6, 0.8], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np


def clip_grad_norm(params, max_norm: float, eps: float = 1e-6, total=None):
    """Scale the gradients so that their global L2 norm is at most `max_norm`.

    Args:
        params: an iterable of Tensors (e.g. `model.parameters()`); those whose grad is
            None are skipped.
        max_norm: the largest norm allowed (> 0; math.inf computes the norm only).
        eps: added to the norm in the scale max_norm/(norm + eps), as in PyTorch.
        total: when the gradients are spread over processes (ZeRO-1, docs/distributed.md), a
            function from this process's sum of squares (a float) to the sum over all.
    Returns:
        The norm *before* clipping, as a float64 0-d array on the gradients' device (log
        it: spikes show instability). `float(norm)` reads it, which waits for the device.
        Where the norm is not finite (inf/nan) nothing is scaled, so the caller can skip
        the step.

    Every gradient is multiplied by a factor on the device: max_norm/(norm + eps) where
    the norm is finite and above max_norm, else exactly 1 (which changes no value). The
    sums of squares are float32 (float64 for float64 gradients), one per device, their
    total and the factor float64: the same numbers as when they were computed on the host.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm!r}")
    params = [p for p in params if p.grad is not None]
    if not params:
        return np.zeros((), np.float64)
    norm = _global_norm(params, total)
    if max_norm == math.inf:
        return norm                        # the factor would be 1: nothing to scale
    xp = params[0].device.xp
    clip = xp.isfinite(norm) & (norm > max_norm)
    with np.errstate(divide="ignore", invalid="ignore"):   # the branch not taken may be
        scale = xp.where(clip, max_norm / (norm + eps), 1.0)  # inf/nan; float64, 0-d
    by_dtype = {}
    for p in params:
        if p.grad.dtype not in by_dtype:
            by_dtype[p.grad.dtype] = scale.astype(p.grad.dtype)
        p.grad = p.grad * by_dtype[p.grad.dtype]   # out of place: grads may be shared
    return norm


def _global_norm(params, over_processes=None):
    """sqrt(Σ g²) over every gradient: a float64 0-d array on the first one's device."""
    per_device = {}   # one sum per device, in float32 at least
    for p in params:
        g = p.grad.astype(np.promote_types(p.grad.dtype, np.float32), copy=False)
        per_device[p.device] = per_device.get(p.device, 0) + (g * g).sum()
    device = params[0].device
    total = None
    for dev, s in per_device.items():   # another device's sum comes over through the host
        s = s if dev is device else device.asarray(dev.to_host(s))
        s = device.xp.asarray(s, dtype=np.float64)
        total = s if total is None else total + s
    if over_processes is not None:
        total = device.xp.asarray(over_processes(float(device.to_host(total))), np.float64)
    return device.xp.asarray(device.xp.sqrt(total))    # NumPy's sqrt gives a scalar
