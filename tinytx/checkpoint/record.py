"""What a model checkpoint records besides its arrays: the model's type and config, and its
tokenizer — and the tokenizer read back. The Trainer writes this record; `load_model`
(`tinytx.checkpoint.model`) rebuilds the model from it.

Introduced in lesson 11 (saving the GPT, sampling from it later). The checkpoint format
(`tinytx.checkpoint.format`) stores arrays and a JSON dict; this module fills that dict's
`config` for a model:

    model_type   "gpt" | "seq2seq" | "t5": which class to build
    model        the model's config (GPTConfig, Seq2SeqConfig, T5Config) as a dict
    tokenizer    {"format": "tinytx-bpe", "text": the .model file}: a tinytx tokenizer,
                 inside the checkpoint, so the folder can be moved; or
                 {"format": "huggingface", "path": an absolute folder}: a pretrained
                 GPT-2 / T5 tokenizer (vocab.json + merges.txt, or spiece.model)

Whatever else a job saves (its options, under "example") sits beside it. The model type
is found from the class's module and name (MODEL_TYPES), so recording a model imports no
model class: the generic training loop needs this module, not every model there is.

Checkpoints written before this layout (tinytx checkpoint version 2 or older) name their
tokenizer by a path relative to the directory they were trained in (key "tokenizer",
a str) or hold its text (key "tokenizer_model", examples/translate.py). They load when
that file is found as named or beside the checkpoint; otherwise the error names the old
layout and the file it looked for.

    >>> from tinytx.models import GPT, GPTConfig
    >>> from tinytx.tokenizer import BasicTokenizer
    >>> tok = BasicTokenizer(); tok.train("abababcd", 258)
    >>> gpt = GPT(GPTConfig(block_size=8, vocab_size=258, n_layer=1, n_head=2, n_embd=8))
    >>> record = model_record(gpt, tok)
    >>> record["model_type"], record["model"]["vocab_size"], record["tokenizer"]["format"]
    ('gpt', 258, 'tinytx-bpe')
    >>> load_tokenizer(record, "gpt", Path("ckpt.json")).decode(tok.encode("abcd"))
    'abcd'
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from ..files import read_text
from ..tokenizer import Tokenizer
from ..tokenizer import load as load_tokenizer_file
from ..tokenizer.gpt2 import load_gpt2_tokenizer
from ..tokenizer.unigram import UnigramTokenizer
from .format import CheckpointError

# module.Class -> model_type; load_model (model.py) maps each type back to its class, and
# tests/test_checkpoint_model.py checks that the two maps agree.
MODEL_TYPES = {"tinytx.models.gpt.GPT": "gpt", "tinytx.models.seq2seq.Seq2Seq": "seq2seq",
               "tinytx.models.t5.T5": "t5"}
TINYTX_BPE, HUGGINGFACE = "tinytx-bpe", "huggingface"


def class_path(cls) -> str:
    """"module.Class" of a class, the key of MODEL_TYPES."""
    return f"{cls.__module__}.{cls.__qualname__}"


def model_record(model, tokenizer=None) -> dict:
    """{"model_type", "model", "tokenizer"} for a checkpoint's config (see above).

    Args:
        model: a GPT, Seq2Seq or T5 (any other module, a subclass too, is recorded with
            model_type None: its checkpoints resume, but load_model cannot rebuild it).
        tokenizer: a tinytx tokenizer (stored inside); a Hugging Face folder (a str or
            Path), or a tokenizer loaded from one (it has `.folder`): stored as the
            folder's absolute path; or None.
    """
    config = getattr(model, "config", None)
    return {"model_type": MODEL_TYPES.get(class_path(type(model))),
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


def load_t5_tokenizer(path):
    """T5's SentencePiece unigram tokenizer from spiece.model in a folder (or the file);
    `tok.folder` remembers the folder (a checkpoint stores it)."""
    path = Path(path)
    model_file = path / "spiece.model" if path.is_dir() else path
    if not model_file.is_file():
        raise FileNotFoundError(f"path: expected T5's spiece.model in {str(path)!r}, but "
                                f"{str(model_file)!r} does not exist")
    tok = UnigramTokenizer.load(model_file)     # a ValueError naming the file if corrupt
    tok.folder = str(model_file.parent.resolve())   # where it came from, for checkpoints
    return tok


# -- the layout before this module (tinytx checkpoint version 2 and older) -----------------

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
