"""A faster wait in numba's CUDA simulator, for the tests and `bench/gpu.py --simulate`.

Introduced in docs/cuda.md. The simulator runs each CUDA thread of a block as a Python
thread, and its `BlockManager.run` waits for them (to finish, or to meet at
`syncthreads`) by asking every thread `is_alive()` in a loop with no pause: that loop
holds the GIL the threads need to make progress, and took most of the time of a
simulated model step (27 million calls in a 75 s test). `wait_patiently()` replaces it
with the same loop, checking the same things in the same order, that rests 0.1 ms
between looks (that test: 12 s). Nothing is changed until it is called, and it changes
only the simulator, never a GPU run.
"""
from __future__ import annotations

import time

import numpy as np

PAUSE_S = 1e-4


def wait_patiently():
    """Install the patient wait in numba's simulator (call after numba is imported with
    NUMBA_ENABLE_CUDASIM=1; a second call changes nothing)."""
    from numba.cuda.simulator.kernel import BlockManager
    BlockManager.run = _run


def _run(self, grid_point, *args):
    """numba's `BlockManager.run` (numba_cuda/numba/cuda/simulator/kernel.py) with a pause
    in its wait: start a thread per block point, release them together whenever every
    live one waits at syncthreads, raise the first thread's exception, and return when
    all are done."""
    from numba.cuda.simulator.kernel import BlockThread
    threads = set()
    for block_point in np.ndindex(*self._block_dim):
        t = BlockThread(lambda: self._f(*args), self, grid_point, block_point, self._debug)
        t.start()
        threads.add(t)
    live, blocked = set(threads), set()
    while live:
        for t in live:
            if t.syncthreads_blocked:
                blocked.add(t)
            elif t.exception:                      # stop the others, then raise it here
                for other in threads:
                    other.abort = True
                    other.syncthreads_blocked = False
                    other.syncthreads_event.set()
                raise t.exception[0].with_traceback(t.exception[1])
        if live == blocked:                        # all met at syncthreads: release them
            for t in blocked:
                t.syncthreads_blocked = False
                t.syncthreads_event.set()
            blocked = set()
        live = {t for t in live if t.is_alive()}
        if live:
            time.sleep(PAUSE_S)
    for t in threads:
        if t.exception:
            raise t.exception[0].with_traceback(t.exception[1])
