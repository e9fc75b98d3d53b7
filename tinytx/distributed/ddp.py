"""DataParallel: PyTorch DDP's algorithm for tinytx models, on any communicator.

Explained in docs/distributed.md. Every rank holds the whole model and computes on its
own shard of each global batch; before the optimizer step the gradients are averaged over the
ranks, so every rank takes the same step — the one a single process would take on the
whole batch, since the mean over shards of each shard's mean gradient is the mean over
the batch. How (as DDP does):

- at the start, the parameters are broadcast from rank 0, so all ranks start equal;
- each parameter has a grad hook (`Tensor.register_grad_hook`); when the last gradient
  of a bucket is final, the bucket is packed and its all-reduce started (non-blocking),
  while backward goes on: communication overlaps computation. Buckets start in order,
  so every rank issues the same collectives in the same order;
- `finish()` (after the last backward of a step) waits for the buckets and writes the
  averaged gradients back into `p.grad`; the time spent waiting is `comm_wait_s`;
- inside `no_sync()` the hooks do nothing: gradient-accumulation micro-steps add up
  locally and only the last one communicates.

With `zero=True` the same buckets are reduce-scattered instead (ZeRO-1, `zero.py`).

    >>> import tinytx as tx
    >>> from tinytx import nn
    >>> from tinytx.distributed import DataParallel, init
    >>> model = nn.Linear(3, 2)
    >>> ddp = DataParallel(model, init(), bucket_mb=1)   # one process: world size 1
    >>> model(tx.randn(4, 3)).sum().backward(); ddp.finish() >= 0
    True
    >>> ddp.close()
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import optim
from ..backend import get_device
from ..checkpoint.state import rng_states
from ..tensor import Tensor
from .buckets import make_buckets
from .zero import ZeroOptimizer


class DataParallel:
    """Averages `model`'s gradients over the ranks of `comm` (see the module docstring).

    Args:
        model: a Module; its parameters are overwritten with rank 0's.
        comm: a communicator (`tinytx.distributed.init()`).
        bucket_mb: the bucket size in megabytes (PyTorch's default is 25).
        zero: shard the optimizer state (ZeRO-1): gradients are reduce-scattered and the
            optimizer must be wrapped with `wrap_optimizer`.
    """

    def __init__(self, model, comm, bucket_mb: float = 25.0, zero: bool = False):
        self.model, self.comm, self.zero = model, comm, zero
        self.rank, self.world_size = comm.rank, comm.world_size
        params = [p for p in model.parameters() if p.requires_grad]
        for work in [comm.broadcast(p.data, root=0) for p in params]:
            work.wait()
        self.buckets = make_buckets(params[::-1], bucket_mb, comm.world_size if zero else 1)
        self._bucket_of = {id(p): (b, i) for b in self.buckets for i, p in enumerate(b.params)}
        self._removers = [p.register_grad_hook(self._grad_ready) for p in params]
        self.sync, self._next, self.comm_wait_s, self.started_in_backward = True, 0, 0.0, 0
        self.grad_shards = [b.xp.zeros(b.width, b.flat.dtype) for b in self.buckets] \
            if zero else None
        self.chunks, self.zero_optimizer = {}, None   # ZeRO-1: made by wrap_optimizer
        self.bucket_times = []

    # -- during backward -------------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally, without communication."""
        before, self.sync = self.sync, False
        try:
            yield
        finally:
            self.sync = before

    def _grad_ready(self, p):
        if not self.sync:
            return
        bucket, i = self._bucket_of[id(p)]
        if bucket.work is not None or i in bucket.had_grad:
            raise RuntimeError("DataParallel: a second backward before finish(): wrap all "
                               "but the last micro-step of a step in ddp.no_sync()")
        bucket.had_grad[i] = p.grad is not None
        bucket.ready += 1
        self._start_ready_buckets()

    def _start_ready_buckets(self, all_of_them: bool = False):
        """Start, in bucket order, every bucket whose gradients are all final (at
        finish(), all of them: a parameter outside the graph gives zeros)."""
        while self._next < len(self.buckets):
            k = self._next
            b = self.buckets[k]
            if b.ready < len(b.params) and not all_of_them:
                break
            b.pack([p.grad if p.grad is not None else b.xp.zeros(p.shape, p.dtype)
                    for p in b.params])
            b.work = (self.comm.reduce_scatter(b.flat, self.grad_shards[k]) if self.zero
                      else self.comm.allreduce(b.flat))
            self._next += 1
        for b in self.buckets[:self._next]:
            b.work.poll()        # MPI moves a non-blocking collective on only when called

    # -- after backward --------------------------------------------------------------------
    def finish(self) -> float:
        """Wait for every bucket and average: DDP writes the mean gradient into each
        parameter's grad (a view of its bucket); ZeRO-1 leaves this rank's averaged chunk
        in `grad_shards`. A parameter outside this backward's graph (the same graph on
        every rank) keeps grad None, as in one process.
        Returns the seconds spent waiting for the communication."""
        self.started_in_backward = self._next     # buckets already on their way
        self._start_ready_buckets(all_of_them=True)
        waited = sum(b.work.wait() for b in self.buckets)
        # (start, seen done) of each bucket's collective, on time.perf_counter()'s clock
        self.bucket_times = [(b.work.started_at, b.work.done_at) for b in self.buckets]
        for k, b in enumerate(self.buckets):
            b.synced, b.had_grad, b.ready, b.work = b.had_grad, {}, 0, None
            if self.zero:
                self.grad_shards[k] /= self.world_size
                for i, p in enumerate(b.params):
                    if id(p) in self.chunks:      # (a ZeroOptimizer made the chunks)
                        self.chunks[id(p)].grad = (b.shard(self.grad_shards[k], i)
                                                   if b.synced.get(i) else None)
            else:
                b.flat /= self.world_size
                for i, p in enumerate(b.params):
                    p.grad = b.unpack(i) if b.synced.get(i) else None
        self._next = 0
        self.comm_wait_s += waited
        return waited

    # -- helpers for a training loop -------------------------------------------------------
    def shard(self, batch):
        """This rank's rows of a global batch (see shard_batch)."""
        return shard_batch(batch, self.rank, self.world_size)

    def mean(self, values):
        """The mean over the ranks of a number or a host array (a validation loss, the
        logged losses): rank 0's result on every rank, bit for bit, so that what the
        ranks decide from it (is this the best validation loss? save "best") agrees."""
        x = np.array(values, dtype=np.float64).reshape(-1)
        buffer = self.buckets[0].xp.asarray(x)
        self.comm.allreduce(buffer).wait()
        self.comm.broadcast(buffer, root=0).wait()
        mean = np.asarray(self.buckets[0].params[0].device.to_host(buffer)) / self.world_size
        return float(mean[0]) if np.ndim(values) == 0 else mean.reshape(np.shape(values))

    def clip_grad_norm(self, params, max_norm: float):
        """optim.clip_grad_norm of the whole model's gradients (ZeRO-1: over every rank's
        chunks, so the sum of squares is summed over the ranks)."""
        total = (lambda s: self.mean(s) * self.world_size) if self.zero else None
        return optim.clip_grad_norm(params, max_norm, total=total)

    def wrap_optimizer(self, optimizer):
        """The optimizer to step: `optimizer` itself, or with zero=True a ZeroOptimizer
        that keeps its state for this rank's chunks only."""
        if not self.zero:
            return optimizer
        self.zero_optimizer = ZeroOptimizer(optimizer, self)
        return self.zero_optimizer

    def gather_for_save(self, extra: dict) -> dict:
        """`extra` with every rank's random generators (dropout) for a checkpoint; a
        collective: every rank calls it, rank 0 gets the list."""
        states = self.comm.gather_object(rng_states())
        if self.zero_optimizer is not None:
            self.zero_optimizer.gather_state()
        return {**extra, "rank_rng": states}

    def restore_after_load(self, extra: dict):
        """After load_checkpoint: this rank's own generators. A checkpoint of another
        world size is refused (its shards would not be this run's)."""
        states = extra.get("rank_rng")
        if states is None or len(states) != self.world_size:
            saved = "one process" if states is None else f"{len(states)} ranks"
            raise ValueError(f"--resume: the checkpoint was trained by {saved}; resume it "
                             f"with the same number of ranks (this run has "
                             f"{self.world_size})")
        for name, state in states[self.rank].items():
            get_device(name).set_rng_state(state)

    def close(self):
        """Remove the grad hooks: the model trains alone again."""
        for remove in self._removers:
            remove()


def shard_batch(batch, rank: int, world_size: int):
    """Rank `rank`'s rows of a global batch: a Tensor, or a tuple of them (x, y; a
    PairBatch) cut along the first axis into world_size equal parts.

        >>> import tinytx as tx
        >>> shard_batch(tx.tensor([[1, 2], [3, 4], [5, 6], [7, 8]]), 1, 2)
        tensor([[5, 6],
                [7, 8]])
    """
    if isinstance(batch, tuple):
        parts = [shard_batch(t, rank, world_size) for t in batch]
        return type(batch)(*parts) if hasattr(batch, "_fields") else tuple(parts)
    n = len(batch)
    if n % world_size:
        raise ValueError(f"batch_size: a global batch of {n} rows cannot be split evenly "
                         f"over {world_size} ranks; use a multiple of {world_size}")
    rows = n // world_size
    part = batch.data[rank * rows:(rank + 1) * rows]
    return Tensor._make(part.copy(), batch.device, False)
