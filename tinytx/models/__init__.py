"""Models built from tinytx.nn: LSTMLM (lesson 02), GPT (lesson 10), Seq2Seq (lesson 11)."""
from .gpt import GPT, GPTConfig
from .lstm_lm import LSTMLM, LSTMConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig

__all__ = ["GPT", "GPTConfig", "Seq2Seq", "Seq2SeqConfig", "LSTMLM", "LSTMConfig"]
