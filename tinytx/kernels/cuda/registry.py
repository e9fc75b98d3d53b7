"""Which CUDA kernel stands for which CPU fused kernel: the triples that drive dispatch and
the tests (docs/cuda.md). Each entry names, as "module:function" strings (so that reading
the registry imports neither numba nor CuPy):

    composed   the readable reference in tinytx.functional (or nn / optim)
    cpu        the CPU fused kernel in tinytx/kernels/*.py (None: there is none)
    cuda       the numba-cuda kernel in tinytx/kernels/cuda/ (None only with `why`)
    supports   optional predicate: does the CUDA kernel cover this call's arguments?

On the cuda device in fused mode `nn` runs `cuda`; otherwise `cpu`; with TINYTX_FUSED=0
the composed reference. tests/test_cuda_kernels.py fails when a CPU fused kernel has no
entry, or an entry has no simulator check.

    >>> from tinytx.kernels.cuda.registry import KERNELS
    >>> KERNELS["layer_norm"].cuda
    'tinytx.kernels.cuda.layer_norm:layer_norm'
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from ... import functional as F


@dataclass(frozen=True)
class Triple:
    composed: str
    cpu: str | None
    cuda: str | None
    supports: str | None = None
    why: str = ""                 # why there is no CUDA kernel (cuda=None only)


_ATT = "tinytx.kernels.cuda.attention"
KERNELS = {
    "attention": Triple("tinytx.functional.attention:scaled_dot_product_attention",
                        "tinytx.kernels.attention:attention", f"{_ATT}:attention",
                        f"{_ATT}:supports"),
    "flash_attention": Triple("tinytx.functional.attention:scaled_dot_product_attention",
                              "tinytx.kernels.flash_attention:flash_attention",
                              f"{_ATT}:attention", f"{_ATT}:supports"),
    "layer_norm": Triple("tinytx.functional:layer_norm", "tinytx.kernels.layer_norm:layer_norm",
                         "tinytx.kernels.cuda.layer_norm:layer_norm"),
    "cross_entropy": Triple("tinytx.functional:cross_entropy",
                            "tinytx.kernels.cross_entropy:cross_entropy",
                            "tinytx.kernels.cuda.cross_entropy:cross_entropy"),
    "lstm": Triple("tinytx.nn.recurrent:lstm_cell", "tinytx.kernels.lstm:lstm_cell",
                   "tinytx.kernels.cuda.lstm:lstm_cell"),
    "linear": Triple("tinytx.functional:linear", "tinytx.kernels.linear:linear", None,
                     why="a matmul plus a bias: the CPU fused kernel's xp code runs on CuPy, "
                         "whose matmul is cuBLAS; a hand-written GEMM would only be slower"),
    "linear_gelu": Triple("tinytx.kernels.cuda.registry:composed_linear_gelu",
                          "tinytx.kernels.linear_gelu:linear_gelu", None,
                          why="on the GPU it is cuBLAS's matmul followed by the bias_gelu "
                              "kernel (nn.fused.linear_gelu)"),
    "bias_gelu": Triple("tinytx.kernels.cuda.registry:composed_bias_gelu", None,
                        "tinytx.kernels.cuda.gelu:bias_gelu"),
    "embedding": Triple("tinytx.functional:embedding", None,
                        "tinytx.kernels.cuda.embedding:embedding"),
    "adamw": Triple("tinytx.optim:AdamW", None, "tinytx.kernels.cuda.adamw:adamw_step"),
}


def load(path):
    """"module:function" -> the function (importing its module)."""
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def composed_linear_gelu(x, weight, bias=None):
    """The reference of the linear + GELU kernel: F.gelu(F.linear(x, W, b), "tanh")."""
    return F.gelu(F.linear(x, weight, bias), approximate="tanh")


def composed_bias_gelu(x, b):
    """The reference of the bias + GELU kernel: F.gelu(x + b, approximate="tanh")."""
    return F.gelu(x + b, approximate="tanh")


def pick(name, device, *args, **kwargs):
    """The fused kernel to run `name` with these arguments on `device`: the CUDA kernel on
    the cuda device when there is one that supports the call, else the CPU fused kernel
    (whose xp code also runs on CuPy)."""
    entry = KERNELS[name]
    if getattr(device, "name", device) == "cuda" and entry.cuda is not None:
        if entry.supports is None or load(entry.supports)(*args, **kwargs):
            return load(entry.cuda)
    return load(entry.cpu)
