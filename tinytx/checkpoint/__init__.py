"""Checkpoints: tinytx's own format, what a model checkpoint holds, and Hugging Face's
GPT-2 and T5 folders.

Introduced in lesson 11 (saving and resuming the GPT; `load_model` to sample from it
later); lesson 13 adds the pretrained models. One module per job:

    format.py   the format: NAME.safetensors + the NAME.json manifest, saved so that a
                crash never loses the last checkpoint, loaded only when every check passes
    arrays.py   which safetensors file the manifest names, and its checks
    state.py    the optimizer's entry, the RNG states, checkpoints of versions 1-3
    record.py   what a model checkpoint records (type, config, tokenizer) and the
                tokenizer read back: `model_record`, `load_tokenizer`; imports no model
    model.py    `load_model`: the recorded model built again (it imports every model)
    gpt2.py     GPT-2's weights from and to a Hugging Face folder (its tokenizer is
                `tinytx.tokenizer.gpt2`)
    t5.py       T5's weights from and to a Hugging Face folder (its tokenizer is
                record.py's `load_t5_tokenizer`)

The Trainer needs format.py and record.py only; model.py, gpt2.py and t5.py, which import
the model classes, load when one of their names is first used (PEP 562), so training a
model imports no other model.

    >>> import tempfile
    >>> from tinytx.models import GPT, GPTConfig
    >>> from tinytx.checkpoint import load_model
    >>> gpt = GPT(GPTConfig(block_size=8, vocab_size=16, n_layer=1, n_head=2, n_embd=8))
    >>> path = tempfile.mkdtemp() + "/ckpt"
    >>> save_checkpoint(path, gpt, config=model_record(gpt), step=3)
    >>> model, tokenizer = load_model(path)
    >>> read_checkpoint_meta(path)["step"], type(model).__name__, tokenizer
    (3, 'GPT', None)
"""
import importlib

from .format import (FORMAT, VERSION, CheckpointError, check_shapes, checkpoint_paths,
                     load_checkpoint, manifest_text, read_checkpoint_meta, save_checkpoint)
from .record import load_t5_tokenizer, load_tokenizer, model_record
from .state import arrays_checksum

# name -> the module that defines it, imported on first use (it imports model classes)
_ON_FIRST_USE = {"load_model": "model", "hf_to_tinytx_name": "gpt2", "load_gpt2": "gpt2",
                 "save_gpt2": "gpt2", "load_t5": "t5", "save_t5": "t5"}

__all__ = ["FORMAT", "VERSION", "CheckpointError", "checkpoint_paths", "save_checkpoint",
           "read_checkpoint_meta", "load_checkpoint", "check_shapes", "manifest_text",
           "arrays_checksum", "load_model", "load_tokenizer", "model_record",
           "hf_to_tinytx_name", "load_gpt2", "save_gpt2", "load_t5", "load_t5_tokenizer",
           "save_t5"]


def __getattr__(name):
    if name in _ON_FIRST_USE:
        module = importlib.import_module(f"{__name__}.{_ON_FIRST_USE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))
