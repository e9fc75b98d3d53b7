"""A BPE tokenizer trained once per text and vocabulary size, then loaded from disk.

Introduced in lesson 10: the main job trains its tokenizer on the training split on the
first run and reuses it on the next ones.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..tokenizer import RegexTokenizer
from .pairs import add_special_tokens


def cached_tokenizer(text: str, vocab_size: int, prefix, progress: bool = False):
    """A RegexTokenizer (GPT-4 pattern) trained on `text`, cached as `prefix.model`.

    A JSON beside it records the vocabulary size and the text's SHA-256; if either
    differs, the tokenizer is trained again and the files replaced.
    """
    prefix = Path(prefix)
    meta_path = prefix.with_suffix(".meta.json")
    key = {"vocab_size": vocab_size,
           "text_sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()}
    tok = RegexTokenizer()
    model_file = prefix.with_name(prefix.name + ".model")
    if model_file.exists() and meta_path.exists():
        try:
            if json.loads(meta_path.read_text()) == key:
                return tok.load(model_file)
        except (ValueError, OSError):
            pass  # unreadable: train again
    tok.train(text, vocab_size, progress=progress)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(prefix))
    tmp = meta_path.with_name(meta_path.name + ".tmp")
    tmp.write_text(json.dumps(key))
    tmp.replace(meta_path)
    return tok


def shared_tokenizer(pairs, vocab_size: int, prefix, progress: bool = False):
    """One BPE vocabulary for both sides of translation pairs, with [PAD] [BOS] [EOS].

    Introduced in lesson 11 (translation), as in the report's models: source and target
    sentences are pooled (each distinct sentence once) and one tokenizer is trained on
    them, so words the two languages share ("Tom", "Boston", "5") get the same tokens
    and the model can tie its source and target embeddings. Cached like
    `cached_tokenizer`; the specials come right after the learned vocabulary.
    """
    sentences = dict.fromkeys(s for pair in pairs for s in pair)       # each once, in order
    tok = cached_tokenizer("\n".join(sentences), vocab_size, prefix, progress=progress)
    add_special_tokens(tok)
    return tok
