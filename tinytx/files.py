"""Writing a file atomically: the whole new file or the old one, never half of either.

Introduced in lesson 10 (checkpoints and logs that survive a crash). Every file tinytx
writes for later (checkpoints, loss.csv and loss.png, tokenizer files, cached token ids,
the downloaded book) goes through `atomic_write`: the content is written to a temporary
file in the same folder, flushed to disk, and renamed over the destination with
`os.replace` (an atomic rename on one file system). A crash or an error while writing
leaves the old file as it was and no temporary file behind.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> _ = atomic_write(p, lambda tmp: tmp.write_text("hello"))
    >>> open(p).read()
    'hello'
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write(path, write) -> Path:
    """Call `write(tmp)` with a temporary path beside `path`, then rename it to `path`.

    Args:
        path: the destination; its folder must exist.
        write: a function that writes the whole file at the Path it is given (e.g.
            `lambda tmp: tmp.write_text(text)`, or `lambda tmp: np.save(tmp, ids)` with
            an open file, or a library's `save(..., str(tmp))`).
    Returns the destination as a Path. If `write` raises, the temporary file is removed
    and `path` is untouched.
    """
    final = Path(path)
    if not final.parent.is_dir():
        raise FileNotFoundError(f"atomic_write: the folder {str(final.parent)!r} does not "
                                f"exist (for {final.name!r})")
    tmp = temp_name(final)
    try:
        write(tmp)
        fsync(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def atomic_write_text(path, text: str) -> Path:
    """`atomic_write` of a UTF-8 text file (newlines written as given)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8",
                                                         newline=""))


def temp_name(final: Path) -> Path:
    """A fresh hidden name beside `final` (same folder, so os.replace is a rename)."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")


def fsync(path) -> None:
    """Flush a file (or a folder's entries) to disk, where the platform allows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
