"""A captured step replayed as one CUDA graph (CuPy stream capture), behind
`capture(..., cuda_graph=True)`.

Met in lesson 11, whose sampling replays a captured step; no lesson builds it: it is
explained in docs/generation.md, "Capture and replay".
A `Program` replay still launches every kernel from Python, one launch per op
and more inside some; on a GPU each launch costs microseconds on the host, which is
what a batch-1 decode step is made of. CUDA can record the launches of one stream into a
graph and relaunch them all with one call (PyTorch's `torch.cuda.graphs`). A graph
replays fixed kernels on fixed addresses, so:

  - the step's inputs are copied into static buffers before each launch, and its
    outputs are copied out of the graph's buffers after it (the next launch overwrites
    them);
  - every array the graph allocated stays in a private memory pool that nothing else
    allocates from, so its addresses are never handed to other arrays;
  - the outside tensors (parameters, the cache's memory K/V) must keep the arrays they
    had: if one's `.data` is another array the graph is captured again;
  - an op that reads the host inside its forward (cross-entropy's check of the targets)
    cannot be captured by CUDA: the program stays a plain replay, with the reason;
  - an op that reads mutable state when it runs (a `Function` with `stateful = True`:
    the KV cache's append and positions, whose shapes grow every step) cannot be in a
    graph, so such a program stays a plain replay (`GraphProgram.why_not` says so).

Not measured: no GPU was lent while this was written. On the CPU and strict devices a
GraphProgram is its Program (there is no graph to make); the tests check that, and
which programs can be graphed.
"""
from __future__ import annotations

from .program import Program


def why_not_graph(program: Program) -> str | None:
    """Why `program` cannot replay as a CUDA graph (None: it can, on the cuda device)."""
    for fn in program.ops:
        if getattr(fn, "stateful", False):
            return (f"{type(fn).__name__} reads state that changes between replays (its "
                    f"shapes or addresses), which a graph cannot follow")
    return None


class GraphProgram:
    """`program`, launched as one CUDA graph on the cuda device where it can be (module
    docstring); everywhere else, the program's own replay."""

    def __init__(self, program: Program):
        self.program, self.graph = program, None
        self.why_not = why_not_graph(program)

    def __getattr__(self, name):                 # ops, output, ... as the program's
        return getattr(self.program, name)

    def run(self, arrays):
        if self.why_not is not None or not arrays or not _on_gpu(arrays[0]):
            return self.program.run(arrays)
        if self.graph is None or any(t.data is not a for t, a in
                                     zip(self.program.outside, self.outside_arrays)):
            try:
                self._capture(arrays)
            except Exception as e:  # e.g. a host sync inside an op: CUDA refuses it
                self.why_not = f"CUDA could not capture it as a graph: {e}"
                return self.program.run(arrays)
        return self._launch(arrays)

    def _capture(self, arrays):
        import cupy
        self.pool, self.stream = cupy.cuda.MemoryPool(), cupy.cuda.Stream(non_blocking=True)
        self.static = [a.copy() for a in arrays]
        self.outside_arrays = [t.data for t in self.program.outside]
        with cupy.cuda.using_allocator(self.pool.malloc), self.stream:
            self.program.forward(self.static, self.program.outside)   # warm-up: fills
            self.stream.synchronize()                                 # the private pool
            self.graph = None
            self.stream.begin_capture()
            try:
                self.results = self.program.forward(self.static, self.program.outside)
            finally:
                graph = self.stream.end_capture()   # raises if the capture broke
            self.graph = graph

    def _launch(self, arrays):
        import cupy
        current = cupy.cuda.get_current_stream()
        for s, a in zip(self.static, arrays):
            s[...] = a                           # new inputs into the graph's buffers
        self.stream.wait_event(current.record())
        self.graph.launch(self.stream)
        current.wait_event(self.stream.record())
        return self.program.wrap([a.copy() for a in self.results])  # the next launch
                                                                   # overwrites the graph's


def _on_gpu(array) -> bool:
    return hasattr(array, "__cuda_array_interface__")      # CuPy's, not NumPy's
