"""Translation pairs from the Tatoeba Challenge release (English–Norwegian, Bokmål–Nynorsk).

Introduced in lesson 11 (translation) and docs/translation.md. The Tatoeba Challenge
(Helsinki-NLP) publishes, for each language pair, dev and test files of lines

    src_lang<TAB>tgt_lang<TAB>source<TAB>target        e.g.  eng  nob  I'm hungry.  Jeg er sulten.

`eng-nor` pairs English with Bokmål (nob) and Nynorsk (nno); `nor-nor` pairs the two
written Norwegians both ways. `load_tatoeba` finds a split, in this order:

    1. an explicit `path` to the file;
    2. `$TINYTX_DATA_DIR/tatoeba/<split>/<pair>/<split>.txt` (laid out as the release);
    3. the cache, `~/.cache/tinytx/tatoeba/<split>/<pair>/<split>.txt`;
    4. a download of that file from the release's GitHub repository into the cache
       (dev and test only: the release's training data is a large tar of other corpora).

The download is checked (four tab-separated fields per line) and renamed into place only
when whole, so the cache never holds half a file.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "test.txt")
    >>> _ = open(p, "w", encoding="utf-8").write("eng\\tnob\\tHi.\\tHei.\\neng\\tnno\\tI eat.\\tEg et.\\n")
    >>> read_tatoeba(p, target_langs="nno")
    [('I eat.', 'Eg et.')]
"""
from __future__ import annotations

import os
from pathlib import Path

from .quixote import DATA_ENV, default_cache_dir, download_file

RELEASE = "https://raw.githubusercontent.com/Helsinki-NLP/Tatoeba-Challenge/master/data"
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
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a Tatoeba file of "
                                f"'src_lang<TAB>tgt_lang<TAB>source<TAB>target' lines, but "
                                f"{str(path)!r} does not exist")
    targets, sources = _langs(target_langs, "target_langs"), _langs(source_langs,
                                                                    "source_langs")
    pairs, bad = [], 0
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
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


def check_tatoeba(data: bytes):
    """Raise ValueError unless `data` looks like a Tatoeba Challenge dev/test file."""
    lines = data.decode("utf-8", errors="replace").splitlines()[:20]
    if not lines or any(len(line.split("\t")) != 4 for line in lines if line.strip()):
        raise ValueError("expected lines of 4 tab-separated fields, got "
                         f"{(lines or [''])[0][:80]!r} (an error page?)")


def load_tatoeba(split: str = "test", pair: str = "eng-nor", target_langs=None,
                 source_langs=None, *, path=None, cache_dir=None, download: bool = True,
                 opener=None, skip_bad: bool = False, progress: bool = True):
    """The (source, target) pairs of one split of the Tatoeba Challenge release.

    Args:
        split: "dev" or "test" (what the release publishes as plain files).
        pair: the release's language pair, e.g. "eng-nor" or "nor-nor".
        target_langs, source_langs, skip_bad: as in `read_tatoeba`.
        path: a local file; it wins over everything else.
        cache_dir, download, opener, progress: where and whether to fetch (tests pass
            download=False or a fake opener; they never use the network).
    Raises DownloadError (an OSError) when the file is nowhere and cannot be fetched.

    >>> pairs = load_tatoeba("test", "eng-nor", target_langs="nob")   # doctest: +SKIP
    """
    if path is None:
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
        path = find_tatoeba(split, pair, cache_dir=cache_dir)
    if path is None:
        target = Path(cache_dir or default_cache_dir()) / "tatoeba" / split / pair / \
            f"{split}.txt"
        hint = (f"put the release's file at ${DATA_ENV}/tatoeba/{split}/{pair}/{split}.txt "
                f"or pass its path; get it from {RELEASE}/{split}/{pair}/{split}.txt")
        if not download:
            raise FileNotFoundError(f"Tatoeba {pair} {split}: no local copy and "
                                    f"download=False; {hint}")
        target.parent.mkdir(parents=True, exist_ok=True)
        path = download_file([f"{RELEASE}/{split}/{pair}/{split}.txt"], target,
                             opener=opener, check=check_tatoeba, progress=progress, hint=hint)
    return read_tatoeba(path, target_langs, source_langs, skip_bad=skip_bad)
