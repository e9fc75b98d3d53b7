"""The arrays' file of a checkpoint: which safetensors file the manifest names, and its bytes.

Part of lesson 11's checkpoint format (`tinytx.checkpoint.format`, whose docstring shows
the two files and the six steps of a save). While a save is under way the arrays that the
manifest on disk names are in `NAME.safetensors` or, moved aside, in
`.NAME.safetensors.prev`; both carry the `checkpoint_id` of their save in the header's
metadata, so the manifest's `checkpoint_id` tells which file is its own. Reading checks
what the manifest says of that file: every tensor's bytes inside it (from the header
alone), then the SHA-256 of the whole file.

    >>> from pathlib import Path
    >>> previous(Path("out/ckpt.safetensors")).name
    '.ckpt.safetensors.prev'
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.numpy import load as load_bytes

from ..safetensors_file import read_header
from .state import CheckpointError, arrays_checksum


def previous(st_path: Path) -> Path:
    """Where a save keeps the arrays the manifest on disk names until the new manifest
    is in place (steps 3-6 of the format's docstring)."""
    return st_path.with_name(f".{st_path.name}.prev")


def arrays_file(st_path: Path, json_path: Path, meta: dict) -> Path:
    """The safetensors file the manifest names: NAME or .NAME.prev, by checkpoint_id."""
    candidates = [p for p in (st_path, previous(st_path)) if p.is_file()]
    if not candidates:
        raise FileNotFoundError(f"checkpoint: {st_path} not found")
    ids = {p: header(p)[1].get("checkpoint_id") for p in candidates}
    chosen = next((p for p in candidates if ids[p] == meta.get("checkpoint_id")), None)
    if chosen is None:
        raise CheckpointError(f"{st_path}: key 'checkpoint_id' is {ids[candidates[0]]!r} "
                              f"but the manifest {json_path} says "
                              f"{meta.get('checkpoint_id')!r}: the two files come from "
                              f"different saves (an interrupted save?)")
    return chosen


def read_arrays(st_path: Path, json_path: Path, meta: dict) -> tuple[Path, dict]:
    """(the file, its arrays): the safetensors file the manifest names, found at NAME or
    at .NAME.prev (see the module docstring), its bytes checked against the manifest."""
    chosen = arrays_file(st_path, json_path, meta)
    data = chosen.read_bytes()
    if meta["version"] >= 4 and hashlib.sha256(data).hexdigest() != (
            meta.get("safetensors") or {}).get("sha256"):
        raise CheckpointError(f"{chosen}: the file's SHA-256 does not match key "
                              f"'safetensors.sha256' of {json_path}: the file is corrupt "
                              f"(changed on disk after it was saved)")
    try:
        arrays = load_bytes(data)
    except SafetensorError as e:
        raise CheckpointError(f"{chosen}: cannot read the safetensors file ({e})") from None
    if meta["version"] in (2, 3) and arrays_checksum(arrays) != meta.get("arrays_sha256"):
        raise CheckpointError(f"{chosen}: the arrays' SHA-256 does not match key "
                              f"'arrays_sha256' of {json_path}: the file is corrupt "
                              f"(changed on disk after it was saved)")
    return chosen, arrays


def belongs(st_path: Path, json_path: Path) -> bool:
    """Whether the manifest on disk names the arrays in st_path (by checkpoint_id)."""
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        return header(st_path)[1].get("checkpoint_id") == meta.get("checkpoint_id")
    except (OSError, ValueError):     # no manifest, or an unreadable one: names nothing
        return False


def header(path: Path) -> tuple[dict, dict]:
    """({name: {"dtype", "shape", ...}}, the header's __metadata__), after checking that
    every tensor's bytes are in the file (`tinytx.safetensors_file.read_header`); a
    CheckpointError naming what is not."""
    try:
        return read_header(path)
    except ValueError as e:
        raise CheckpointError(str(e)) from None


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(1 << 20):
            h.update(piece)
    return h.hexdigest()
