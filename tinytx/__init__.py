"""tinytx: a from-scratch deep-learning engine that teaches and really runs the transformer.

    import tinytx as tx
    import tinytx.functional as F

Start with lessons/02_rnn.py; docs/index.md maps the report's chapters to lessons and code.

`import tinytx` loads the autograd core only (Tensor, functional, nn, optim: NumPy and
nothing else). The packages above it (`tinytx.data`, `tinytx.tokenizer`, `tinytx.models`,
…) load when first used, so the core runs without their dependencies (tqdm, regex).
"""
import importlib

from . import functional, nn, optim
from .backend import Device, cuda_available, get_device, manual_seed
from .gradcheck import gradcheck
from .tensor import (Tensor, arange, full, no_grad, ones, ones_like, rand, randint, randn,
                     tensor, zeros, zeros_like)

device = get_device
__version__ = "0.1.0"

# Loaded on first attribute access (PEP 562), e.g. `tinytx.data.load_quixote`.
_ON_FIRST_USE = ("data", "tokenizer", "models", "generate", "train", "metrics")


def __getattr__(name):
    if name in _ON_FIRST_USE:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))
