"""`load_model(path) -> (model, tokenizer)`: the model a checkpoint records, rebuilt from
the files alone.

Introduced in lesson 11 (saving the GPT, sampling from it later). What a model
checkpoint records (the model type, its config, the tokenizer) is decided in record.py,
which imports no model class; this module builds them (MODELS: each type's class and
config class). Checkpoints from before that record (tinytx checkpoint version 2 or
older) have no model type: it is told from their config (`_old_model_type`).

    >>> import tempfile
    >>> from tinytx.models import GPT, GPTConfig
    >>> from tinytx.tokenizer import BasicTokenizer
    >>> from tinytx.checkpoint import model_record, save_checkpoint
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

from .. import nn
from ..models import GPT, GPTConfig, Seq2Seq, Seq2SeqConfig
from ..models.t5 import T5, T5Config
from .format import (CheckpointError, check_shapes, checkpoint_paths, load_checkpoint,
                     read_checkpoint_meta)
from .record import load_tokenizer

# model_type -> (class, config class): record.py's MODEL_TYPES the other way round
MODELS = {"gpt": (GPT, GPTConfig), "seq2seq": (Seq2Seq, Seq2SeqConfig), "t5": (T5, T5Config)}
# config fields renamed since a checkpoint may have been written: old name -> new name
RENAMED = {"max_len": "block_size"}        # Seq2Seq's and T5's longest context, as GPT's


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
        model_config = config_cls(**{RENAMED.get(k, k): v for k, v in config["model"].items()})
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


# -- the layout before this module (tinytx checkpoint version 2 and older) -----------------

def _old_model_type(config, json_path) -> str:
    model = config.get("model")
    if not isinstance(model, dict):
        raise CheckpointError(f"{json_path}: no key 'config.model_type' and no model config "
                              f"(key 'config.model'): not a checkpoint of a tinytx model")
    if config.get("base") == "t5":
        return "t5"
    return "seq2seq" if "n_encoder_layer" in model else "gpt"
