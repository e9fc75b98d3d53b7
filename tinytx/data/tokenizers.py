"""One BPE vocabulary for both sides of sentence pairs (lesson 12, translation).

Built on `cached_tokenizer` (one text, trained once and cached), which lives with the
tokenizers in tinytx/tokenizer/cached.py.
"""
from __future__ import annotations

from ..tokenizer.cached import cached_tokenizer
from .pairs import add_special_tokens


def shared_tokenizer(pairs, vocab_size: int, prefix, progress: bool = False):
    """One BPE vocabulary for both sides of translation pairs, with [PAD] [BOS] [EOS].

    Introduced in lesson 12 (translation), as in the report's models: source and target
    sentences are pooled (each distinct sentence once) and one tokenizer is trained on
    them, so words the two languages share ("Tom", "Boston", "5") get the same tokens
    and the model can tie its source and target embeddings. Cached like
    `cached_tokenizer`; the specials come right after the learned vocabulary.
    """
    sentences = dict.fromkeys(s for pair in pairs for s in pair)       # each once, in order
    tok = cached_tokenizer("\n".join(sentences), vocab_size, prefix, progress=progress)
    add_special_tokens(tok)
    return tok
