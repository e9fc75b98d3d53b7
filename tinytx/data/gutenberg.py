"""Project Gutenberg's plain-text books, read for training: the header and the licence
stripped, a download checked to be whole, the printed edition's line wraps undone.

Introduced in lesson 11 with Don Quixote (tinytx/data/quixote.py, which fetches the book
and reads it through these). `load_text` reads any UTF-8 text file this way: the byte-order
mark dropped, `\\n` line ends, and Project Gutenberg's header and licence footer stripped
when the file has their START and END lines (`strip_gutenberg`). `check_gutenberg` says
whether downloaded bytes are a whole book; `unwrap_paragraphs` gives one line per paragraph.

    >>> strip_gutenberg("header\\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\\n"
    ...                 "In a village of La Mancha\\n"
    ...                 "*** END OF THE PROJECT GUTENBERG EBOOK X ***\\nlicense\\n")
    'In a village of La Mancha\\n'
"""
from __future__ import annotations

import re
from pathlib import Path

MIN_BYTES = 1_000_000   # Don Quixote is 2.3 MB; under 1 MB is an error page or cut off

# Both the modern ("*** START OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***") and older
# ("***START OF THIS PROJECT GUTENBERG EBOOK ...") spellings; one marker per line.
_START = re.compile(r"^\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG E(?:BOOK|TEXT).*$",
                    re.M | re.I)
_END = re.compile(r"^\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG E(?:BOOK|TEXT).*$",
                  re.M | re.I)


def normalize_text(text: str) -> str:
    """Drop a leading UTF-8 byte-order mark and turn `\\r\\n` and `\\r` line ends into `\\n`.

    >>> normalize_text("\\ufeffa\\r\\nb\\rc")
    'a\\nb\\nc'
    """
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def strip_gutenberg(text: str) -> str:
    """The book inside a Project Gutenberg file: what lies between the START and END lines.

    Everything up to and including the `*** START OF THE PROJECT GUTENBERG EBOOK ... ***`
    line goes, and everything from the `*** END OF ... ***` line on (the license). The BOM
    and `\\r\\n` are normalised first; surrounding blank lines are trimmed and the result
    ends with one newline.

    Raises ValueError when a marker is missing: a text without them is either not a
    Gutenberg file (use `load_text(path, gutenberg=False)`) or a truncated download,
    and silently training on license text or half a book is worse than stopping.

    Args:
        text: the whole file as a str.

    >>> strip_gutenberg("*** START OF THIS PROJECT GUTENBERG EBOOK A ***\\r\\nHi.\\r\\n"
    ...                 "*** END OF THIS PROJECT GUTENBERG EBOOK A ***")
    'Hi.\\n'
    """
    text = normalize_text(text)
    start = _START.search(text)
    end = _END.search(text, start.end()) if start else None
    if start is None or end is None:
        missing = "START" if start is None else "END"
        raise ValueError(f"text: expected a Project Gutenberg file with a '*** {missing} OF THE "
                         f"PROJECT GUTENBERG EBOOK ... ***' line, got a text without it "
                         f"({len(text)} characters; a truncated download, or not a Gutenberg "
                         f"file: then read it with load_text(path, gutenberg=False))")
    return text[start.end():end.start()].strip("\n") + "\n"


def load_text(path, gutenberg="auto") -> str:
    """Read a UTF-8 text file for training: BOM dropped, `\\n` line ends, Gutenberg stripped.

    Args:
        path: the file (str or Path).
        gutenberg: "auto" strips the Project Gutenberg header/footer when the file has a
            START or END marker (and then needs both); True always strips (raises without
            markers); False never strips.
    Raises ValueError naming the file for a byte that is not UTF-8, missing markers, or a
    file with no text in it (empty or only whitespace: nothing to train on).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "poem.txt")
    >>> _ = open(p, "w", encoding="utf-8").write("\\ufeffHold off! ye weaklings\\r\\n")
    >>> load_text(p)
    'Hold off! ye weaklings\\n'
    """
    if gutenberg not in ("auto", True, False):
        raise ValueError(f"gutenberg: expected 'auto', True or False, got {gutenberg!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a text file, but {str(path)!r} does not exist")
    try:
        text = normalize_text(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"path: expected UTF-8 text in {str(path)!r}, got a byte that is not "
                         f"UTF-8 at offset {e.start}") from None
    marked = _START.search(text) is not None or _END.search(text) is not None
    if gutenberg is True or (gutenberg == "auto" and marked):
        try:
            text = strip_gutenberg(text)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    if not text.strip():
        raise ValueError(f"{path}: expected a text to train on, got "
                         f"{'an empty file' if not text else 'only whitespace'}"
                         f"{' between the Gutenberg markers' if marked else ''}")
    return text


def unwrap_paragraphs(text: str) -> str:
    r"""One line per paragraph: undo the hard line wraps of a printed (Gutenberg) text.

    Gutenberg texts break every line near 70 characters, so a model trained on them learns
    to break lines mid-sentence. The rule, per paragraph (lines between blank lines):
      * prose: its lines are joined with one space;
      * headings (no lower-case letter, e.g. "CHAPTER I.\nOF THE INTERVIEW ...") and
        verse (indented lines) keep their line breaks;
    paragraphs are separated by exactly one blank line; trailing spaces go.

    >>> unwrap_paragraphs("CHAPTER I.\nOF THE CURATE\n\n\n\nIn a village\nof La Mancha.\n\n"
    ...                   "    O Book! thou make\n    To question\n")
    'CHAPTER I.\nOF THE CURATE\n\nIn a village of La Mancha.\n\n    O Book! thou make\n    To question\n'
    """
    paragraphs = []
    for block in _BLANK_LINES.split(text.strip("\n")):
        lines = [line.rstrip() for line in block.split("\n")]
        keep = not any(c.islower() for c in block) or any(l[:1] in (" ", "\t") for l in lines)
        paragraphs.append("\n".join(lines) if keep else " ".join(l.strip() for l in lines))
    return "\n\n".join(p for p in paragraphs if p) + "\n"


_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


def check_gutenberg(data: bytes, min_bytes: int = MIN_BYTES):
    """Raise ValueError unless `data` is a whole Gutenberg book: over `min_bytes`, UTF-8,
    a START line near the top and an END line after it (a cut-off file has no END)."""
    if len(data) <= min_bytes:
        raise ValueError(f"expected more than {min_bytes} bytes, got {len(data)} "
                         f"(an error page or a cut-off download)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"expected UTF-8 text, got a byte that is not UTF-8 at offset "
                         f"{e.start} (a damaged file)") from None
    start = _START.search(text, 0, 100_000)
    if start is None:
        raise ValueError("expected a '*** START OF THE PROJECT GUTENBERG EBOOK' line near the "
                         "top, got none (not the plain-text book)")
    if _END.search(text, start.end()) is None:
        raise ValueError("expected a '*** END OF THE PROJECT GUTENBERG EBOOK' line after the "
                         "book, got none (a cut-off download)")
