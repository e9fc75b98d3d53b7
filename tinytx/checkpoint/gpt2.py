"""GPT-2 from Hugging Face's files: the weights into tinytx's GPT, and back.

Introduced in lesson 13 (finetuning). Hugging Face's `gpt2` repository holds
`model.safetensors` (the weights), `config.json` (n_layer, n_head, n_embd, n_positions,
vocab_size) and `vocab.json` + `merges.txt` (the tokenizer: `tinytx.tokenizer.gpt2`).
Our GPT uses GPT-2's parameter names, so the mapping is a prefix:

    HF name                      tinytx name                                  shape
    wte.weight                   transformer.wte.weight (= lm_head, tied)     (V, C)
    wpe.weight                   transformer.wpe.weight                       (T, C)
    h.N.ln_1.weight / .bias      transformer.h.N.ln_1.weight / .bias          (C,)
    h.N.attn.c_attn.weight       transformer.h.N.attn.c_attn.weight           (C, 3C)
    h.N.attn.c_proj.weight       transformer.h.N.attn.c_proj.weight           (C, C)
    h.N.mlp.c_fc.weight          transformer.h.N.mlp.c_fc.weight              (C, 4C)
    h.N.mlp.c_proj.weight        transformer.h.N.mlp.c_proj.weight            (4C, C)
    ln_f.weight / .bias          transformer.ln_f.weight / .bias              (C,)

No transposes: GPT-2's `Conv1D` stores its weight as (in, out) and computes x @ W + b,
exactly like our Linear (nanoGPT must transpose these four because torch's nn.Linear is
(out, in)). c_attn's 3C outputs are q, k, v in that order, as in our attention. Skipped:
the buffers `h.N.attn.bias` (the causal mask) and `h.N.attn.masked_bias`, and
`lm_head.weight` (tied to wte). A `transformer.` prefix (GPT2LMHeadModel's own
state dict) is accepted too. GPT-2 uses the tanh GELU and LayerNorm eps 1e-5, as ours.

    model = load_gpt2("path/to/gpt2")               # a folder, or the .safetensors file
    tok = load_gpt2_tokenizer("path/to/gpt2")        # tinytx.tokenizer: vocab.json + merges.txt
    generate_text(model, tok, "Don Quixote", 30, top_k=40)
    save_gpt2(model, "out/my-gpt2", tokenizer=tok)   # back to Hugging Face's layout

Writing back (`save_gpt2`, used by examples/finetune.py) is the same map the other way:
our state dict's names already are GPT2LMHeadModel's (`transformer.h.0.attn.c_attn.weight`,
(in, out) as Conv1D stores them), `lm_head.weight` is left out because it is tied to
wte (Hugging Face ties it again on load), and config.json gets GPT-2's field names.

Every file is read with checks: a file that is not UTF-8, JSON that does not parse, a
truncated model.safetensors is a ValueError that names the file (`tinytx.files.read_json`,
`tinytx.safetensors_file`), so the examples print one line.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from ..files import atomic_write, atomic_write_text, read_json
from ..models import GPT, GPTConfig
from ..safetensors_file import read_arrays
from ..tokenizer.gpt2 import GPT2Tokenizer, tokenizer_files

SKIPPED = (".attn.bias", ".attn.masked_bias")   # buffers, not weights
WEIGHTS = "model.safetensors"


def hf_to_tinytx_name(name: str) -> str | None:
    """Our parameter name for a Hugging Face GPT-2 name; None for what is skipped.

    >>> hf_to_tinytx_name("h.0.attn.c_attn.weight")
    'transformer.h.0.attn.c_attn.weight'
    >>> hf_to_tinytx_name("transformer.h.3.attn.bias") is None
    True
    """
    name = name.removeprefix("transformer.")
    if name == "lm_head.weight" or name.endswith(SKIPPED):
        return None
    return "transformer." + name


def _files(path) -> tuple[Path, Path | None]:
    """(the .safetensors file, config.json beside it or None)."""
    path = Path(path)
    weights = path / WEIGHTS if path.is_dir() else path
    if not weights.is_file():
        raise FileNotFoundError(f"path: expected a GPT-2 {WEIGHTS} (or a folder holding "
                                f"one), but {str(weights)!r} does not exist")
    config = weights.parent / "config.json"
    return weights, (config if config.is_file() else None)


def gpt2_config(arrays: dict, config_json: dict | None, n_head: int | None,
                dropout: float) -> GPTConfig:
    """The GPTConfig: sizes from the arrays' shapes, n_head from config.json or the
    argument (shapes cannot tell how C is cut into heads)."""
    n_head = n_head or (config_json or {}).get("n_head")
    if not n_head:
        raise ValueError("n_head: expected a config.json beside the weights or an explicit "
                         "load_gpt2(..., n_head=H) (the shapes do not give it), got neither")
    wte, wpe = arrays["wte.weight"], arrays["wpe.weight"]
    blocks = {k.split(".")[1] for k in arrays if k.startswith("h.")}   # "h.N.…" -> "N"
    n_layer = 1 + max((int(n) for n in blocks if n.isdecimal()), default=-1)
    return GPTConfig(block_size=wpe.shape[0], vocab_size=wte.shape[0], n_layer=n_layer,
                     n_head=int(n_head), n_embd=wte.shape[1], dropout=dropout, bias=True)


def load_gpt2(path, *, n_head: int | None = None, dropout: float = 0.0) -> GPT:
    """A tinytx GPT holding GPT-2 weights from a Hugging Face safetensors file.

    Args:
        path: a folder with model.safetensors (and config.json), or the file itself.
        n_head: needed only when there is no config.json.
        dropout: for the returned model (0 for sampling; ~0.1 to finetune).
    Raises:
        FileNotFoundError for a missing file; ValueError naming every missing,
        unexpected or wrongly shaped array.
    """
    weights, config_path = _files(path)
    raw = read_arrays(weights)
    arrays = {k.removeprefix("transformer."): v for k, v in raw.items()}
    for key in ("wte.weight", "wpe.weight"):
        if key not in arrays or arrays[key].ndim != 2:
            raise ValueError(f"{weights}: expected the GPT-2 array {key!r} (2-D), got the "
                             f"keys {sorted(arrays)[:8]} ...")
    config_json = read_json(config_path, "GPT-2's config.json") if config_path else None
    given = (config_json or {}).get("n_head", 1)
    if isinstance(given, bool) or not isinstance(given, int) or given < 1:
        raise ValueError(f"{config_path}: key 'n_head': expected a positive int, got "
                         f"{given!r}")
    try:
        model = GPT(gpt2_config(arrays, config_json, n_head, dropout))
    except ValueError as e:
        raise ValueError(f"{weights}: {e}") from None
    state = {}
    for name, array in raw.items():
        ours = hf_to_tinytx_name(name)
        if ours is not None:
            state[ours] = np.asarray(array, dtype=np.float32)
    try:
        model.load_state_dict(state)
    except ValueError as e:
        raise ValueError(f"{weights}: not a GPT-2 checkpoint for {model.config}: {e}") from None
    return model


# -- writing back: Hugging Face's layout -------------------------------------------------------

def gpt2_config_json(config: GPTConfig) -> dict:
    """config.json for a GPT2LMHeadModel of this size (GPT-2's own field names)."""
    eos = config.vocab_size - 1     # GPT-2: <|endoftext|> = 50256, the last id
    return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
            "n_layer": config.n_layer, "n_head": config.n_head, "n_embd": config.n_embd,
            "n_positions": config.block_size, "n_ctx": config.block_size,
            "vocab_size": config.vocab_size, "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-5, "resid_pdrop": config.dropout,
            "embd_pdrop": config.dropout, "attn_pdrop": config.dropout,
            "bos_token_id": eos, "eos_token_id": eos, "tie_word_embeddings": True}


def save_gpt2(model: GPT, folder, tokenizer: GPT2Tokenizer | None = None):
    """Write `model` as a Hugging Face GPT-2 folder: model.safetensors + config.json
    (+ vocab.json and merges.txt when a GPT2Tokenizer is given).

    Each file is written to a temporary name in `folder` and renamed over the old one,
    so a crash never leaves half a file. `load_gpt2(folder)` gives back the same arrays
    bit for bit, and `transformers.GPT2LMHeadModel.from_pretrained(folder)` loads it.
    Args:
        model: a tinytx GPT with biases (GPT-2 has them).
        folder: created if missing.
        tokenizer: a GPT2Tokenizer (from `load_gpt2_tokenizer`), or None.
    """
    if not isinstance(model, GPT) or not model.config.bias:
        raise ValueError(f"model: expected a tinytx GPT with bias=True (GPT-2's layout), "
                         f"got {type(model).__name__}"
                         + (" with bias=False" if isinstance(model, GPT) else ""))
    if tokenizer is not None and not isinstance(tokenizer, GPT2Tokenizer):
        raise ValueError(f"tokenizer: expected a GPT2Tokenizer (vocab.json + merges.txt), "
                         f"got {type(tokenizer).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in model.state_dict().items()
              if k != "lm_head.weight"}   # tied: wte is the one copy
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(arrays, str(tmp),
                                                         metadata={"format": "pt"}))
    atomic_write_text(folder / "config.json", json.dumps(gpt2_config_json(model.config),
                                                    indent=2) + "\n")
    if tokenizer is not None:
        vocab, merges = tokenizer_files(tokenizer)
        atomic_write_text(folder / "vocab.json", vocab)
        atomic_write_text(folder / "merges.txt", merges)
