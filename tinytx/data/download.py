"""Downloads that are whole or nothing: https only, redirects kept on the site, the
Content-Length enforced, the content checked before the file is renamed into place.

Introduced in lesson 11 (the book is fetched once and cached); the Tatoeba files of
lesson 12 come the same way. `download_file` streams a URL into a temporary file beside
the destination and renames it into place only when it is whole and `check` accepts it,
so a cache never holds a half-written or wrong file:

  * only https URLs are fetched (`schemes`; the tests allow http on 127.0.0.1 explicitly);
    a redirect must stay on https and on the same site: the same host, or a host with the
    same last two labels (www.gutenberg.org -> aleph.gutenberg.org; an IP address or a
    one-label name only matches itself);
  * when the server sends a Content-Length, exactly that many bytes must arrive (urllib's
    `read(n)` just returns b"" when the connection closes early; a chunked body cut short
    raises IncompleteRead): otherwise "cut short: got N of M bytes";
  * `check(data)` (the book's markers, a release file's pin) raises ValueError for a file
    that arrived whole but is wrong.
"""
from __future__ import annotations

import http.client
import ipaddress
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from ..files import atomic_write

TIMEOUT = 30.0          # seconds without an answer before a URL counts as unreachable
SCHEMES = ("https",)    # what download_file fetches unless told otherwise (tests add http)
CHUNK = 1 << 16


class DownloadError(OSError):
    """No URL gave a good file (offline, HTTP error, timeout, or a failed check)."""


def download_file(urls, dest, *, check, opener=None, timeout=TIMEOUT, progress=True,
                  hint="", schemes=SCHEMES) -> Path:
    """Fetch the first URL that works into `dest`, atomically; returns `dest`.

    Each URL streams into a temporary file in `dest`'s folder under a tqdm bar. The file is
    renamed to `dest` (os.replace) only when it is whole (as many bytes as the
    Content-Length said, when there is one) and `check` passes, so `dest` is either
    absent or complete.

    Args:
        urls: URLs to try in order (a fallback after the first).
        dest: the file to write (its folder must exist).
        opener: `opener(url, timeout=...)` -> a response with `read(n)` and `headers`;
            default urllib with the redirect rule of `check_redirect` (an opener passed
            in follows redirects its own way; `schemes` still applies to `urls`).
        timeout: seconds per connection attempt / read.
        check: `check(data: bytes)`, raising ValueError when the content is wrong (e.g.
            `tinytx.data.gutenberg.check_gutenberg`).
        progress: show the progress bar (on stderr).
        hint: the last line of the error when every URL fails (how to pass a local file).
        schemes: the URL schemes fetched, first URL and redirects alike (default https
            only; the tests pass ("http",) for a server on 127.0.0.1).
    """
    dest = Path(dest)
    opener = opener or (lambda url, timeout: _urlopen(url, timeout, schemes))
    failures = []
    for url in urls:
        try:
            if urlsplit(url).scheme not in schemes:
                raise ValueError(f"expected a URL starting {' or '.join(schemes)}://, got "
                                 f"this one (schemes={tuple(schemes)!r})")
            _fetch(url, dest, opener, timeout, check, progress)
            return dest
        except (OSError, http.client.HTTPException, ValueError) as e:  # URLError: OSError
            failures.append(f"{url}: {type(e).__name__}: {e}")
    raise DownloadError(f"download of {dest.name} failed (offline?):\n  " + "\n  ".join(failures)
                        + f"\n{hint}")


def check_redirect(old: str, new: str, schemes=SCHEMES):
    """Raise ValueError unless a redirect from URL `old` to URL `new` is allowed: `new`
    uses one of `schemes`, never leaves https, and stays on the same site (`same_site`).

    >>> check_redirect("https://gutenberg.org/a", "https://www.gutenberg.org/b")
    >>> check_redirect("https://gutenberg.org/a", "http://gutenberg.org/a")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: refused a redirect from https://gutenberg.org/a to http://gutenberg.org/a: ...
    """
    was, now = urlsplit(old), urlsplit(new)
    if now.scheme not in schemes or (was.scheme == "https" and now.scheme != "https"):
        why = (f"expected {' or '.join(schemes)}" + (" (no way out of https)"
               if was.scheme == "https" else "") + f", got {now.scheme or 'no scheme'}")
    elif not same_site(was.hostname, now.hostname):
        why = f"expected the same site as {was.hostname}, got {now.hostname}"
    else:
        return
    raise ValueError(f"refused a redirect from {old} to {new}: {why}")


def same_site(a: str | None, b: str | None) -> bool:
    """Whether host names `a` and `b` are equal or share their last two labels.

    The rule is simple rather than complete: without the public-suffix list it would
    also let example.co.uk reach other.co.uk; the URLs here are gutenberg.org and
    githubusercontent.com.

    >>> same_site("raw.githubusercontent.com", "objects.githubusercontent.com")
    True
    >>> same_site("127.0.0.1", "127.0.0.2"), same_site("www.gutenberg.org", "evil.org")
    (False, False)
    """
    a, b = (a or "").lower(), (b or "").lower()
    if not a or not b or a == b:
        return bool(a) and a == b
    if _is_ip(a) or _is_ip(b) or "." not in a or "." not in b:
        return False
    return a.split(".")[-2:] == b.split(".")[-2:]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


class _SameSiteRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handler (which would follow https -> http and any host), refusing
    what `check_redirect` refuses."""

    def __init__(self, schemes):
        self.schemes = schemes

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        try:
            check_redirect(req.full_url, newurl, self.schemes)
        except ValueError:
            fp.close()
            raise
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _urlopen(url, timeout, schemes=SCHEMES):
    request = urllib.request.Request(url, headers={"User-Agent": "tinytx (python urllib)"})
    return urllib.request.build_opener(_SameSiteRedirects(schemes)).open(request,
                                                                        timeout=timeout)


def _content_length(response) -> int | None:
    """The Content-Length the server promised, or None (none sent, or a chunked body)."""
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Content-Length")
    if value is None or headers.get("Transfer-Encoding"):
        return None
    if not value.strip().isdigit():
        raise DownloadError(f"expected a Content-Length of digits, got {value!r}")
    return int(value)


def _fetch(url, dest, opener, timeout, check, progress):
    def write(tmp):
        got = 0
        with open(tmp, "wb") as f, opener(url, timeout=timeout) as response:
            size = _content_length(response)
            with tqdm(total=size, unit="B", unit_scale=True, desc=f"downloading {dest.name}",
                      disable=not progress) as bar:
                try:
                    while chunk := response.read(CHUNK):
                        f.write(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                except http.client.IncompleteRead as e:   # a chunked body cut short
                    raise DownloadError(f"cut short: got {got + len(e.partial)} bytes, then "
                                        f"the connection closed mid-chunk") from None
        if size is not None and got != size:            # read(n) gives b"" on an early close
            raise DownloadError(f"cut short: got {got} of {size} bytes" if got < size else
                                f"expected {size} bytes (Content-Length), got {got}")
        check(tmp.read_bytes())
    atomic_write(dest, write)
