"""What a checkpoint holds besides the model's weights, and what older checkpoints held.

Part of lesson 11's checkpoint format (`tinytx.checkpoint.format`, whose docstring shows
the two files); the format's main line calls these:

    the optimizer   its entry in the manifest (type, scalars such as step counts,
                    param_groups; its moment arrays go into the safetensors file as
                    "optim.state.<index>.<name>"), and the plan that loads it back
    the RNG         each device's generator state, saved, and checked before a restore
    versions 1-3    the PairLoss wrapper's "model." prefix (`unwrap`) and the arrays'
                    SHA-256 that versions 2 and 3 hold (`arrays_checksum`)

`CheckpointError` lives here, the lower of the two modules, because both raise it.

    >>> from tinytx import nn
    >>> sorted(unwrap({"model.weight": 0, "model.bias": 0}, nn.Linear(2, 2), version=2))
    ['bias', 'weight']
"""
from __future__ import annotations

import hashlib
import warnings

import numpy as np

from ..backend import cuda_available, get_device


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: corrupt, inconsistent, or for another model."""


# -- the optimizer ---------------------------------------------------------------------------

def optimizer_entry(optimizer, arrays: dict) -> dict:
    """The optimizer's JSON entry; its arrays go into `arrays` as optim.state.I.NAME."""
    sd, scalars = optimizer.state_dict(), {}
    for i, entries in sd["state"].items():
        scalars[str(i)] = {}
        for name, v in entries.items():
            if isinstance(v, np.ndarray):
                arrays[f"optim.state.{i}.{name}"] = np.ascontiguousarray(v)
            else:
                scalars[str(i)][name] = v
    return {"type": type(optimizer).__name__, "state": scalars,
            "param_groups": sd["param_groups"]}


def plan_optimizer(optimizer, meta, arrays, st_path, json_path):
    """A function that loads the saved state into `optimizer`, made after every check
    (`Optimizer.plan_load`): a mismatch is a CheckpointError before anything changes."""
    if optimizer is None:
        return lambda: None
    saved = meta.get("optimizer")
    if saved is None:
        raise CheckpointError(f"{json_path}: key 'optimizer' is null: this checkpoint was "
                              f"saved without optimizer state (pass optimizer=None)")
    if saved.get("type") != type(optimizer).__name__:
        raise CheckpointError(f"{json_path}: key 'optimizer.type' is {saved.get('type')!r}, "
                              f"but a {type(optimizer).__name__} was given")
    state = {int(i): dict(entries) for i, entries in saved["state"].items()}
    for key, v in arrays.items():
        if key.startswith("optim.state."):
            i, name = key[len("optim.state."):].split(".", 1)
            if int(i) not in state:
                raise CheckpointError(f"{st_path}: key {key!r} has no entry in the JSON")
            state[int(i)][name] = v
    try:
        return optimizer.plan_load({"state": state, "param_groups": saved["param_groups"]})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{st_path}: optimizer: {e}") from None


# -- the RNG ---------------------------------------------------------------------------------

def rng_states() -> dict:
    """{device name: its random generator's state} for each device of this machine."""
    return {name: get_device(name).get_rng_state() for name in rng_devices()}


def check_rng(meta, json_path):
    """The RNG states to restore: {device name: state}, each checked."""
    out = {}
    for name, state in (meta.get("rng") or {}).items():
        if state is None or name not in rng_devices():
            continue  # a device this machine lacks (a GPU), or a generator with no state
        current = get_device(name).get_rng_state()
        if not isinstance(state, dict) or "bit_generator" not in state:
            raise CheckpointError(f"{json_path}: key 'rng.{name}' is not a "
                                  f"{current.get('bit_generator')} state")
        if state["bit_generator"] != current.get("bit_generator"):
            warnings.warn(f"{json_path}: key 'rng.{name}' is a {state['bit_generator']} "
                          f"state (an older tinytx); this one draws with "
                          f"{current.get('bit_generator')}, so the {name} device's random "
                          f"draws (dropout) after the resume differ from an uninterrupted "
                          f"run's", stacklevel=3)
            continue
        out[name] = state
    return out


def rng_devices():
    return ("cpu", "strict") + (("cuda",) if cuda_available() else ())


# -- versions 1-3 ----------------------------------------------------------------------------

def unwrap(model_sd: dict, model, version: int) -> dict:
    """Up to version 2 a Seq2Seq (or T5) was trained inside the PairLoss adapter, whose
    only child was the model under the name `model`: its weights are "model.src_emb...".
    Such a checkpoint loads into the bare model with that prefix taken off."""
    if version >= 3 or not model_sd:
        return model_sd
    own = {name for name, _ in model.named_parameters()}     # names only: no copies
    if not own & model_sd.keys() and all(k.startswith("model.") for k in model_sd):
        return {k[len("model."):]: v for k, v in model_sd.items()}
    return model_sd


def arrays_checksum(arrays: dict) -> str:
    """SHA-256 over the arrays in name order: each name, dtype, shape and raw bytes (the
    check of format versions 2 and 3; version 4 hashes the whole file)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
