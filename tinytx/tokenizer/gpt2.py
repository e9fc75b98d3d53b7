"""GPT-2's tokenizer from Hugging Face's vocab.json and merges.txt, and back.

Introduced in lesson 13 (finetuning GPT-2; the weights are `tinytx.checkpoint.gpt2`'s).
GPT-2's BPE works on bytes, as tinytx's `RegexTokenizer` does, but its files name each
byte by a printable stand-in (`bytes_to_unicode`: a leading space shows as 'Ġ') and it
numbers its tokens in its own order:

    vocab.json   {token: id}, a token for each of the 256 byte characters among them
    merges.txt   "#version: 0.2", then one merge "a b" a line, in rank order

    tok = load_gpt2_tokenizer("path/to/gpt2")        # vocab.json + merges.txt
    vocab, merges = tokenizer_files(tok)             # the two files' text, to write back

Every file is read with checks: a file that is not UTF-8, JSON that does not parse, a
merge line that is not two tokens of vocab.json is a ValueError that names the file (and
line), so the examples print one line.

    >>> tok = GPT2Tokenizer.from_merges([("Ġ", "h"), ("Ġh", "i")])
    >>> tok.encode(" hi hi")
    [257, 257]
    >>> tok.decode([257])
    ' hi'
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import regex

from ..files import read_json, read_text
from .regex import GPT2_SPLIT_PATTERN


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte: printable Latin-1 bytes stand for
    themselves, the others (space, control bytes ...) for chr(256 + k). vocab.json and
    merges.txt are written in these characters (a leading space shows as 'Ġ')."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


class GPT2Tokenizer:
    """GPT-2's byte-level BPE from vocab.json and merges.txt (encode/decode only).

    Unlike tinytx's RegexTokenizer, whose first 256 ids are the bytes, GPT-2 numbers its
    tokens in its own order, so it keeps its table {token string: id} and applies the
    merges by rank inside each chunk of the GPT-2 split pattern, as the original
    encoder.py does.
    """

    def __init__(self, encoder: dict[str, int], merges: list[tuple[str, str]]):
        self.encoder = dict(encoder)
        self.decoder = {i: s for s, i in self.encoder.items()}
        self.ranks = {tuple(pair): r for r, pair in enumerate(merges)}
        self.byte_char = bytes_to_unicode()
        self.char_byte = {c: b for b, c in self.byte_char.items()}
        self.pattern = regex.compile(GPT2_SPLIT_PATTERN)
        self.special_tokens = {s: i for s, i in self.encoder.items() if s == "<|endoftext|>"}
        self._cache = {}

    @classmethod
    def from_merges(cls, merges=()) -> "GPT2Tokenizer":
        """A byte-level BPE in GPT-2's format: the 256 byte characters (ids in character
        order), then one token per merge, then <|endoftext|> (tiny models and tests).

            >>> GPT2Tokenizer.from_merges([("h", "e")]).encode("he")
            [256]
        """
        chars = bytes_to_unicode()
        vocab = {c: i for i, c in enumerate(sorted(chars.values()))}
        for a, b in merges:
            vocab[a + b] = len(vocab)
        vocab["<|endoftext|>"] = len(vocab)
        return cls(vocab, list(merges))

    def _bpe(self, chunk: str) -> list[str]:
        """Merge the lowest-ranked adjacent pair (everywhere) until no pair has a rank."""
        if chunk not in self._cache:
            parts = list(chunk)
            while len(parts) > 1:
                rank, i = min((self.ranks.get(p, math.inf), i)
                              for i, p in enumerate(zip(parts, parts[1:])))
                if rank == math.inf:
                    break
                parts = _merge(parts, (parts[i], parts[i + 1]))
            self._cache[chunk] = parts
        return self._cache[chunk]

    def encode(self, text: str, allowed_special="none_raise") -> list[int]:
        """Text -> ids; "<|endoftext|>" becomes its id only with allowed_special="all"."""
        specials = self.special_tokens if allowed_special == "all" else {}
        pieces = regex.split("(" + "|".join(map(regex.escape, specials)) + ")",
                             text) if specials else [text]
        ids = []
        for piece in pieces:
            if piece in specials:
                ids.append(specials[piece])
                continue
            for chunk in self.pattern.findall(piece):
                mapped = "".join(self.byte_char[b] for b in chunk.encode("utf-8"))
                ids.extend(self.encoder[t] for t in self._bpe(mapped))
        return ids

    def decode(self, ids) -> str:
        data = bytes(self.char_byte[c] for i in ids for c in self.decoder[int(i)])
        return data.decode("utf-8", errors="replace")


def _merge(parts, pair):
    """Every adjacent occurrence of pair, left to right, joined into one string."""
    out, i = [], 0
    while i < len(parts):
        if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
            out.append(parts[i] + parts[i + 1])
            i += 2
        else:
            out.append(parts[i])
            i += 1
    return out


def load_gpt2_tokenizer(path) -> GPT2Tokenizer:
    """GPT-2's tokenizer from a folder holding vocab.json and merges.txt; `tok.folder`
    remembers the folder (a checkpoint stores it, tinytx.checkpoint.record).

    Raises FileNotFoundError for a missing file, ValueError naming the file (and line)
    for one that is not UTF-8, not JSON, or does not hold what GPT-2's files hold.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    for f in (vocab, merges):
        if not f.is_file():
            raise FileNotFoundError(f"path: expected GPT-2's vocab.json and merges.txt in "
                                    f"{str(folder)!r}, but {f.name} is missing")
    encoder = _read_vocab(vocab)
    tok = GPT2Tokenizer(encoder, _read_merges(merges, encoder))
    tok.folder = str(folder.resolve())          # where it came from, for checkpoints
    return tok


def _read_vocab(path: Path) -> dict[str, int]:
    """vocab.json: {token: id}, with a token for each of the 256 byte characters."""
    encoder = read_json(path, "GPT-2's vocab.json {token: id}")
    for token, i in encoder.items():
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise ValueError(f"{path}: expected {{token: id}} with int ids >= 0, got "
                             f"{token!r}: {i!r}")
    missing = [c for c in bytes_to_unicode().values() if c not in encoder]
    if missing:
        raise ValueError(f"{path}: expected a token for each of the 256 byte characters, "
                         f"got none for {missing[:8]}")
    return encoder


def _read_merges(path: Path, encoder: dict) -> list[tuple[str, str]]:
    """merges.txt: one "a b" per line, in rank order, each a + b a token of vocab.json."""
    pairs = []
    for lineno, line in enumerate(read_text(path, "GPT-2's merges.txt").splitlines(), 1):
        if not line.strip() or line.startswith("#version"):
            continue
        pair = tuple(line.split(" "))
        if len(pair) != 2 or not all(pair) or pair[0] + pair[1] not in encoder:
            raise ValueError(f"{path}: line {lineno}: expected a merge 'a b' whose "
                             f"a + b is in vocab.json, got {line[:80]!r}")
        pairs.append(pair)
    return pairs


# -- writing back: Hugging Face's files --------------------------------------------------------

def tokenizer_files(tok: GPT2Tokenizer) -> tuple[str, str]:
    """(vocab.json text, merges.txt text) as in Hugging Face's gpt2 repository."""
    order = sorted(tok.ranks, key=tok.ranks.get)
    merges = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in order)
    return json.dumps(tok.encoder, ensure_ascii=False), merges
