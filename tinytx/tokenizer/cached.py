"""A BPE tokenizer trained once per text and vocabulary size, then loaded from disk.

Introduced in lesson 11: the main job trains its tokenizer on the training split on the
first run and reuses it on the next ones.

    >>> import tempfile
    >>> prefix = tempfile.mkdtemp() + "/tok"
    >>> a = cached_tokenizer("abab abab", 258, prefix)           # trained and saved
    >>> b = cached_tokenizer("abab abab", 258, prefix)           # loaded
    >>> a.merges == b.merges
    True
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..files import atomic_write_text
from .regex import RegexTokenizer


def cached_tokenizer(text: str, vocab_size: int, prefix, progress: bool = False):
    """A RegexTokenizer (GPT-4 pattern) trained on `text`, cached as `prefix.model`.

    A JSON beside it records the vocabulary size, the text's SHA-256 and the SHA-256 of
    the .model file's bytes; if any differs, the tokenizer is trained again and the
    files replaced. The .model and the JSON are written one after the other, so a crash
    between the two can leave a new .model beside the JSON of another text: the
    .model's hash is what tells them apart.
    """
    prefix = Path(prefix)
    meta_path = prefix.with_suffix(".meta.json")
    key = {"vocab_size": vocab_size,
           "text_sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()}
    tok = RegexTokenizer()
    model_file = prefix.with_name(prefix.name + ".model")
    if model_file.exists() and meta_path.exists():
        try:
            recorded = json.loads(meta_path.read_text(encoding="utf-8"))
            if recorded == {**key, "model_sha256": _sha256(model_file)}:
                return tok.load(model_file)
        except (ValueError, OSError):
            pass  # unreadable: train again
    tok.train(text, vocab_size, progress=progress)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(prefix))
    atomic_write_text(meta_path, json.dumps({**key, "model_sha256": _sha256(model_file)}))
    return tok


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
