"""The ops of the nn layers that have fused kernels (linear, linear + GELU, layer norm,
embedding, cross-entropy, attention), each one call into the dispatch.

Introduced in lesson 05 (composed against fused kernels). By default the layers run the
fused kernels of `tinytx.kernels`; set the environment variable `TINYTX_FUSED=0` (or use
`with fused(False):`) to run the composed references of `tinytx.functional` instead — the
readable versions, for teaching and debugging. Both give the same results (the tests pin
them together). On the cuda device the fused path runs the hand-written CUDA kernels of
`tinytx.kernels.cuda` where one covers the call. Which function runs is decided in one
place, `tinytx.kernels.dispatch`; this module only names the ops for the layers.

    >>> from tinytx.nn.fused import fused, is_fused
    >>> with fused(False):
    ...     is_fused()
    False
"""
from __future__ import annotations

from ..kernels.dispatch import fused, is_fused, run  # noqa: F401 (fused: the switch)


def linear(x, weight, bias=None):
    return run("linear", x, weight, bias)


def linear_gelu(x, weight, bias=None):
    """gelu(x @ W + b, "tanh"), the MLP's first half, as one op (it saves x and x @ W + b
    only); on cuda, cuBLAS's matmul and then one bias + GELU kernel."""
    return run("linear_gelu", x, weight, bias)


def layer_norm(x, weight=None, bias=None, eps=1e-5):
    return run("layer_norm", x, weight, bias, eps)


def embedding(idx, weight):
    """weight[idx]; on cuda in fused mode the backward is the atomic scatter-add kernel."""
    return run("embedding", idx, weight, device=weight.device)


def cross_entropy(logits, targets, ignore_index=-100):
    return run("cross_entropy", logits, targets, ignore_index=ignore_index)


def attention(q, k, v, mask=None, is_causal=False, similarity="scaled_dot", dropout_p=0.0,
              training=True, bias=None):
    """Softmax attention over (B, H, T, D) tensors; `mask` is boolean "may attend", `bias`
    is added to the scores (T5's relative positions)."""
    return run("attention", q, k, v, mask=mask, is_causal=is_causal, similarity=similarity,
               dropout_p=dropout_p, training=training, bias=bias)
