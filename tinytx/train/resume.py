"""Exact resume, refused when the run differs: the checkpoint's tokenizer, and its data.

Introduced in lesson 11 with the Trainer (`Trainer.resume`) and used by
examples/train_quixote.py (`--resume`, `--allow_new_data`). A checkpoint records what its
model was trained on — the tokenizer (inside it) and, when the job describes it, the data
(e.g. the text's SHA-256 and length) — and a run that would resume it with another
tokenizer or other data is stopped with ResumeMismatch before any work is done.

    >>> check_resume({"data": {"sha256": "ab"}}, {"data": {"sha256": "ab"}}, "out/last")
    >>> check_resume({"data": {"sha256": "ab"}}, {"data": {"sha256": "cd"}}, "out/last")
    Traceback (most recent call last):
    ...
    tinytx.train.resume.ResumeMismatch: --resume: out/last was trained on sha256 ab, but this run reads sha256 cd. Pass the same data, or train into a new --out_dir
"""
from __future__ import annotations

from ..checkpoint import checkpoint_paths, load_tokenizer, read_checkpoint_meta


class ResumeMismatch(ValueError):
    """A checkpoint resumed with another tokenizer or other data than it was trained on."""


def check_resume(saved: dict, current: dict, path, allow_new_data: bool | None = None):
    """Refuse to resume the checkpoint at `path` when what it was trained on differs.

    Args:
        saved: the checkpoint's config (its manifest's "config": tokenizer and data).
        current: the same records for this run: {"tokenizer": ..., "data": ...}
            (`model_record`'s tokenizer; the data as the job describes it, e.g. the text's
            SHA-256 and length); a record left out is not checked (a job checks its data
            before it builds a tokenizer, the Trainer checks both).
        allow_new_data: go on with other data (a new text, the same tokenizer); None
            when the job offers no such option (its error message then names none).
    Raises ResumeMismatch (a ValueError) saying what differs. A tokenizer that differs is
    always refused: every token id would change meaning under the trained weights.
    Checkpoints from before these records (no data; the tokenizer as a path) are not
    checked for what they lack.
    """
    data, now = saved.get("data"), current.get("data")
    if data is not None and data != now and not allow_new_data:
        option = ("" if allow_new_data is None else ", or add --allow_new_data to go on "
                  "with the new text and the checkpoint's tokenizer")
        raise ResumeMismatch(f"--resume: {path} was trained on {_describe(data)}, but this "
                             f"run reads {_describe(now)}. Pass the same data, or train "
                             f"into a new --out_dir{option}")
    if "tokenizer" in current and not isinstance(saved.get("tokenizer"), str) and \
            saved.get("tokenizer") != current["tokenizer"]:
        raise ResumeMismatch(f"--resume: {path} was trained with another tokenizer than "
                             f"this run's; every token id would change meaning. Resume "
                             f"with the same data and options, or train into a new "
                             f"--out_dir")


def resume_tokenizer(path, data=None, allow_new_data: bool | None = None):
    """The tokenizer saved in the checkpoint at `path`, to resume it with: the model's own,
    whatever the tokenizer cache holds now. With `data` (this run's record), a text other
    than the checkpoint's is refused first (check_resume), before any work is done.

    Raises FileNotFoundError naming --resume when there is no checkpoint.
    """
    json_path = checkpoint_paths(path)[1]
    if not json_path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {json_path}; train without "
                                f"--resume first (or pass the right --out_dir)")
    config = read_checkpoint_meta(path)["config"] or {}
    if data is not None:
        check_resume(config, {"data": data}, path, allow_new_data)
    return load_tokenizer(config, config.get("model_type"), json_path)


def _describe(data) -> str:
    if not isinstance(data, dict):
        return "data it does not describe" if data is None else repr(data)
    return ", ".join(f"{k} {v}" for k, v in data.items())
