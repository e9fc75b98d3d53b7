"""The MPI communicator (CPU processes), through mpi4py: the engine llm.c and most HPC
codes use, here started with `mpiexec -n N python ...`.

Explained in docs/distributed.md. Every collective is MPI's non-blocking form (`Iallreduce`,
`Ireduce_scatter_block`, `Iallgather`, `Ibcast`, `Ibarrier`) and returns a `Work`; its
`wait()` polls the request and gives up after `timeout_s` with CommunicationTimeout, so a
rank that died or hangs ends the run with an error instead of a silent hang. Arrays are
NumPy arrays, reduced in place; mpi4py is imported only when a communicator is made.
"""
from __future__ import annotations

import time

import numpy as np


class CommunicationTimeout(TimeoutError):
    """A collective did not complete in time: another rank died or is stuck."""


class Work:
    """A collective in flight. `wait()` returns the seconds spent waiting for it.

    Args:
        test: returns True once the operation is complete (it also drives MPI's progress).
        what: the operation, for the error message.
        comm: the communicator (its rank and timeout).
        on_done: called once when it completes (e.g. NCCL's buffer copy back).
    """

    def __init__(self, test, what: str, comm, on_done=None):
        self.test, self.what, self.comm, self.on_done = test, what, comm, on_done
        self.done, self.started_at, self.done_at = False, time.perf_counter(), None

    def poll(self) -> bool:
        """True if complete; lets the library move the operation forward meanwhile."""
        if not self.done and self.test():
            self.done, self.done_at = True, time.perf_counter()   # when it was seen done
            if self.on_done:
                self.on_done()
        return self.done

    def wait(self) -> float:
        t0 = time.perf_counter()
        deadline, pause = t0 + self.comm.timeout_s, 1e-5
        while not self.poll():
            if time.perf_counter() > deadline:
                raise CommunicationTimeout(
                    f"{self.what} did not complete within {self.comm.timeout_s:g} s: "
                    f"another rank has died or is stuck (see its output); stopping the "
                    f"run (the limit is --comm_timeout_s)")
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)
        return time.perf_counter() - t0


class MPICommunicator:
    """Collectives over MPI.COMM_WORLD (or `comm`) on NumPy arrays.

        >>> c = MPICommunicator(timeout_s=10)          # a single process: world size 1
        >>> x = np.ones(3); c.allreduce(x).wait() >= 0, x
        (True, array([1., 1., 1.]))
    """

    backend = "mpi"

    def __init__(self, comm=None, timeout_s: float = 300.0):
        from mpi4py import MPI
        self.MPI, self.comm = MPI, comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout_s = float(timeout_s)

    def _start(self, request, what):
        return Work(request.Test, what, self)

    def _check(self, *arrays):
        for a in arrays:
            if not isinstance(a, np.ndarray) or not a.flags.c_contiguous:
                raise TypeError(f"MPI communicator: expected contiguous NumPy arrays, got "
                                f"{type(a).__name__} (for cuda arrays use the nccl backend)")

    def allreduce(self, x) -> Work:
        """x ← Σ over ranks of x, in place."""
        self._check(x)
        return self._start(self.comm.Iallreduce(self.MPI.IN_PLACE, x, op=self.MPI.SUM),
                           f"all-reduce of {x.size} values")

    def reduce_scatter(self, x, out) -> Work:
        """out ← rank r's 1/W of (Σ over ranks of x): x holds W equal blocks."""
        self._check(x, out)
        return self._start(self.comm.Ireduce_scatter_block(x, out, op=self.MPI.SUM),
                           f"reduce-scatter of {x.size} values")

    def allgather(self, shard, out) -> Work:
        """out ← the shards of all ranks, rank 0's first."""
        self._check(shard, out)
        return self._start(self.comm.Iallgather(shard, out),
                           f"all-gather of {out.size} values")

    def broadcast(self, x, root: int = 0) -> Work:
        """x ← rank root's x, in place."""
        self._check(x)
        return self._start(self.comm.Ibcast(x, root=root), f"broadcast of {x.size} values")

    def barrier(self) -> float:
        return self._start(self.comm.Ibarrier(), "barrier").wait()

    def gather_object(self, obj, root: int = 0):
        """[obj of rank 0, obj of rank 1, ...] on rank root, None elsewhere (pickled)."""
        self.barrier()                         # a dead rank times out here, not below
        return self.comm.gather(obj, root=root)

    def abort(self, code: int = 1):
        """End every rank of the run now (MPI_Abort); does not return."""
        self.comm.Abort(code)
