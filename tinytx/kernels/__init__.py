"""Fused kernels: one op with a hand-derived backward in place of several composed ones.

Each kernel computes exactly what a composed reference in `tinytx.functional` (or `nn`)
computes, with fewer passes over memory and less saved for backward; a test pins the two
together on every device, forward and backward, and gradient-checks the kernel. Every
kernel works through `xp`, so the same code runs on NumPy and CuPy.

    softmax_attention.py  softmax attention, one op (lesson 05)   reference F.scaled_dot_product_attention
    flash_attention.py    blocked attention, online softmax, O(T) saved memory (lesson 05)
    lstm.py               the LSTM cell (lesson 03)               reference nn.recurrent.lstm_cell
    layer_norm.py         layer normalisation (lesson 08)         reference F.layer_norm
    linear_gelu.py        the MLP's linear + GELU (lesson 08)     reference F.gelu(F.linear(..))
    cross_entropy.py      log-softmax + NLL (lesson 11)           reference F.cross_entropy
    cuda/                 the same kernels for the GPU (numba-cuda), docs/cuda.md

Import each op from its module (the package imports nothing itself, so importing one
kernel never pulls in the others, and `tinytx.kernels.softmax_attention` stays the module):

    >>> import tinytx as tx
    >>> from tinytx.kernels.softmax_attention import attention
    >>> x = tx.randn(1, 2, 6, 4)                               # (B, H, T, D)
    >>> attention(x, x, x, is_causal=True).shape
    (1, 2, 6, 4)
"""
