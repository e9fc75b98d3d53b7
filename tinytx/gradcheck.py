"""Gradient checking: compare backward with central differences, in float64.

Introduced in lesson 00; every op and module in tinytx is tested with it. The output is
weighted by a *random* upstream gradient w, and we check the gradient of
L = Σ w·fn(inputs): an all-ones w (the gradient of .sum()) would hide bugs such as a
softmax or LayerNorm backward that forgets a term, because for those the sum is constant.

    >>> import tinytx as tx, tinytx.functional as F
    >>> x = tx.randn(3, 4, dtype="float64", requires_grad=True)
    >>> tx.gradcheck(F.softmax, [x])
    True
"""
from __future__ import annotations

import numpy as np

from .backend import manual_seed
from .tensor import Tensor, no_grad


def gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0):
    """Check the gradients of `fn` at `inputs`; return True or raise AssertionError.

    Args:
        fn: takes the inputs (in order) and returns a Tensor or (nested) tuples of them.
        inputs: Tensors (those with requires_grad=True are checked; they must be
            float64) and any other arguments, passed to fn unchanged.
        eps: the step of the central differences (f(x+eps) - f(x-eps)) / 2eps.
        atol, rtol: allowed difference |analytic - numeric| <= atol + rtol·|numeric|.
        seed: seeds the random upstream gradient and, before every call of fn, the
            device generators (so dropout draws the same mask each time).
    """
    checked = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for x in checked:
        if x.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs must be float64 for central differences "
                            f"to be accurate, got {x.dtype}")
        x.grad = None
    outs = _call(fn, inputs, seed)
    rng = np.random.default_rng(seed)
    weights = [o.device.asarray(rng.standard_normal(o.shape)) for o in outs]

    def loss():  # L = Σ w·fn(inputs), as a float (no graph)
        with no_grad():
            return sum(float((o.data * w).sum()) for o, w in zip(_call(fn, inputs, seed),
                                                                weights))

    total = None
    for o, w in zip(outs, weights):
        term = (o * Tensor(w, device=o.device)).sum()
        total = term if total is None else total + term
    total.backward()
    for i, x in enumerate(checked):
        analytic = np.zeros(x.shape) if x.grad is None else x.device.to_host(x.grad)
        numeric = _numeric_grad(loss, x, eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            where = np.unravel_index(np.argmax(np.abs(analytic - numeric)), x.shape)
            raise AssertionError(
                f"gradcheck: input {i} (shape {x.shape}): {int(bad.sum())} of {x.size} "
                f"elements differ; worst at {tuple(int(j) for j in where)}: analytic "
                f"{analytic[where]:.10g}, numeric {numeric[where]:.10g}")
    return True


def _call(fn, inputs, seed):
    manual_seed(seed)
    return _flatten(fn(*inputs))


def _flatten(out):
    """A Tensor or nested tuples/lists of Tensors (e.g. an LSTM's (hs, (h, c))) -> a list."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return Tensors (or tuples of them), "
                        f"got {type(out).__name__}")
    return [out]


def _numeric_grad(loss, x, eps):
    """Central differences, one element at a time, perturbing x.data in place."""
    grad = np.zeros(x.size)
    x.data = x.device.xp.ascontiguousarray(x.data)
    flat = x.data.reshape(-1)  # a view: writing it perturbs x
    for j in range(x.size):
        orig = float(flat[j])
        flat[j] = orig + eps
        up = loss()
        flat[j] = orig - eps
        down = loss()
        flat[j] = orig
        grad[j] = (up - down) / (2 * eps)
    return grad.reshape(x.shape)


