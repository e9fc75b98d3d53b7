"""The backward sweep: reverse-mode differentiation over the graph of Functions.

Introduced in lesson 00; explained step by step in docs/autograd.md. Gradients flow from
the output back to the leaves in reverse topological order. The order comes from an
iterative depth-first search (no recursion: graphs of 100,000 ops are fine), and each
Function is visited once, so the sweep is linear in the size of the graph.

A leaf may carry grad hooks (`Tensor.register_grad_hook`): the sweep counts how many
gradients each hooked leaf will receive and calls its hooks right after the last one, so
data-parallel training (docs/distributed.md) can send a gradient while the rest are computed.
"""
from __future__ import annotations

import contextlib
import gc

from .backend import memory_owner


_hooked = [0]       # how many grad hooks are registered: none, and no counting is done


def count_hooked(change: int):
    _hooked[0] += change


def topological_order(root_fn):
    """Functions reachable from `root_fn`, each after every Function that feeds it."""
    order, visited = [], {root_fn}
    stack = [(root_fn, iter(root_fn.inputs))]
    while stack:
        fn, pending = stack[-1]
        for t in pending:
            parent = t._ctx
            if parent is not None and parent not in visited:
                visited.add(parent)
                stack.append((parent, iter(parent.inputs)))
                break
        else:  # every input of fn is finished: fn comes after them
            stack.pop()
            order.append(fn)
    return order


@contextlib.contextmanager
def _gc_paused():
    """The sweep makes no reference cycles, so Python's cyclic collector has nothing to
    find; pausing it stops full collections from scanning a large graph again and again
    (which made a 100k-op backward superlinear)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_backward(root, gradient, retain_graph: bool = False):
    """Accumulate d(root)/d(leaf), weighted by `gradient`, into each leaf's `.grad`."""
    with _gc_paused():
        _sweep(root, gradient, retain_graph)


def _sweep(root, gradient, retain_graph):
    handed_out = set()  # ids of the memory behind each leaf's grad: no two leaves share it
    if root._ctx is None:  # a leaf: its gradient is the upstream gradient itself
        _accumulate(root, gradient, handed_out)
        _run_hooks(root)
        return
    # grads[fn][i] is the gradient with respect to fn's i-th output, summed over its uses
    grads = {root._ctx: [None] * root._ctx.n_outputs}
    grads[root._ctx][root._index] = gradient
    order = topological_order(root._ctx)
    uses = _hooked_leaf_uses(order) if _hooked[0] else {}
    for fn in reversed(order):
        if fn.released:
            raise RuntimeError(f"backward(): the graph through {fn} was already freed by an "
                               "earlier backward(); pass retain_graph=True to the first one")
        gys = grads.pop(fn)
        gys = [fn.xp.zeros(shape, dtype) if g is None else g
               for g, (shape, dtype) in zip(gys, fn.output_meta)]
        for i, ref in (fn.retained or {}).items():
            if ref() is not None:
                ref().grad = gys[i]
        gxs = fn.backward(*gys)
        gxs = gxs if isinstance(gxs, tuple) else (gxs,)
        for x, gx, needed in zip(fn.inputs, gxs, fn.needs_input_grad):
            if not needed:
                continue
            if gx is not None and gx.shape != x.shape:
                raise RuntimeError(f"{fn}.backward returned a gradient of shape {gx.shape} "
                                   f"for an input of shape {x.shape}")
            if id(x) in uses:
                _count_down(x, gx, uses, handed_out)
            elif gx is None:
                continue
            elif x._ctx is None:
                _accumulate(x, gx, handed_out)
            else:
                slots = grads.setdefault(x._ctx, [None] * x._ctx.n_outputs)
                g = slots[x._index]
                slots[x._index] = gx if g is None else g + gx
        if not retain_graph:
            fn.release()


def _hooked_leaf_uses(order):
    """{id(leaf): the number of gradients it will receive} for every leaf with hooks."""
    uses = {}
    for fn in order:
        for x, needed in zip(fn.inputs, fn.needs_input_grad):
            if needed and x._ctx is None and getattr(x, "_grad_hooks", None):
                uses[id(x)] = uses.get(id(x), 0) + 1
    return uses


def _count_down(leaf, g, uses, handed_out):
    """Accumulate one of a hooked leaf's gradients; after its last, run its hooks."""
    if g is not None:
        _accumulate(leaf, g, handed_out)
    uses[id(leaf)] -= 1
    if uses[id(leaf)] == 0:
        _run_hooks(leaf)


def _run_hooks(leaf):
    for hook in getattr(leaf, "_grad_hooks", None) or ():
        hook(leaf)


def _accumulate(leaf, g, handed_out):
    """leaf.grad += g. A leaf's grad is always its own contiguous, writable array: ops
    pass gradients through unchanged or as views (add hands one array to both inputs,
    reshape a view of it), and optimizers may update grads in place, so a gradient whose
    memory is already another leaf's grad is copied."""
    if leaf.grad is not None:
        leaf.grad = leaf.grad + g
        return
    shared = id(memory_owner(g)) in handed_out or not getattr(g.flags, "writeable", True)
    if shared or g.dtype != leaf.dtype or not g.flags.c_contiguous:  # e.g. broadcast views
        g = g.astype(leaf.dtype, order="C", copy=True)
    handed_out.add(id(memory_owner(g)))
    leaf.grad = g
