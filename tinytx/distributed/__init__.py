"""Data-parallel training across processes (lesson 14; docs/distributed.md).

    mpiexec -n 2 python examples/train_quixote.py

Every rank holds the model, computes its shard of each global batch, and the gradients
are averaged over the ranks during backward (`DataParallel`, PyTorch DDP's algorithm:
buckets, non-blocking all-reduce, `no_sync`), optionally with AdamW's state sharded
(ZeRO-1). The communication is done by existing engines only: MPI through mpi4py on CPUs,
NCCL through CuPy on GPUs (bootstrapped over MPI). `import tinytx` imports none of them:
mpi4py loads when a communicator is made (`init`), CuPy's NCCL with the nccl backend.
"""
from .buckets import Bucket, make_buckets
from .ddp import DataParallel, shard_batch
from .job import (ParallelConfig, data_parallel, describe, lock_out_dir, processes, rank_seed,
                  start)
from .mpi import CommunicationTimeout
from .world import (MPIUnavailable, abort_world, current, init, launched, local_rank_and_size,
                    rank0_first)
from .zero import ZeroOptimizer

__all__ = ["DataParallel", "ZeroOptimizer", "ParallelConfig", "CommunicationTimeout",
           "MPIUnavailable", "Bucket", "make_buckets", "shard_batch", "init", "current",
           "launched", "abort_world", "local_rank_and_size", "rank0_first", "start",
           "data_parallel", "rank_seed", "describe", "lock_out_dir", "processes"]
