"""tinytx: a from-scratch deep-learning engine that teaches and really runs the transformer.

    import tinytx as tx
    import tinytx.functional as F

Start with lessons/01_rnn.py; docs/index.md maps the report's chapters to lessons and code.
"""
from . import functional
from .backend import Device, cuda_available, get_device, manual_seed
from .gradcheck import gradcheck
from .tensor import (Tensor, arange, full, no_grad, ones, ones_like, rand, randint, randn,
                     tensor, zeros, zeros_like)

from . import data, nn, optim  # noqa: E402  (after Tensor: they build on it)

device = get_device
__version__ = "0.1.0"
