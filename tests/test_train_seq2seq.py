"""The encoder-decoder's training pieces (tinytx.tasks.seq2seq) and examples/train_seq2seq.py
end to end: tiny runs on a fake Gutenberg book and on a tiny TSV (no network)."""
import math

import numpy as np
import pytest

import tinytx as tx
from tinytx.checkpoint import load_model
from tinytx.data import add_special_tokens, collate_pairs, encode_pairs
from tinytx.generate import beam_search_seq2seq
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.tasks.seq2seq import (book_pairs, compare_decoders, pair_loss,
                                  random_pair_batch, seq2seq_loss, strip_target,
                                  target_logprobs, target_tokens)
from tinytx.tokenizer import RegexTokenizer
from tinytx.train import accumulate_gradients, read_rows
from project_scripts import gutenberg_book, load_example



# -- the library pieces ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def toy():
    """A byte-level tokenizer with the specials, a few encoded pairs, a tiny Seq2Seq."""
    tok = RegexTokenizer()
    ids = add_special_tokens(tok)
    pairs = [("He rode.", "Sancho followed."), ("Go.", "Yes, sir!"), ("Hi.", "Ho.")]
    tx.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=max(tok.vocab) + 1, n_embd=16, n_head=2,
                                  n_encoder_layer=1, n_decoder_layer=1, dropout=0.0,
                                  pad_id=ids["[PAD]"]))
    return tok, ids, encode_pairs(tok, pairs, max_len=12), model


def test_book_pairs_are_consecutive_short_and_without_captions():
    text = ("One two. Three four five six.\n\np003.jpg (307K)\n\nFull Size\n\n"
            "Seven eight. Nine.")
    assert book_pairs(text, max_words=3) == [("Seven eight.", "Nine.")]
    assert book_pairs(text, max_words=4)[:2] == [("One two.", "Three four five six."),
                                                 ("Three four five six.", "Seven eight.")]
    with pytest.raises(ValueError, match="max_words"):
        book_pairs(text, max_words=0)


def test_random_pair_batch_depends_only_on_the_generator(toy):
    _, ids, enc, _ = toy
    a = random_pair_batch(enc, 5, np.random.default_rng(3), ids["[PAD]"])
    b = random_pair_batch(enc, 5, np.random.default_rng(3), ids["[PAD]"])
    assert a.src.shape[0] == 5
    assert all((x.numpy() == y.numpy()).all() for x, y in zip(a, b))
    with pytest.raises(ValueError, match="batch_size"):
        random_pair_batch(enc, 0, np.random.default_rng(0), ids["[PAD]"])
    with pytest.raises(ValueError, match="encoded"):
        random_pair_batch([], 2, np.random.default_rng(0), ids["[PAD]"])


def test_seq2seq_loss_is_the_models_loss(toy):
    _, ids, enc, model = toy
    b = collate_pairs(enc, ids["[PAD]"])
    direct = model(b.src, b.tgt_in, b.src_mask, b.tgt_mask, targets=b.tgt_out)[1]
    assert seq2seq_loss(model, b).item() == pytest.approx(direct.item())
    # one batch of all pairs: its loss is the token-weighted held-out loss
    assert pair_loss(model, enc, ids["[PAD]"], batch_size=2) == pytest.approx(
        direct.item(), rel=1e-5)


def test_target_logprobs_agree_with_the_beam_score(toy):
    """With length_penalty=1, beam search's score is the mean log-prob of its output;
    scoring that output by teacher forcing must give the same number."""
    _, ids, enc, model = toy
    bos, eos, pad = ids["[BOS]"], ids["[EOS]"], ids["[PAD]"]
    src = [s for s, _ in enc]
    out, scores = beam_search_seq2seq(model, collate_pairs(enc, pad).src.numpy(),
                                      collate_pairs(enc, pad).src_mask.numpy(), bos,
                                      eos, 6, beam_width=3, return_scores=True)
    hyps = [strip_target(row, bos, eos, pad) for row in out.tolist()]
    logps = target_logprobs(model, src, hyps, bos, pad)
    for lp, hyp, score in zip(logps, hyps, scores):
        assert lp / len(hyp) == pytest.approx(score, abs=1e-4)


def test_compare_decoders_scores_both_decoders_the_same_way(toy):
    """Beam search does not promise a likelier output than greedy (a pruned beam can lose
    greedy's path), so that is not asserted. What must hold: width 1 is greedy, to the
    token and to the score, and each score is the output's teacher-forced log-prob."""
    tok, ids, enc, model = toy
    sources = [s for s, _ in enc]
    rows = compare_decoders(model, tok, sources, ids, max_new_tokens=6, beam_width=4)
    assert len(rows) == len(enc)
    for r in rows:
        assert isinstance(r["greedy"], str) and isinstance(r["beam"], str)
    beams = [r["beam_ids"] or [ids["[EOS]"]] for r in rows]
    assert [r["beam_logp"] for r in rows] == pytest.approx(
        target_logprobs(model, sources, beams, ids["[BOS]"], ids["[PAD]"]))
    for r in compare_decoders(model, tok, sources, ids, max_new_tokens=6, beam_width=1):
        assert r["beam_ids"] == r["greedy_ids"] and r["beam"] == r["greedy"]
        assert r["beam_logp"] == pytest.approx(r["greedy_logp"])


def test_accumulated_padded_micro_batches_equal_one_big_batch(toy):
    """grad_accum with padded pairs: micro-batches weighted by their target tokens give
    the gradient of one batch holding every pair (an unweighted mean would not)."""
    _, ids, _, model = toy
    tok_pairs = [([5, 6, 7, 8, 9], [1, 7, 2]), ([8], [1, 9, 9, 9, 9, 9, 9, 2]),
                 ([4, 4], [1, 3, 2]), ([6, 5, 4], [1, 4, 4, 4, 2])]
    model = model.to(dtype="float64")
    pad = ids["[PAD]"]
    micro = [collate_pairs(tok_pairs[:1], pad), collate_pairs(tok_pairs[1:], pad)]
    big = collate_pairs(tok_pairs, pad)
    assert target_tokens(micro[0]) != target_tokens(micro[1])

    def grads(batches, counts):
        model.zero_grad()
        loss = accumulate_gradients(model, batches, counts, seq2seq_loss)
        return loss, {n: p.grad.copy() for n, p in model.named_parameters()}

    loss_big, big_grads = grads([big], None)
    loss, weighted = grads(micro, [target_tokens(b) for b in micro])
    assert loss == pytest.approx(loss_big, rel=1e-12)
    for n, g in big_grads.items():
        np.testing.assert_allclose(weighted[n], g, rtol=1e-9, atol=1e-12, err_msg=n)
    _, unweighted = grads(micro, None)
    assert any(not np.allclose(unweighted[n], g, rtol=1e-6) for n, g in big_grads.items())
    model.to(dtype="float32")


def test_strip_target():
    assert strip_target([1, 5, 6, 2, 0], 1, 2, 0) == [5, 6, 2]
    assert strip_target([1, 5, 6], 1, 2, 0) == [5, 6]
    assert strip_target([1, 5, 0, 0], 1, 2, 0) == [5]


# -- the example end to end -----------------------------------------------------------------

@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    body = ("In a village of La Mancha there lived a gentleman. He had a lean hack. "
            '"Here is the apple," said Don Quixote. Sancho laughed at him.\n\n'
            "p003.jpg (307K)\n\nFull Size\n\nThe knight rode on. The squire followed.\n\n")
    return gutenberg_book(tmp_path_factory.mktemp("book"), body, 30)


TINY = ["--vocab_size=300", "--n_embd=16", "--n_head=2", "--n_encoder_layer=1",
        "--n_decoder_layer=1", "--batch_size=4", "--eval_iters=2", "--warmup_iters=2",
        "--max_len=16", "--max_new_tokens=5", "--n_examples=2", "--beam_width=2",
        "--progress=false"]


def _check_outputs(out, printed, rows):
    assert printed.count("source:") >= 2 and "greedy:" in printed and "beam 2:" in printed
    assert printed.strip().splitlines()[-1].startswith("summary: val loss")
    assert sum(r["kind"] == "val" for r in read_rows(out / "loss.csv")) == rows
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("last", "best"):
        assert (out / f"{name}.safetensors").exists() and (out / f"{name}.json").exists()


def test_book_run_writes_logs_checkpoints_and_decodes(small_book, tmp_path, capsys):
    out, example = tmp_path / "run", load_example("train_seq2seq")
    result = example.main([f"--data={small_book}", f"--out_dir={out}", "--max_iters=4",
                           "--eval_interval=2"] + TINY)
    assert math.isfinite(result["val_loss"]) and result["tokens_per_s"] > 0
    printed = capsys.readouterr().out
    assert "next-sentence pairs" in printed and ".jpg" not in printed
    _check_outputs(out, printed, rows=3)                  # steps 0, 2 and 4
    model, tok = load_model(out / "last")
    assert isinstance(model, Seq2Seq) and "[EOS]" in tok.special_tokens
    # --resume continues from step 4 to 6
    example.main([f"--data={small_book}", f"--out_dir={out}", "--max_iters=6",
                  "--eval_interval=2", "--resume"] + TINY)
    assert "resumed from" in capsys.readouterr().out
    assert sum(r["kind"] == "val" for r in read_rows(out / "loss.csv")) == 4


def test_tsv_run(tmp_path, capsys):
    lines = ["Go.\tVe.", "Hi.\tHola.", "Run!\t¡Corre!", "Who?\t¿Quién?", "Wow!\t¡Órale!",
             "Help!\t¡Ayuda!", "Stop!\t¡Para!", "Wait.\tEspera."]
    tsv = tmp_path / "en-es.tsv"
    tsv.write_text("\n".join(lines * 3) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    result = load_example("train_seq2seq").main([f"--pairs={tsv}", f"--out_dir={out}", "--max_iters=2",
                                   "--eval_interval=2"] + TINY)
    assert math.isfinite(result["val_loss"])
    printed = capsys.readouterr().out
    assert "24 translation pairs" in printed
    _check_outputs(out, printed, rows=2)                  # steps 0 and 2


def test_bad_tsv_line_is_an_error_naming_the_line(tmp_path):
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("Go.\tVe.\nHi.\tHola.\nno tab on this line\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv: line 3: expected 'source<TAB>target'"):
        load_example("train_seq2seq").main([f"--pairs={tsv}", f"--out_dir={tmp_path / 'run'}"] + TINY)
    assert not (tmp_path / "run").exists()


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(SystemExit, match="unknown option --n_layer.*--n_encoder_layer"):
        load_example("train_seq2seq").parse_args(["--n_layer=3"])
