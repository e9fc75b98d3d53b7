"""Recording one run of a step: which ops ran, on which arrays, with which constants.

Met in lesson 11, whose sampling replays a captured step; no lesson builds it: it is
explained in docs/generation.md, "Capture and replay".
While a `Recorder` is installed (`recording`), `Function.__call__` hands every
op to `Recorder.record`, which runs it as usual and notes a `Step`: the op (its
constructor's constants are its attributes), the slots its inputs came from and the
slots its outputs go to. A slot is a numbered place for one array:

    the step's own inputs          slots 0 .. n-1, filled by each replay's arguments
    outputs of earlier ops         filled by the replay itself
    outside tensors                parameters, buffers, the cache's memory K/V, constants
                                   made inside the step: kept by reference, and their
                                   `.data` is read at every replay

Nothing else is recorded, so anything the step computes outside ops is baked in. That is
why a capture compares two runs (`difference`): a value that is neither an input nor an
op's output must be the same tensor, or have the same values, both times; and why
host reads are refused while recording (they would freeze a data-dependent decision).
"""
from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass

from ..backend.strict import HOST_READS, unwrap
from ..tensor import RECORDING, Tensor, to_tensors


class CaptureError(RuntimeError):
    """A step cannot be captured (a host read, data-dependent control flow, a value that
    changes between runs without being an input), or a capture was misused."""


@dataclass
class Step:
    fn: object                # the Function instance; a replay calls fn.forward
    ins: tuple                # slots of its inputs
    outs: tuple               # slots of its outputs
    multi: bool               # forward returns a tuple
    state: dict               # fn's attributes before forward: its constants


class Recorder:
    """The record of one run. `slot(t)` numbers every tensor an op meets; `outside`
    holds (slot, Tensor) for those that came from outside the ops."""

    def __init__(self, inputs):
        self.slots, self.keep, self.steps, self.outside = {}, [], [], []
        self.outside_reads = Counter()   # strict-device host reads between the ops
        self.reads, self.n_reads = HOST_READS.copy(), HOST_READS.total()
        self.n_inputs = len(inputs)
        for t in inputs:
            self._new(t)
        self.output = None           # the step's result with each Tensor as ("slot", i)

    def _new(self, t: Tensor) -> int:
        self.slots[id(t)] = n = len(self.keep)
        self.keep.append(t)          # alive until the record is done, so ids stay unique
        return n

    def slot(self, t: Tensor) -> int:
        n = self.slots.get(id(t))
        if n is None:
            n = self._new(t)
            self.outside.append((n, t))
        return n

    def record(self, fn, inputs):
        """Run op `fn` on `inputs` (Function.__call__ sends it here) and note it."""
        tensors, _ = to_tensors(inputs, type(fn).__name__)
        ins, state = tuple(self.slot(t) for t in tensors), dict(vars(fn))
        self.note_reads()
        RECORDING[0] = None          # the op runs as usual, unrecorded inside
        try:
            ys = fn(*tensors)
        finally:
            RECORDING[0] = self
        self.note_reads(inside=True)
        multi = type(ys) is tuple
        outs = tuple(self._new(y) for y in (ys if multi else (ys,)))
        self.steps.append(Step(fn, ins, outs, multi, state))
        return ys

    def note_reads(self, inside=False):
        """Sort the strict device's host reads since the last look: inside an op they
        are replayed with it; between ops they are refused (`recording`, at the end)."""
        if HOST_READS.total() != self.n_reads:        # rare: a strict array was read
            if not inside:
                self.outside_reads += HOST_READS - self.reads
            self.reads, self.n_reads = HOST_READS.copy(), HOST_READS.total()

    def refuse(self, what: str):
        raise CaptureError(
            f"capture: {what} reads a tensor's values into Python while the step is "
            f"recorded; a replay runs only the ops, so it would reuse this run's value (a "
            f"host read, or control flow that depends on the data). Do it outside the "
            f"captured function, or run this step without capture")

    def finish(self, result):
        """Note where the step's result comes from (tensors nested in tuples/lists)."""
        self.output = self._shape(result)

    def _shape(self, x):
        if isinstance(x, Tensor):
            return ("slot", self.slot(x), x.device)
        if isinstance(x, (tuple, list)):
            return ("seq", type(x), tuple(self._shape(e) for e in x))
        return ("const", x)


@contextlib.contextmanager
def recording(rec: Recorder):
    """Install `rec` for one run of the step; afterwards refuse the run if it read strict
    arrays into the host outside the ops (a raw `.data` read that decides something)."""
    if RECORDING[0] is not None:
        raise CaptureError("capture: a captured function was called while another step "
                           "is being recorded; capture the outer function only")
    RECORDING[0] = rec
    try:
        yield rec
    finally:
        RECORDING[0] = None
    rec.note_reads()
    if rec.outside_reads:
        rec.refuse(f"a host read of a device array ({', '.join(sorted(rec.outside_reads))})")


# -- two runs must record the same step ----------------------------------------------------
def difference(a: Recorder, b: Recorder) -> str | None:
    """What differs between two records (None: the same step, safe to replay)."""
    if len(a.steps) != len(b.steps):
        return f"the first run applied {len(a.steps)} ops, the second {len(b.steps)}"
    for i, (s, t) in enumerate(zip(a.steps, b.steps)):
        name = f"op {i} ({type(s.fn).__name__})"
        if type(s.fn) is not type(t.fn) or (s.ins, s.outs) != (t.ins, t.outs):
            return f"{name}: another op, or other inputs, in the second run"
        for k in s.state.keys() | t.state.keys():
            if not same(s.state.get(k), t.state.get(k)):
                return f"{name}: its constant {k!r} changed between the runs"
    if [n for n, _ in a.outside] != [n for n, _ in b.outside]:
        return "the tensors from outside the ops came in another order"
    for (n, x), (_, y) in zip(a.outside, b.outside):
        if not same(x, y):
            user = next(f"op {i} ({type(s.fn).__name__})" for i, s in enumerate(b.steps)
                        if n in s.ins) if any(n in s.ins for s in b.steps) else "the result"
            return (f"an input of {user} is neither a step input nor an op's output, and "
                    f"its value changed between the runs: compute it with an op, or pass "
                    f"it in as an input")
    if not same(a.output, b.output):
        return "the step's result has another structure or constant"
    return None


def same(a, b) -> bool:
    """Equal constants: the same object, or equal values (arrays: shape, dtype, values)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, Tensor):
        return a.device is b.device and same(a.data, b.data)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if hasattr(a, "shape") and hasattr(a, "dtype"):
        a, b = unwrap(a), unwrap(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool((a == b).all())
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
