"""Models built from tinytx.nn: LSTMLM (lesson 03), Word2Vec (lesson 07), GPT (lesson 11),
Seq2Seq (lesson 12)."""
from .gpt import GPT, GPTConfig
from .lstm_lm import LSTMLM, LSTMConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .word2vec import Word2Vec, Word2VecConfig, analogy, most_similar

__all__ = ["GPT", "GPTConfig", "Seq2Seq", "Seq2SeqConfig", "LSTMLM", "LSTMConfig",
           "Word2Vec", "Word2VecConfig", "most_similar", "analogy"]
