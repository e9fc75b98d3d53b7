"""The download against a real HTTP server on 127.0.0.1 (http.server in a thread, port 0;
never the network): bodies cut short, missing END lines, redirects off the site or off
the allowed schemes, bad cached copies fetched again, and Tatoeba's pinned SHA-256."""
import hashlib
import http.server
import threading
import urllib.request
from pathlib import Path

import pytest

from tinytx.data import DATA_ENV, DownloadError, download_file, load_quixote, load_tatoeba
from tinytx.data import check_gutenberg, download, tatoeba
from tinytx.data.download import check_redirect, same_site

HEADER = "*** START OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***\r\n\r\n"
FOOTER = "\r\n*** END OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***\r\nlicense\r\n"
LINE = "In a village of La Mancha, the name of which I have no desire to call to mind.\r\n"
BOOK = (HEADER + LINE * 20_000 + FOOTER).encode()       # 1.6 MB
CUT = BOOK[:1_200_000]      # over 1 MB with a START line: what the old check let through
TSV = b"eng\tnob\tI eat.\tJeg spiser.\neng\tnno\tI eat.\tEg et.\n"
FIRST = TSV[:TSV.index(b"\n") + 1]                      # well formed, but half the file
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tatoeba"


# ------------------------------------------------------------------------ the server

def whole(body):
    def send(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return send


def short(body, length):
    """Promise `length` bytes, send `body`, close: what a dropped connection looks like."""
    def send(h):
        h.send_response(200)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        h.wfile.write(body)
    return send


def chunked_cut(body):
    """One chunk announced 1000 bytes longer than what is sent before the close."""
    def send(h):
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.write(f"{len(body) + 1000:x}\r\n".encode() + body)
    return send


def redirect(location):
    def send(h):
        h.send_response(302)
        h.send_header("Location", location.format(port=h.server.server_port))
        h.send_header("Content-Length", "0")
        h.end_headers()
    return send


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.requests.append(self.path)
        self.close_connection = True
        send = self.server.routes.get(self.path)
        if send is None:
            self.send_error(404)
        else:
            send(self)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """A server on 127.0.0.1: set `server.routes[path] = send`; `server.url(path)`."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.routes, srv.requests = {}, []
    srv.url = lambda path: f"http://127.0.0.1:{srv.server_port}{path}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def get_book(server, cache, path="/book", **kw):
    return load_quixote(cache_dir=cache, urls=(server.url(path),), schemes=("http",),
                        progress=False, **kw)


# --------------------------------------------------------------------------- the book

@pytest.mark.parametrize("send, why", [
    (short(CUT, len(BOOK)), f"cut short: got {len(CUT)} of {len(BOOK)} bytes"),
    (chunked_cut(CUT), r"cut short: got \d+ bytes, then the connection closed"),
    (whole(CUT), "END OF THE PROJECT GUTENBERG"),       # no Content-Length lie, no END
])
def test_a_body_cut_short_is_refused_and_leaves_nothing(server, tmp_path, send, why):
    server.routes["/book"] = send
    with pytest.raises(DownloadError, match=why):
        get_book(server, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []     # no file, no temporary file


def test_a_whole_body_is_accepted_also_after_a_same_host_redirect(server, tmp_path):
    server.routes.update({"/book": whole(BOOK), "/moved": redirect("/book")})
    text = get_book(server, tmp_path, "/moved")
    assert text.startswith("In a village of La Mancha") and text.count("La Mancha") == 20_000
    assert (tmp_path / "quixote.txt").read_bytes() == BOOK
    assert server.requests == ["/moved", "/book"]


@pytest.mark.parametrize("location, why", [
    ("http://localhost:{port}/book", "expected the same site as 127.0.0.1, got localhost"),
    ("https://127.0.0.1:{port}/book", "expected http, got https"),   # not in schemes
])
def test_a_redirect_off_the_site_or_the_schemes_is_refused(server, tmp_path, location, why):
    server.routes.update({"/book": whole(BOOK), "/moved": redirect(location)})
    with pytest.raises(DownloadError, match=f"refused a redirect .*{why}"):
        get_book(server, tmp_path, "/moved")
    assert server.requests == ["/moved"] and list(tmp_path.iterdir()) == []


def test_only_https_by_default(server, tmp_path):
    server.routes["/book"] = whole(BOOK)
    with pytest.raises(DownloadError, match="expected a URL starting https://"):
        download_file((server.url("/book"),), tmp_path / "q.txt", check=check_gutenberg,
                      progress=False)
    assert server.requests == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("old, new, schemes, ok", [
    ("https://www.gutenberg.org/a", "https://www.gutenberg.org/b", ("https",), True),
    ("https://www.gutenberg.org/a", "https://aleph.gutenberg.org/b", ("https",), True),
    ("https://raw.githubusercontent.com/a", "https://objects.githubusercontent.com/b",
     ("https",), True),
    ("https://www.gutenberg.org/a", "http://www.gutenberg.org/a", ("https",), False),
    ("https://www.gutenberg.org/a", "http://www.gutenberg.org/a", ("http", "https"), False),
    ("http://127.0.0.1:8000/a", "https://127.0.0.1:8000/a", ("http", "https"), True),
    ("https://www.gutenberg.org/a", "https://gutenberg.org.evil.com/a", ("https",), False),
    ("https://www.gutenberg.org/a", "ftp://www.gutenberg.org/a", ("https",), False),
    ("http://127.0.0.1/a", "http://127.0.0.2/a", ("http",), False),
    ("http://localhost/a", "http://evil.localhost/a", ("http",), False),
])
def test_redirect_rule(old, new, schemes, ok):
    if ok:
        check_redirect(old, new, schemes)
    else:
        with pytest.raises(ValueError, match="refused a redirect"):
            check_redirect(old, new, schemes)


def test_urllib_handler_refuses_https_to_http():
    """The handler the default opener installs, as urllib calls it (no TLS server needed)."""
    handler = download._SameSiteRedirects(("http", "https"))
    request = urllib.request.Request("https://www.gutenberg.org/cache/epub/996/pg996.txt")
    closed = []
    fp = type("Body", (), {"close": lambda self: closed.append(True)})()
    with pytest.raises(ValueError, match="no way out of https"):
        handler.redirect_request(request, fp, 302, "Found", {},
                                 "http://www.gutenberg.org/cache/epub/996/pg996.txt")
    assert closed == [True]
    same = handler.redirect_request(request, fp, 302, "Found", {},
                                    "https://gutenberg.org/files/996/996-0.txt")
    assert same.full_url == "https://gutenberg.org/files/996/996-0.txt"
    assert same_site("www.gutenberg.org", "gutenberg.org") and not same_site("org", "org.org")


def test_a_cached_truncated_book_is_fetched_again(server, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(DATA_ENV, raising=False)
    server.routes["/book"] = whole(BOOK)
    (tmp_path / "quixote.txt").write_bytes(CUT)          # left by an older tinytx
    text = get_book(server, tmp_path)
    assert text.count("La Mancha") == 20_000 and (tmp_path / "quixote.txt").read_bytes() == BOOK
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and "quixote.txt: not a whole Project Gutenberg book" in \
        printed[0] and "END OF THE" in printed[0] and "downloading a fresh copy" in printed[0]
    get_book(server, tmp_path)                           # now good: no second download
    assert server.requests == ["/book"]


# -------------------------------------------------------------------------- Tatoeba

@pytest.fixture
def release(server, monkeypatch):
    """The release's URLs answered by the local server (urllib itself, over http)."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    return lambda url, timeout: urllib.request.urlopen(
        url.replace(tatoeba.REPOSITORY, server.url("")), timeout=timeout)


def pinned_route(split, pair):
    """Where the local server answers the pinned release file (split, pair)."""
    return f"/{tatoeba.PINNED[split, pair].commit}/data/{split}/{pair}/{split}.txt"


def test_a_downloaded_tatoeba_file_must_match_its_pin(server, release, tmp_path):
    server.routes[pinned_route("dev", "eng-nor")] = whole(TSV)   # well formed, not the pin
    with pytest.raises(DownloadError) as e:
        load_tatoeba("dev", "eng-nor", cache_dir=tmp_path, opener=release, progress=False)
    msg = str(e.value)
    assert "dev/eng-nor/dev.txt" in msg and "expected the release file's 6264 lines, got 2" \
        in msg and "TINYTX_DATA_DIR/tatoeba" in msg
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    nor = tatoeba.PINNED["dev", "nor-nor"]                    # pinned by its bytes too
    server.routes[pinned_route("dev", "nor-nor")] = whole(b"x\ty\ta\tb\n" * nor.lines)
    with pytest.raises(DownloadError, match=f"SHA-256 {nor.sha256}, got SHA-256"):
        load_tatoeba("dev", "nor-nor", cache_dir=tmp_path, opener=release, progress=False)
    server.routes["/master/data/dev/eng-xyz/dev.txt"] = whole(TSV)   # no pin: structure only
    assert load_tatoeba("dev", "eng-xyz", cache_dir=tmp_path, opener=release,
                        progress=False) == [("I eat.", "Jeg spiser."), ("I eat.", "Eg et.")]


def test_a_tatoeba_copy_with_a_wrong_hash(server, release, tmp_path, monkeypatch, capsys):
    commit = tatoeba.PINNED["test", "eng-nor"].commit
    monkeypatch.setitem(tatoeba.PINNED, ("test", "eng-nor"),
                        tatoeba.Pin(commit, 2, hashlib.sha256(TSV).hexdigest()))
    server.routes[pinned_route("test", "eng-nor")] = whole(TSV)
    cached = tmp_path / "cache" / "tatoeba" / "test" / "eng-nor" / "test.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(FIRST)                 # cut short by an older tinytx
    load = lambda **kw: load_tatoeba("test", cache_dir=tmp_path / "cache",  # noqa: E731
                                     opener=release, progress=False, **kw)
    with pytest.raises(ValueError, match="test.txt: not the Tatoeba release file .*"
                                         "test/eng-nor/test.txt: expected the release "
                                         "file's 2 lines, got 1"):
        load(download=False)
    assert len(load()) == 2 and cached.read_bytes() == TSV
    assert "downloading a fresh copy" in capsys.readouterr().out
    assert server.requests == [pinned_route("test", "eng-nor")]
    data = tmp_path / "data" / "tatoeba" / "test" / "eng-nor" / "test.txt"   # the user's
    data.parent.mkdir(parents=True)
    data.write_bytes(FIRST)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    with pytest.raises(ValueError, match=r"got 1 \(cut short.*\); replace it"):
        load()
    assert load(path=data) == [("I eat.", "Jeg spiser.")]    # path=: not checked
    assert len(server.requests) == 1


@pytest.mark.parametrize("split, pair", sorted(tatoeba.PINNED))
def test_the_pins_are_the_local_release_files(split, pair):
    local = SHARED / split / pair / f"{split}.txt"
    if not local.is_file():
        pytest.skip(f"no local copy of the release file at {local}")
    tatoeba.check_tatoeba(local.read_bytes(), tatoeba.PINNED[split, pair])


def test_read_tatoeba_names_a_byte_that_is_not_utf8(tmp_path):
    bad = tmp_path / "test.txt"
    bad.write_bytes(TSV + b"eng\tnob\tCaf\xe9.\tKaf\xe9.\n")
    with pytest.raises(ValueError, match=r"test\.txt: expected a Tatoeba file .* at offset "
                                         f"{len(TSV) + 11}"):
        tatoeba.read_tatoeba(bad)
