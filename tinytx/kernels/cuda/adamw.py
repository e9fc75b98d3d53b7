"""The AdamW update on the GPU: every tensor of a parameter group in one launch (lesson 11;
reference `tinytx.kernels.adam.adam_composed`, which the optimizer runs on the CPU).

A thread per element; for tensor i with step count t_i, lr the learning rate, λ the weight
decay:
    p = p·(1 − lr·λ)                                  (decoupled decay)
    m = β1·m + (1 − β1)·g,   v = β2·v + (1 − β2)·g²
    p = p − lr/(1 − β1^t_i) · m / (sqrt(v/(1 − β2^t_i)) + eps)
p, m and v are updated in place. Shapes: p, g, m, v of one tensor alike (any shape).

**One launch for many tensors.** A GPT's 76 parameter tensors took 76 launches, one per
tensor, most too small to fill the GPU; now a step takes one per parameter group (two with
`decay_groups`). numba-cuda cannot pass a list of arrays to a
kernel, so the kernel takes a *table* instead (as PyTorch's multi_tensor_apply does), a
small int64 array with one row per tensor:

    table[i] = (address of p_i, of g_i, of m_i, of v_i, size n_i, first block of tensor i)

Tensor i gets ceil(n_i / threads) blocks of its own, so all threads of a block work on one
tensor: block b finds it by a binary search for the last row whose first block is <= b
(about 7 steps for 76 tensors, the same for every thread of the block), turns the four
addresses into typed pointers (`_viewer`) and updates element (b − first)·threads + t.
Nothing is copied: the table holds addresses, built on the host each step (the gradients
are new arrays every step) and sent to the device with the per-tensor bias corrections:
two copies of a few kB that do not wait for the device (CuPy stages them in pinned memory
and copies on the current stream). The bias corrections are per tensor because step counts
may differ: a parameter without a gradient in some step is not stepped then.

Not chosen: flat buffers holding every p, g, m and v (llm.c) would need backward to write
all gradients into one buffer, but it makes each as its own array, and copying them into
one buffer every step is a pass over every gradient; flat m and v alone still leave p and g
in separate arrays, so they would not save the table.

float32: the scalars arrive as float32, computed in float64 on the host and rounded once
(as NumPy rounds the reference's Python floats), the kernel has no literal constants and
uses fastmath (approximate division and square root, within 2 ulp; denormals flushed):
its PTX has no f64 instruction. float64 is compiled without fastmath.

In numba's CUDA simulator an address is host memory, and `_viewer` gives a NumPy array over
it, so the same kernel source runs (and is tested) on the CPU.
"""
from __future__ import annotations

import ctypes
import math

import numpy as np

from ...backend import device_of, get_device
from .common import cached, float_type, launch, numba_cuda, simulated, threads

cuda = numba_cuda()

_P, _G, _M, _V, _SIZE, _FIRST = range(6)     # the table's columns


@cached
def step_kernel(dtype):
    view = _viewer(np.dtype(dtype))

    @cuda.jit(fastmath=np.dtype(dtype) == np.float32)
    def step(table, corrections, shrink, b1, b2, c1, c2, eps):
        # table (n, 6) int64: addresses of p, g, m, v, size, first block (as above);
        # corrections (n, 2): lr/(1 − β1^t_i), 1 − β2^t_i; shrink = 1 − lr·λ;
        # c1, c2 = 1 − β1, 1 − β2
        b = cuda.blockIdx.x
        lo, hi = 0, table.shape[0] - 1          # the last tensor whose first block <= b
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if table[mid, _FIRST] <= b:
                lo = mid
            else:
                hi = mid - 1
        n = table[lo, _SIZE]
        e = (b - table[lo, _FIRST]) * cuda.blockDim.x + cuda.threadIdx.x
        if e < n:
            p, g, m, v = (view(table[lo, _P], n), view(table[lo, _G], n),
                          view(table[lo, _M], n), view(table[lo, _V], n))
            step_size, bias2 = corrections[lo, 0], corrections[lo, 1]
            ge = g[e]
            me = m[e] * b1 + ge * c1
            ve = v[e] * b2 + ge * c2 * ge
            m[e] = me
            v[e] = ve
            p[e] = p[e] * shrink - me * step_size / (math.sqrt(ve / bias2) + eps)
    return step


def _viewer(dtype):
    """view(address, n): the n values of `dtype` at a device address, indexable inside a
    kernel. On the GPU a typed pointer (n unused: numba indexes a pointer as an array, and
    an integer not at all); in the simulator a NumPy array over the host memory there."""
    if simulated():
        ctype = np.ctypeslib.as_ctypes_type(dtype)

        def view(address, n):
            pointer = ctypes.cast(int(address), ctypes.POINTER(ctype))
            return np.ctypeslib.as_array(pointer, shape=(int(n),))
        return view
    from numba.cuda import types
    from numba.cuda.extending import intrinsic

    @intrinsic
    def pointer(typingctx, address):
        sig = types.CPointer(float_type(dtype))(types.int64)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(signature.return_type))
        return sig, codegen

    @cuda.jit(device=True, inline="always")
    def view(address, n):
        return pointer(address)
    return view


def adam(ps, gs, ms, vs, steps, lr, betas, eps, weight_decay, decoupled=True,
         n_threads=None):
    """The AdamW step of every tensor i (ps[i], ms[i], vs[i] updated in place; gs[i] its
    gradient; steps[i] its step count t_i >= 1) in one launch, with the arguments of
    `tinytx.kernels.adam.adam`. All arrays C-contiguous, of one dtype (float32/float64)."""
    if not decoupled:
        raise ValueError("cuda adam: the kernel is AdamW's (decoupled weight decay)")
    _check(ps, gs, ms, vs)
    if not ps:
        return
    if not simulated() and not all(hasattr(a, "__cuda_array_interface__")
                                   for a in (*ps, *gs, *ms, *vs)):
        _through_the_gpu((ps, gs, ms, vs), steps, lr, betas, eps, weight_decay, n_threads)
        return
    dtype, nt, (b1, b2) = np.dtype(ps[0].dtype), threads(n_threads), betas
    f = dtype.type
    table = np.zeros((len(ps), 6), np.int64)
    for i, arrays in enumerate(zip(ps, gs, ms, vs)):
        table[i, :4] = [_address(a) for a in arrays]
        table[i, _SIZE] = arrays[0].size
    blocks = -(-table[:, _SIZE] // nt)                      # ceil(n_i / threads)
    table[1:, _FIRST] = np.cumsum(blocks)[:-1]
    n_blocks = int(blocks.sum())
    if n_blocks == 0:                                       # only empty tensors
        return
    corrections = np.array([[lr / (1 - b1 ** t), 1 - b2 ** t] for t in steps], dtype)
    xp = device_of(ps[0]).xp
    launch(step_kernel(dtype), n_blocks, nt, xp.asarray(table), xp.asarray(corrections),
           f(1 - lr * weight_decay), f(b1), f(b2), f(1 - b1), f(1 - b2), f(eps))


def adamw_step(p, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               n_threads=None):
    """One AdamW step of one tensor (raw contiguous arrays p, g, m, v, updated in place;
    step t >= 1): `adam` with a table of one row."""
    adam([p], [g], [m], [v], [t], lr, betas, eps, weight_decay, n_threads=n_threads)


def _through_the_gpu(arrays, steps, lr, betas, eps, weight_decay, n_threads):
    """NumPy arrays (ps, gs, ms, vs) on a GPU: copied to it, stepped there, p, m, v copied
    back (what numba does for a NumPy argument, and a table of addresses cannot)."""
    gpu = get_device("cuda")
    ps, gs, ms, vs = ([gpu.asarray(a) for a in some] for some in arrays)
    adam(ps, gs, ms, vs, steps, lr, betas, eps, weight_decay, n_threads=n_threads)
    for host, there in zip((*arrays[0], *arrays[2], *arrays[3]), (*ps, *ms, *vs)):
        host[...] = gpu.to_host(there)


def _address(a):
    """The address of an array's first value: CuPy's device pointer, or NumPy's (in the
    simulator)."""
    return a.data.ptr if hasattr(a.data, "ptr") else a.ctypes.data


def _check(ps, gs, ms, vs):
    if not len(ps) == len(gs) == len(ms) == len(vs):
        raise ValueError(f"cuda adam: expected as many p, g, m, v, got {len(ps)}, {len(gs)}, "
                         f"{len(ms)}, {len(vs)}")
    for i, arrays in enumerate(zip(ps, gs, ms, vs)):
        if len({a.shape for a in arrays}) > 1 or len({a.dtype for a in arrays}) > 1:
            raise ValueError(f"cuda adam: p, g, m, v of tensor {i} must have one shape and "
                             f"dtype, got {[(a.shape, str(a.dtype)) for a in arrays]}")
        if not all(a.flags.c_contiguous for a in arrays):
            raise ValueError(f"cuda adam: p, g, m, v of tensor {i} must be C-contiguous")
    if len({a.dtype for a in ps}) > 1:
        raise ValueError(f"cuda adam: one dtype for all tensors, got "
                         f"{sorted({str(a.dtype) for a in ps})}")


def specializations(dtype):
    """(name, kernel, numba argument types) of every kernel of this file for `dtype`, as
    they are launched: what tests/cuda_compile_ptx.py compiles to PTX and ptxas checks."""
    import numba
    f = float_type(dtype)
    yield "adamw.step", step_kernel(np.dtype(dtype)), (numba.int64[:, ::1], f[:, ::1],
                                                       f, f, f, f, f, f)
