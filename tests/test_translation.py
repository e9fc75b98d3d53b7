"""Translation: the Tatoeba reader and lookup, the shared tokenizer, decoding with and
without the KV cache, the baselines, and examples/translate.py end to end on a tiny
synthetic corpus (no network)."""
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

import tinytx as tx
from tinytx.checkpoint import checkpoint_paths
from tinytx.data import DownloadError, load_tatoeba, read_tatoeba, shared_tokenizer, tatoeba
from tinytx.generate import beam_search_seq2seq, generate_seq2seq
from tinytx.data.pairs import pad_batch, special_ids
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.tasks.translation import (WordDictionary, copy_source, cross_attention,
                                      smoothed_cross_entropy, translate_corpus)
from project_scripts import load_example

GOOD = ("eng\tnob\tI eat.\tJeg spiser.\n"
        "eng\tnno\tI eat.\tEg et.\n"
        "\n"
        "nob\tnno\tJeg spiser.\tEg et.\r\n")


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the reader --------------------------------------------------------------------------

def test_read_tatoeba_filters_by_language(tmp_path):
    p = _write(tmp_path / "test.txt", "\ufeff" + GOOD)
    assert read_tatoeba(p) == [("I eat.", "Jeg spiser."), ("I eat.", "Eg et."),
                               ("Jeg spiser.", "Eg et.")]
    assert read_tatoeba(p, target_langs="nob") == [("I eat.", "Jeg spiser.")]
    assert read_tatoeba(p, target_langs=["nno"], source_langs="nob") == [("Jeg spiser.",
                                                                          "Eg et.")]


@pytest.mark.parametrize("bad", ["eng\tnob\tno target\n", "eng\tnob\t\tTom.\n",
                                 "eng nob I eat. Jeg spiser.\n",
                                 "eng\tnob\ta\tb\textra\n"])
def test_bad_line_is_an_error_naming_file_and_line_or_skipped_and_counted(tmp_path, bad,
                                                                          capsys):
    p = _write(tmp_path / "dev.txt", GOOD + bad)
    with pytest.raises(ValueError, match=r"dev\.txt: line 5: expected 4 non-empty"):
        read_tatoeba(p)
    assert len(read_tatoeba(p, skip_bad=True)) == 3
    assert "skipped 1 bad line" in capsys.readouterr().out


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_tatoeba(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="target_langs"):
        read_tatoeba(_write(tmp_path / "t.txt", GOOD), target_langs=[])
    with pytest.raises(ValueError, match="split"):
        load_tatoeba("train", download=False, cache_dir=tmp_path)


# -- the lookup: explicit path > $TINYTX_DATA_DIR/tatoeba > cache > download -------------

def test_lookup_order(tmp_path, monkeypatch):
    """On a pair without a pinned SHA-256 (eng-deu): the order alone (the pins are
    tests/test_download.py's)."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    rel = Path("tatoeba/test/eng-deu/test.txt")
    _write(cache / rel, "eng\tdeu\tcache\tcache\n")
    monkeypatch.delenv("TINYTX_DATA_DIR", raising=False)
    load = lambda **kw: load_tatoeba("test", "eng-deu", cache_dir=cache, **kw)  # noqa: E731
    assert load(download=False) == [("cache", "cache")]
    _write(data / rel, "eng\tdeu\tdata\tdata\n")
    monkeypatch.setenv("TINYTX_DATA_DIR", str(data))
    assert load(download=False) == [("data", "data")]
    explicit = _write(tmp_path / "mine.txt", "eng\tdeu\tmine\tmine\n")
    assert load(path=explicit) == [("mine", "mine")]


class _Response(io.BytesIO):
    headers = {}


def test_download_is_checked_and_leaves_nothing_behind(tmp_path, monkeypatch):
    """eng-nor's dev file is pinned: GOOD stands in for it with its own pin."""
    monkeypatch.delenv("TINYTX_DATA_DIR", raising=False)
    commit = tatoeba.PINNED["dev", "eng-nor"].commit
    monkeypatch.setitem(tatoeba.PINNED, ("dev", "eng-nor"), tatoeba.Pin(
        commit, len(GOOD.splitlines()), hashlib.sha256(GOOD.encode()).hexdigest()))
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_tatoeba("dev", cache_dir=tmp_path, download=False)

    def offline(url, timeout):
        raise OSError("no network")
    with pytest.raises(DownloadError, match="TINYTX_DATA_DIR/tatoeba/dev/eng-nor/dev.txt"):
        load_tatoeba("dev", cache_dir=tmp_path, opener=offline, progress=False)
    html = lambda url, timeout: _Response(b"<html>rate limited</html>\n")     # noqa: E731
    with pytest.raises(DownloadError, match="4 tab-separated"):
        load_tatoeba("dev", cache_dir=tmp_path, opener=html, progress=False)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []          # nothing written
    good = lambda url, timeout: _Response(GOOD.encode())                   # noqa: E731
    pairs = load_tatoeba("dev", cache_dir=tmp_path, opener=good, target_langs="nno",
                         progress=False)
    assert pairs == [("I eat.", "Eg et."), ("Jeg spiser.", "Eg et.")]
    assert (tmp_path / "tatoeba/dev/eng-nor/dev.txt").read_bytes() == GOOD.encode()


# -- tokenizer, decoding, baselines ------------------------------------------------------

PAIRS = [("I eat fish.", "Jeg spiser fisk."), ("You eat bread.", "Du spiser brød."),
         ("I see fish.", "Jeg ser fisk."), ("You see bread.", "Du ser brød.")] * 3


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tok = shared_tokenizer(PAIRS, 280, tmp_path_factory.mktemp("tok") / "tok")
    tx.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=max(tok.vocab) + 1, n_embd=16, n_head=2,
                                  n_encoder_layer=1, n_decoder_layer=2, n_inner=24,
                                  dropout=0.0, pad_id=special_ids(tok)["[PAD]"]))
    return tok, model


def test_shared_tokenizer_has_both_languages_and_the_specials(small):
    tok, _ = small
    ids = special_ids(tok)
    assert sorted(ids.values()) == [280, 281, 282]      # right after the learned vocabulary
    for text in ("I eat fish.", "Jeg spiser brød."):    # both sides round-trip
        assert tok.decode(tok.encode_ordinary(text)) == text
    assert len(tok.encode_ordinary(" spiser")) == 1      # learned from the targets too


@pytest.mark.parametrize("width", [1, 3])
def test_kv_cache_gives_the_same_translation(small, width):
    tok, model = small
    pad = special_ids(tok)["[PAD]"]
    bos, eos = special_ids(tok)["[BOS]"], special_ids(tok)["[EOS]"]
    src, mask = pad_batch([tok.encode_ordinary(s) for s, _ in PAIRS[:4]], pad)
    src, mask = tx.tensor(src), tx.tensor(mask)
    if width == 1:
        runs = [generate_seq2seq(model, src, mask, bos, eos, 12, greedy=True, use_cache=c)
                for c in (True, False)]
    else:
        runs = [beam_search_seq2seq(model, src, mask, bos, eos, 12, width, use_cache=c)
                for c in (True, False)]
    assert runs[0].tolist() == runs[1].tolist()
    # batched, sorted translation equals one sentence at a time
    sources = [s for s, _ in PAIRS[:4]]
    assert translate_corpus(model, tok, sources, beam_width=width, max_new_tokens=12) == \
        [translate_corpus(model, tok, [s], beam_width=width, max_new_tokens=12)[0]
         for s in sources]


def test_cross_attention_rows_are_distributions(small):
    tok, model = small
    att = cross_attention(model, tok, "I eat fish.", tok.encode_ordinary("Jeg spiser"))
    S = len(tok.encode_ordinary("I eat fish."))
    assert att.shape == (1 + len(tok.encode_ordinary("Jeg spiser")), S)
    assert np.allclose(att.sum(axis=1), 1.0) and (att >= 0).all()
    assert "forward" not in vars(model.decoder[-1].cross_attn)    # the spy is removed


def test_label_smoothing_against_its_formula_and_gradcheck():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5))
    targets = np.array([[1, 4, 0], [2, 0, 0]])                  # pad_id 0 at the end
    eps, keep = 0.1, targets != 0
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    expected = ((1 - eps) * -picked[keep].mean()) + eps * -logp.mean(-1)[keep].mean()
    x = tx.tensor(logits, requires_grad=True)
    loss = smoothed_cross_entropy(x, tx.tensor(targets), 0, eps)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    assert smoothed_cross_entropy(x, tx.tensor(targets), 0, 0.0).item() == \
        pytest.approx(-picked[keep].mean(), rel=1e-12)
    assert tx.gradcheck(lambda z: smoothed_cross_entropy(z, tx.tensor(targets), 0, eps), [x])


def test_baselines():
    assert copy_source(["a", "b"]) == ["a", "b"]
    d = WordDictionary().fit(PAIRS + [("I see bread.", "Jeg ser brød."),
                                      ("You eat fish.", "Du spiser fisk.")], rounds=10)
    assert d.translate("I eat bread.") == "Jeg spiser brød."
    assert d.translate("Tom eats.") == "Tom eats."          # unseen words are copied


# -- the example end to end ---------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Synthetic Tatoeba files: numbers and colours, English -> Bokmål (and Nynorsk
    lines that the default filter must leave out)."""
    rng = np.random.default_rng(0)
    en = "one two three red blue green".split()
    nb = "en to tre rød blå grønn".split()
    nn = "ein to tre raud blå grøn".split()

    def lines(n):
        out = []
        for _ in range(n):
            k = rng.integers(0, 6, size=rng.integers(1, 4))
            src = " ".join(en[i] for i in k).capitalize() + "."
            out.append(f"eng\tnob\t{src}\t" + " ".join(nb[i] for i in k).capitalize() + ".")
            out.append(f"eng\tnno\t{src}\t" + " ".join(nn[i] for i in k).capitalize() + ".")
        return "\n".join(out) + "\n"
    root = tmp_path_factory.mktemp("tatoeba")
    return (_write(root / "dev.txt", lines(120)), _write(root / "test.txt", lines(12)))


def _tiny(corpus, out):
    return [f"--train_file={corpus[0]}", f"--test_file={corpus[1]}", f"--out_dir={out}",
            "--vocab_size=270", "--n_embd=16", "--n_head=2", "--n_encoder_layer=1",
            "--n_decoder_layer=1", "--n_inner=32", "--batch_size=8", "--eval_iters=1",
            "--eval_interval=3", "--warmup_iters=1", "--lr_decay_iters=6", "--val_pairs=10", "--beam_width=2",
            "--max_new_tokens=8", "--max_len=16", "--progress=false"]


def test_example_end_to_end_with_exact_resume(corpus, tmp_path, capsys):
    ex = load_example("translate")
    res = ex.main(_tiny(corpus, tmp_path / "a") + ["--max_iters=6"])
    out = capsys.readouterr().out
    assert "summary: test BLEU/chrF greedy" in out and "dictionary" in out
    assert "Tatoeba eng-nor eng->nob: 120 dev pairs, 12 test pairs" in out
    for f in ("loss.csv", "loss.png", "results.json", "tokenizer.model", "translations.tsv"):
        assert (tmp_path / "a" / f).exists(), f
    assert {"greedy", "beam 2", "copy", "dictionary"} <= set(res)
    assert res["copy"]["chrf"] < 100 and 0 <= res["greedy"]["chrf"] <= 100
    rows = (tmp_path / "a" / "translations.tsv").read_text().splitlines()
    assert len(rows) == 1 + 12 and rows[0] == "source\treference\tgreedy\tbeam 2"
    # 3 steps, then --resume to 6, ends with the same weights as 6 straight steps
    ex.main(_tiny(corpus, tmp_path / "b") + ["--max_iters=3"])
    ex.main(_tiny(corpus, tmp_path / "b") + ["--max_iters=6", "--resume"])
    assert "resumed from" in capsys.readouterr().out
    from safetensors.numpy import load_file
    a = load_file(checkpoint_paths(tmp_path / "a" / "last")[0])
    b = load_file(checkpoint_paths(tmp_path / "b" / "last")[0])
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    # --translate loads the checkpoint (tokenizer inside) from a moved folder
    (tmp_path / "a").rename(tmp_path / "moved")
    (tmp_path / "moved" / "tokenizer.model").unlink()
    ex.main([f"--out_dir={tmp_path / 'moved'}", "--beam_width=2", "--translate",
             "Red one."])
    assert "greedy:" in capsys.readouterr().out


def test_example_errors_are_clear(corpus, tmp_path):
    ex = load_example("translate")
    with pytest.raises(SystemExit, match="--config: expected one of"):
        ex.parse_args(["--config=huge"])
    with pytest.raises(SystemExit, match="--translate needs a sentence"):
        ex.parse_args(["--translate"])
    with pytest.raises(SystemExit, match="no checkpoint"):
        ex.main([f"--out_dir={tmp_path / 'empty'}", "--translate", "Hi."])
    with pytest.raises(SystemExit, match="unknown option --foo"):
        ex.parse_args(["--foo=1"])
    cfg, mode, _ = ex.parse_args(["--config=seed-en-no"])
    m, t = cfg.model, cfg.train
    assert (m.n_encoder_layer, m.n_decoder_layer, m.n_head, m.n_embd, m.n_inner,
            m.norm_first, t.lr, t.eps, cfg.device) == (3, 3, 8, 512, 512, False, 1e-4,
                                                       1e-9, "cuda")
    cfg, _, _ = ex.parse_args(["--config=seed-nb-nn"])
    assert (cfg.model.n_encoder_layer, cfg.model.n_decoder_layer, cfg.source_langs,
            cfg.target_langs) == (6, 8, "nob", "nno")
    with pytest.raises(SystemExit, match="need pairs"):
        ex.main(_tiny(corpus, tmp_path) + ["--target_langs=xxx"])
