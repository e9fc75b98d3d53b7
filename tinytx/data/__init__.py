"""Data: corpora, language-model windows, and sentence-pair batches.

Lesson 11 (training a GPT on Don Quixote, report eq. 1–3) uses the corpus and LM parts;
lesson 12 (the encoder-decoder, report §3.4) the sentence pairs and the Tatoeba
translation pairs.

    from tinytx.data import load_quixote, train_val_split, encode_cached, get_batch
    text = load_quixote()                        # fetched once, then cached
    ids = encode_cached(tok, text, "quixote.ids.npy")
    train, val = train_val_split(ids)            # the last 10% held out
    x, y = get_batch(train, 8, 64, np.random.default_rng(0))   # (8, 64) each

    >>> from tinytx.data import split_sentences, sentence_pairs
    >>> sentence_pairs(split_sentences("He rode. Sancho followed."))
    [('He rode.', 'Sancho followed.')]
"""
from .lm import (encode_cached, get_batch, iter_windows, shuffled_split, text_record,
                 tokenizer_fingerprint, train_val_split)
from .pairs import (SPECIALS, PairBatch, add_special_tokens, collate_pairs, encode_pairs,
                    pad_batch, pair_batches, read_tsv_pairs, sentence_pairs, special_ids,
                    split_sentences)
from .tokenizers import shared_tokenizer
from .tatoeba import find_tatoeba, load_tatoeba, read_tatoeba
from .download import DownloadError, download_file
from .gutenberg import check_gutenberg, load_text, normalize_text, strip_gutenberg
from .quixote import DATA_ENV, OPENING, URLS, default_cache_dir, find_quixote, load_quixote

__all__ = ["load_quixote", "load_text", "strip_gutenberg", "normalize_text", "find_quixote",
           "default_cache_dir", "download_file", "check_gutenberg", "DownloadError",
           "DATA_ENV", "URLS", "OPENING",
           "train_val_split", "shuffled_split", "text_record", "encode_cached", "tokenizer_fingerprint", "get_batch",
           "iter_windows",
           "split_sentences", "sentence_pairs", "read_tsv_pairs", "SPECIALS",
           "add_special_tokens", "special_ids", "encode_pairs", "pad_batch", "PairBatch",
           "collate_pairs", "pair_batches", "shared_tokenizer", "read_tatoeba", "load_tatoeba",
           "find_tatoeba"]
