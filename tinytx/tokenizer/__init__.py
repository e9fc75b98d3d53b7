"""Byte-level BPE tokenizers: ``BasicTokenizer`` and ``RegexTokenizer`` (GPT-4 split).

Lesson 06 "Tokenization" (report chapter 4). The API follows minbpe, so code
written for one runs with the other::

    from tinytx.tokenizer import RegexTokenizer
    tok = RegexTokenizer()                 # GPT-4 split pattern
    tok.train(text, vocab_size=4096)       # exactly the report's merges, fast
    ids = tok.encode("Don Quixote")        # list[int]
    tok.decode(ids)                        # 'Don Quixote'
    tok.save("quixote")                    # quixote.model + quixote.vocab
    tok = load("quixote.model")            # the right class, ready to use

Command line: ``python -m tinytx.tokenizer {train,encode,decode} --help``.

``GPT2Tokenizer`` (lesson 13, ``gpt2.py``) is GPT-2's own, read from Hugging Face's
vocab.json and merges.txt by ``load_gpt2_tokenizer(folder)``.
"""
from .base import Tokenizer
from .basic import BasicTokenizer
from .bpe import get_stats, merge
from .gpt2 import GPT2Tokenizer, bytes_to_unicode, load_gpt2_tokenizer
from .model_file import read_model, render_token
from .regex import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, RegexTokenizer
from .train import train_merges

__all__ = ["Tokenizer", "BasicTokenizer", "RegexTokenizer", "GPT4_SPLIT_PATTERN",
           "GPT2_SPLIT_PATTERN", "get_stats", "merge", "train_merges", "render_token", "load",
           "GPT2Tokenizer", "bytes_to_unicode", "load_gpt2_tokenizer"]


def load(model_file):
    """Load a ``.model`` file as the tokenizer class that wrote it.

    Example:
        >>> import tempfile, os
        >>> tok = BasicTokenizer(); tok.train("abab", 257)
        >>> prefix = os.path.join(tempfile.mkdtemp(), "toy")
        >>> tok.save(prefix)
        >>> type(load(prefix + ".model")).__name__
        'BasicTokenizer'
    """
    pattern, _, _ = read_model(model_file)
    tok = RegexTokenizer() if pattern else BasicTokenizer()
    return tok.load(model_file)  # takes the file's pattern, naming the file in any error
