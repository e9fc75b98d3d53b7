"""Replaying a recorded step: the ops' forwards on arrays, nothing else.

Met in lesson 11, whose sampling replays a captured step; no lesson builds it: it is
explained in docs/generation.md, "Capture and replay".
A `Program` turns a `Recorder` into one straight-line Python function, one line
per op, each slot a local variable (`print(program.source)` shows it):

    def replay(arrays, outside):
        s0, = arrays                           # the step's inputs
        s1, s2, ... = [t.data for t in outside]  # parameters, buffers: their arrays now
        s7 = f0(s0, s1)  # LayerNormFunction   (f0: op 0's bound forward)
        s8, s9, s10, = f1(s7)  # SplitHeads
        ...
        return (s93,)                          # the arrays of the step's result

so a replay makes no Tensor, runs no Function.__call__, no graph or device check, and
not even a loop over the ops: what is left is each op's own array work. (Writing source
and compiling it once is what torch.fx does too; a loop over the steps costs about a
microsecond per op more, which at batch 1 is a tenth of a decode step.)
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .record import Recorder


class Program:
    """The replayable form of a record (see the module docstring)."""

    def __init__(self, rec: Recorder):
        self.ops = [s.fn for s in rec.steps]
        self.outside = [t for _, t in rec.outside]        # their .data is read each run
        self.result_slots = list(dict.fromkeys(_slots(rec.output)))
        self.output = rec.output
        self.source = _source(rec, self.result_slots)
        namespace = {f"f{i}": s.fn.forward for i, s in enumerate(rec.steps)}
        namespace["array"] = _array
        exec(compile(self.source, f"<capture of {len(self.ops)} ops>", "exec"), namespace)
        self.forward = namespace["replay"]

    def run(self, arrays):
        """Replay on the step inputs' arrays (in the order they were captured) -> the
        step's result, with Tensors as at capture."""
        return self.wrap(self.forward(arrays, self.outside))

    def wrap(self, results, shape=None):
        """The result's structure, noted by `Recorder.finish`, filled with `results`."""
        shape = self.output if shape is None else shape
        kind = shape[0]
        if kind == "slot":
            return Tensor._make(results[self.result_slots.index(shape[1])], shape[2], False)
        if kind == "seq":
            return shape[1](self.wrap(results, s) for s in shape[2])
        return shape[1]


def _source(rec: Recorder, result_slots) -> str:
    """The replay function's source (module docstring)."""
    names = lambda slots: ", ".join(f"s{n}" for n in slots)     # noqa: E731
    lines = ["def replay(arrays, outside):"]
    if rec.n_inputs:
        lines.append(f"    {names(range(rec.n_inputs))}, = arrays")
    if rec.outside:
        lines.append(f"    {names(n for n, _ in rec.outside)}, = [t.data for t in outside]")
    for i, s in enumerate(rec.steps):
        call = f"f{i}({names(s.ins)})"
        if not s.multi and rec.keep[s.outs[0]].ndim == 0:
            call = f"array({call})"                 # NumPy reductions give scalars
        lines.append(f"    {names(s.outs)}{',' if s.multi else ''} = {call}"
                     f"  # {type(s.fn).__name__}")
    lines.append(f"    return ({names(result_slots)},)" if result_slots else "    return ()")
    return "\n".join(lines) + "\n"


def _array(y):
    """A NumPy scalar as a 0-d array (as Tensor._make does); any other result as it is."""
    return np.asarray(y) if isinstance(y, np.generic) else y


def _slots(shape):
    """The slots a result structure reads, in order."""
    if shape[0] == "slot":
        yield shape[1]
    elif shape[0] == "seq":
        for s in shape[2]:
            yield from _slots(s)
