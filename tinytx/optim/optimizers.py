"""Optimizers: SGD (with momentum), Adam and AdamW, with parameter groups.

Introduced in lesson 01 (the MLP language model; lesson 11 trains the GPT with AdamW). An optimizer holds `param_groups`, a list of
dicts each with its "params" and its own hyperparameters (lr, weight_decay, ...), and a
per-parameter `state` (momentum buffers, Adam's moments and step count), keyed by the
parameter's index in the order of the groups. `step()` updates `p.data` in place on the
parameter's device with its xp; gradients are only read, never written.

`state_dict()` gives {"state": {index: {name: value}}, "param_groups": [...]}, where a
value is a host NumPy array (moments) or a Python number (step): the checkpoint puts the
arrays in safetensors and the numbers in JSON.

    >>> import tinytx as tx
    >>> from tinytx import nn
    >>> from tinytx.optim import AdamW, decay_groups
    >>> model = nn.Linear(3, 1)
    >>> opt = AdamW(decay_groups(model, weight_decay=0.1), lr=1e-3)
    >>> model(tx.randn(4, 3)).sum().backward()
    >>> opt.step(); opt.zero_grad()
    >>> [g["weight_decay"] for g in opt.param_groups]
    [0.1, 0.0]
"""
from __future__ import annotations

import numpy as np

from ..kernels.dispatch import run
from ..nn.module import Module
from ..tensor import Tensor


class Optimizer:
    """Base class: keeps param_groups and state; subclasses define `_update`.

    Args:
        params: an iterable of Parameters, or of dicts {"params": [...], **overrides}
            (e.g. from `decay_groups`); a group's missing keys come from `defaults`.
        defaults: the hyperparameters of this optimizer (lr, ...).
    """

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params: expected an iterable of Parameters or of dicts, got "
                            "a single Tensor (wrap it in a list)")
        self.defaults = dict(defaults)
        groups = list(params)
        if not groups:
            raise ValueError("params: got an empty list (no parameters to optimize)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups, self.state = [], {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict):
        """Add a group {"params": [...], **hyperparameters}; unset ones take the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"param group: expected a dict with 'params', got {group!r:.80}")
        params = [group["params"]] if isinstance(group["params"], Tensor) else list(
            group["params"])
        seen = {id(p) for _, p, _ in self._indexed()}
        for p in params:
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"param group: every param must be a leaf Tensor with "
                                f"requires_grad=True, got {p!r:.80}")
            if id(p) in seen:
                raise ValueError(f"param group: a parameter of shape {p.shape} appears in "
                                 f"more than one place")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise KeyError(f"param group: unknown hyperparameters {sorted(unknown)} for "
                           f"{type(self).__name__} (known: {sorted(self.defaults)})")
        self.param_groups.append({**self.defaults, **group, "params": params})

    def _indexed(self):
        """(index, param, group) over every param, in group order."""
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield i, p, group
                i += 1

    def zero_grad(self):
        """Set every parameter's gradient to None."""
        for _, p, _ in self._indexed():
            p.grad = None

    def step(self):
        """Update every parameter that has a gradient (those with grad None are skipped)."""
        for i, p, group in self._indexed():
            if p.grad is not None:
                self._update(p, p.grad, self.state.setdefault(i, {}), group)

    _state_keys = ()  # what a parameter's state holds once it has any

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    # -- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{"state": {index: {name: host array or number}}, "param_groups": [groups with
        the params replaced by their indices]}; all copies."""
        state = {}
        for i, p, _ in self._indexed():
            if i in self.state:
                state[i] = {k: (np.array(p.device.to_host(v)) if _is_array(v) else v)
                            for k, v in self.state[i].items()}
        groups, i = [], 0
        for g in self.param_groups:
            n = len(g["params"])
            groups.append({**{k: v for k, v in g.items() if k != "params"},
                           "params": list(range(i, i + n))})
            i += n
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict):
        """Restore what `state_dict()` gave (index keys may be strings, as after JSON).
        Everything is checked before anything is changed."""
        apply = self.plan_load(state_dict)
        apply()

    def plan_load(self, state_dict):
        """Check `state_dict` as `load_state_dict` does, change nothing, and return a
        function that assigns it: checkpoint loading checks the model and the optimizer
        both before touching either."""
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if groups is None or "state" not in state_dict:
            raise ValueError("optimizer state_dict: expected a dict with 'state' and "
                             "'param_groups'")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"optimizer state_dict: has {len(groups)} param groups, this "
                             f"optimizer has {len(self.param_groups)}")
        for j, (g, own) in enumerate(zip(groups, self.param_groups)):
            if len(g["params"]) != len(own["params"]):
                raise ValueError(f"optimizer state_dict: param group {j} has "
                                 f"{len(g['params'])} params, expected {len(own['params'])}")
        params = {i: p for i, p, _ in self._indexed()}
        state = {}
        for key, entries in state_dict["state"].items():
            i = int(key)
            if i not in params:
                raise ValueError(f"optimizer state_dict: state for parameter {i}, but there "
                                 f"are only {len(params)} parameters")
            p, state[i] = params[i], {}
            if entries and set(entries) != set(self._state_keys):
                raise ValueError(f"optimizer state_dict: state {i} has keys "
                                 f"{sorted(entries)}, expected {sorted(self._state_keys)}")
            for name, v in entries.items():
                if _is_array(v) and tuple(v.shape) not in ((), p.shape):
                    raise ValueError(f"optimizer state_dict: state {i} {name!r} has shape "
                                     f"{tuple(v.shape)}, expected the parameter's {p.shape}")
                state[i][name] = (p.device.asarray(v, dtype=p.dtype).copy()
                                  if _is_array(v) else v)

        def apply():
            self.state = state
            for g, own in zip(groups, self.param_groups):
                own.update({k: (tuple(v) if isinstance(v, list) else v)
                            for k, v in g.items() if k != "params"})
        return apply


def _is_array(v):
    return hasattr(v, "shape") and hasattr(v, "dtype")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and (L2) weight decay:

        g = grad + weight_decay·p;   buf = momentum·buf + g (buf = g at first);
        p -= lr·buf  (p -= lr·g without momentum)

        >>> import tinytx as tx
        >>> w = tx.tensor([1.0], requires_grad=True)
        >>> (w * w).sum().backward()
        >>> SGD([w], lr=0.1).step(); w
        tensor([0.8], requires_grad=True)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        _check(lr=lr, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    _state_keys = ("momentum_buffer",)

    def _update(self, p, grad, state, group):
        g = grad + group["weight_decay"] * p.data if group["weight_decay"] else grad
        if group["momentum"]:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()  # owned: grad is never written
            else:
                buf *= group["momentum"]
                buf += g
            g = buf
        p.data -= group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias-corrected moments; weight_decay is L2 (added to the
    gradient), as in torch.optim.Adam:

        g = grad + weight_decay·p;  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
        p -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps)
    """

    decoupled = False
    _state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        _check(lr=lr, eps=eps, weight_decay=weight_decay)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas: expected two numbers in [0, 1), got {betas!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def step(self):
        """Update every parameter that has a gradient: the parameters of a group in one
        call of the "adam" op (tinytx.kernels.dispatch: on the cuda device in fused mode
        one launch of the CUDA kernel for the whole group; on the CPU each tensor in
        cache-sized pieces). Nothing is read back from the device: step counts are
        Python ints, the bias corrections are computed on the host."""
        index = {id(p): i for i, p, _ in self._indexed()}
        for group in self.param_groups:
            todo = [(p, self.state.setdefault(index[id(p)], {}))
                    for p in group["params"] if p.grad is not None]
            for p, state in todo:
                if not state:
                    xp = p.device.xp
                    state.update(step=0, exp_avg=xp.zeros_like(p.data),
                                 exp_avg_sq=xp.zeros_like(p.data))
                state["step"] += 1
            if todo:
                run("adam", [p.data for p, _ in todo], [p.grad for p, _ in todo],
                    [s["exp_avg"] for _, s in todo], [s["exp_avg_sq"] for _, s in todo],
                    [s["step"] for _, s in todo], group["lr"], group["betas"], group["eps"],
                    group["weight_decay"], self.decoupled, device=todo[0][0].device)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), GPT-2/nanoGPT's optimizer:
    first p -= lr·weight_decay·p, then the Adam step without any L2 term. Use it with
    `decay_groups` so that biases and LayerNorm gains are not decayed."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def decay_groups(model, weight_decay: float):
    """nanoGPT's rule: matrices and embeddings (ndim >= 2) get weight decay; biases and
    LayerNorm gains (ndim < 2) do not.

    Args:
        model: a Module (or an iterable of (name, Parameter) pairs).
        weight_decay: the decay of the first group.
    Returns: [{"params": decayed, "weight_decay": weight_decay},
              {"params": the rest, "weight_decay": 0.0}], leaving out an empty group.
    """
    named = model.named_parameters() if isinstance(model, Module) else model
    params = [p for _, p in named if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def _check(**values):
    for name, v in values.items():
        if not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"{name}: expected a number >= 0, got {v!r}")
