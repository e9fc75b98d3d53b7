"""Files that survive a crash: atomic writes, text read with a clear error, and one
writer per run folder.

Introduced in lesson 11 (checkpoints and logs that survive a crash). Every file tinytx
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

`read_text` reads a UTF-8 file and, on a byte that is not UTF-8, raises a ValueError that
names the file and the offset (a bare UnicodeDecodeError names neither); `read_json` reads
a JSON object the same way (a syntax error: the file, line and column).

`lock_folder` makes a run folder one run's: a second process that asks for the same
folder is refused with the owner's pid, instead of writing its checkpoints and loss.csv
between the first one's.
"""
from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import re
import socket
import sys
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:       # Windows: no advisory locks (lock_folder then only records)
    fcntl = None


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


def read_text(path, what: str = "a UTF-8 text file", *, bom: bool = True) -> str:
    """The text of a UTF-8 file; a leading byte-order mark is dropped when `bom`.

    Raises FileNotFoundError, or ValueError naming `path`, `what` was expected and the
    offset of the first byte that is not UTF-8.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "bad.txt"
    >>> _ = p.write_bytes(b"ok\\xff")
    >>> read_text(p, "a tokenizer file")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../bad.txt: expected a tokenizer file (UTF-8), got a byte that is not UTF-8 (0xff) at offset 2
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected {what}, but the file does not exist")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: expected {what} (UTF-8), got a byte that is not UTF-8 "
                         f"(0x{data[e.start]:02x}) at offset {e.start}") from None


def read_json(path, what: str) -> dict:
    """The JSON object in a file (a Hugging Face config.json, GPT-2's vocab.json, ...).

    Raises FileNotFoundError, or ValueError naming the file and `what` was expected, and
    for a syntax error its line and column.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "config.json"
    >>> _ = p.write_text('{"n_head": 12,}')
    >>> read_json(p, "a config.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../config.json: expected a config.json, got invalid JSON at line 1 column 15 (Expecting property name enclosed in double quotes)
    """
    text = read_text(path, what)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: expected {what}, got invalid JSON at line {e.lineno} "
                         f"column {e.colno} ({e.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected {what} (a JSON object), got a JSON "
                         f"{type(value).__name__}")
    return value


def temp_name(final: Path) -> Path:
    """A fresh hidden name beside `final` (same folder, so os.replace is a rename)."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")


def stale_temporaries(final) -> list[Path]:
    """The temporary files `temp_name` made for `final` that are still on disk: left by
    a process killed while writing (an error removes its own)."""
    final = Path(final)
    prefix = f".{final.name}."
    return [p for p in final.parent.glob(glob.escape(prefix) + "*.tmp")
            if _TEMP_TAIL.fullmatch(p.name[len(prefix):])]


_TEMP_TAIL = re.compile(r"[0-9a-f]{8}\.tmp")


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


class FolderInUse(OSError):
    """Another process holds the folder's lock (see lock_folder)."""


_HELD: dict[str, list] = {}      # resolved folder -> [open lock file, depth]: re-entrant


@contextlib.contextmanager
def lock_folder(folder, flag: str = "--out_dir"):
    """Hold an advisory lock on `folder` (created if missing) for the `with` block.

    The lock is `fcntl.flock` on `folder/.lock`, which records the owner (pid, host,
    start time, command). The kernel drops it when the process ends, however it ends,
    so a killed run never leaves a stale lock. The same process may nest the lock (the
    job holds it, its Trainer asks again). Another process is refused at once. A folder
    this call created and nobody wrote into is removed again at the end.

    Args:
        folder: the run folder (e.g. out/quixote).
        flag: the option that chose the folder, named in the error.
    Raises FolderInUse (an OSError) naming the folder and the owner.

    >>> import tempfile
    >>> with lock_folder(tempfile.mkdtemp()) as lock_file:
    ...     lock_file.name
    '.lock'
    """
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
    else:
        _HELD[key] = [_acquire(folder / ".lock", flag), 1]
    try:
        yield folder / ".lock"
    finally:
        _HELD[key][1] -= 1
        if _HELD[key][1] == 0:
            _HELD.pop(key)[0].close()           # closing the file releases the lock
            if created and [p.name for p in folder.iterdir()] == [".lock"]:
                (folder / ".lock").unlink()     # a run that wrote nothing leaves nothing
                folder.rmdir()


def _acquire(path: Path, flag: str):
    f = open(path, "a+", encoding="utf-8")
    if fcntl is not None:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            owner = f.read().strip() or "another process"
            f.close()
            raise FolderInUse(f"{path.parent} is in use by another run ({owner}); wait "
                              f"for it to finish, or pass another {flag}") from None
    f.seek(0)
    f.truncate()
    started = datetime.datetime.now().isoformat(timespec="seconds")
    f.write(f"pid {os.getpid()} on {socket.gethostname()} since {started}: "
            f"{' '.join(sys.argv)[:200]}\n")
    f.flush()
    return f
