"""tinytx.data's sentence pairs (lesson 12): splitting a text into sentences, pairs of
neighbours and TSV files, the special tokens, encoding, padding and batches that a
Seq2Seq trains on."""
import math

import numpy as np
import pytest

import tinytx as tx
from tinytx.data import (SPECIALS, add_special_tokens, encode_pairs, pad_batch, pair_batches,
                         read_tsv_pairs, sentence_pairs, special_ids, split_sentences,
                         train_val_split)
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.tokenizer import RegexTokenizer


@pytest.fixture(scope="module")
def tok():
    t = RegexTokenizer()
    t.train("the knight and the squire rode on; the knight spoke, the squire laughed. " * 4,
            256 + 10)
    return t


@pytest.mark.parametrize("text, expected", [
    ("Mr. Quixote rode on. Sancho followed!  Did he?", ["Mr. Quixote rode on.",
                                                        "Sancho followed!", "Did he?"]),
    ("“Hark ye, Sancho!” said Don Quixote. “Peace!”",
     ["“Hark ye, Sancho!” said Don Quixote.", "“Peace!”"]),
    ("Edited by J. W. Clark, e.g. the Doré plates. Then Dr. Ormsby came.",
     ["Edited by J. W. Clark, e.g. the Doré plates.", "Then Dr. Ormsby came."]),
    ("CHAPTER I.\nWHICH TREATS OF\nTHE KNIGHT\n\n\nIn a village\nof La Mancha",
     ["CHAPTER I.", "WHICH TREATS OF THE KNIGHT", "In a village of La Mancha"]),
    ("Wait... What now?! Nothing.\r\n\r\n  \n", ["Wait...", "What now?!", "Nothing."]),
    ("(He said so.) And left.", ["(He said so.)", "And left."]),
    ("", []),
    (" \n\n \t ", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_sentence_pairs():
    assert sentence_pairs(iter(["a", "b", "c"])) == [("a", "b"), ("b", "c")]
    assert sentence_pairs(["a"]) == []


def test_read_tsv_pairs(tmp_path):
    good = tmp_path / "en-es.tsv"
    good.write_bytes("\ufeffGo.\tVe.\r\n\r\nHi.\tHola.\tCC-BY 2.0 tatoeba.org #1\n  \n"
                     .encode("utf-8"))
    assert read_tsv_pairs(good) == [("Go.", "Ve."), ("Hi.", "Hola.")]
    for bad_line in ("no tab here", "Go.\t", "\tVe."):
        bad = tmp_path / "bad.tsv"
        bad.write_text(f"Go.\tVe.\n\n{bad_line}\n", encoding="utf-8")
        with pytest.raises(ValueError, match=r"bad\.tsv: line 3: expected 'source<TAB>target'"):
            read_tsv_pairs(bad)
    with pytest.raises(FileNotFoundError, match="none.tsv"):
        read_tsv_pairs(tmp_path / "none.tsv")


def test_add_special_tokens():
    t = RegexTokenizer()
    t.train("abab abab abab", 256 + 2)
    ids = add_special_tokens(t)
    assert ids == {"[PAD]": 258, "[BOS]": 259, "[EOS]": 260} and list(ids) == list(SPECIALS)
    assert add_special_tokens(t) == ids and len(t.vocab) == 261          # idempotent
    u = RegexTokenizer()
    u.register_special_tokens({"<|endoftext|>": 256, "[PAD]": 257})
    assert add_special_tokens(u) == {"[PAD]": 257, "[BOS]": 258, "[EOS]": 259}
    with pytest.raises(ValueError, match="add_special_tokens"):
        special_ids(RegexTokenizer())


def test_encode_pairs(tok):
    ids = add_special_tokens(tok)
    bos, eos = ids["[BOS]"], ids["[EOS]"]
    long = "the knight and the squire " * 10
    (src, tgt), (src2, tgt2) = encode_pairs(tok, [("the knight", "[PAD]"), (long, long)],
                                            max_len=8)
    assert src == tok.encode("the knight") and tgt[0] == bos and tgt[-1] == eos
    assert tgt[1:-1] == tok.encode("[PAD]", allowed_special="none")   # stays text
    assert len(src2) == 8 and len(tgt2) == 8 and tgt2[-1] == eos
    with pytest.raises(ValueError, match="max_len"):
        encode_pairs(tok, [("a", "b")], max_len=2)
    with pytest.raises(ValueError, match=r"pairs\[0\]"):
        encode_pairs(tok, [("a", "b", "c")], max_len=8)


def test_pad_batch():
    ids, mask = pad_batch([[5, 6, 7], [], np.array([8])], pad_id=9)
    assert ids.dtype == np.int64 and mask.dtype == bool and ids.shape == (3, 3)
    assert ids.tolist() == [[5, 6, 7], [9, 9, 9], [8, 9, 9]]
    assert mask.tolist() == [[True] * 3, [False] * 3, [True, False, False]]  # may attend
    assert pad_batch([[1]], 0, length=4)[0].tolist() == [[1, 0, 0, 0]]
    with pytest.raises(ValueError, match="length"):
        pad_batch([[1, 2]], 0, length=1)
    with pytest.raises(ValueError, match="seqs"):
        pad_batch([], 0)


def pairs_data(tok, n=11):
    sentences = [f"the knight{' and the squire' * (i % 4)} rode." for i in range(n + 1)]
    return encode_pairs(tok, sentence_pairs(sentences), max_len=24)


def test_pair_batches(tok, device):
    pad, bos, eos = add_special_tokens(tok).values()
    enc = pairs_data(tok)
    batches = list(pair_batches(enc, 4, np.random.default_rng(0), device, pad_id=pad))
    assert [b.src.shape[0] for b in batches] == [4, 4, 3]
    seen = []
    for b in batches:
        src, tgt_in, tgt_out, src_mask, tgt_mask = (t.numpy() for t in b)
        assert b.src.dtype == np.int64 and b.tgt_mask.dtype == bool
        assert b.src.device is device and tgt_in.shape == tgt_out.shape == tgt_mask.shape
        assert np.array_equal(src_mask, src != pad) and np.array_equal(tgt_mask, tgt_in != pad)
        assert (tgt_in[:, 0] == bos).all() and (tgt_out[~tgt_mask] == pad).all()
        assert np.array_equal(tgt_in[:, 1:][tgt_mask[:, 1:]], tgt_out[:, :-1][tgt_mask[:, 1:]])
        assert ((tgt_out == eos).sum(1) == 1).all() and (tgt_in != eos).all()
        seen += [(tuple(s[m]), tuple(t[n]))
                 for s, m, t, n in zip(src, src_mask, tgt_out, tgt_mask)]
    assert sorted(seen) == sorted((tuple(s), tuple(t[1:])) for s, t in enc)  # each pair once
    again = list(pair_batches(enc, 4, np.random.default_rng(0), pad_id=pad))
    assert all(np.array_equal(a.src.numpy(), b.src.numpy()) for a, b in zip(batches, again))
    ordered = next(pair_batches(enc, 2, pad_id=pad))                    # rng=None: in order
    assert ordered.src.numpy()[0, :len(enc[0][0])].tolist() == enc[0][0]
    train, val = train_val_split(enc)
    assert len(val) == 1 and val[0] == enc[-1]


def test_pair_batches_fit_seq2seq(tok):
    ids = add_special_tokens(tok)
    tx.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=max(tok.vocab) + 1, n_embd=16, n_head=2,
                                  n_encoder_layer=1, n_decoder_layer=1, dropout=0.0,
                                  block_size=32, pad_id=ids["[PAD]"]))
    batch = next(pair_batches(pairs_data(tok), 4, np.random.default_rng(0),
                              pad_id=ids["[PAD]"]))
    logits, loss = model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask,
                         targets=batch.tgt_out)
    assert logits.shape == (*batch.tgt_in.shape, max(tok.vocab) + 1)
    assert math.isfinite(loss.item())
    loss.backward()
    assert all(np.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
