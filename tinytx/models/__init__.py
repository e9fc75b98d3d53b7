"""Models built from tinytx.nn: LSTMLM (lesson 02), Word2Vec (lesson 06), GPT (lesson 10),
Seq2Seq (lesson 11)."""
from .gpt import GPT, GPTConfig
from .lstm_lm import LSTMLM, LSTMConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .word2vec import (Vocab, Word2Vec, Word2VecConfig, analogy, build_vocab, cbow_batches,
                       most_similar, noise_distribution, skipgram_batches, subsample_mask,
                       tokenize_sentences, tokenize_words, train_word2vec)

__all__ = ["GPT", "GPTConfig", "Seq2Seq", "Seq2SeqConfig", "LSTMLM", "LSTMConfig",
           "Word2Vec", "Word2VecConfig", "Vocab", "build_vocab", "tokenize_words",
           "tokenize_sentences", "train_word2vec", "most_similar", "analogy",
           "skipgram_batches", "cbow_batches", "noise_distribution", "subsample_mask"]
