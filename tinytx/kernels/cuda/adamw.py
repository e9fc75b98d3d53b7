"""The AdamW update on the GPU: one launch per parameter tensor (lesson 10; reference
`tinytx.optim.AdamW._update`, which takes about ten CuPy calls and temporaries).

A thread per element, with t the step count, lr the learning rate, λ the weight decay:
    p = p·(1 − lr·λ)                                  (decoupled decay)
    m = β1·m + (1 − β1)·g,   v = β2·v + (1 − β2)·g²
    p = p − lr/(1 − β1^t) · m / (sqrt(v/(1 − β2^t)) + eps)
p, m and v are updated in place. Shapes: p, g, m, v all alike (any shape).
"""
from __future__ import annotations

import math

from .common import cached, grid, launch, numba_cuda, threads

cuda = numba_cuda()


@cached
def step_kernel():
    @cuda.jit
    def step(p, g, m, v, lr, b1, b2, eps, wd, c1, c2):
        # p, g, m, v flattened (n,); c1 = 1 − β1^t, c2 = 1 − β2^t
        e = cuda.grid(1)
        if e < p.size:
            w = p[e] * (1.0 - lr * wd)
            m[e] = b1 * m[e] + (1.0 - b1) * g[e]
            v[e] = b2 * v[e] + (1.0 - b2) * g[e] * g[e]
            p[e] = w - (lr / c1) * m[e] / (math.sqrt(v[e] / c2) + eps)
    return step


def adamw_step(p, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               n_threads=None):
    """One AdamW step on raw contiguous arrays p, g, m, v (updated in place), step t >= 1."""
    if not (p.shape == g.shape == m.shape == v.shape):
        raise ValueError(f"adamw_step: p, g, m, v must have one shape, got {p.shape}, "
                         f"{g.shape}, {m.shape}, {v.shape}")
    if not all(a.flags.c_contiguous for a in (p, m, v)):
        raise ValueError("adamw_step: p, m, v must be C-contiguous (they are updated in place)")
    b1, b2 = betas
    nt = threads(n_threads)
    flat = [a.reshape(-1) for a in (p, g, m, v)]   # p, m, v: views, written in place
    launch(step_kernel(), grid(p.size, nt), nt, *flat, lr, b1, b2, eps, weight_decay,
           1 - b1 ** t, 1 - b2 ** t)


def adam(ps, gs, ms, vs, steps, lr, betas, eps, weight_decay, decoupled=True):
    """The AdamW step of every tensor i (ps[i] updated in place with ms[i], vs[i]; step
    count steps[i]), with the arguments of `tinytx.kernels.adam.adam`."""
    if not decoupled:
        raise ValueError("cuda adam: the kernel is AdamW's (decoupled weight decay)")
    for p, g, m, v, t in zip(ps, gs, ms, vs, steps):
        adamw_step(p, g, m, v, t, lr, betas, eps, weight_decay)

def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched: what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    n1, f = _types(dtype)
    yield "adamw.step", step_kernel(), (n1, n1, n1, n1, f, f, f, f, f, f, f)


def _types(dtype):
    import numba
    return numba.from_dtype(dtype)[::1], numba.float64
