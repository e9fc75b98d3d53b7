"""tinytx.data's book: Gutenberg stripping, where the book comes from, the download (never
the network: a fake opener or a file:// URL; tests/test_download.py uses a real HTTP server
on 127.0.0.1). The LM windows are tests/test_data_lm.py, the sentence pairs
tests/test_data_pairs.py."""
import io
import socket

import pytest

from tinytx.data import (DATA_ENV, DownloadError, check_gutenberg, default_cache_dir,
                         download_file, find_quixote, load_quixote, load_text, strip_gutenberg)

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
