"""Capture and replay: record the ops of a fixed-shape no-grad step once, then run only
their forwards on new inputs (no Tensor, Function or graph bookkeeping).

Met in lesson 11, whose sampling replays a captured step; no lesson builds it: it is
explained in docs/generation.md, "Capture and replay".
The files: record.py (what a run records; two runs compared; CaptureError),
program.py (the replay), captured.py (`capture`, the guard, when to record and when to
replay), cuda_graph.py (the same replay as one CUDA graph, behind an option).

    >>> import tinytx as tx
    >>> step = capture(lambda x: x * 2 + 1)
    >>> with tx.no_grad():
    ...     for _ in range(4):             # eager, record, record, replay
    ...         y = step(tx.ones(2))
    >>> y.tolist(), step.records, step.replays
    ([3.0, 3.0], 2, 1)
"""
from .captured import Captured, capture, guard
from .cuda_graph import GraphProgram, why_not_graph
from .program import Program
from .record import CaptureError, Recorder, difference

__all__ = ["Captured", "capture", "guard", "GraphProgram", "why_not_graph", "Program",
           "CaptureError", "Recorder", "difference"]
