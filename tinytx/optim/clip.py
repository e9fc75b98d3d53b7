"""Gradient clipping by global norm.

Introduced in lesson 10. Before each optimizer step, the gradients of all parameters are
seen as one long vector; if its L2 norm exceeds `max_norm`, every gradient is scaled by
the same factor so that the norm becomes `max_norm`. One unlucky batch then cannot throw
the weights far away (GPT-2 and nanoGPT clip at 1.0).

    >>> import tinytx as tx
    >>> w = tx.tensor([0.0, 0.0], requires_grad=True)
    >>> (w * tx.tensor([3.0, 4.0])).sum().backward()
    >>> clip_grad_norm([w], max_norm=1.0)
    5.0
    >>> w.grad.round(3)
    array([0.6, 0.8], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np


def clip_grad_norm(params, max_norm: float, eps: float = 1e-6) -> float:
    """Scale the gradients so that their global L2 norm is at most `max_norm`.

    Args:
        params: an iterable of Tensors (e.g. `model.parameters()`); those whose grad is
            None are skipped.
        max_norm: the largest norm allowed (> 0).
        eps: added to the norm in the scale max_norm/(norm + eps), as in PyTorch.
    Returns:
        The norm *before* clipping, as a Python float (log it: spikes show instability).
        A non-finite norm (inf/nan) is returned and nothing is scaled, so the caller can
        skip the step.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm!r}")
    params = [p for p in params if p.grad is not None]
    per_device = {}   # one sum per device: a single transfer to the host each
    for p in params:
        g = p.grad.astype(np.promote_types(p.grad.dtype, np.float32), copy=False)
        per_device[p.device] = per_device.get(p.device, 0) + (g * g).sum()
    norm = math.sqrt(sum(float(dev.to_host(s)) for dev, s in per_device.items()))
    if math.isfinite(norm) and norm > max_norm:
        scale = max_norm / (norm + eps)
        for p in params:
            p.grad = p.grad * p.grad.dtype.type(scale)   # out of place: grads may be shared
    return norm
