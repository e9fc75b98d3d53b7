"""The Function base class: one differentiable operation, forward and backward on raw arrays.

Introduced in lesson 00. Every op in `tinytx.functional` is a small subclass:

    class Exp(Function):
        def forward(self, x):
            self.y = self.xp.exp(x)
            return self.y
        def backward(self, gy):
            return gy * self.y

`Function.__call__` does the bookkeeping once for all ops: it checks that the inputs
share one device, unwraps Tensors to arrays, runs `forward`, wraps the results and, when
a gradient is needed, links the outputs to this Function so that `Tensor.backward` can
walk the graph. What an op saves for backward is what its `forward` assigns to `self`
(arrays, not Tensors: `self.y` above); `__call__` notes those names (`saved`), and
`release()` drops exactly them once backward has used them.

Under `no_grad` (evaluation, generation) nothing is recorded, so `__call__` takes a
shorter road when every input is a Tensor of one device: no needs_input_grad, no output
metadata, no links; the outputs are plain Tensors with no `_ctx`. Generating one token
of a small GPT is ~80 tiny ops, so this bookkeeping is a large share of its time.
While `tinytx.capture` records a step, `__call__` hands each op to the recorder, which
notes the op and its arrays so that a replay can call `forward` alone.
"""
from __future__ import annotations

import weakref

from .backend import Device
from .tensor import RECORDING, Tensor, is_grad_enabled, to_tensors


class Function:
    """Base class of differentiable ops.

    Subclasses implement `forward(*arrays) -> array | tuple[array, ...]` and
    `backward(*grads) -> array | tuple[array | None, ...]`, one gradient per input (None
    for an input that needs none). Backward must not modify its incoming gradients in
    place: the same array may be passed on to several inputs. `self.xp` is the array module of the inputs' device
    and `self.needs_input_grad` says which inputs want a gradient.
    """

    xp = None
    device: Device = None
    output_device: Device = None  # where the outputs live, if not on the inputs' device
    saved: tuple = ()             # the names forward assigned: what backward reads
    retained = None               # {output index: weakref to a Tensor that keeps its grad}
    released = False              # backward has run and dropped what was saved
    differentiable = True         # False: outputs never need a gradient (index arrays)

    def __call__(self, *inputs):
        if RECORDING[0] is not None:                  # a step is being captured
            return RECORDING[0].record(self, inputs)
        if not is_grad_enabled():                     # inference: the short road
            device, arrays = None, []
            for x in inputs:                          # all Tensors, on one device?
                if not isinstance(x, Tensor) or (device is not None and x.device is not device):
                    break                             # no: to_tensors below sorts it out
                device = x.device
                arrays.append(x.data)
            else:
                if device is not None:
                    self.device, self.xp = device, device.xp
                    ys = self.forward(*arrays)
                    out = self.output_device or device
                    if type(ys) is tuple:
                        return tuple(Tensor._make(y, out, False) for y in ys)
                    return Tensor._make(ys, out, False)
        tensors, device = to_tensors(inputs, type(self).__name__)
        self.device, self.xp = device, device.xp
        self.needs_input_grad = tuple(t.requires_grad for t in tensors)
        before = set(vars(self))
        ys = self.forward(*[t.data for t in tensors])
        multi = isinstance(ys, tuple)
        ys = ys if multi else (ys,)
        requires_grad = self.differentiable and is_grad_enabled() and any(
            self.needs_input_grad)
        out_device = self.output_device or device
        outputs = tuple(Tensor._make(y, out_device, requires_grad) for y in ys)
        if requires_grad:
            self.saved = tuple(k for k in vars(self) if k not in before)
            self.inputs = tensors
            self.n_outputs = len(outputs)
            self.output_meta = tuple((y.shape, y.dtype) for y in ys)
            for i, out in enumerate(outputs):
                out._ctx, out._index = self, i
        return outputs if multi else outputs[0]

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    def release(self):
        """Drop what forward saved, and the inputs (called after backward used them)."""
        for name in self.saved:
            self.__dict__.pop(name, None)
        self.inputs, self.released = (), True

    def retain(self, index: int, tensor):
        """Give `tensor` (this op's output number `index`) its gradient in backward."""
        if self.retained is None:
            self.retained = {}
        self.retained[index] = weakref.ref(tensor)

    def __repr__(self):
        return f"<{type(self).__name__}>"


def sum_to(x, shape):
    """Sum `x` down to `shape`: the gradient of broadcasting `shape` up to `x.shape`.

    Leading axes that broadcasting added are summed away, then every axis where `shape`
    has size 1 is summed with keepdims.
    """
    if x.shape == tuple(shape):
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    y = x.sum(axis=axes, keepdims=True)
    return y.reshape(shape) if lead else y


def unbroadcast(gx, x_shape):
    """`sum_to` that passes None through (for inputs that need no gradient)."""
    return None if gx is None else sum_to(gx, x_shape)
