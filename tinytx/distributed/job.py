"""What a training job needs to run under `mpiexec -n N`: its options and a few calls.

Explained in docs/distributed.md; used by the training jobs in examples/:

    comm = start(cfg.parallel, cfg.device)          # None: one process, as before
    with lock_out_dir(cfg.out_dir, comm):           # rank 0 takes the folder's lock
        ...build the model (every rank the same)...
        parallel = data_parallel(model, comm, cfg.parallel, seed)
        trainer = Trainer(..., parallel=parallel)
        print(describe(parallel))                   # processes, buckets, ZeRO memory
        trainer.train()
        if not trainer.writer: return               # rank 0 samples and reports

The global batch stays the job's `batch_size`: N ranks each compute batch_size/N rows of
it, so the same options give the same training on 1 process or N.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np

from ..backend import manual_seed
from ..files import lock_folder
from .ddp import DataParallel
from .world import init, launched


@dataclass
class ParallelConfig:
    ddp: bool = False            # data-parallel even without a launcher (world size 1)
    bucket_mb: float = 25.0      # gradient bucket size (PyTorch DDP's default)
    zero: bool = False           # ZeRO-1: AdamW's moments sharded over the ranks
    comm_timeout_s: float = 300.0  # a collective waiting longer stops the run (a dead rank)


def start(cfg: ParallelConfig, device: str = "cpu"):
    """The communicator when an MPI launcher started this process (or --ddp), else None:
    MPI for the cpu device, NCCL bootstrapped over MPI for cuda. A job's script calls it
    (like run_main, it changes the process): on ranks other than 0 what the job prints
    goes nowhere, so the output is rank 0's alone; errors still reach stderr."""
    if not (launched() or cfg.ddp):
        return None
    backend = "nccl" if str(device).startswith("cuda") else "mpi"
    comm = init(backend, timeout_s=cfg.comm_timeout_s)
    if comm.rank != 0:
        sys.stdout = open(os.devnull, "w")
    return comm


def lock_out_dir(out_dir, comm):
    """The out_dir's lock (one run per folder) for rank 0, which writes there; the other
    ranks of the same run take none."""
    if comm is None or comm.rank == 0:
        return lock_folder(out_dir)
    return contextlib.nullcontext()


def processes(comm) -> str:
    """"1 process", "2 processes": for a job's summary line."""
    n = comm.world_size if comm else 1
    return f"{n} process{'es' if n > 1 else ''}"


def rank_seed(seed: int, rank: int) -> int:
    """A seed for this rank's generators (dropout), derived from the job's seed and the
    rank: ranks draw different masks for their different rows."""
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def data_parallel(model, comm, cfg: ParallelConfig, seed: int):
    """DataParallel over `model` (rank 0's weights everywhere), this rank's generators
    seeded from (seed, rank); None without a communicator."""
    if comm is None:
        return None
    parallel = DataParallel(model, comm, bucket_mb=cfg.bucket_mb, zero=cfg.zero)
    manual_seed(rank_seed(seed, comm.rank))
    return parallel


def describe(parallel) -> str:
    """One line for a job to print: processes, backend, buckets and, with ZeRO-1, the
    memory of AdamW's moments per rank against without it."""
    n = len(parallel.buckets)
    line = (f"data-parallel: {processes(parallel.comm)} ({parallel.comm.backend}), "
            f"{n} gradient bucket{'s' if n > 1 else ''}")
    if parallel.zero_optimizer is not None:
        mem = parallel.zero_optimizer.memory
        line += (f"; ZeRO-1: AdamW's moments take {mem['moments_bytes_per_rank'] / 2**20:.2f} "
                 f"MB per rank instead of {mem['moments_bytes_without_zero'] / 2**20:.2f} MB")
    return line
