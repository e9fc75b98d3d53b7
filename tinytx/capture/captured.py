"""`capture(fn)`: run a no-grad step eagerly until it records the same ops twice, then
replay that record on every later call whose inputs look the same.

Met in lesson 11, whose sampling replays a captured step; no lesson builds it: it is
explained in docs/generation.md, "Capture and replay".
What "look the same" means is the guard, checked on every call:

    each Tensor argument's shape, dtype and device, the other arguments' values,
    the fused switch (`tinytx.nn.fused`), whether the device sends ops to CUDA kernels,
    and gradient mode (a capture records forwards only: with gradients on it refuses)

The first call with a new guard value runs eagerly (a shape seen once, like a prompt's,
costs nothing more); the next ones run eagerly and record. Two consecutive records that
agree (`record.difference`) become the program; one disagreement is allowed (a step's
first run may fill a cache, e.g. the memory's K/V), a second one raises `CaptureError`
naming what changed. Programs of earlier guard values are kept (`max_programs` of them).

    >>> import tinytx as tx
    >>> w = tx.randn(3, 3)
    >>> step = capture(lambda x: (x @ w).relu())
    >>> with tx.no_grad():
    ...     ys = [step(tx.ones(2, 3) * i) for i in range(5)]  # eager, record twice, replay
    >>> step.replays, bool((ys[4].numpy() == (tx.ones(2, 3) * 4 @ w).relu().numpy()).all())
    (2, True)
"""
from __future__ import annotations

from ..kernels.dispatch import is_fused
from ..tensor import Tensor, is_grad_enabled
from .cuda_graph import GraphProgram
from .program import Program
from .record import CaptureError, Recorder, difference, recording


def guard(args) -> tuple:
    """What must match for a replay: see the module docstring."""
    if is_grad_enabled():
        raise CaptureError("capture: records forwards only, so it runs under "
                           "tinytx.no_grad() (generation, evaluation); a training step's "
                           "backward is not captured (docs/generation.md)")
    key = [is_fused()]
    for a in args:
        if isinstance(a, Tensor):
            key.append((a.shape, a.dtype, a.device, a.device.cuda_kernels))
        else:
            try:
                hash(a)
            except TypeError:
                raise CaptureError(f"capture: arguments are Tensors or hashable constants "
                                   f"(they are part of the guard), got "
                                   f"{type(a).__name__}") from None
            key.append(("const", type(a), a))
    return tuple(key)


class Captured:
    """A function with its captured programs, one per guard value (module docstring).

    Args:
        fn: (Tensors and hashable constants) -> Tensors (nested in tuples/lists) and
            constants; it must compute with tinytx ops (see docs/generation.md for what
            cannot be captured).
        max_programs: how many guard values to keep programs for (oldest dropped first).
        cuda_graph: on the cuda device, replay each program as a CUDA graph where it can
            (`tinytx.capture.cuda_graph`); elsewhere this changes nothing.
    Counters: `records` (eager recording runs), `replays`.
    """

    def __init__(self, fn, max_programs: int = 8, cuda_graph: bool = False):
        self.fn, self.max_programs, self.cuda_graph = fn, max_programs, cuda_graph
        self.programs, self.pending = {}, {}     # guard -> Program; guard -> (Recorder, misses)
        self.seen = {}                           # guard values called once (eagerly)
        self.records = self.replays = 0

    def __call__(self, *args):
        key = guard(args)
        program = self.programs.get(key)
        if program is None:
            if key not in self.seen:
                self._forget(self.seen)
                self.seen[key] = True
                return self.fn(*args)
            return self._record(key, args)
        self.replays += 1
        return program.run([a.data for a in args if isinstance(a, Tensor)])

    def _record(self, key, args):
        rec = Recorder([a for a in args if isinstance(a, Tensor)])
        with recording(rec):
            result = self.fn(*args)
            rec.finish(result)
        self.records += 1
        previous, misses = self.pending.pop(key, (None, 0))
        if previous is not None:
            why = difference(previous, rec)
            if why is None:
                self._keep(key, rec)
                return result
            if misses:
                raise CaptureError(f"capture: {getattr(self.fn, '__name__', 'the step')} "
                                   f"records a different step on every run, so it cannot "
                                   f"be replayed: {why}")
            misses += 1
        self._forget(self.pending)
        self.pending[key] = (rec, misses)
        return result

    def _forget(self, table):
        """Make room in a table of guard values (the oldest goes)."""
        if len(table) >= self.max_programs:
            del table[next(iter(table))]

    def _keep(self, key, rec):
        self._forget(self.programs)
        program = Program(rec)
        self.programs[key] = GraphProgram(program) if self.cuda_graph else program

    def reset(self):
        """Forget every program (e.g. after replacing a parameter's Tensor object)."""
        self.programs.clear()
        self.pending.clear()
        self.seen.clear()


def capture(fn=None, *, max_programs: int = 8, cuda_graph: bool = False):
    """Capture `fn` (a decorator, with or without arguments): see `Captured`."""
    if fn is None:
        return lambda f: Captured(f, max_programs, cuda_graph)
    return Captured(fn, max_programs, cuda_graph)
