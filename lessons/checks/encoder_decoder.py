"""The checks of lesson 12's exercises (lessons/exercises/encoder_decoder.py), run by
`python -m lessons.check encoder_decoder`: each answer against
collate_pairs, generate_seq2seq and beam_search_seq2seq."""
import numpy as np

import tinytx as tx
from tinytx.data.pairs import collate_pairs
from tinytx.generate import beam_search_seq2seq, generate_seq2seq
from tinytx.models import Seq2Seq, Seq2SeqConfig


def check_teacher_forcing(teacher_forcing):
    targets, bos, eos, pad = [[5, 6, 7], [8], [9, 10]], 1, 2, 0
    want = collate_pairs([([3], [bos, *t, eos]) for t in targets], pad)
    got = teacher_forcing(targets, bos, eos, pad)
    assert isinstance(got, tuple) and len(got) == 3, "return (tgt_in, tgt_out, tgt_mask)"
    for name, g, w in zip(["tgt_in", "tgt_out", "tgt_mask"], got,
                          [want.tgt_in, want.tgt_out, want.tgt_mask]):
        g, w = np.asarray(g), w.numpy()
        assert g.shape == w.shape, f"{name}: shape {g.shape}, expected {w.shape}"
        assert (g == w).all(), f"{name} differs from collate_pairs':\n{g}\nexpected\n{w}"
    return "tgt_in, tgt_out and tgt_mask equal tinytx.data.pairs.collate_pairs'"


def check_greedy_decode(greedy_decode):
    tx.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=12, n_embd=16, n_head=2, n_encoder_layer=1,
                                  n_decoder_layer=1, dropout=0.0))
    model.eval()
    src, bos = [3, 4, 5, 6], 1
    free = generate_seq2seq(model, [src], None, bos, None, 8, greedy=True).numpy()[0]
    for eos in (None, int(free[3])):        # never stops; stops at the third new token
        want = generate_seq2seq(model, [src], None, bos, eos, 8, greedy=True).numpy()[0]
        with tx.no_grad():
            got = [int(i) for i in greedy_decode(model, src, bos, eos, 8)]
        assert got == want.tolist(), f"eos {eos}: decoded {got}, generate_seq2seq gives {want}"
    return "equals generate_seq2seq(greedy=True), with and without reaching eos"


def check_beam_decode(beam_decode):
    tx.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=12, n_embd=16, n_head=2, n_encoder_layer=1,
                                  n_decoder_layer=1, dropout=0.0))
    for w in model.parameters():                       # less flat than at init: beam
        w.data = w.data * 2 if w.ndim == 2 else w.data     # widths 1, 2, 4 differ here
    model.eval()
    src, bos, n = [3, 4, 5, 6], 1, 6
    for width in (1, 2, 4):
        ids, scores = beam_search_seq2seq(model, [src], None, bos, None, n, width,
                                          length_penalty=0.0, use_cache=False,
                                          return_scores=True)
        with tx.no_grad():
            got_ids, got_score = beam_decode(model, src, bos, width, n)
        got_ids, want = [int(i) for i in got_ids], ids.numpy()[0].tolist()
        assert got_ids == want, (f"beam width {width}: decoded {got_ids}, "
                                 f"beam_search_seq2seq gives {want}")
        assert abs(float(got_score) - scores[0]) < 1e-4, (
            f"beam width {width}: score {float(got_score):.5f}, beam_search_seq2seq's "
            f"sum of log-probabilities is {scores[0]:.5f}")
    return ("equals beam_search_seq2seq (no eos, length_penalty 0) for beam widths 1, 2, 4, "
            "ids and score")
