"""Hand-written CUDA kernels (numba-cuda), one file beside each CPU fused kernel it mirrors.

Introduced in docs/cuda.md and lesson 05. Each file holds `@cuda.jit` kernels, the launch
wrappers that pick the grid and block, and a `Function` that runs them forward and
backward on raw arrays: CuPy arrays on a GPU (numba reads their CUDA array interface), or
NumPy arrays in numba's CUDA simulator (`NUMBA_ENABLE_CUDASIM=1`, set before numba is
imported), which runs every CUDA thread as a Python thread on the CPU.

    flash_attention.py    FlashAttention-2 forward and backward   CPU: kernels/flash_attention.py,
                          (its kernels in flash_attention_*.py)        kernels/softmax_attention.py
    philox.py             Philox4x32-10, attention dropout's keep bits (kernel and NumPy)
    layer_norm.py         LayerNorm forward and backward          CPU: kernels/layer_norm.py
    cross_entropy.py      softmax cross-entropy, ignore_index     CPU: kernels/cross_entropy.py
    lstm.py               the LSTM cell's gates                   CPU: kernels/lstm.py
    gelu.py               bias + tanh-GELU                        reference F.gelu(x + b, "tanh")
    embedding.py          embedding backward (atomic scatter-add) reference F.embedding
    adamw.py              the AdamW update                        CPU: kernels/adam.py
    common.py             the numba import, launch sizes, the launch itself

The dispatch (`tinytx.kernels.dispatch`) reaches them through `tinytx.kernels.cuda_ops`,
whose functions import their kernel file the first time they run, so that `import tinytx`
never loads numba (the kernel files import it at their top). The architecture doc lists
`kernels.cuda.*` with the optional dependencies: imported inside functions only. This
package imports nothing itself.
"""
