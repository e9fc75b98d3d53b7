"""The world of a run: which launcher started this process, and its communicator.

Explained in docs/distributed.md. `mpiexec -n N python job.py` (MPICH or Open MPI; Slurm's srun
with PMI too) starts N copies of the job and tells each its rank in environment
variables; `launched()` reads them, so a job needs no flag to know it runs in parallel.
`init()` makes the communicator once per process (MPI, or NCCL bootstrapped over MPI)
and, when there is more than one rank, makes an uncaught exception end every rank
(MPI_Abort) instead of leaving the others waiting in a collective forever.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback

from .mpi import MPICommunicator
from .nccl import NCCLCommunicator

# rank variables of MPICH/Intel MPI (PMI), PMIx, Open MPI and MVAPICH
RANK_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
# (this process's rank, the number of ranks) on this host: MPICH's, then Open MPI's
LOCAL_VARIABLES = (("MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
                   ("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"))

_world = []     # the communicator, once made


class MPIUnavailable(RuntimeError):
    """Parallel training was asked for, but mpi4py (or an MPI library) is missing."""


def launched() -> bool:
    """True when an MPI launcher (mpiexec, srun) started this process."""
    return any(v in os.environ for v in RANK_VARIABLES)


def local_rank_and_size() -> tuple[int, int]:
    """(rank among the processes on this host, their number); (0, 1) without a launcher."""
    for rank, size in LOCAL_VARIABLES:
        if rank in os.environ and size in os.environ:
            return int(os.environ[rank]), int(os.environ[size])
    return 0, 1


def init(backend: str = "mpi", timeout_s: float = 300.0):
    """The process's communicator: made on the first call, the same one after.

    Args:
        backend: "mpi" (NumPy arrays, CPU) or "nccl" (CuPy arrays, one GPU per rank).
        timeout_s: how long a collective may wait for the other ranks before the run
            stops with CommunicationTimeout.
    Raises MPIUnavailable naming the extra to install when mpi4py is missing.
    """
    if _world:
        return _world[0]
    if backend not in ("mpi", "nccl"):
        raise ValueError(f"backend: expected 'mpi' or 'nccl', got {backend!r}")
    try:
        comm = MPICommunicator(timeout_s=timeout_s)
    except ImportError as e:
        raise MPIUnavailable(f"data-parallel training needs mpi4py and an MPI library: "
                             f"pip install -e '.[mpi]' ({e})") from None
    if backend == "nccl":
        comm = NCCLCommunicator(comm, local_rank_and_size()[0])
    if comm.world_size > 1:
        sys.excepthook = _abort_on_exception
    _world.append(comm)
    return comm


def current():
    """The communicator `init()` made, or None."""
    return _world[0] if _world else None


ABORT_GRACE_S = 0.5     # seconds for the launcher to forward the last output


def abort_world(code: int = 1):
    """After an error on this rank, end the whole run (the other ranks would wait for it
    in their next collective); nothing happens in a run of one process.

    The launcher forwards each rank's output through a pipe and stops forwarding when the
    abort reaches it, so the rank waits a moment after flushing: without it MPICH's
    mpiexec dropped the error line in about 1 run in 10."""
    if _world and _world[0].world_size > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(ABORT_GRACE_S)
        _world[0].abort(code)


def _abort_on_exception(kind, value, tb):
    traceback.print_exception(kind, value, tb)
    abort_world(1)


@contextlib.contextmanager
def rank0_first(comm):
    """Rank 0 runs the block first (it writes caches: a tokenizer, encoded data), the
    other ranks after it (they find the caches). No communicator: just run it."""
    if comm is not None and comm.rank != 0:
        comm.barrier()
    yield
    if comm is not None and comm.rank == 0:
        comm.barrier()
