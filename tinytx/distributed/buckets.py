"""Gradient buckets: parameters packed into flat buffers, one collective per bucket.

Explained in docs/distributed.md. Sending each parameter's gradient alone would pay a message's
latency hundreds of times per step; sending all of them at the end would leave the
network idle during the whole backward. PyTorch DDP's middle way: parameters, in reverse
order (the order backward finishes their gradients), are packed into buckets of about
`bucket_mb` megabytes, and a bucket's all-reduce starts as soon as its last gradient is
ready, while backward goes on with the layers below.

A bucket is laid out for `parts` owners (1 for DDP; the world size for ZeRO-1, where rank
r owns the r-th chunk of every parameter): its flat buffer, seen as (parts, width), holds
parameter p's chunks in columns [offset, offset + chunk), one chunk per row, zero-padded.
"""
from __future__ import annotations

import math


class Bucket:
    """Parameters sharing one flat buffer of shape (parts * width,)."""

    def __init__(self, params, parts: int):
        self.params, self.parts = params, parts
        self.chunks = [math.ceil(p.size / parts) for p in params]
        self.offsets = [sum(self.chunks[:i]) for i in range(len(params))]
        self.width = sum(self.chunks)
        first = params[0]
        self.xp = first.device.xp
        self.flat = self.xp.zeros(parts * self.width, first.dtype)
        self.ready, self.had_grad, self.work = 0, {}, None

    def rows(self):
        return self.flat.reshape(self.parts, self.width)     # (parts, width)

    def pack(self, arrays):
        """Copy one array per parameter (its gradient, or its data) into the buffer."""
        rows = self.rows()
        for a, off, c in zip(arrays, self.offsets, self.chunks):
            if a.size < self.parts * c:                 # the last chunk needs padding
                a = self.xp.concatenate([a.reshape(-1),
                                         self.xp.zeros(self.parts * c - a.size, a.dtype)])
            rows[:, off:off + c] = a.reshape(self.parts, c)   # (parts * c,) -> (parts, c)

    def unpack(self, i, rows=None):
        """Parameter i's values from the buffer (all its chunks), in its shape."""
        rows, p = self.rows() if rows is None else rows, self.params[i]
        off, c = self.offsets[i], self.chunks[i]
        return rows[:, off:off + c].reshape(-1)[:p.size].reshape(p.shape)

    def shard(self, buffer, i):
        """Parameter i's chunk in a (width,) shard buffer: the part one rank owns."""
        return buffer[self.offsets[i]:self.offsets[i] + self.chunks[i]]


def make_buckets(params, bucket_mb: float, parts: int = 1) -> list[Bucket]:
    """Pack `params` (in the order given) into buckets of at most `bucket_mb` megabytes
    (a larger parameter gets a bucket of its own); a bucket holds one dtype and device.

    Args:
        params: Parameters, usually model.parameters() reversed.
        bucket_mb: the size limit; 0 gives one bucket per parameter.
        parts: the owners the buffers are laid out for (see the module docstring).
    """
    if not bucket_mb >= 0:
        raise ValueError(f"bucket_mb: expected a number >= 0, got {bucket_mb!r}")
    limit, buckets, group, size = bucket_mb * 2 ** 20, [], [], 0
    for p in params:
        nbytes = p.size * p.dtype.itemsize
        if group and (size + nbytes > limit or (p.dtype, p.device) !=
                      (group[0].dtype, group[0].device)):
            buckets.append(Bucket(group, parts))
            group, size = [], 0
        group.append(p)
        size += nbytes
    if group:
        buckets.append(Bucket(group, parts))
    return buckets
