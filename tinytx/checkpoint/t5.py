"""T5 from Hugging Face's files: model.safetensors + config.json into tinytx's T5 (its
tokenizer, from spiece.model, is `load_t5_tokenizer` in record.py).

Introduced in lesson 13 (finetuning T5, report §7.1); the model is tinytx/models/t5.py,
the tokenizer tinytx/tokenizer/unigram.py. tinytx's T5 has Hugging Face's module names,
so the map is the identity except for:

    shared.weight                          (V, C)   the one embedding table
    encoder/decoder.embed_tokens.weight             skipped: the same array as shared
    lm_head.weight                         (V, C)   loaded when the embeddings are untied
                                                    (v1.1), skipped when tied (v1.0)
    ...SelfAttention/EncDecAttention.q/k/v/o.weight, ...DenseReluDense.wi/wi_0/wi_1/wo.weight
                                           torch's nn.Linear is (out, in): transposed to
                                           our Linear's (in, out)

    model = load_t5("path/to/t5-small")         # a folder, or its model.safetensors
    tok = load_t5_tokenizer("path/to/t5-small")  # spiece.model
    save_t5(model, "out/my-t5", spiece="path/to/t5-small/spiece.model")   # and back
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from ..files import atomic_write, atomic_write_text, read_json
from ..models.t5 import T5, T5Config
from ..safetensors_file import read_arrays
from .gpt2 import WEIGHTS

LINEARS = (".q.weight", ".k.weight", ".v.weight", ".o.weight", ".wi.weight",
           ".wi_0.weight", ".wi_1.weight", ".wo.weight")
# config.json's sizes: each, when present, a positive int
SIZES = ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads",
         "relative_attention_num_buckets", "relative_attention_max_distance")


def t5_config(config_json: dict, dropout: float | None = None,
              has_lm_head: bool = False) -> T5Config:
    """A T5Config from Hugging Face's config.json (its field names are T5Config's).

    Tied unless the file has its own lm_head.weight and the config says untied. The
    d_model^-0.5 rescale follows `scale_decoder_outputs` (transformers 5 writes it) or
    else `tie_word_embeddings` (transformers 4: False for v1.1 means no rescale).
    """
    keys = ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers",
            "num_heads", "relative_attention_num_buckets", "relative_attention_max_distance",
            "layer_norm_epsilon", "feed_forward_proj")
    fields = {k: config_json[k] for k in keys if k in config_json}
    tied = config_json.get("tie_word_embeddings", True) is not False
    fields["tie_word_embeddings"] = tied or not has_lm_head
    fields["scale_decoder_outputs"] = config_json.get("scale_decoder_outputs", tied)
    fields["dropout"] = config_json.get("dropout_rate", 0.1) if dropout is None else dropout
    fields["pad_id"] = config_json.get("decoder_start_token_id",
                                       config_json.get("pad_token_id", 0))
    fields["eos_id"] = config_json.get("eos_token_id", 1)
    return T5Config(**fields)


def hf_t5_state(arrays: dict, config: T5Config) -> dict:
    """Hugging Face's arrays -> tinytx's state dict (names kept, Linear weights
    transposed, tied copies dropped)."""
    state = {}
    for name, a in arrays.items():
        if name.endswith("embed_tokens.weight"):
            if "shared.weight" not in arrays:
                state["shared.weight"] = a
            continue
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        state[name] = a.T if name.endswith(LINEARS) else a
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def read_t5_config(path) -> dict:
    """T5's config.json, its model_type and sizes checked (ValueError naming the file)."""
    config_json = read_json(path, "T5's config.json")
    if config_json.get("model_type") != "t5":
        raise ValueError(f"{path}: model_type is {config_json.get('model_type')!r}, "
                         f"expected 't5'")
    for key in SIZES:
        value = config_json.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{path}: key {key!r}: expected a positive int, got {value!r}")
    if not isinstance(config_json.get("feed_forward_proj", "relu"), str):
        raise ValueError(f"{path}: key 'feed_forward_proj': expected a string such as "
                         f"'relu', got {config_json['feed_forward_proj']!r}")
    return config_json


def load_t5(path, *, dropout: float | None = 0.0) -> T5:
    """A tinytx T5 holding the weights of a Hugging Face T5 folder.

    Args:
        path: a folder with model.safetensors and config.json (or the .safetensors file).
        dropout: for the returned model (None: config.json's dropout_rate).
    Raises:
        FileNotFoundError for a missing file; ValueError naming every missing,
        unexpected or wrongly shaped array.
    """
    path = Path(path)
    weights = path / WEIGHTS if path.is_dir() else path
    config_path = weights.parent / "config.json"
    for f in (weights, config_path):
        if not f.is_file():
            raise FileNotFoundError(f"path: expected a T5 folder with {WEIGHTS} and "
                                    f"config.json, but {str(f)!r} does not exist")
    config_json = read_t5_config(config_path)
    arrays = read_arrays(weights)
    try:
        model = T5(t5_config(config_json, dropout, "lm_head.weight" in arrays))
    except ValueError as e:     # e.g. an unknown feed_forward_proj
        raise ValueError(f"{config_path}: {e}") from None
    try:
        model.load_state_dict(hf_t5_state(arrays, model.config))
    except ValueError as e:
        raise ValueError(f"{weights}: not a T5 checkpoint for {model.config}: {e}") from None
    return model


def save_t5(model: T5, folder, spiece=None):
    """Write `model` as a Hugging Face T5 folder: model.safetensors (HF's names, Linear
    weights back to (out, in)) + config.json (+ a copy of the spiece.model file given),
    each file written to a temporary name and renamed. load_t5 reads it back exactly."""
    if not isinstance(model, T5):
        raise ValueError(f"model: expected a tinytx T5, got {type(model).__name__}")
    if spiece is not None and not Path(spiece).is_file():
        raise FileNotFoundError(f"spiece: {str(spiece)!r} does not exist")
    c, folder = model.config, Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v.T if k.endswith(LINEARS) else v)
              for k, v in model.state_dict().items()}
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(arrays, str(tmp),
                                                         metadata={"format": "pt"}))
    config = {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"],
              **{k: v for k, v in c.to_dict().items()
                 if k not in ("dropout", "pad_id", "eos_id", "block_size")},
              "num_decoder_layers": c.n_decoder_layer, "scale_decoder_outputs": c.rescale,
              "dropout_rate": c.dropout, "pad_token_id": c.pad_id,
              "decoder_start_token_id": c.pad_id, "eos_token_id": c.eos_id,
              "is_encoder_decoder": True}
    atomic_write_text(folder / "config.json", json.dumps(config, indent=2) + "\n")
    if spiece is not None:
        atomic_write(folder / "spiece.model", lambda tmp: shutil.copyfile(spiece, tmp))
