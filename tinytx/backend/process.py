"""Process-wide settings a script may opt into. The library never applies them itself:
importing tinytx, building and training a model change nothing outside tinytx.

Introduced in lesson 01. The entry points call `configure_process` once — the examples
through `tinytx.config.run_main`, the lessons through `tinytx.course.setup`, the benches
themselves — and it applies:

    malloc   glibc's malloc keeps freed memory for reuse (`keep_freed_memory`); set
             TINYTX_MALLOC_TUNE=0 to leave malloc alone
    threads  the BLAS thread pools (OpenBLAS, MKL, OpenMP) limited to `threads`, through
             threadpoolctl, unless you set OMP_NUM_THREADS, OPENBLAS_NUM_THREADS or
             MKL_NUM_THREADS yourself (yours win)
    plots    matplotlib's file-only backend (Agg), unless you chose one with MPLBACKEND

This is what nanoGPT's `train.py` does for itself and its `model.py` never does: a
notebook or another program that imports tinytx keeps its own allocator, thread pools
and plotting backend.

    >>> done = configure_process(threads=None, malloc=False, plots=False)
    >>> done
    {'malloc': False, 'threads': None, 'plots': None}
"""
from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

from .memory import keep_freed_memory

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def configure_process(threads: int | None = None, malloc: bool = True, plots: bool = True):
    """Apply the process-wide settings of the module docstring.

    Args:
        threads: BLAS threads (e.g. 1 for the lessons' small matrices, where more threads
            cost more than they save); None leaves the thread pools as they are.
        malloc: tune glibc's malloc (Linux only; TINYTX_MALLOC_TUNE=0 vetoes it).
        plots: select matplotlib's Agg backend (PNG files, no window).
    Returns {"malloc": tuned, "threads": the limit set or None, "plots": the backend set
    or None}.
    """
    done = {"malloc": keep_freed_memory() if malloc else False, "threads": None,
            "plots": None}
    if threads is not None and not any(os.environ.get(v) for v in THREAD_VARIABLES):
        threadpool_limits(limits=threads)
        done["threads"] = threads
    if plots and not os.environ.get("MPLBACKEND"):
        import matplotlib
        matplotlib.use("Agg")
        done["plots"] = "Agg"
    return done
