"""What a model checkpoint holds, decided here: the model's kind and config, and its
tokenizer, so `load_model(path) -> (model, tokenizer)` works from the files alone.

Introduced in lesson 10 (saving the GPT, sampling from it later). The checkpoint format
(`tinytx.checkpoint.format`) stores arrays and a JSON dict; this module fills that dict's
`config` for a model:

    model_type   "gpt" | "seq2seq" | "t5": which class to build
    model        the model's config (GPTConfig, Seq2SeqConfig, T5Config) as a dict
    tokenizer    {"format": "tinytx-bpe", "text": the .model file}: a tinytx tokenizer,
                 inside the checkpoint, so the folder can be moved; or
                 {"format": "huggingface", "path": an absolute folder}: a pretrained
                 GPT-2 / T5 tokenizer (vocab.json + merges.txt, or spiece.model)

The Trainer writes this record into every checkpoint (`model_record`); whatever else a
job saves (its options, under "example") sits beside it.

Checkpoints written before this layout (tinytx checkpoint version 2 or older) name their
tokenizer by a path relative to the directory they were trained in (key "tokenizer",
a str) or hold its text (key "tokenizer_model", examples/translate.py). They load when
that file is found as named or beside the checkpoint; otherwise the error names the old
layout and the file it looked for.

    >>> import tempfile
    >>> from tinytx.models import GPT, GPTConfig
    >>> from tinytx.tokenizer import BasicTokenizer
    >>> from tinytx.checkpoint import save_checkpoint
    >>> tok = BasicTokenizer(); tok.train("abababcd", 258)
    >>> gpt = GPT(GPTConfig(block_size=8, vocab_size=258, n_layer=1, n_head=2, n_embd=8))
    >>> path = tempfile.mkdtemp() + "/ckpt"
    >>> save_checkpoint(path, gpt, config=model_record(gpt, tok))
    >>> model, tokenizer = load_model(path)
    >>> type(model).__name__, tokenizer.decode(tokenizer.encode("abcd"))
    ('GPT', 'abcd')
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from .. import nn
from ..files import read_text
from ..models import GPT, GPTConfig, Seq2Seq, Seq2SeqConfig
from ..models.t5 import T5, T5Config
from ..tokenizer import Tokenizer
from ..tokenizer import load as load_tokenizer_file
from ..tokenizer.gpt2 import load_gpt2_tokenizer
from .format import (CheckpointError, check_shapes, checkpoint_paths, load_checkpoint,
                     read_checkpoint_meta)
from .t5 import load_t5_tokenizer

MODELS = {"gpt": (GPT, GPTConfig), "seq2seq": (Seq2Seq, Seq2SeqConfig), "t5": (T5, T5Config)}
TINYTX_BPE, HUGGINGFACE = "tinytx-bpe", "huggingface"


def model_record(model, tokenizer=None) -> dict:
    """{"model_type", "model", "tokenizer"} for a checkpoint's config (see above).

    Args:
        model: a GPT, Seq2Seq or T5 (any other module is recorded with model_type None:
            its checkpoints resume, but load_model cannot rebuild it).
        tokenizer: a tinytx tokenizer (stored inside); a Hugging Face folder (a str or
            Path), or a tokenizer loaded from one (it has `.folder`): stored as the
            folder's absolute path; or None.
    """
    kinds = {cls: name for name, (cls, _) in MODELS.items()}
    config = getattr(model, "config", None)
    return {"model_type": kinds.get(type(model)),
            "model": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else None,
            "tokenizer": tokenizer_record(tokenizer)}


def tokenizer_record(tokenizer):
    """How a checkpoint stores a tokenizer (see model_record), or None."""
    if tokenizer is None:
        return None
    if getattr(tokenizer, "folder", None):        # loaded from a Hugging Face folder
        tokenizer = tokenizer.folder
    if isinstance(tokenizer, (str, Path)):
        return {"format": HUGGINGFACE, "path": str(Path(tokenizer).resolve())}
    if isinstance(tokenizer, Tokenizer):
        with tempfile.TemporaryDirectory() as tmp:
            tokenizer.save(str(Path(tmp) / "tok"))
            return {"format": TINYTX_BPE,
                    "text": (Path(tmp) / "tok.model").read_text(encoding="utf-8")}
    raise TypeError(f"tokenizer: expected a tinytx Tokenizer or a Hugging Face folder, got "
                    f"{type(tokenizer).__name__}")


def load_model(path, device="cpu", *, dropout: float | None = None):
    """(model, tokenizer) from a checkpoint prefix, the model on `device` (the tokenizer
    None if the checkpoint has none).

    Args:
        path: a checkpoint prefix "dir/NAME" (NAME.json + NAME.safetensors).
        dropout: replaces the saved dropout (e.g. to finetune with another); None keeps it.
    Raises CheckpointError naming the file for a checkpoint this cannot rebuild (one of
    the old layout whose tokenizer file is gone, or an unknown model type).
    """
    meta = read_checkpoint_meta(path)
    config, json_path = meta.get("config") or {}, checkpoint_paths(path)[1]
    kind = config["model_type"] if "model_type" in config else _old_model_type(config,
                                                                                json_path)
    if kind not in MODELS:
        raise CheckpointError(f"{json_path}: key 'config.model_type' is {kind!r}; expected "
                              f"one of {list(MODELS)}")
    cls, config_cls = MODELS[kind]
    try:
        model_config = config_cls(**config["model"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{json_path}: key 'config.model' is not a {config_cls.__name__}"
                              f" ({e})") from None
    if dropout is not None:
        model_config = dataclasses.replace(model_config, dropout=dropout)
    with nn.abstract_init():            # the config's shapes, checked against the file's
        check_shapes(path, cls(model_config))   # before a model that size is allocated
    model = cls(model_config)
    load_checkpoint(path, model, restore_rng=False)
    return model.to(device), load_tokenizer(config, kind, json_path)


def load_tokenizer(config: dict, kind: str, json_path: Path):
    """The tokenizer a checkpoint's config records (either layout), or None."""
    record = config.get("tokenizer")
    if "tokenizer_model" in config:                        # old: examples/translate.py
        record = {"format": TINYTX_BPE, "text": config["tokenizer_model"]}
    elif isinstance(record, str):                          # old: a path
        record = _old_tokenizer_record(record, kind, config, json_path)
    if record is None:
        return None
    if record.get("format") == TINYTX_BPE:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "tok.model").write_text(record["text"], encoding="utf-8")
            try:
                return load_tokenizer_file(str(Path(tmp) / "tok.model"))
            except ValueError as e:           # name the checkpoint, not the temporary file
                why = str(e).replace(str(Path(tmp) / "tok.model"), "the tokenizer")
                raise CheckpointError(f"{json_path}: key 'config.tokenizer.text': {why}") \
                    from None
    if record.get("format") == HUGGINGFACE:
        if kind == "t5":
            return load_t5_tokenizer(record["path"])
        return load_gpt2_tokenizer(record["path"])
    raise CheckpointError(f"{json_path}: key 'config.tokenizer.format' is "
                          f"{record.get('format')!r}; expected {TINYTX_BPE!r} or "
                          f"{HUGGINGFACE!r}")


# -- the layout before this module (tinytx checkpoint version 2 and older) -----------------

def _old_model_type(config, json_path) -> str:
    model = config.get("model")
    if not isinstance(model, dict):
        raise CheckpointError(f"{json_path}: no key 'config.model_type' and no model config "
                              f"(key 'config.model'): not a checkpoint of a tinytx model")
    if config.get("base") == "t5":
        return "t5"
    return "seq2seq" if "n_encoder_layer" in model else "gpt"


def _old_tokenizer_record(named: str, kind, config, json_path) -> dict:
    """An old checkpoint's tokenizer path, looked up as named, then beside the checkpoint;
    only a file inside the checkpoint's folder is read (a checkpoint from elsewhere must
    not make tinytx read, and echo, any file on the machine)."""
    if config.get("base") in ("gpt2", "t5") or Path(named).is_dir():   # a pretrained folder
        return {"format": HUGGINGFACE, "path": named}
    folder = json_path.parent.resolve()
    for candidate in (Path(named), json_path.parent / Path(named).name):
        if candidate.is_file() and candidate.resolve().is_relative_to(folder):
            return {"format": TINYTX_BPE,
                    "text": read_text(candidate, "a tinytx tokenizer .model file")}
    raise CheckpointError(
        f"{json_path}: a checkpoint in the old layout (tinytx checkpoint version 2, before "
        f"the tokenizer was stored inside it) names its tokenizer file {named!r}, relative "
        f"to the directory it was trained in; it is neither there (inside the checkpoint's "
        f"folder) nor beside the checkpoint ({json_path.parent / Path(named).name}). Copy "
        f"that .model file beside the checkpoint.")
