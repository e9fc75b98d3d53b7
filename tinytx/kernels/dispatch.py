"""One door to every kernel: per op, the composed reference, the CPU fused kernel and the
CUDA kernel, and the one rule that picks between them (docs/cuda.md).

Introduced in lesson 05 (composed against fused). The layers of `nn`, the LSTM and the
optimizers run every op that has a fused kernel through `run(name, *args)`:

    the fused switch is off (TINYTX_FUSED=0, `with fused(False):`)       -> composed
    on the cuda device, a CUDA kernel whose `cuda_supports` takes the call -> cuda
    a CPU fused kernel whose `cpu_supports` takes the call               -> cpu
    otherwise                                                            -> composed

The CPU fused kernels compute with `xp`, so on the cuda device they run on CuPy where no
CUDA kernel covers a call (a matmul is cuBLAS's either way). Every entry is a function
object: the composed references from `tinytx.functional`, the CPU kernels from
`tinytx/kernels/*.py`, the CUDA ones from `tinytx.kernels.cuda_ops` (which loads numba on
a CUDA kernel's first call, never on `import tinytx`). Tests pin each cpu and cuda entry to
its composed one, forward and backward.

    >>> import tinytx as tx
    >>> x, w = tx.randn(2, 3), tx.ones(3)
    >>> pick("layer_norm", x.device, x, w).__module__
    'tinytx.kernels.layer_norm'
    >>> with fused(False):
    ...     pick("layer_norm", x.device, x, w).__module__
    'tinytx.functional.layers'

`counting()` counts, inside a `with` block, the CUDA kernel launches (every launch goes
through `kernels.cuda.common.launch`) and each op's picks: tests hold a training step to
a launch budget with it.
"""
from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from .. import functional as F
from ..backend import get_device
from . import cuda_ops as cuda
from .adam import adam, adam_composed
from .cross_entropy import cross_entropy
from .flash_attention import flash_attention
from .layer_norm import layer_norm
from .linear import linear
from .linear_gelu import linear_gelu
from .lstm import lstm_cell, lstm_step
from .softmax_attention import attention


@dataclass(frozen=True)
class Op:
    composed: Callable                  # the readable reference
    cpu: Callable | None = None         # the CPU fused kernel (its xp code runs on CuPy too)
    cuda: Callable | None = None        # the CUDA kernel
    cpu_supports: Callable | None = None     # does the kernel cover these arguments?
    cuda_supports: Callable | None = None
    why: str = ""                       # why there is no CUDA kernel (cuda None)


def _has_weight(x, weight=None, *args, **kwargs):
    return weight is not None


def _has_bias(x, weight, bias=None):
    return bias is not None


OPS = {
    "linear": Op(F.linear, linear, why="a matmul plus a bias: the CPU kernel's xp code is "
                 "cuBLAS's matmul on CuPy; a hand-written GEMM would only be slower"),
    "linear_gelu": Op(F.linear_gelu, linear_gelu, cuda.linear_gelu,
                      cuda_supports=_has_bias),
    "layer_norm": Op(F.layer_norm, layer_norm, cuda.layer_norm, _has_weight,
                     cuda.layer_norm_supports),
    "cross_entropy": Op(F.cross_entropy, cross_entropy, cuda.cross_entropy),
    "attention": Op(F.scaled_dot_product_attention, attention, cuda.attention,
                    cuda_supports=cuda.attention_supports),
    "flash_attention": Op(F.scaled_dot_product_attention, flash_attention, cuda.attention,
                          cuda_supports=cuda.attention_supports),
    "embedding": Op(F.embedding, None, cuda.embedding),
    "bias_gelu": Op(lambda x, b: F.gelu(x + b, approximate="tanh"), None, cuda.bias_gelu),
    "lstm_cell": Op(F.lstm_cell, lstm_cell, cuda.lstm_cell),
    "lstm_step": Op(F.lstm_step, lstm_step, cuda.lstm_step),
    "adam": Op(adam_composed, adam, cuda.adam, cuda_supports=cuda.adam_supports),
}

_FUSED = [os.environ.get("TINYTX_FUSED", "1").strip().lower() not in ("0", "false", "no")]
COUNTS = Counter()               # "launches" and "<op>:<which>", counted inside counting()
_COUNTING = [0]


def is_fused() -> bool:
    """Whether the fused kernels run (else the composed references)."""
    return _FUSED[0]


@contextlib.contextmanager
def fused(enabled: bool = True):
    """Run the ops with (True) or without (False) the fused kernels inside the block."""
    previous, _FUSED[0] = _FUSED[0], enabled
    try:
        yield
    finally:
        _FUSED[0] = previous


def pick(name: str, device, *args, **kwargs) -> Callable:
    """The function that runs op `name` with these arguments on `device` (the rule of the
    module docstring)."""
    op = OPS[name]
    device = get_device(device) if isinstance(device, str) else device
    which = "composed"
    if _FUSED[0]:
        if op.cuda and device.cuda_kernels and (
                op.cuda_supports is None or op.cuda_supports(*args, **kwargs)):
            which = "cuda"
        elif op.cpu and (op.cpu_supports is None or op.cpu_supports(*args, **kwargs)):
            which = "cpu"
    if _COUNTING[0]:
        COUNTS[f"{name}:{which}"] += 1
    return getattr(op, which)


def run(name: str, *args, device=None, **kwargs):
    """Run op `name` on its arguments, on `device` (default: the first argument's)."""
    device = device if device is not None else args[0].device
    return pick(name, device, *args, **kwargs)(*args, **kwargs)


@contextlib.contextmanager
def counting():
    """Count CUDA kernel launches and op picks inside the block: yields the Counter (its
    "launches" entry, and one "<op>:<composed|cpu|cuda>" entry per pick)."""
    COUNTS.clear()
    _COUNTING[0] += 1
    try:
        yield COUNTS
    finally:
        _COUNTING[0] -= 1


@contextlib.contextmanager
def simulating_cuda(device="cpu"):
    """Send `device`'s ops to the CUDA kernels, as on the cuda device: in numba's CUDA
    simulator (NUMBA_ENABLE_CUDASIM=1) they run on NumPy arrays, so a test can run a
    whole training step through the CUDA kernels without a GPU."""
    device = get_device(device)
    device.cuda_kernels = True
    try:
        yield
    finally:
        del device.cuda_kernels                 # back to the class's False
