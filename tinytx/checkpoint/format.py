"""Checkpoints: the weights in safetensors, everything else in a JSON manifest beside them.

Introduced in lesson 11 (saving and resuming the GPT). A checkpoint `out/ckpt` is two
files:

    out/ckpt.safetensors   arrays: "model.<name>" for each parameter and persistent
                           buffer, "optim.state.<index>.<name>" for the optimizer's
                           moment/momentum arrays
    out/ckpt.json          the manifest: format version, the SHA-256 of the safetensors
                           file, config, step, the optimizer's scalars (step counts) and
                           param_groups, each device's RNG state, extra

The manifest is the checkpoint. Its first key, `manifest_sha256`, is the SHA-256 of the
JSON text itself (with that one value left empty), and its `safetensors.sha256` is the
SHA-256 of the whole safetensors file: a change of one byte anywhere (a weight, the
tokenizer, the step, an RNG word, the version number) is an error naming the file.

A save never destroys the checkpoint that the manifest on disk names, whatever happens
to it and to the saves after it (a kill, a full disk):

    1. stale temporary files of earlier, killed saves of this checkpoint are removed;
    2. the arrays go to a temporary file, flushed to disk;
    3. if `ckpt.safetensors` belongs to the current manifest it is kept as
       `.ckpt.safetensors.prev` (a file that belongs to no manifest, left by a killed
       save, is simply replaced: the manifest's arrays are then already in `.prev`);
    4. the temporary file is renamed to `ckpt.safetensors`;
    5. the new manifest is written (temporary file, rename) and the folder flushed;
    6. `.prev` is removed: no manifest names it any more.

Until step 5 the old manifest names arrays that are on disk, in `ckpt.safetensors` or in
`.prev`; loading looks in both for the file whose SHA-256 the manifest names. Loading
checks every name, shape and dtype before it changes anything: an error leaves the model,
the optimizer and the RNG as they were. Checkpoints of format versions 1-3 (before the
manifest hash) still load, with the checks they had (version 2 and 3: the arrays'
SHA-256; version 1: none); saving again writes version 4. Finding and checking the
arrays' file is `arrays.py`'s part; the optimizer's entry, the RNG states and what
versions 1-3 need are `state.py`'s; what the JSON's `config` holds for a model (its type,
config and tokenizer) is `tinytx.checkpoint.record`'s.

    >>> import tempfile
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
import re
import uuid
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import save_file

from ..backend import get_device
from ..files import atomic_write, atomic_write_text, fsync, read_text, stale_temporaries
from ..nn.module import placeholder
from .arrays import arrays_file, belongs, file_sha256, header, previous, read_arrays
from .state import (CheckpointError, check_rng, optimizer_entry, plan_optimizer, rng_states,
                    unwrap)

FORMAT = "tinytx-checkpoint"
VERSION = 4            # 4: the manifest (manifest_sha256, safetensors.sha256); 3: no
                       # wrapper prefix (see state.unwrap); 2: arrays_sha256; 1: no checksum
_MANIFEST_LINE = re.compile(r'\A\{\n "manifest_sha256": "([0-9a-f]{64})",\n')


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
    Raises:
        TypeError for a config/step/extra that is not JSON-able (nothing is written);
        OSError when the disk refuses (full, read-only): the checkpoint on disk is then
        the previous one, whole, and no temporary file is left.
    """
    st_path, json_path = checkpoint_paths(path)
    checkpoint_id = uuid.uuid4().hex
    arrays = {f"model.{k}": np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    meta = {"manifest_sha256": "", "format": FORMAT, "version": VERSION,
            "checkpoint_id": checkpoint_id, "safetensors": None,
            "config": _config_dict(config), "step": step, "optimizer": None,
            "rng": rng_states(),
            "extra": extra}
    if optimizer is not None:
        meta["optimizer"] = optimizer_entry(optimizer, arrays)
    try:
        json.dumps(meta, default=_json_default)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save_checkpoint: config, step and extra must be JSON-able: {e}")
    st_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write(st_path, json_path, arrays, meta)
    except (OSError, SafetensorError) as e:
        raise OSError(getattr(e, "errno", None), f"save_checkpoint: could not write "
                      f"{st_path.with_suffix('')} ({e}); the checkpoint on disk is the "
                      f"previous one, whole") from None


def _write(st_path: Path, json_path: Path, arrays: dict, meta: dict):
    """Steps 1-6 of the module docstring."""
    _remove_stale_temporaries(st_path, json_path)
    prev = previous(st_path)

    def write_arrays(tmp):
        save_file(arrays, str(tmp), metadata={"format": FORMAT,
                                              "checkpoint_id": meta["checkpoint_id"]})
        meta["safetensors"] = {"sha256": file_sha256(tmp), "bytes": tmp.stat().st_size}
        if st_path.is_file() and belongs(st_path, json_path):    # step 3, just before the
            os.replace(st_path, prev)                             # rename of step 4
    atomic_write(st_path, write_arrays)
    atomic_write_text(json_path, manifest_text(meta))
    fsync(st_path.parent)
    try:                      # the new checkpoint is whole: what is left is tidying up,
        prev.unlink(missing_ok=True)     # which the next save does again if this fails
    except OSError:
        pass


def manifest_text(meta: dict) -> str:
    """The JSON text of a manifest, its first key `manifest_sha256` set to the SHA-256 of
    the same text with that value empty."""
    meta = {"manifest_sha256": "", **{k: v for k, v in meta.items()
                                      if k != "manifest_sha256"}}
    text = json.dumps(meta, indent=1, default=_json_default) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return text.replace('"manifest_sha256": ""', f'"manifest_sha256": "{digest}"', 1)


def read_checkpoint_meta(path) -> dict:
    """The manifest of a checkpoint (config, step, extra, ...), verified, without
    touching any model: read the config to build the model before `load_checkpoint`."""
    _, json_path = checkpoint_paths(path)
    if not json_path.is_file():
        raise FileNotFoundError(f"checkpoint: {json_path} not found")
    text = read_text(json_path, "a tinytx checkpoint manifest", bom=False)
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{json_path}: not valid JSON ({e}); the file is corrupt")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not a tinytx checkpoint (key 'format' is not "
                              f"{FORMAT!r})")
    found = _MANIFEST_LINE.match(text)
    if found is None and not (isinstance(meta.get("version"), int) and meta["version"] < 4):
        raise CheckpointError(f"{json_path}: expected the line 'manifest_sha256' first (a "
                              f"version-{VERSION} manifest), got none: the file was edited "
                              f"or is corrupt")
    if found is not None:
        unsigned = text[:found.start(1)] + text[found.end(1):]
        if hashlib.sha256(unsigned.encode()).hexdigest() != found.group(1):
            raise CheckpointError(f"{json_path}: the text's SHA-256 does not match its key "
                                  f"'manifest_sha256': the file was changed after it was "
                                  f"saved (edited, or corrupt on disk)")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise CheckpointError(f"{json_path}: key 'version' is {meta.get('version')!r}; this "
                              f"tinytx reads versions up to {VERSION}")
    return meta


def load_checkpoint(path, model, optimizer=None, *, restore_rng: bool = True) -> dict:
    """Load what `save_checkpoint` wrote into `model` (and `optimizer`); return the
    manifest (config, step, extra, ...). Nothing changes unless everything checks out.

    Args:
        path: as for save_checkpoint.
        model: a Module with the same parameter names and shapes.
        optimizer: the same kind of Optimizer over the same parameters, or None (then
            any optimizer state in the checkpoint is ignored).
        restore_rng: also restore each device's random generator (exact resume).
    Raises:
        FileNotFoundError for a missing file; CheckpointError (a ValueError) naming the
        file and key for a truncated/corrupt/edited file or a mismatch with the model.
    """
    st_path, json_path = checkpoint_paths(path)
    meta = read_checkpoint_meta(path)
    st_path, arrays = read_arrays(st_path, json_path, meta)
    model_sd = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    model_sd = unwrap(model_sd, model, meta["version"])
    try:
        plan, _, _ = model.plan_load(model_sd, strict=True)
    except ValueError as e:
        raise CheckpointError(f"{st_path}: {e} (the checkpoint was saved with config "
                              f"{meta.get('config')})") from None
    apply_optimizer = plan_optimizer(optimizer, meta, arrays, st_path, json_path)
    rng = check_rng(meta, json_path) if restore_rng else {}
    for t, arr in plan:   # everything checked: now assign
        t.data = arr
    apply_optimizer()
    for name, state in rng.items():
        get_device(name).set_rng_state(state)
    return meta


def check_shapes(path, model) -> None:
    """Compare the names, shapes and dtype kinds of `model`'s weights with the arrays the
    checkpoint at `path` holds, from the safetensors header alone (no array is read).

    For a model built inside `nn.abstract_init()` from the checkpoint's config: a config
    that does not match its arrays is refused before a model of that size is allocated.
    Raises CheckpointError listing the differences.
    """
    st_path, json_path = checkpoint_paths(path)
    meta = read_checkpoint_meta(path)
    chosen = arrays_file(st_path, json_path, meta)
    shapes = {k[len("model."):]: placeholder(info["shape"], _KINDS.get(info["dtype"][0], "f4"))
              for k, info in header(chosen)[0].items() if k.startswith("model.")}
    try:
        model.match_state(unwrap(shapes, model, meta["version"]), strict=True)
    except ValueError as e:
        raise CheckpointError(f"{chosen}: {e} (the manifest {json_path} says config "
                              f"{meta.get('config', {}).get('model')})") from None


_KINDS = {"F": "f4", "B": "f4", "I": "i8", "U": "u8"}     # F32/BF16/I64/U8... -> a kind


def _remove_stale_temporaries(st_path: Path, json_path: Path):
    """Temporary files of earlier saves of this checkpoint that were killed."""
    for final in (st_path, json_path):
        for stale in stale_temporaries(final):
            stale.unlink(missing_ok=True)


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
