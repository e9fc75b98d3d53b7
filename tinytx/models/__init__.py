"""Models built from tinytx.nn: GPT (lesson 10), Seq2Seq (lesson 11)."""
from .gpt import GPT, GPTConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig

__all__ = ["GPT", "GPTConfig", "Seq2Seq", "Seq2SeqConfig"]
