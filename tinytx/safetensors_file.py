"""A safetensors file read with checks: the header first, then the arrays.

Introduced in lesson 13 (GPT-2 and T5 from Hugging Face's files). A safetensors file is
an 8-byte little-endian length n, then n bytes of JSON, then the data:

    {"wte.weight": {"dtype": "F32", "shape": [50257, 768], "data_offsets": [0, 154389504]},
     ...,
     "__metadata__": {"format": "pt"}}

with each tensor's offsets counted from the end of the header. The `safetensors` library
raises its own SafetensorError on a truncated or corrupt file, which is neither an
OSError nor a ValueError, so a user would see a traceback. `read_header` checks the
header, and that every tensor's bytes are in the file, before the library sees it, and
names the file and the key of what is wrong; `read_arrays` then loads the arrays.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from safetensors.numpy import save_file
    >>> p = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> save_file({"w": np.zeros((2, 3), np.float32)}, p)
    >>> header, metadata = read_header(p)
    >>> header["w"]["shape"], header["w"]["data_offsets"], metadata
    ([2, 3], [0, 24], {})
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from safetensors import SafetensorError
from safetensors.numpy import load_file

# bytes per element of each dtype the format names (a dtype not here is left to the library)
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8,
               "F64": 8}


def read_header(path) -> tuple[dict, dict]:
    """({key: {"dtype", "shape", "data_offsets"}}, the __metadata__ dict) of a safetensors
    file, after checking that every tensor's bytes lie within the file.

    Raises FileNotFoundError, or ValueError naming the file (and the key) for a file that
    is truncated, has a header that is not JSON, or a tensor whose offsets or size do not
    fit.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a safetensors file, but it does not exist")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < n <= size - 8:
            raise ValueError(f"{path}: truncated or not a safetensors file ({size} bytes; "
                             f"header length {n})")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: corrupt safetensors header, not UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: corrupt safetensors header: expected a JSON object, got "
                         f"{type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: key '__metadata__': expected a JSON object, got "
                         f"{metadata!r:.80}")
    for key, info in header.items():
        _check_tensor(path, key, info, size - 8 - n)
    return header, metadata


def read_arrays(path) -> dict:
    """{key: numpy array} of a safetensors file, checked first by `read_header`.

    Raises FileNotFoundError, or ValueError naming the file for anything the header
    check or the `safetensors` library finds wrong.
    """
    read_header(path)
    try:
        return load_file(str(path))
    except SafetensorError as e:
        raise ValueError(f"{path}: cannot read the safetensors file ({e})") from None


def _check_tensor(path, key, info, have: int) -> None:
    """One header entry: a dtype, a shape, and offsets [begin, end] within the data."""
    def bad(what):
        return ValueError(f"{path}: key {key!r}: {what}")
    if not isinstance(info, dict):
        raise bad(f"expected {{dtype, shape, data_offsets}}, got {info!r:.80}")
    offsets, shape = info.get("data_offsets"), info.get("shape")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(
            isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
            and offsets[0] <= offsets[1]):
        raise bad(f"expected data_offsets [begin, end] with 0 <= begin <= end, "
                  f"got {offsets!r:.80}")
    if not (isinstance(shape, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise bad(f"expected a shape of sizes >= 0, got {shape!r:.80}")
    if offsets[1] > have:
        raise bad(f"truncated: the tensor needs bytes up to {offsets[1]} of the data, the "
                  f"file holds {have}")
    itemsize = DTYPE_BYTES.get(info.get("dtype"))
    if itemsize is not None and offsets[1] - offsets[0] != math.prod(shape) * itemsize:
        raise bad(f"shape {shape} of {info['dtype']} needs {math.prod(shape) * itemsize} "
                  f"bytes, data_offsets {offsets} hold {offsets[1] - offsets[0]}")
