"""The corpus: Don Quixote from Project Gutenberg, fetched once and cached.

Introduced in lesson 11 (training a GPT on Don Quixote). The book is Project Gutenberg
ebook #996 (John Ormsby's translation). `load_quixote` looks for it, in this order:

    1. an explicit `path` (the examples' `--data PATH`);
    2. `$TINYTX_DATA_DIR/quixote.txt` (when that file is missing, the search goes on);
    3. the cache, `quixote.txt` in `$XDG_CACHE_HOME/tinytx/` (default `~/.cache/tinytx/`);
    4. a download from gutenberg.org into the cache (once; then step 3 finds it).

Whatever the source, the text comes back without the UTF-8 byte-order mark, with `\\n` line
ends, and without Project Gutenberg's header and license footer (`strip_gutenberg`, in
tinytx/data/gutenberg.py with the other readers of a Gutenberg text).
The download (`tinytx.data.download.download_file`: https only, redirects kept on the
site, Content-Length enforced) streams into a temporary file beside the cache file and
renames it into place only when it is whole and the book is a whole Project Gutenberg
file (`check_gutenberg`: over 1 MB, UTF-8, the START line and the END line after it), so
the cache never holds a half-written or wrong file.

A copy found by the search ($TINYTX_DATA_DIR or the cache) gets the same check: a bad
cached copy (an older version, a damaged disk) is downloaded again, with a printed line
saying so; a bad $TINYTX_DATA_DIR copy is a ValueError naming it. An explicit `path` is
the user's file and is only read (`load_text`).

    >>> OPENING.startswith("In a village of La Mancha")
    True
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .download import SCHEMES, download_file
from .gutenberg import check_gutenberg, load_text, unwrap_paragraphs

FILE_NAME = "quixote.txt"
DATA_ENV = "TINYTX_DATA_DIR"
URLS = ("https://www.gutenberg.org/cache/epub/996/pg996.txt",
        "https://www.gutenberg.org/files/996/996-0.txt")

_HINT = (f"pass a local copy of the plain-text book instead: load_quixote(path=...) (--data "
         f"PATH in the examples), or put it at ${DATA_ENV}/{FILE_NAME}; get it from {URLS[0]}")


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/tinytx`, or `~/.cache/tinytx` when XDG_CACHE_HOME is not set."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "tinytx"


def find_quixote(path=None, *, cache_dir=None) -> Path | None:
    """Where the book is on disk (explicit path > $TINYTX_DATA_DIR > cache), or None.

    An explicit `path` that does not exist raises FileNotFoundError (no silent fallback).
    """
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path: expected the Don Quixote text file, but "
                                    f"{str(path)!r} does not exist")
        return path
    candidates = [Path(os.environ[DATA_ENV]) / FILE_NAME] if os.environ.get(DATA_ENV) else []
    candidates.append(Path(cache_dir or default_cache_dir()) / FILE_NAME)
    return next((c for c in candidates if c.is_file()), None)


def load_quixote(path=None, *, cache_dir=None, download=True, urls=URLS, opener=None,
                 progress=True, schemes=SCHEMES) -> str:
    """The text of Don Quixote (Gutenberg #996), header, footer and BOM removed, the
    lines that only name an illustration of the HTML edition ("p003.jpg (307K)",
    "Full Size") dropped (600-odd lines that are not the book), and the printed edition's
    hard line wraps undone: one line per paragraph (`unwrap_paragraphs`).

    Args:
        path: a local copy (plain text, UTF-8); it wins over everything else and is
            read as it is (no size check).
        cache_dir: where the download is kept (default `default_cache_dir()`).
        download: fetch the book when no good local copy is found (else FileNotFoundError,
            or ValueError for a bad cached copy).
        urls, opener, progress, schemes: passed to `download_file` (tests inject a fake
            opener, or a local http server with schemes=("http",)).

    Raises DownloadError (an OSError) when offline, naming the ways to pass a local file;
    ValueError when the $TINYTX_DATA_DIR copy is not a whole book.

    >>> text = load_quixote()          # doctest: +SKIP
    >>> text[:60]                      # doctest: +SKIP
    """
    found = find_quixote(path, cache_dir=cache_dir)
    target = Path(cache_dir or default_cache_dir()) / FILE_NAME
    if path is None and found is not None:
        found = _whole_copy(found, target, download)
    if found is None:
        if not download:
            raise FileNotFoundError(f"Don Quixote: no local copy (looked in ${DATA_ENV} and "
                                    f"{str(target)!r}) and download=False; {_HINT}")
        target.parent.mkdir(parents=True, exist_ok=True)
        found = download_file(urls, target, check=check_gutenberg, opener=opener,
                              progress=progress, hint=_HINT, schemes=schemes)
    return unwrap_paragraphs(drop_illustration_lines(load_text(found, gutenberg="auto")))


def _whole_copy(found: Path, cache_file: Path, download: bool) -> Path | None:
    """`found` when it passes `check_gutenberg`; None when it is the cache's copy, to be
    downloaded again; else ValueError (a bad $TINYTX_DATA_DIR copy is the user's to fix)."""
    try:
        check_gutenberg(found.read_bytes())
        return found
    except ValueError as e:
        bad = f"{found}: not a whole Project Gutenberg book: {e}"
    if found != cache_file:
        raise ValueError(f"{bad}; replace it with the plain-text book from {URLS[0]}, or "
                         f"unset ${DATA_ENV}")
    if not download:
        raise ValueError(f"{bad}; download=False, so it is not fetched again: delete it, "
                         f"or {_HINT}")
    print(f"{bad}; downloading a fresh copy")
    return None


_ILLUSTRATION = re.compile(r"^[ \t]*(?:[\w-]+\.jpg(?: \(\d+K\))?|Full Size)[ \t]*\n",
                           re.MULTILINE)


def drop_illustration_lines(text: str) -> str:
    r"""Remove the lines that only hold an image file name or "Full Size".

    >>> drop_illustration_lines("A knight.\np003.jpg (307K)\nFull Size\nHe rode.\n")
    'A knight.\nHe rode.\n'
    """
    return _ILLUSTRATION.sub("", text).lstrip("\n")


# The opening of chapter 1: what the lessons fall back on in --smoke mode when no copy of
# the book is on disk (the tests never use the network).
OPENING = """In a village of La Mancha, the name of which I have no desire to call
to mind, there lived not long since one of those gentlemen that keep a
lance in the lance-rack, an old buckler, a lean hack, and a greyhound
for coursing. An olla of rather more beef than mutton, a salad on most
nights, scraps on Saturdays, lentils on Fridays, and a pigeon or so
extra on Sundays, made away with three-quarters of his income. The rest
of it went in a doublet of fine cloth and velvet breeches and shoes to
match for holidays, while on week-days he made a brave figure in his
best homespun. He had in his house a housekeeper past forty, a niece
under twenty, and a lad for the field and market-place, who used to
saddle the hack as well as handle the bill-hook. The age of this
gentleman of ours was bordering on fifty; he was of a hardy habit,
spare, gaunt-featured, a very early riser and a great sportsman. They
will have it his surname was Quixada or Quesada (for here there is some
difference of opinion among the authors who write on the subject),
although from reasonable conjectures it seems plain that he was called
Quexana. This, however, is of but little importance to our tale; it
will be enough not to stray a hair’s breadth from the truth in the
telling of it.

You must know, then, that the above-named gentleman whenever he was at
leisure (which was mostly all the year round) gave himself up to
reading books of chivalry with such ardour and avidity that he almost
entirely neglected the pursuit of his field-sports, and even the
management of his property; and to such a pitch did his eagerness and
infatuation go that he sold many an acre of tillageland to buy books of
chivalry to read, and brought home as many of them as he could get. But
of all there were none he liked so well as those of the famous
Feliciano de Silva’s composition, for their lucidity of style and
complicated conceits were as pearls in his sight, particularly when in
his reading he came upon courtships and cartels, where he often found
passages like “_the reason of the unreason with which my reason is
afflicted so weakens my reason that with reason I murmur at your
beauty;” or again, “the high heavens, that of your divinity divinely
fortify you with the stars, render you deserving of the desert your
greatness deserves_.” Over conceits of this sort the poor gentleman
lost his wits, and used to lie awake striving to understand them and
worm the meaning out of them; what Aristotle himself could not have
made out or extracted had he come to life again for that special
purpose. He was not at all easy about the wounds which Don Belianis
gave and took, because it seemed to him that, great as were the
surgeons who had cured him, he must have had his face and body covered
all over with seams and scars. He commended, however, the author’s way
of ending his book with the promise of that interminable adventure, and
many a time was he tempted to take up his pen and finish it properly as
is there proposed, which no doubt he would have done, and made a
successful piece of work of it too, had not greater and more absorbing
thoughts prevented him.
"""
