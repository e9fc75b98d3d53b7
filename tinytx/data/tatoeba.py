"""Translation pairs from the Tatoeba Challenge release (English–Norwegian, Bokmål–Nynorsk).

Introduced in lesson 12 (translation) and docs/translation.md. The Tatoeba Challenge
(Helsinki-NLP) publishes, for each language pair, dev and test files of lines

    src_lang<TAB>tgt_lang<TAB>source<TAB>target        e.g.  eng  nob  I'm hungry.  Jeg er sulten.

`eng-nor` pairs English with Bokmål (nob) and Nynorsk (nno); `nor-nor` pairs the two
written Norwegians both ways. `load_tatoeba` finds a split, in this order:

    1. an explicit `path` to the file;
    2. `$TINYTX_DATA_DIR/tatoeba/<split>/<pair>/<split>.txt` (laid out as the release);
    3. the cache, `~/.cache/tinytx/tatoeba/<split>/<pair>/<split>.txt`;
    4. a download of that file from the release's GitHub repository into the cache
       (dev and test only: the release's training data is a large tar of other corpora).

The download goes through `download_file` (https only, redirects kept to the same site,
Content-Length enforced) and is renamed into place only when whole and checked: four
tab-separated fields per line, and, for the release files in `PINNED` (dev and test of
eng-nor and nor-nor, each fetched at a fixed commit of the repository), the number of
lines and, where known, the SHA-256, so a file cut short or changed upstream cannot
silently score on part of a test set. A cached or $TINYTX_DATA_DIR copy of a pinned file
is checked against the pin too: a bad cached copy is downloaded again (a printed line says
so), a bad $TINYTX_DATA_DIR copy is a ValueError saying what is wrong. A file passed as
`path=` is the user's and is not checked against the pin. Other pairs get the structural
check only.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "test.txt")
    >>> _ = open(p, "w", encoding="utf-8").write("eng\\tnob\\tHi.\\tHei.\\neng\\tnno\\tI eat.\\tEg et.\\n")
    >>> read_tatoeba(p, target_langs="nno")
    [('I eat.', 'Eg et.')]
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..files import read_text
from .download import download_file
from .quixote import DATA_ENV, default_cache_dir

REPOSITORY = "https://raw.githubusercontent.com/Helsinki-NLP/Tatoeba-Challenge"
RELEASE = f"{REPOSITORY}/master/data"      # pairs not pinned below: the newest files


@dataclass(frozen=True)
class Pin:
    """A release file fixed in time: the repository commit it is fetched at, its number
    of lines and, where its bytes could be checked, its SHA-256."""
    commit: str
    lines: int
    sha256: str | None = None


# The files the lessons' and docs' numbers come from. The nor-nor pins are the bytes at
# these commits. The eng-nor files at 6faf2dab have the same lines but, by the repository
# index, 2 (test) and 3 (dev) invisible characters more than the copies the numbers were
# measured on, so their bytes are pinned by commit and checked by line count only.
PINNED = {
    ("test", "nor-nor"): Pin("a7d15df66562742e38a7b8b04a79650a6585cfd5", 948,
                             "71e2a28b78d7a4689fb30bc59b8fbaaf0ebcf681c7d2eb939eb8067b3af8631f"),
    ("dev", "nor-nor"): Pin("e0298338de476a4133460025a7a84da0a026cfb8", 289,
                            "f32d704b8f5c380efbfe1ba2a6df98be9d0a801cc064e8a5becce8cf27527907"),
    ("test", "eng-nor"): Pin("6faf2dab0b7b01a0e08a114dbacbb7deac54988d", 5000),
    ("dev", "eng-nor"): Pin("6faf2dab0b7b01a0e08a114dbacbb7deac54988d", 6264),
}
SPLITS = ("dev", "test")      # what the release has as plain files


def _langs(value, name):
    """None (any), "nob", or ("nob", "nno") -> a set of codes or None."""
    if value is None:
        return None
    codes = {value} if isinstance(value, str) else set(value)
    if not codes or not all(isinstance(c, str) and c for c in codes):
        raise ValueError(f"{name}: expected a language code like 'nob' or a list of them, "
                         f"got {value!r}")
    return codes


def read_tatoeba(path, target_langs=None, source_langs=None, *,
                 skip_bad: bool = False) -> list[tuple[str, str]]:
    """Read (source, target) pairs from a Tatoeba Challenge file, filtered by language.

    Args:
        path: a file of `src_lang<TAB>tgt_lang<TAB>source<TAB>target` lines (UTF-8).
        target_langs, source_langs: keep only these codes (a str or a list; None = all).
        skip_bad: a line without four non-empty fields is an error naming the file and
            line (default), or, with skip_bad=True, skipped and counted in a printed note.
    Blank lines are ignored; a BOM and `\\r\\n` are fine.
    """
    targets, sources = _langs(target_langs, "target_langs"), _langs(source_langs,
                                                                    "source_langs")
    text = read_text(path, "a Tatoeba file of 'src_lang<TAB>tgt_lang<TAB>source<TAB>target' "
                           "lines")
    # split on \r\n, \r and \n only: str.splitlines would also split inside a sentence
    # at characters such as U+2028 or \x1c
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    pairs, bad = [], 0
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = [x.strip() for x in line.split("\t")]
        if len(fields) != 4 or not all(fields):
            if not skip_bad:
                raise ValueError(f"{path}: line {lineno}: expected 4 non-empty "
                                 f"tab-separated fields 'src_lang, tgt_lang, source, "
                                 f"target', got {line[:80]!r} (skip_bad=True skips such "
                                 f"lines)")
            bad += 1
            continue
        src_lang, tgt_lang, source, target = fields
        if (targets is None or tgt_lang in targets) and \
                (sources is None or src_lang in sources):
            pairs.append((source, target))
    if bad:
        print(f"{path}: skipped {bad} bad line{'s' * (bad != 1)} (not 4 non-empty fields)")
    return pairs


def find_tatoeba(split: str, pair: str = "eng-nor", *, cache_dir=None) -> Path | None:
    """Where `<split>/<pair>/<split>.txt` is on disk ($TINYTX_DATA_DIR/tatoeba, then the
    cache), or None."""
    relative = Path("tatoeba") / split / pair / f"{split}.txt"
    roots = [Path(os.environ[DATA_ENV])] if os.environ.get(DATA_ENV) else []
    roots.append(Path(cache_dir or default_cache_dir()))
    return next((root / relative for root in roots if (root / relative).is_file()), None)


def check_tatoeba(data: bytes, pin: Pin | None = None):
    """Raise ValueError unless `data` looks like a Tatoeba Challenge dev/test file and,
    for a pinned release file (`PINNED`), has its number of lines and SHA-256."""
    lines = data.decode("utf-8", errors="replace").splitlines()
    if not lines or any(len(line.split("\t")) != 4 for line in lines[:20] if line.strip()):
        raise ValueError("expected lines of 4 tab-separated fields, got "
                         f"{(lines or [''])[0][:80]!r} (an error page?)")
    if pin is None:
        return
    if len(lines) != pin.lines:
        raise ValueError(f"expected the release file's {pin.lines} lines, got {len(lines)} "
                         f"(cut short, damaged, or another version)")
    if pin.sha256 is not None and (got := hashlib.sha256(data).hexdigest()) != pin.sha256:
        raise ValueError(f"expected the release file with SHA-256 {pin.sha256}, got SHA-256 "
                         f"{got} (damaged, or another version)")


def load_tatoeba(split: str = "test", pair: str = "eng-nor", target_langs=None,
                 source_langs=None, *, path=None, cache_dir=None, download: bool = True,
                 opener=None, skip_bad: bool = False, progress: bool = True):
    """The (source, target) pairs of one split of the Tatoeba Challenge release.

    Args:
        split: "dev" or "test" (what the release publishes as plain files).
        pair: the release's language pair, e.g. "eng-nor" or "nor-nor".
        target_langs, source_langs, skip_bad: as in `read_tatoeba`.
        path: a local file; it wins over everything else and is not checked against
            the pinned SHA-256.
        cache_dir, download, opener, progress: where and whether to fetch (tests pass
            download=False or a fake opener; they never use the network).
    Raises DownloadError (an OSError) when the file is nowhere and cannot be fetched;
    ValueError when a $TINYTX_DATA_DIR copy (or, with download=False, the cached copy)
    does not match the pinned SHA-256.

    >>> pairs = load_tatoeba("test", "eng-nor", target_langs="nob")   # doctest: +SKIP
    """
    if path is None:
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
        path = _release_file(split, pair, cache_dir, download, opener, progress)
    return read_tatoeba(path, target_langs, source_langs, skip_bad=skip_bad)


def _release_file(split, pair, cache_dir, download, opener, progress) -> Path:
    """The release's `<split>/<pair>/<split>.txt`: a good local copy, or downloaded."""
    relative, pin = f"{split}/{pair}/{split}.txt", PINNED.get((split, pair))
    url = f"{REPOSITORY}/{pin.commit}/data/{relative}" if pin else f"{RELEASE}/{relative}"
    target = Path(cache_dir or default_cache_dir()) / "tatoeba" / relative
    found = find_tatoeba(split, pair, cache_dir=cache_dir)
    if found is not None and pin is not None:
        found = _pinned_copy(found, url, pin, cache_file=target, download=download)
    if found is not None:
        return found
    hint = f"put the release's file at ${DATA_ENV}/tatoeba/{relative} or pass its path; " \
           f"get it from {url}"
    if not download:
        raise FileNotFoundError(f"Tatoeba {pair} {split}: no local copy and "
                                f"download=False; {hint}")
    target.parent.mkdir(parents=True, exist_ok=True)
    return download_file([url], target, opener=opener, progress=progress, hint=hint,
                         check=lambda data: check_tatoeba(data, pin))


def _pinned_copy(found: Path, url, pin, *, cache_file: Path, download) -> Path | None:
    """`found` when it is the pinned release file; None when it is the cache's copy, to
    be downloaded again; else ValueError naming the file, what is wrong and what to do."""
    try:
        check_tatoeba(found.read_bytes(), pin)
        return found
    except ValueError as e:
        bad = f"{found}: not the Tatoeba release file {url}: {e}"
    if found != cache_file or not download:
        raise ValueError(f"{bad}; replace it with that file or delete it, or pass your "
                         f"own file with path=... (not checked against the pin)")
    print(f"{bad}; downloading a fresh copy")
    return None
