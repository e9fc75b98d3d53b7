"""ZeRO-1: the optimizer's state sharded over the ranks (Rajbhandari et al., 2020).

Explained in docs/distributed.md. Plain data parallelism keeps a full copy of AdamW's two
moments on every rank: for P parameters, 2P numbers per rank that are all identical.
ZeRO stage 1 gives rank r the r-th chunk of every parameter (the bucket layout of
buckets.py) and the moments of that chunk only, so each rank holds 2P/W of them:

    reduce-scatter the gradient buckets   rank r receives the average of its chunks
    clip by the global norm               (the sum of squares summed over the ranks)
    AdamW on the chunks                   the same arithmetic, element by element
    all-gather the updated chunks         every rank has all the new parameters again

AdamW is element-wise, so the result is plain DDP's. A checkpoint holds the full moments,
gathered from every rank (`gather_state`, a collective) in the wrapped optimizer's format.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class ZeroOptimizer:
    """Wraps `optimizer` (its type and hyperparameters) around this rank's chunks of
    `ddp`'s parameters; `ddp.finish()` leaves their gradients in `ddp.grad_shards`.

    `param_groups` are the chunks' groups (so `optim.set_lr` works); `state_dict()` and
    `load_state_dict()` speak the wrapped optimizer's full format; `step()` all-gathers.
    `memory` says how many bytes of moments this rank holds, and would without ZeRO.
    """

    def __init__(self, optimizer, ddp):
        self.full, self.ddp, rank, self.gathered = optimizer, ddp, ddp.rank, None
        group_of = {id(p): j for j, g in enumerate(optimizer.param_groups)
                    for p in g["params"]}
        self.shards = []                       # per bucket: this rank's chunks
        pieces = [[] for _ in optimizer.param_groups]
        for b in ddp.buckets:
            b.pack([p.data for p in b.params])
            shard = b.rows()[rank].copy()      # (width,): this rank's chunks, in place below
            self.shards.append(shard)
            for i, p in enumerate(b.params):
                piece = Tensor._make(b.shard(shard, i), p.device, True)
                ddp.chunks[id(p)] = piece
                pieces[group_of[id(p)]].append(piece)
        groups = [{**g, "params": ps} for g, ps in zip(optimizer.param_groups, pieces)]
        self.inner = type(optimizer)(groups, **optimizer.defaults)
        self.param_groups = self.inner.param_groups
        inner = {id(piece): i for i, piece, _ in self.inner._indexed()}
        self.full_index = {id(p): i for i, p, _ in optimizer._indexed()}   # state keys
        self.chunk_index = {pid: inner[id(piece)] for pid, piece in ddp.chunks.items()}
        n_full = sum(p.size for g in optimizer.param_groups for p in g["params"])
        n_own = sum(piece.size for piece in self.ddp.chunks.values())
        self.memory = {"moments_bytes_per_rank": 2 * n_own * shard.dtype.itemsize,
                       "moments_bytes_without_zero": 2 * n_full * shard.dtype.itemsize}

    def step(self):
        """AdamW on this rank's chunks, then every rank gathers all the new values."""
        self.inner.step()
        works = [self.ddp.comm.allgather(shard, b.flat)
                 for b, shard in zip(self.ddp.buckets, self.shards)]
        for b, work in zip(self.ddp.buckets, works):
            work.wait()
            for i, p in enumerate(b.params):
                p.data[...] = b.unpack(i)

    def zero_grad(self):
        self.full.zero_grad()
        self.inner.zero_grad()

    # -- checkpoints: the full optimizer's format ------------------------------------------
    def state_dict(self) -> dict:
        """The state `gather_state()` gathered last (only rank 0 writes checkpoints)."""
        if self.gathered is None:
            raise RuntimeError("ZeroOptimizer.state_dict: call gather_state() on every "
                               "rank first (the moments are spread over the ranks)")
        return self.gathered

    def gather_state(self):
        """The wrapped optimizer's state_dict, its moments gathered from every rank (a
        collective: every rank calls it), kept for state_dict()."""
        full_state = {}
        for b in self.ddp.buckets:
            states = [self.inner.state.get(self.chunk_index[id(p)]) for p in b.params]
            if not all(states):
                continue
            for name in ("exp_avg", "exp_avg_sq"):
                shard = b.xp.concatenate([s[name] for s in states])   # this rank's chunks
                self.ddp.comm.allgather(shard, b.flat).wait()
                for i, (p, s) in enumerate(zip(b.params, states)):
                    entry = full_state.setdefault(self.full_index[id(p)], {"step": s["step"]})
                    entry[name] = np.array(p.device.to_host(b.unpack(i)))
        sd = self.full.state_dict()
        self.gathered = {"state": full_state, "param_groups": sd["param_groups"]}

    def load_state_dict(self, state_dict: dict):
        self.plan_load(state_dict)()

    def plan_load(self, state_dict):
        """Check as the wrapped optimizer does; the returned function keeps this rank's
        chunks of the moments, and this rank's chunks of the (just loaded) parameters."""
        apply_full = self.full.plan_load(state_dict)

        def apply():
            apply_full()
            self.inner.state, rank = {}, self.ddp.rank
            for b, shard in zip(self.ddp.buckets, self.shards):
                b.pack([p.data for p in b.params])
                shard[...] = b.rows()[rank]
                states = [self.full.state.get(self.full_index[id(p)]) for p in b.params]
                if not all(states):
                    continue
                for name in ("exp_avg", "exp_avg_sq"):
                    b.pack([s[name] for s in states])
                    for i, (p, s) in enumerate(zip(b.params, states)):
                        mine = self.inner.state.setdefault(self.chunk_index[id(p)],
                                                           {"step": s["step"]})
                        mine[name] = b.shard(b.rows()[rank], i).copy()
            self.full.state = {}       # the full moments were only passing through
        return apply
