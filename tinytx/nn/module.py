"""Module: the container that holds a model's weights (Parameters) and its submodules.

Introduced in lesson 01, which builds a smaller one first. As in DeZero, a Module registers what is assigned to it: a
`Parameter` (a trainable leaf tensor) or another `Module` becomes part of the model the
moment it is set as an attribute, so `parameters()` can walk the whole tree and give
each weight a dotted name, e.g. `transformer.h.0.attn.c_attn.weight` (GPT-2's names).
Non-trainable tensors that still belong to the model (a causal mask) are *buffers*.

Tied weights: when one Parameter object is reachable under two names (GPT's
`lm_head.weight` is `transformer.wte.weight`), `parameters()`, `named_parameters()` and
`state_dict()` give it once, under the first name met (depth first, in assignment
order). `load_state_dict()` accepts it under any of its names.

    >>> import tinytx as tx
    >>> from tinytx.nn import Module, Parameter
    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = Parameter(tx.ones(3))
    ...     def forward(self, x):
    ...         return x * self.w
    >>> [name for name, _ in Affine().named_parameters()]
    ['w']

Parameter and the abstract (memory-less) weights of `abstract_init()` are in
`tinytx/nn/parameter.py`.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..backend import get_device
from ..tensor import Tensor
# the weights' side lives in parameter.py; the layers (and checkpoints) import it from here
from .parameter import (Parameter, abstract_init, building_abstract,  # noqa: F401
                        parameter, placeholder)

_KINDS = {"param": "Parameter", "module": "Module", "buffer": "buffer Tensor"}


class Module:
    """Base class of layers and models: subclasses set attributes in `__init__` (after
    `super().__init__()`) and compute in `forward`; calling the module calls forward."""

    def __init__(self):
        object.__setattr__(self, "_kinds", {})   # name -> "param" | "module" | "buffer"
        object.__setattr__(self, "_non_persistent", set())
        self.training = True

    # -- registration -------------------------------------------------------------------
    def __setattr__(self, name, value):
        kinds = self.__dict__.get("_kinds")
        if kinds is None:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(f"cannot assign {type(value).__name__} {name!r} "
                                     f"before Module.__init__() is called")
            return object.__setattr__(self, name, value)
        kind = kinds.get(name)
        new = ("param" if isinstance(value, Parameter) else
               "module" if isinstance(value, Module) else None)
        if kind is not None and new != kind and value is not None:
            if kind != "buffer" or not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to {name!r}: it is a "
                                f"registered {_KINDS[kind]} (expected one or None; "
                                f"`del module.{name}` first to replace it)")
        elif new is not None:
            kinds[name] = new
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._kinds.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True):
        """Attach a non-trainable Tensor (e.g. a causal mask) that `to()` moves and, if
        `persistent`, `state_dict()` saves."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: name must be a non-empty str without '.', "
                           f"got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: tensor must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        if self._kinds.get(name, "buffer") != "buffer" or (
                name not in self._kinds and hasattr(self, name)):
            raise KeyError(f"register_buffer: {name!r} is already an attribute")
        self._kinds[name] = "buffer"
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        object.__setattr__(self, name, tensor)

    def _own(self, kind):
        """(name, value) of this module's own registered attributes of one kind."""
        for name, k in self._kinds.items():
            value = self.__dict__.get(name)
            if k == kind and value is not None:
                yield name, value

    # -- walking the tree -----------------------------------------------------------------
    def named_children(self):
        yield from self._own("module")

    def children(self):
        return (m for _, m in self.named_children())

    def named_modules(self, prefix: str = "", _seen=None):
        """(dotted name, module) for self and every submodule, depth first, each once."""
        seen = set() if _seen is None else _seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(_join(prefix, name), seen)

    def modules(self):
        return (m for _, m in self.named_modules())

    def _named(self, kind, prefix="", remove_duplicate=True):
        seen = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, t in mod._own(kind):
                if not remove_duplicate or id(t) not in seen:
                    seen.add(id(t))
                    yield _join(mod_name, name), t

    def named_parameters(self, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, Parameter) pairs; a tied Parameter comes once, under its first
        name, unless remove_duplicate=False."""
        return self._named("param", prefix, remove_duplicate)

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self, prefix: str = ""):
        return self._named("buffer", prefix)

    def buffers(self):
        return (b for _, b in self.named_buffers())

    def num_parameters(self) -> int:
        """How many numbers the model learns (a tied weight counted once)."""
        return sum(p.size for p in self.parameters())

    # -- modes, devices, gradients -------------------------------------------------------
    def train(self, mode: bool = True):
        """Set the `training` flag (read by Dropout) on self and every submodule."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, device=None, dtype=None):
        """Move every parameter and buffer (and gradient) to `device` and/or cast the
        floating ones to `dtype`, in place (tied weights stay tied); returns self."""
        dev = None if device is None else get_device(device)
        dtype = None if dtype is None else np.dtype(dtype)
        for t in [*self.parameters(), *self.buffers()]:
            t.data = _convert(t.data, t.device, dev, dtype)
            if t.grad is not None:
                t.grad = _convert(t.grad, t.device, dev, dtype)
            t.device = dev or t.device
        return self

    def zero_grad(self):
        """Forget the gradients (set them to None) before the next backward."""
        for p in self.parameters():
            p.grad = None

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # -- saving and loading --------------------------------------------------------------
    def _state_tensors(self, remove_duplicate=True):
        """(name, Tensor) of everything state_dict saves: parameters then persistent
        buffers, module by module."""
        seen = set()
        for mod_name, mod in self.named_modules():
            for kind in ("param", "buffer"):
                for name, t in mod._own(kind):
                    if kind == "buffer" and name in mod._non_persistent:
                        continue
                    if not remove_duplicate or id(t) not in seen:
                        seen.add(id(t))
                        yield _join(mod_name, name), t

    def state_dict(self) -> OrderedDict:
        """Dotted name -> a host NumPy copy of each parameter and persistent buffer
        (a tied weight appears once, under its first name)."""
        return OrderedDict((name, t.numpy()) for name, t in self._state_tensors())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays from `state_dict` into the parameters and buffers, cast to their
        dtype and device. Everything is checked before anything is changed.

        Args:
            state_dict: name -> array-like (NumPy/CuPy array, Tensor).
            strict: missing or unexpected names are an error (shapes always are).
        Returns:
            (missing, unexpected): lists of names (empty when strict).
        """
        plan, missing, unexpected = self.plan_load(state_dict, strict)
        for t, arr in plan:
            t.data = arr
        return missing, unexpected

    def plan_load(self, state_dict, strict: bool = True):
        """Validate `state_dict` without changing anything: return [(tensor, new device
        array)], missing, unexpected, or raise ValueError listing every problem. Public so
        that a checkpoint can check the model and the optimizer before it changes either
        (tinytx.checkpoint; the optimizer's counterpart is Optimizer.plan_load)."""
        matched, missing, unexpected = self.match_state(state_dict, strict)
        plan = [(t, t.device.asarray(value, dtype=t.dtype).copy()) for t, value in matched]
        return plan, missing, unexpected

    def match_state(self, state_dict, strict: bool = True):
        """Match `state_dict`'s names, shapes and dtype kinds with this module's, reading
        only `.shape` and `.dtype` of its values: return [(tensor, value)], missing,
        unexpected, or raise ValueError listing every problem."""
        aliases = {}   # id(tensor) -> [tensor, names...], canonical name first
        for name, t in self._state_tensors(remove_duplicate=False):
            aliases.setdefault(id(t), [t]).append(name)
        known = {n for t_names in aliases.values() for n in t_names[1:]}
        unexpected = [k for k in state_dict if k not in known]
        matched, missing, problems = [], [], []
        for t, *names in aliases.values():
            key = next((n for n in names if n in state_dict), None)
            if key is None:
                missing.append(names[0])
                continue
            value = state_dict[key]
            value = value.data if isinstance(value, Tensor) else value
            if not hasattr(value, "shape"):
                value = np.asarray(value)   # lists and numbers
            shape, kind = tuple(value.shape), value.dtype.kind
            if shape != t.shape:
                problems.append(f"{key!r}: shape {shape} in state_dict, expected {t.shape}")
            elif kind not in "biuf":
                problems.append(f"{key!r}: dtype kind {kind!r} cannot become {t.dtype}")
            else:
                matched.append((t, value))
        if strict:
            problems += [f"missing key {k!r}" for k in missing]
            problems += [f"unexpected key {k!r}" for k in unexpected]
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: "
                             + "; ".join(problems))
        return matched, missing, unexpected

    # -- printing --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The one-line summary inside the parentheses, e.g. `in_features=2, ...`."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, child in self.named_children():
            lines.append(f"({name}): " + repr(child).replace("\n", "\n  "))
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and extra:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _convert(arr, src, dev, dtype):
    """An array of device `src` -> the same values on `dev` (None: stay) as `dtype`
    (None: keep; only floating arrays are cast)."""
    if dev is not None and dev is not src:
        arr = dev.asarray(src.to_host(arr))
    if dtype is not None and arr.dtype.kind == "f" and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr
