"""Choosing fused kernels or composed references for the nn layers (linear, layer_norm,
cross_entropy, attention).

Introduced in lesson 04 (composed against fused kernels). By default the layers run the
fused kernels of `tinytx.kernels`; set the environment variable `TINYTX_FUSED=0` (or use
`with fused(False):`) to run the composed references of `tinytx.functional` instead — the
readable versions, for teaching and debugging. Both give the same results (the tests pin
them together). On the cuda device the fused path runs the hand-written CUDA kernels of
`tinytx.kernels.cuda` (attention, layer norm, cross-entropy, embedding backward, bias +
GELU in the MLP) where the registry has one that covers the call (numba-cuda is
loaded then, not before); with TINYTX_FUSED=0 it runs the composed ops on CuPy.

    >>> from tinytx.nn.fused import fused, is_fused
    >>> with fused(False):
    ...     is_fused()
    False
"""
from __future__ import annotations

import contextlib
import os

from .. import functional as F
from ..kernels.attention import attention as _fused_attention
from ..kernels.cross_entropy import cross_entropy as _fused_cross_entropy
from ..kernels.cuda.registry import pick
from ..kernels.layer_norm import layer_norm as _fused_layer_norm
from ..kernels.linear import linear as _fused_linear
from ..kernels.linear_gelu import linear_gelu as _fused_linear_gelu

_FUSED = os.environ.get("TINYTX_FUSED", "1").strip().lower() not in ("0", "false", "no")


def is_fused() -> bool:
    return _FUSED


@contextlib.contextmanager
def fused(enabled: bool = True):
    """Run the layers with (True) or without (False) the fused kernels inside the block."""
    global _FUSED
    previous, _FUSED = _FUSED, enabled
    try:
        yield
    finally:
        _FUSED = previous


def linear(x, weight, bias=None):
    return (_fused_linear if _FUSED else F.linear)(x, weight, bias)


def _on_cuda(x) -> bool:
    return x.device.name == "cuda"


def _cuda(name, *args, **kwargs):
    """The registry's pick for `name` on the cuda device (CUDA kernel or CPU fused op)."""
    return pick(name, "cuda", *args, **kwargs)


def layer_norm(x, weight=None, bias=None, eps=1e-5):
    if _FUSED and weight is not None:
        impl = _cuda("layer_norm") if _on_cuda(x) else _fused_layer_norm
        return impl(x, weight, bias, eps)
    return F.layer_norm(x, weight, bias, eps)


def linear_gelu(x, weight, bias=None):
    """gelu(x @ W + b, "tanh"), the MLP's first half, as one op (it saves x and x @ W + b
    only); on cuda in fused mode the bias add and the GELU are one CUDA kernel after the
    cuBLAS matmul."""
    if not _FUSED:
        return F.gelu(F.linear(x, weight, bias), approximate="tanh")
    if bias is not None and _on_cuda(x):
        return _cuda("bias_gelu")(_fused_linear(x, weight), bias)
    return _fused_linear_gelu(x, weight, bias)


def embedding(idx, weight):
    """weight[idx]; on cuda in fused mode the backward is the atomic scatter-add kernel."""
    if _FUSED and _on_cuda(weight):
        return _cuda("embedding")(idx, weight)
    return F.embedding(idx, weight)


def cross_entropy(logits, targets, ignore_index=-100):
    impl = _fused_cross_entropy if _FUSED else F.cross_entropy
    if _FUSED and _on_cuda(logits):
        impl = _cuda("cross_entropy")
    return impl(logits, targets, ignore_index=ignore_index)


def attention(q, k, v, mask=None, is_causal=False, similarity="scaled_dot", dropout_p=0.0,
              training=True):
    """Softmax attention over (B, H, T, D) tensors; `mask` is boolean "may attend"."""
    kwargs = dict(mask=mask, similarity=similarity, dropout_p=dropout_p, training=training)
    if _FUSED:
        impl = _cuda("attention", q, k, v, **kwargs) if _on_cuda(q) else _fused_attention
        return impl(q, k, v, is_causal=is_causal, **kwargs)
    if is_causal:
        kwargs["mask"] = F.combine_masks(F.causal_mask(q.shape[-2], q.device, k.shape[-2]), mask)
    return F.scaled_dot_product_attention(q, k, v, **kwargs)
