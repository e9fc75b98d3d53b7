"""Tokenizer files: a versioned plain-text ``.model`` and a readable ``.vocab``.

Lesson 06 "Tokenization" (report chapter 4). The ``.model`` file is all that
``load`` needs; the ``.vocab`` file is only for people to read. The format
(one item per line) is::

    tinytx-bpe v1
    <split pattern, empty for BasicTokenizer>
    <number of special tokens>
    <id> <the special string as a JSON string>      one line per special token
    <a> <b>                                         one line per merge, in order

The ids of the merges are implicit: the k-th merge line makes token 256 + k.
minbpe's ``minbpe v1`` files (special lines ``<string> <id>``) load as well.
Both files are written atomically: a temporary file, then a rename.
"""
import json
import os
import unicodedata

from ..files import atomic_write_text, read_text

MAGIC = "tinytx-bpe"
VERSION = 1


def write_model(path, pattern, special_tokens, merges):
    """Write the ``.model`` file (see the module docstring for the format)."""
    if "\n" in pattern or "\r" in pattern:
        raise ValueError(f"pattern: a saved pattern must fit on one line; write line breaks "
                         f"as the escapes \\n and \\r, got {pattern!r}")
    lines = [f"{MAGIC} v{VERSION}", pattern, str(len(special_tokens))]
    lines += [f"{idx} {json.dumps(s, ensure_ascii=False)}" for s, idx in special_tokens.items()]
    lines += [f"{a} {b}" for a, b in merges]
    _write_atomic(path, "\n".join(lines) + "\n")


def read_model(path):
    """Read a ``.model`` file; returns ``(pattern, special_tokens, merges)``.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming
    the file and the line for a corrupt one (or one that is not UTF-8) or an
    unknown version.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model_file: expected a .model file written by save(), "
                                f"but {path!r} does not exist")
    lines = read_text(path, "a tokenizer .model file").split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    def bad(lineno, what):
        got = lines[lineno - 1] if lineno <= len(lines) else "end of file"
        return ValueError(f"model_file: {path!r} line {lineno}: expected {what}, got {got!r}")

    header = lines[0] if lines else ""
    if header == "minbpe v1":
        minbpe = True
    elif header == f"{MAGIC} v{VERSION}":
        minbpe = False
    elif header.startswith(MAGIC + " v"):
        raise ValueError(f"model_file: {path!r} is format {header!r}; this tinytx reads "
                         f"'{MAGIC} v{VERSION}' (and 'minbpe v1')")
    else:
        raise bad(1, f"the header '{MAGIC} v{VERSION}'")
    if len(lines) < 3:
        raise bad(len(lines) + 1, "the pattern line and the number of special tokens")
    pattern = lines[1]
    n_special = _int(lines[2], lambda: bad(3, "the number of special tokens"))
    special_tokens = {}
    for lineno in range(4, 4 + n_special):
        if lineno > len(lines):
            raise bad(lineno, "a special token line")
        special, idx = _special_line(lines[lineno - 1], minbpe, lambda: bad(lineno, "a special "
                                     "token line '<id> \"<string>\"'"))
        special_tokens[special] = idx
    merges = {}
    for lineno in range(4 + n_special, len(lines) + 1):
        parts = lines[lineno - 1].split()
        idx = 256 + len(merges)
        err = lambda: bad(lineno, f"a merge line '<a> <b>' with ids below {idx}")  # noqa: E731
        if len(parts) != 2:
            raise err()
        a, b = (_int(p, err) for p in parts)
        if not (0 <= a < idx and 0 <= b < idx) or (a, b) in merges:
            raise err()
        merges[(a, b)] = idx
    return pattern, special_tokens, merges


def write_vocab(path, vocab, merges, special_tokens):
    """Write the readable ``.vocab`` file: each token, and what it merged from."""
    made_from = {idx: pair for pair, idx in merges.items()}
    special_ids = set(special_tokens.values())
    lines = []
    for idx, token in vocab.items():
        if idx in made_from:
            a, b = made_from[idx]
            lines.append(f"[{render_token(vocab[a])}][{render_token(vocab[b])}] -> "
                         f"[{render_token(token)}] {idx}")
        elif idx in special_ids:
            lines.append(f"[{render_token(token)}] {idx} (special)")
        else:
            lines.append(f"[{render_token(token)}] {idx}")
    _write_atomic(path, "\n".join(lines) + "\n")


def render_token(token):
    """Show a token's bytes as text, with control characters escaped.

    Example:
        >>> render_token(b"hi\\n")
        'hi\\\\u000a'
    """
    text = token.decode("utf-8", errors="replace")
    return "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch)[0] == "C" else ch
                   for ch in text)


def _special_line(line, minbpe, err):
    if minbpe:  # minbpe writes "<string> <id>"
        special, _, idx = line.rpartition(" ")
        return special, _int(idx, err)
    idx, _, special = line.partition(" ")
    try:
        special = json.loads(special)
    except ValueError:
        raise err() from None
    if not isinstance(special, str):
        raise err()
    return special, _int(idx, err)


def _int(text, err):
    try:
        value = int(text)
    except ValueError:
        raise err() from None
    if value < 0:
        raise err()
    return value


def _write_atomic(path, text):
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"file_prefix: the folder {folder!r} does not exist")
    atomic_write_text(path, text)
