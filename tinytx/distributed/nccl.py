"""The NCCL communicator (one GPU per process), through CuPy's `cupy.cuda.nccl`.

Explained in docs/distributed.md. As llm.c does, MPI starts the processes and carries the one
thing NCCL cannot make for itself: rank 0 makes NCCL's unique id and broadcasts it over
MPI; every rank then joins the NCCL communicator with it. Collectives run on a side
stream, after the work already queued on the current stream (an event orders them), so
a bucket's all-reduce overlaps the backward kernels that follow it; `Work.wait()` polls
the event that marks its end, with the same timeout as MPI.

Unmeasured: this backend has not yet run on a GPU (see docs/distributed.md).
"""
from __future__ import annotations

from .mpi import MPICommunicator, Work


class NCCLCommunicator:
    """Collectives over NCCL on CuPy arrays; `gather_object`, `barrier` and `abort` go
    through the MPI communicator that bootstrapped it. Each rank uses the GPU numbered
    (its rank on this host) modulo the GPUs present."""

    backend = "nccl"

    def __init__(self, mpi: MPICommunicator, local_rank: int = 0):
        import cupy
        from cupy.cuda import nccl
        self.cupy, self.nccl, self.mpi = cupy, nccl, mpi
        self.rank, self.world_size, self.timeout_s = mpi.rank, mpi.world_size, mpi.timeout_s
        cupy.cuda.Device(local_rank % cupy.cuda.runtime.getDeviceCount()).use()
        uid = nccl.get_unique_id() if mpi.rank == 0 else None
        uid = mpi.comm.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(self.world_size, uid, self.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)

    def _types(self, x):
        types = {"float16": self.nccl.NCCL_FLOAT16, "float32": self.nccl.NCCL_FLOAT32,
                 "float64": self.nccl.NCCL_FLOAT64}
        if not isinstance(x, self.cupy.ndarray) or str(x.dtype) not in types:
            raise TypeError(f"NCCL communicator: expected a CuPy array of float16/32/64, "
                            f"got {type(x).__name__} of {getattr(x, 'dtype', '?')}")
        return types[str(x.dtype)]

    def _run(self, launch, what):
        """Run `launch(stream pointer)` on the side stream after the current stream's
        queued work; the Work completes when the side stream has done it."""
        ready = self.cupy.cuda.get_current_stream().record()
        self.stream.wait_event(ready)
        launch(self.stream.ptr)
        end = self.stream.record()
        return Work(lambda: end.done, what, self)

    def allreduce(self, x) -> Work:
        t = self._types(x)
        return self._run(lambda s: self.comm.allReduce(x.data.ptr, x.data.ptr, x.size, t,
                                                       self.nccl.NCCL_SUM, s),
                         f"all-reduce of {x.size} values")

    def reduce_scatter(self, x, out) -> Work:
        t = self._types(x)
        return self._run(lambda s: self.comm.reduceScatter(x.data.ptr, out.data.ptr,
                                                           out.size, t, self.nccl.NCCL_SUM, s),
                         f"reduce-scatter of {x.size} values")

    def allgather(self, shard, out) -> Work:
        t = self._types(shard)
        return self._run(lambda s: self.comm.allGather(shard.data.ptr, out.data.ptr,
                                                       shard.size, t, s),
                         f"all-gather of {out.size} values")

    def broadcast(self, x, root: int = 0) -> Work:
        t = self._types(x)
        return self._run(lambda s: self.comm.broadcast(x.data.ptr, x.data.ptr, x.size, t,
                                                       root, s),
                         f"broadcast of {x.size} values")

    def barrier(self) -> float:
        return self.mpi.barrier()

    def gather_object(self, obj, root: int = 0):
        return self.mpi.gather_object(obj, root)

    def abort(self, code: int = 1):
        self.comm.abort()
        self.mpi.abort(code)
