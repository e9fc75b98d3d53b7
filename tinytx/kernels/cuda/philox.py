"""Philox4x32-10, the counter-based generator of cuRAND and PyTorch, and the attention
dropout mask drawn from it (docs/cuda.md; used by attention.py).

A counter-based generator is a pure function: four 32-bit random words from a 128-bit
counter and a 64-bit key, philox(counter, key), with no state carried between draws. So
a kernel thread can draw the random numbers of any element by itself, from (key, the
element's index), and the backward kernel can draw the same ones again instead of reading
a stored mask. Philox (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3",
SC11) does 10 rounds of: two 32 × 32 -> 64-bit products, their high halves XORed with
the other two words and the key, then the key bumped by the Weyl constants.

The functions here are plain Python on unsigned integers: they run on NumPy scalars and
arrays (the tests' reference mask, `keep_mask`), and attention.py compiles the very same
source as a numba-cuda device function. Every value is a uint32, or a uint64 product of
two of them, with typed constants (in numba an unsigned int mixed with a Python int
becomes a float); each word is cast back to uint32 so that the GPU multiplies 32 x 32
bits (mul.wide.u32), not 64 x 64.

    >>> import numpy as np
    >>> [hex(w) for w in philox4x32(*np.zeros(6, np.uint32))]     # Random123's test vector
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
"""
from __future__ import annotations

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)      # the round multipliers
W0, W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)      # the key's Weyl increments
HIGH = np.uint64(32)
LOW = np.uint64(0xFFFFFFFF)
u32 = np.uint32


def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter (c0, c1, c2, c3) under the key (k0, k1), all uint32
    (scalars or arrays of one shape) -> four uint32 words."""
    for _ in range(10):
        p0, p1 = np.uint64(c0) * M0, np.uint64(c2) * M1     # 32 x 32 -> 64 bits
        c0, c1, c2, c3 = (u32(u32(p1 >> HIGH) ^ c1 ^ k0), u32(p1 & LOW),
                          u32(u32(p0 >> HIGH) ^ c3 ^ k1), u32(p0 & LOW))
        k0, k1 = u32((k0 + W0) & LOW), u32((k1 + W1) & LOW)   # mod 2³²
    return c0, c1, c2, c3


def split_key(key):
    """A 63-bit int key (`Device.philox_key()`) -> (k0, k1) uint32, its low and high
    halves."""
    return np.uint32(key & 0xFFFFFFFF), np.uint32(key >> 32)


def threshold(p):
    """Dropout probability p -> the uint32 t with P(word < t) = p for a uniform word (to
    within 2⁻³²): an element is dropped when its word is below t."""
    return np.uint32(min(int(p * 2.0 ** 32), 2 ** 32 - 1))


def keep_mask(key, p, N, Tq, Tk):
    """The attention dropout mask the CUDA kernel draws, for all (n, i, j) at once, in
    NumPy: element (n, i, j) is kept when word j % 4 of philox((j // 4, i, n, 0), key) is
    at least `threshold(p)`. -> bool (N, Tq, Tk)"""
    k0, k1 = split_key(key)
    n, i, g = np.meshgrid(np.arange(N, dtype=np.uint32), np.arange(Tq, dtype=np.uint32),
                          np.arange((Tk + 3) // 4, dtype=np.uint32), indexing="ij")
    words = philox4x32(g, i, n, np.zeros_like(g), k0, k1)
    words = np.stack(words, axis=-1).reshape(N, Tq, -1)[..., :Tk]   # (N, Tq, 4·ceil(Tk/4))
    return words >= threshold(p)
