"""Checkpoints: tinytx's own format, what a model checkpoint holds, and Hugging Face's
GPT-2 and T5 folders.

Introduced in lesson 10 (saving and resuming the GPT; `load_model` to sample from it
later); lesson 12 adds the pretrained models. One module per job:

    format.py   the format: NAME.safetensors + the NAME.json manifest, saved so that a
                crash never loses the last checkpoint, loaded only when every check passes
    arrays.py   which safetensors file the manifest names, and its checks
    state.py    the optimizer's entry, the RNG states, checkpoints of versions 1-3
    model.py    what a model checkpoint holds (type, config, tokenizer): `load_model`
    gpt2.py     GPT-2's weights from and to a Hugging Face folder (its tokenizer is
                `tinytx.tokenizer.gpt2`)
    t5.py       T5's weights and spiece.model from and to a Hugging Face folder

    >>> import tempfile
    >>> from tinytx.models import GPT, GPTConfig
    >>> gpt = GPT(GPTConfig(block_size=8, vocab_size=16, n_layer=1, n_head=2, n_embd=8))
    >>> path = tempfile.mkdtemp() + "/ckpt"
    >>> save_checkpoint(path, gpt, config=model_record(gpt), step=3)
    >>> model, tokenizer = load_model(path)
    >>> read_checkpoint_meta(path)["step"], type(model).__name__, tokenizer
    (3, 'GPT', None)
"""
from .format import (FORMAT, VERSION, CheckpointError, check_shapes, checkpoint_paths,
                     load_checkpoint, manifest_text, read_checkpoint_meta, save_checkpoint)
from .gpt2 import hf_to_tinytx_name, load_gpt2, save_gpt2
from .model import load_model, load_tokenizer, model_record
from .state import arrays_checksum
from .t5 import load_t5, load_t5_tokenizer, save_t5

__all__ = ["FORMAT", "VERSION", "CheckpointError", "checkpoint_paths", "save_checkpoint",
           "read_checkpoint_meta", "load_checkpoint", "check_shapes", "manifest_text",
           "arrays_checksum", "load_model", "load_tokenizer", "model_record",
           "hf_to_tinytx_name", "load_gpt2", "save_gpt2", "load_t5", "load_t5_tokenizer",
           "save_t5"]
