"""tinytx.data: Gutenberg stripping, where the book comes from, the download (never the
network: a fake opener or a file:// URL; tests/test_download.py uses a real HTTP server on
127.0.0.1), LM splits/batches/token cache, sentence pairs."""
import io
import json
import math
import socket

import numpy as np
import pytest

import tinytx as tx
from tinytx.data import (DATA_ENV, SPECIALS, DownloadError, add_special_tokens,
                         check_gutenberg, default_cache_dir, download_file, encode_cached, encode_pairs,
                         find_quixote, get_batch, iter_windows, load_quixote, load_text,
                         pad_batch, pair_batches, read_tsv_pairs, sentence_pairs,
                         special_ids, split_sentences, strip_gutenberg, train_val_split)
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.tokenizer import RegexTokenizer

BODY = "In a village of La Mancha, the name of which I have no desire to call to mind.\n"
HEADER = ("\ufeffThe Project Gutenberg eBook of Don Quixote\r\n\r\nTitle: Don Quixote\r\n"
          "*** START OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***\r\n\r\n\r\n")
FOOTER = ("\r\n\r\n*** END OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***\r\n"
          "Section 1. General Terms of Use and Redistributing Project Gutenberg\r\n")


def gutenberg(body=BODY, repeat=1):
    return HEADER + (body * repeat).replace("\n", "\r\n") + FOOTER


BOOK = gutenberg(repeat=13_000).encode("utf-8")   # just over 1 MB, like a real download


# --------------------------------------------------------------------- Gutenberg text

def test_strip_gutenberg_drops_bom_header_footer_and_crlf():
    assert strip_gutenberg(gutenberg(repeat=2)) == BODY * 2


def test_strip_gutenberg_old_spelling_and_missing_markers():
    old = "x\n***START OF THIS PROJECT GUTENBERG EBOOK A ***\nHi.\n*** END OF THIS PROJECT " \
          "GUTENBERG EBOOK A ***\nlicense"
    assert strip_gutenberg(old) == "Hi.\n"
    with pytest.raises(ValueError, match="START OF THE PROJECT GUTENBERG"):
        strip_gutenberg("no markers here")
    with pytest.raises(ValueError, match="END OF THE PROJECT GUTENBERG"):
        strip_gutenberg(HEADER + BODY)          # a truncated download


def test_load_text_modes(tmp_path):
    marked, plain = tmp_path / "marked.txt", tmp_path / "plain.txt"
    marked.write_text(gutenberg(), encoding="utf-8")
    plain.write_text("\ufeffHold off!\r\nye weaklings\r\n", encoding="utf-8")
    assert load_text(marked) == BODY
    assert load_text(plain) == "Hold off!\nye weaklings\n"
    assert load_text(marked, gutenberg=False).startswith("The Project Gutenberg eBook")
    with pytest.raises(ValueError, match="plain.txt.*START"):
        load_text(plain, gutenberg=True)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_text(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    with pytest.raises(ValueError, match="UTF-8"):
        load_text(tmp_path / "latin1.txt")


def test_real_book_is_stripped(quixote_path):
    text = load_quixote(quixote_path)
    assert "Don Quixote" in text[:200] and "by Miguel de Cervantes" in text[:300]
    assert "\ufeff" not in text and "\r" not in text and "*** START" not in text
    assert "Project Gutenberg" not in text[-20_000:] and "trademark" not in text[-20_000:]
    assert "doomed to fall for ever. Farewell." in text[-1000:]
    assert ".jpg" not in text and "\nFull Size\n" not in text   # illustration lines


def test_illustration_lines_are_dropped_but_prose_kept():
    from tinytx.data.quixote import drop_illustration_lines
    text = "p003.jpg (307K)\n\nFull Size\nHe saw the Full Size of it.\n  spine.jpg (152K)\nEnd.\n"
    assert drop_illustration_lines(text) == "He saw the Full Size of it.\nEnd.\n"


def test_unwrap_paragraphs_keeps_headings_verse_and_paragraph_breaks():
    from tinytx.data.gutenberg import unwrap_paragraphs
    text = ("CHAPTER I.\nOF THE CURATE  \n\n\n\nIn a village of\nLa Mancha, there\n"
            "lived a knight.\n  \nHe rode.\n\n    O Book! thou make\n    To question\n")
    assert unwrap_paragraphs(text) == (
        "CHAPTER I.\nOF THE CURATE\n\nIn a village of La Mancha, there lived a knight.\n\n"
        "He rode.\n\n    O Book! thou make\n    To question\n")
    assert unwrap_paragraphs(unwrap_paragraphs(text)) == unwrap_paragraphs(text)


def test_real_book_has_one_line_per_paragraph(quixote_path):
    text = load_quixote(quixote_path)
    start = text.index("In a village of La Mancha")
    assert text[start:text.index("\n", start)].endswith("the telling of it.")
    assert "\n\n\n" not in text
    assert "CHAPTER I.\nWHICH TREATS OF THE CHARACTER" in text   # headings stay lines


# ------------------------------------------------------------------ where it comes from

class FakeResponse(io.BytesIO):
    """What urllib returns; `length` is the Content-Length sent. Like http.client's
    `read(n)`, a body shorter than that just ends (b""), with no IncompleteRead."""

    def __init__(self, data, on_read=None, length=None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self.on_read = on_read

    def read(self, n=-1):
        if self.on_read:
            self.on_read()
        return super().read(n)


class FakeOpener:
    """Serves `pages` {url: bytes, (bytes, Content-Length) or an exception}; records the
    calls."""

    def __init__(self, pages, on_read=None):
        self.pages, self.on_read, self.calls = pages, on_read, []

    def __call__(self, url, timeout):
        self.calls.append((url, timeout))
        page = self.pages[url]
        if isinstance(page, BaseException):
            raise page
        data, length = page if isinstance(page, tuple) else (page, None)
        return FakeResponse(data, self.on_read, length)


def mirror(name):
    return f"https://mirror.example/{name}"


def refuse(url, timeout):
    raise AssertionError(f"no download expected, got one for {url}")


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An explicit file, a $TINYTX_DATA_DIR copy and a cached copy, each with its own text."""
    paths = {}
    for name in ("explicit", "env", "cache"):
        folder = tmp_path / name
        folder.mkdir()
        paths[name] = folder / "quixote.txt"      # found copies must pass the size check
        paths[name].write_text(gutenberg(f"{name} copy\n", repeat=100_000), encoding="utf-8")
    monkeypatch.setenv(DATA_ENV, str(paths["env"].parent))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return paths


def test_resolution_order(places, monkeypatch):
    cache = places["cache"].parent
    load = lambda path=None: load_quixote(path, cache_dir=cache, opener=refuse)  # noqa: E731
    copy = lambda name: " ".join([f"{name} copy"] * 100_000) + "\n"  # noqa: E731
    assert load(places["explicit"]) == copy("explicit")
    assert load() == copy("env")
    places["env"].unlink()                       # $TINYTX_DATA_DIR set, but no file there
    assert load() == copy("cache")
    monkeypatch.delenv(DATA_ENV)
    assert load() == copy("cache")
    places["cache"].unlink()
    opener = FakeOpener({mirror("u1"): BOOK})
    unwrapped = " ".join([BODY.strip()] * 13_000) + "\n"     # one paragraph, one line
    assert load_quixote(cache_dir=cache, urls=(mirror("u1"),), opener=opener, progress=False) \
        == unwrapped
    assert load() == unwrapped and len(opener.calls) == 1   # second time: the cache


def test_explicit_path_never_falls_back(places):
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        load_quixote(places["cache"].parent / "nowhere.txt", opener=refuse)


def test_explicit_path_is_read_as_it_is(places):
    small = places["explicit"].with_name("small.txt")
    small.write_text(gutenberg("mine\n"), encoding="utf-8")       # under 1 MB: still read
    assert load_quixote(small, opener=refuse) == "mine\n"
    small.write_text(HEADER + BODY, encoding="utf-8")            # START without END
    with pytest.raises(ValueError, match="small.txt.*END OF THE PROJECT GUTENBERG"):
        load_quixote(small, opener=refuse)


def test_bad_found_copies(places, capsys):
    """A bad $TINYTX_DATA_DIR copy is an error naming it; a bad cached copy is fetched again
    (one printed line), or, with download=False, an error."""
    cache = places["cache"].parent
    places["env"].write_bytes(BOOK[:-len(FOOTER)])               # cut before the END line
    with pytest.raises(ValueError, match=r"env[/\\]quixote.txt: not a whole.*END OF THE"):
        load_quixote(cache_dir=cache, opener=refuse)
    places["env"].unlink()
    places["cache"].write_bytes(b"\xff" + BOOK)                  # a damaged disk
    with pytest.raises(ValueError, match="not UTF-8 at offset 0.*download=False"):
        load_quixote(cache_dir=cache, download=False)
    opener = FakeOpener({mirror("u1"): BOOK})
    load_quixote(cache_dir=cache, urls=(mirror("u1"),), opener=opener, progress=False)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "not a whole" in out[0] and "downloading a fresh copy" in out[0]
    assert places["cache"].read_bytes() == BOOK and len(opener.calls) == 1


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "tinytx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tinytx"
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert find_quixote() is None


def test_download_progress_and_atomic_save(tmp_path, capsys):
    dest = tmp_path / "quixote.txt"

    def while_streaming():                      # the destination appears only when done
        assert not dest.exists()
        assert [p.name.startswith(".quixote.txt.") and p.name.endswith(".tmp")
                for p in tmp_path.iterdir()] == [True]

    pages = {mirror("down"): OSError("no route"), mirror("cut"): (BOOK[:-100], len(BOOK)),
             mirror("up"): BOOK}
    opener = FakeOpener(pages, on_read=while_streaming)
    assert download_file(list(pages), dest, check=check_gutenberg, opener=opener,
                         timeout=7) == dest
    assert dest.read_bytes() == BOOK and list(tmp_path.iterdir()) == [dest]
    assert opener.calls == [(u, 7) for u in pages]     # fallbacks, same timeout
    err = capsys.readouterr().err
    assert "downloading quixote.txt" in err and "100%" in err


@pytest.mark.parametrize("page, why", [
    (b"<html>503 Service Unavailable</html>", "more than 1000000 bytes"),
    (b"x" * 1_100_000, "START OF THE PROJECT GUTENBERG"),
    (BOOK[:-len(FOOTER)], "END OF THE PROJECT GUTENBERG"),
    ((BOOK[:-10], len(BOOK)), f"cut short: got {len(BOOK) - 10} of {len(BOOK)} bytes"),
    ((BOOK, len(BOOK) - 10), f"expected {len(BOOK) - 10} bytes .Content-Length., got"),
    (b"\xff" + BOOK, "not UTF-8 at offset 0"),
    (KeyboardInterrupt(), None),
])
def test_download_failure_leaves_nothing(tmp_path, page, why):
    cache = tmp_path / "cache"
    opener = FakeOpener({mirror("u"): page})
    load = lambda: load_quixote(cache_dir=cache, urls=(mirror("u"),), opener=opener,  # noqa
                                progress=False)
    if why is None:                              # interrupted: the exception goes through
        with pytest.raises(KeyboardInterrupt):
            load()
    else:
        with pytest.raises(DownloadError, match=why):
            load()
    assert list(cache.iterdir()) == []


def test_offline_message(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)   # the default opener, no DNS
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(OSError) as e:
        load_quixote(cache_dir=tmp_path, progress=False)
    msg = str(e.value)
    assert isinstance(e.value, DownloadError)
    assert "gutenberg.org/cache/epub/996/pg996.txt" in msg and "996-0.txt" in msg
    assert "name resolution" in msg and "--data PATH" in msg and DATA_ENV in msg
    with pytest.raises(FileNotFoundError, match="download=False.*--data PATH"):
        load_quixote(cache_dir=tmp_path, download=False)
    assert list(tmp_path.iterdir()) == []


def test_download_from_a_file_url(tmp_path):
    source = tmp_path / "mirror.txt"
    source.write_bytes(BOOK)
    (tmp_path / "cache").mkdir()
    dest = tmp_path / "cache" / "q.txt"
    with pytest.raises(DownloadError, match="expected a URL starting https://"):
        download_file((source.as_uri(),), dest, check=check_gutenberg,
                      progress=False)                                # https only by default
    got = download_file((source.as_uri(),), dest, check=check_gutenberg, progress=False,
                        schemes=("file",))
    assert got.read_bytes() == BOOK


# ------------------------------------------------------------------------- LM data

@pytest.mark.parametrize("n, frac, n_val", [(100, 0.1, 10), (101, 0.1, 10), (7, 0.0, 0),
                                            (1000, 0.25, 250)])
def test_train_val_split(n, frac, n_val):
    ids = np.arange(n)
    train, val = train_val_split(ids, frac)
    assert len(val) == n_val and np.array_equal(np.concatenate([train, val]), ids)
    assert train_val_split(list(range(n)), frac)[1] == list(range(n - n_val, n))


@pytest.mark.parametrize("frac", [1.0, -0.1, "0.1", True])
def test_train_val_split_rejects(frac):
    with pytest.raises(ValueError, match="val_frac"):
        train_val_split(np.arange(10), frac)


def test_get_batch_windows(device):
    ids = np.arange(1000, dtype=np.uint16) * 3
    x, y = get_batch(ids, 8, 16, np.random.default_rng(0), device=device)
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == np.int64
    assert x.device is device and y.device is device
    x, y = x.numpy(), y.numpy()
    starts = x[:, 0] // 3
    assert np.array_equal(x, ids[starts[:, None] + np.arange(16)])      # contiguous windows
    assert np.array_equal(y, ids[starts[:, None] + np.arange(1, 17)])   # shifted by one
    only, _ = get_batch(ids[:17], 2, 16, np.random.default_rng(0))
    assert np.array_equal(only.numpy(), np.stack([ids[:16]] * 2))     # the single window


def test_get_batch_is_deterministic_and_resumable():
    ids = np.random.default_rng(1).integers(0, 500, 5000)
    a, b = np.random.default_rng(42), np.random.default_rng(42)
    assert all(np.array_equal(get_batch(ids, 4, 8, a)[0].numpy(),
                              get_batch(ids, 4, 8, b)[0].numpy()) for _ in range(3))
    state = json.loads(json.dumps(a.bit_generator.state))     # as a checkpoint stores it
    expected = get_batch(ids, 4, 8, a)[1].numpy()
    resumed = np.random.default_rng(0)
    resumed.bit_generator.state = state
    assert np.array_equal(get_batch(ids, 4, 8, resumed)[1].numpy(), expected)


def test_get_batch_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"block_size \+ 1 = 9 tokens, got 8"):
        get_batch(np.arange(8), 2, 8, rng)
    with pytest.raises(ValueError, match="batch_size"):
        get_batch(np.arange(20), 0, 8, rng)
    with pytest.raises(TypeError, match="rng: expected a numpy.random.Generator"):
        get_batch(np.arange(20), 2, 8, np.random.RandomState(0))
    with pytest.raises(ValueError, match="1-D"):
        get_batch(np.zeros((4, 20), int), 2, 8, rng)


@pytest.mark.parametrize("n", [9, 10, 33, 40])
def test_iter_windows_covers_every_target_once(n):
    ids = np.arange(n) + 100
    batches = list(iter_windows(ids, batch_size=2, block_size=4))
    xs = np.concatenate([x.numpy().ravel() for x, _ in batches])
    ys = np.concatenate([y.numpy().ravel() for _, y in batches])
    assert np.array_equal(xs, ids[:-1]) and np.array_equal(ys, ids[1:])
    assert all(x.shape[0] <= 2 and x.shape == y.shape for x, y in batches)
    full = list(iter_windows(ids, 2, 4, drop_last=True))
    assert sum(x.shape[0] for x, _ in full) == (n - 1) // 4
    assert all(x.shape[1] == 4 for x, _ in full)


@pytest.fixture(scope="module")
def tok():
    t = RegexTokenizer()
    t.train("the knight and the squire rode on; the knight spoke, the squire laughed. " * 4,
            256 + 10)
    return t


def test_encode_cached_hit_miss_invalidation(tok, tmp_path, monkeypatch):
    path = tmp_path / "toks" / "book.ids.npy"
    calls = []
    real_encode = tok.encode
    monkeypatch.setattr(tok, "encode", lambda *a, **k: calls.append(1) or real_encode(*a, **k))
    ids = encode_cached(tok, "the knight rode", path)
    assert ids.dtype == np.uint16 and ids.tolist() == real_encode("the knight rode")
    assert json.loads((tmp_path / "toks" / "book.ids.npy.json").read_text())["n_tokens"] \
        == len(ids)
    assert np.array_equal(encode_cached(tok, "the knight rode", path), ids) and len(calls) == 1
    encode_cached(tok, "the squire rode", path)                       # text changed
    assert len(calls) == 2
    other = RegexTokenizer()
    other.train("the knight and the squire " * 4, 256 + 3)
    assert encode_cached(other, "the squire rode", path).tolist() \
        == other.encode("the squire rode")                            # tokenizer changed
    path.write_bytes(b"garbage")                                      # corrupt cache
    assert encode_cached(other, "the squire rode", path).tolist() \
        == other.encode("the squire rode")
    assert sorted(p.name for p in path.parent.iterdir()) == ["book.ids.npy",
                                                             "book.ids.npy.json"]


def test_encode_cached_int32_for_big_vocab(tmp_path):
    t = RegexTokenizer()
    t.register_special_tokens({"<|end|>": 70_000})
    ids = encode_cached(t, "ab<|end|>", tmp_path / "i.npy", allowed_special="all")
    assert ids.dtype == np.int32 and ids.tolist() == [97, 98, 70_000]


# --------------------------------------------------------------------- sentence pairs

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
                                  max_len=32, pad_id=ids["[PAD]"]))
    batch = next(pair_batches(pairs_data(tok), 4, np.random.default_rng(0),
                              pad_id=ids["[PAD]"]))
    logits, loss = model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask,
                         targets=batch.tgt_out)
    assert logits.shape == (*batch.tgt_in.shape, max(tok.vocab) + 1)
    assert math.isfinite(loss.item())
    loss.backward()
    assert all(np.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
