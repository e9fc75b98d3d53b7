"""Memory: glibc's malloc tuned to keep freed memory (when a script asks for it:
`tinytx.backend.process.configure_process`), and `memory_owner`, which tells whether two
arrays share memory.

Introduced in lesson 01 with the devices.
"""
from __future__ import annotations

import ctypes
import os
import sys

from .strict import unwrap


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the OS.

    NumPy allocates a fresh array for every temporary. glibc serves large blocks with
    mmap and unmaps them on free, so each temporary of a training step costs page faults
    that zero its memory again: in a GELU backward that is 4x the arithmetic. Keeping
    freed memory (what PyTorch's and CuPy's caching allocators do) removes that cost; the
    price is that the process keeps its peak memory until it exits, which is why the
    library never does it on import: scripts opt in (`configure_process`). Linux with
    glibc only; TINYTX_MALLOC_TUNE=0 leaves malloc alone.
    """
    if os.environ.get("TINYTX_MALLOC_TUNE", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(mallopt(M_MMAP_THRESHOLD, 1 << 30) and mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1))



def memory_owner(a):
    """The array that owns a's memory (views point to it through `.base`): two arrays of
    one device share memory when they have the same owner."""
    a = unwrap(a)
    while getattr(a, "base", None) is not None:
        a = a.base
    return a
