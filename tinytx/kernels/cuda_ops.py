"""The CUDA entries of the dispatch (`tinytx.kernels.dispatch`), one function per op: each
imports its numba-cuda kernel file (tinytx/kernels/cuda/) the first time it runs, so that
`import tinytx` never loads numba, and then calls the kernel's launch wrapper.

Introduced in docs/cuda.md. The kernel files are listed in tinytx/kernels/cuda/__init__.py.
"""
from __future__ import annotations

from .linear import linear


def attention(q, k, v, mask=None, similarity="scaled_dot", dropout_p=0.0, training=True,
              is_causal=False, scale=None, bias=None):
    """FlashAttention-2 on the GPU (flash_attention.py), as
    `kernels.softmax_attention.attention` (without a score bias: `attention_supports` says so)."""
    from .cuda import flash_attention as kernel
    return kernel.attention(q, k, v, mask=mask, similarity=similarity, dropout_p=dropout_p,
                            training=training, is_causal=is_causal, scale=scale)


def attention_supports(q, k, v, mask=None, dropout_p=0.0, training=True, bias=None, **_):
    """Whether the CUDA attention kernel covers this call (a score bias it does not)."""
    from .cuda import flash_attention as kernel
    return bias is None and kernel.supports(q, k, v, mask=mask, dropout_p=dropout_p,
                                            training=training)


def layer_norm(x, weight, bias=None, eps=1e-5):
    """LayerNorm forward and backward on the GPU (layer_norm.py)."""
    from .cuda import layer_norm as kernel
    return kernel.layer_norm(x, weight, bias, eps)


def layer_norm_supports(x, weight=None, bias=None, eps=1e-5):
    """A weight to scale by, and rows narrow enough for the kernel's shared memory."""
    from .cuda import layer_norm as kernel
    return weight is not None and kernel.fits(x.shape[-1], x.dtype)


def cross_entropy(logits, targets, ignore_index=-100):
    """Softmax cross-entropy on the GPU (cross_entropy.py)."""
    from .cuda import cross_entropy as kernel
    return kernel.cross_entropy(logits, targets, ignore_index=ignore_index)


def embedding(idx, weight):
    """weight[idx] with the atomic scatter-add backward (embedding.py)."""
    from .cuda import embedding as kernel
    return kernel.embedding(idx, weight)


def bias_gelu(x, b):
    """gelu(x + b, "tanh") in one elementwise kernel each way (gelu.py)."""
    from .cuda import gelu as kernel
    return kernel.bias_gelu(x, b)


def linear_gelu(x, weight, bias=None):
    """The MLP's first half on the GPU: cuBLAS's matmul (CuPy), then `bias_gelu`."""
    return bias_gelu(linear(x, weight), bias)


def lstm_cell(x, h_prev, c_prev, W, b=None):
    """The LSTM cell with its gates in one kernel each way (lstm.py)."""
    from .cuda import lstm as kernel
    return kernel.lstm_cell(x, h_prev, c_prev, W, b)


def lstm_step(xw, h_prev, c_prev, W_h):
    """The LSTM sequence step with its gates in one kernel each way (lstm.py)."""
    from .cuda import lstm as kernel
    return kernel.lstm_step(xw, h_prev, c_prev, W_h)


def adam(ps, gs, ms, vs, steps, lr, betas, eps, weight_decay, decoupled):
    """The AdamW update of every tensor in one launch (adamw.py), as `kernels.adam.adam`."""
    from .cuda import adamw as kernel
    return kernel.adam(ps, gs, ms, vs, steps, lr, betas, eps, weight_decay, decoupled)


def adam_supports(ps, gs, ms, vs, steps, lr, betas, eps, weight_decay, decoupled):
    """The kernel is AdamW's (decoupled decay), on contiguous arrays of one float32 or
    float64 dtype (else the CPU kernel's xp code runs on CuPy)."""
    arrays = (*ps, *gs, *ms, *vs)
    return (decoupled and len({a.dtype for a in arrays}) == 1
            and arrays[0].dtype in ("float32", "float64")
            and all(a.flags.c_contiguous for a in arrays))
