"""Checkpoints: the weights in safetensors, everything else in JSON beside them.

Introduced in lesson 10 (saving and resuming the GPT). A checkpoint `out/ckpt` is two
files:

    out/ckpt.safetensors   arrays: "model.<name>" for each parameter and persistent
                           buffer, "optim.state.<index>.<name>" for the optimizer's
                           moment/momentum arrays
    out/ckpt.json          format version, config, step, the optimizer's scalars (step
                           counts) and param_groups, each device's RNG state, extra

The JSON also holds `arrays_sha256`, a SHA-256 of every array (name, dtype, shape and
bytes); load recomputes it and refuses a file whose bytes changed (a bad disk, a copy cut
short in a way that still parses) with an error naming the file. Version-1 checkpoints,
written before the checksum existed, still load (without that check). Up to version 2 a
Seq2Seq was saved inside a wrapper module, its weights under one more "model." prefix;
such checkpoints load into the bare model (see `_unwrap`). What the JSON's `config`
holds for a model (its type, config and tokenizer) is `tinytx.checkpoint_model`'s.

Writes are atomic: each file is written by `tinytx.files.atomic_write` (a temporary file
in the same directory, then `os.replace`), the safetensors first and the JSON last. Both
carry the same random `checkpoint_id`. Until the new JSON is in place the old arrays stay
on disk as `.NAME.safetensors.prev`, so a process killed between the two writes leaves
the old checkpoint loadable (load finds the arrays whose id the JSON names); a new
safetensors beside a JSON of another save is detected instead of resuming from a mix.
Loading checks every name, shape and dtype before it changes anything: an error leaves
the model, the optimizer and the RNG as they were.

    >>> import tempfile, tinytx as tx
    >>> from tinytx import nn
    >>> model = nn.Linear(2, 2)
    >>> d = tempfile.mkdtemp()
    >>> save_checkpoint(f"{d}/ckpt", model, config={"n_embd": 2}, step=7)
    >>> load_checkpoint(f"{d}/ckpt", nn.Linear(2, 2))["step"]
    7
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from .backend import cuda_available, get_device
from .files import atomic_write, atomic_write_text, fsync

FORMAT = "tinytx-checkpoint"
VERSION = 3            # 3: no wrapper prefix (see _unwrap); 2: arrays_sha256 in the
                       # JSON; 1 (no checksum) still loads


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: corrupt, inconsistent, or for another model."""


def checkpoint_paths(path) -> tuple[Path, Path]:
    """(NAME.safetensors, NAME.json) for a prefix "dir/NAME" (either full file name works
    too); an existing directory means "dir/ckpt"."""
    p = Path(path)
    if p.is_dir():
        p = p / "ckpt"
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def save_checkpoint(path, model, optimizer=None, *, config=None, step=None, extra=None):
    """Write the model (and optimizer) state, config, step and RNG states, atomically.

    Args:
        path: a prefix "dir/NAME" (writes NAME.safetensors and NAME.json; dir is created)
            or an existing directory (writes ckpt.*).
        model: a Module; its state_dict() is saved (a tied weight once).
        optimizer: an Optimizer whose state_dict() is saved, or None.
        config: a dataclass or dict (JSON-able), e.g. the model's config.
        step: the training step, returned on load (for resuming).
        extra: anything JSON-able (best validation loss, tokenizer file, ...).
    """
    st_path, json_path = checkpoint_paths(path)
    checkpoint_id = uuid.uuid4().hex
    arrays = {f"model.{k}": np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "version": VERSION, "checkpoint_id": checkpoint_id,
            "config": _config_dict(config), "step": step, "optimizer": None,
            "rng": {name: get_device(name).get_rng_state() for name in _rng_devices()},
            "extra": extra}
    if optimizer is not None:
        sd, scalars = optimizer.state_dict(), {}
        for i, entries in sd["state"].items():
            scalars[str(i)] = {}
            for name, v in entries.items():
                if isinstance(v, np.ndarray):
                    arrays[f"optim.state.{i}.{name}"] = np.ascontiguousarray(v)
                else:
                    scalars[str(i)][name] = v
        meta["optimizer"] = {"type": type(optimizer).__name__, "state": scalars,
                             "param_groups": sd["param_groups"]}
    meta["arrays_sha256"] = arrays_checksum(arrays)
    try:
        text = json.dumps(meta, indent=1, default=_json_default)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save_checkpoint: config, step and extra must be JSON-able: {e}")
    st_path.parent.mkdir(parents=True, exist_ok=True)
    prev = _previous(st_path)
    if st_path.exists():                 # kept until the new JSON is in place, so a crash
        os.replace(st_path, prev)        # before it leaves the old pair loadable
    atomic_write(st_path, lambda tmp: save_file(   # the arrays first ...
        arrays, str(tmp), metadata={"format": FORMAT, "checkpoint_id": checkpoint_id}))
    atomic_write_text(json_path, text)                             # ... the JSON last
    fsync(st_path.parent)
    prev.unlink(missing_ok=True)


def read_checkpoint_meta(path) -> dict:
    """The JSON half of a checkpoint (config, step, extra, ...), checked, without
    touching any model: read the config to build the model before `load_checkpoint`."""
    _, json_path = checkpoint_paths(path)
    if not json_path.is_file():
        raise FileNotFoundError(f"checkpoint: {json_path} not found")
    try:
        meta = json.loads(json_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{json_path}: not valid JSON ({e}); the file is corrupt")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not a tinytx checkpoint (key 'format' is not "
                              f"{FORMAT!r})")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise CheckpointError(f"{json_path}: key 'version' is {meta.get('version')!r}; this "
                              f"tinytx reads versions up to {VERSION}")
    return meta


def load_checkpoint(path, model, optimizer=None, *, restore_rng: bool = True) -> dict:
    """Load what `save_checkpoint` wrote into `model` (and `optimizer`); return the JSON
    dict (config, step, extra, ...). Nothing changes unless everything checks out.

    Args:
        path: as for save_checkpoint.
        model: a Module with the same parameter names and shapes.
        optimizer: the same kind of Optimizer over the same parameters, or None (then
            any optimizer state in the checkpoint is ignored).
        restore_rng: also restore each device's random generator (exact resume).
    Raises:
        FileNotFoundError for a missing file; CheckpointError (a ValueError) naming the
        file and key for a truncated/corrupt file or a mismatch with the model.
    """
    st_path, json_path = checkpoint_paths(path)
    meta = read_checkpoint_meta(path)
    prev = _previous(st_path)
    if not st_path.is_file() and not prev.is_file():
        raise FileNotFoundError(f"checkpoint: {st_path} not found")
    file_meta = _read_safetensors_header(st_path) if st_path.is_file() else {}
    if file_meta.get("checkpoint_id") != meta.get("checkpoint_id") and prev.is_file() and (
            _read_safetensors_header(prev).get("checkpoint_id") == meta["checkpoint_id"]):
        st_path, file_meta = prev, {"checkpoint_id": meta["checkpoint_id"]}  # see save
    if file_meta.get("checkpoint_id") != meta.get("checkpoint_id"):
        raise CheckpointError(f"{st_path}: key 'checkpoint_id' is "
                              f"{file_meta.get('checkpoint_id')!r} but the JSON beside it "
                              f"says {meta.get('checkpoint_id')!r}: the two files come "
                              f"from different saves (an interrupted save?)")
    try:
        arrays = load_file(str(st_path))
    except SafetensorError as e:
        raise CheckpointError(f"{st_path}: cannot read the safetensors file ({e})") from None
    if meta["version"] >= 2 and arrays_checksum(arrays) != meta.get("arrays_sha256"):
        raise CheckpointError(f"{st_path}: the arrays' SHA-256 does not match key "
                              f"'arrays_sha256' of {json_path}: the file "
                              f"is corrupt (changed on disk after it was saved)")
    model_sd = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    model_sd = _unwrap(model_sd, model, meta["version"])
    try:
        plan, _, _ = model.plan_load(model_sd, strict=True)
    except ValueError as e:
        raise CheckpointError(f"{st_path}: {e} (the checkpoint was saved with config "
                              f"{meta.get('config')})") from None
    apply_optimizer = _plan_optimizer(optimizer, meta, arrays, st_path, json_path)
    rng = _check_rng(meta, json_path) if restore_rng else {}
    for t, arr in plan:   # everything checked: now assign
        t.data = arr
    apply_optimizer()
    for name, state in rng.items():
        get_device(name).set_rng_state(state)
    return meta


def _unwrap(model_sd: dict, model, version: int) -> dict:
    """Up to version 2 a Seq2Seq (or T5) was trained inside the PairLoss adapter, whose
    only child was the model under the name `model`: its weights are "model.src_emb...".
    Such a checkpoint loads into the bare model with that prefix taken off."""
    own = model.state_dict()
    if version < 3 and model_sd and not own.keys() & model_sd.keys() and all(
            k.startswith("model.") for k in model_sd):
        return {k[len("model."):]: v for k, v in model_sd.items()}
    return model_sd


def arrays_checksum(arrays: dict) -> str:
    """SHA-256 over the arrays in name order: each name, dtype, shape and raw bytes."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _plan_optimizer(optimizer, meta, arrays, st_path, json_path):
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


def _check_rng(meta, json_path):
    """The RNG states to restore: {device name: state}, each checked."""
    out = {}
    for name, state in (meta.get("rng") or {}).items():
        if name == "cuda" and not cuda_available() or state is None:
            continue  # no GPU here, or a generator that exposes no state
        current = get_device(name).get_rng_state()
        if not isinstance(state, dict) or state.get("bit_generator") != current.get(
                "bit_generator"):
            raise CheckpointError(f"{json_path}: key 'rng.{name}' is not a "
                                  f"{current.get('bit_generator')} state")
        out[name] = state
    return out


def _read_safetensors_header(path: Path) -> dict:
    """Check that every tensor's bytes are in the file (naming the first one that is
    cut off) and return the header's __metadata__."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < n <= size - 8:
            raise CheckpointError(f"{path}: truncated or not a safetensors file ({size} "
                                  f"bytes; header length {n})")
        try:
            header = json.loads(f.read(n))
            tensors = sorted((info["data_offsets"][1], key) for key, info in header.items()
                             if key != "__metadata__")
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: corrupt safetensors header ({e!r})") from None
    have = size - 8 - n
    for end, key in tensors:
        if end > have:
            raise CheckpointError(f"{path}: truncated: key {key!r} needs {end} bytes of "
                                  f"data, the file holds {have}")
    return header.get("__metadata__") or {}


def _rng_devices():
    return ("cpu", "strict") + (("cuda",) if cuda_available() else ())


def _config_dict(config):
    if config is None or isinstance(config, dict):
        return config
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    raise TypeError(f"save_checkpoint: config must be a dataclass or a dict, got "
                    f"{type(config).__name__}")


def _json_default(obj):
    if isinstance(obj, np.generic):   # a NumPy scalar, e.g. a loss from .item()-less code
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-able")


def _previous(st_path: Path) -> Path:
    """Where a save keeps the arrays it replaces until its JSON is renamed into place: a
    crash in between leaves the old JSON, whose arrays are found here."""
    return st_path.with_name(f".{st_path.name}.prev")
