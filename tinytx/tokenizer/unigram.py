"""SentencePiece's unigram tokenizer (T5's spiece.model), read and run without the package.

Introduced in lesson 13 (T5; docs/finetuning.md §6). A unigram model is a list of pieces,
each with a log-probability score. Encoding a text picks the segmentation whose pieces'
scores sum highest (Viterbi over the characters: best[i] = max over pieces p ending at i
of best[i - len(p)] + score(p)); a character no piece covers becomes the unknown piece.
Before that the text is normalised as SentencePiece does by default: Unicode NFKC,
runs of whitespace made one space, the ends stripped, one space put in front ("dummy
prefix"), and every space written "▁" (U+2581), so pieces carry their leading space.

spiece.model is a protocol-buffer message (sentencepiece_model.proto); only these fields
are read, by a small decoder of the wire format (varint, 32-bit and length-delimited
fields):

    ModelProto      1: pieces (repeated SentencePiece)   2: trainer_spec   3: normalizer_spec
    SentencePiece   1: piece (string)   2: score (float)   3: type (1 normal, 2 unknown,
                    3 control, 4 user-defined, 5 unused, 6 byte)
    TrainerSpec     3: model_type (1 = unigram)
    NormalizerSpec  3: add_dummy_prefix (default true)   4: remove_extra_whitespaces (true)

Why by hand and not the `sentencepiece` package: the format is ~40 lines to read and the
Viterbi search ~20, both worth seeing; tests write a tiny model file themselves. The
precompiled normaliser table of real models (T5's nmt_nfkc also maps a few control
characters) is approximated by NFKC, which agrees on ordinary text.

    >>> tok = UnigramTokenizer([("<pad>", 0.0, 3), ("</s>", 0.0, 3), ("<unk>", 0.0, 2),
    ...                         ("▁the", -1.0, 1), ("▁", -2.0, 1), ("t", -3.0, 1),
    ...                         ("h", -3.0, 1), ("e", -3.0, 1)])
    >>> tok.encode("the the")
    [3, 3]
    >>> tok.decode([3, 3, 1])
    'the the'
"""
from __future__ import annotations

import re
import struct
import unicodedata
from pathlib import Path

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
SPACE = "\u2581"     # ▁


# -- the protocol-buffer wire format ----------------------------------------------------------

def read_varint(data: bytes, i: int) -> tuple[int, int]:
    """(value, next position) of the base-128 varint at data[i]."""
    value = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("spiece.model: truncated varint")
        b = data[i]
        value |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if b < 0x80:
            return value, i


def read_fields(data: bytes):
    """Yield (field number, value) of a message: ints for varints, bytes for 32-bit and
    length-delimited fields (64-bit fields are skipped)."""
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            n, i = read_varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"spiece.model: unsupported wire type {wire} (field {field})")
        if i > len(data):
            raise ValueError(f"spiece.model: field {field} runs past the end of the data")
        yield field, value


def parse_model(data: bytes) -> tuple[list[tuple[str, float, int]], dict]:
    """spiece.model's bytes -> ([(piece, score, type)], {model_type, add_dummy_prefix,
    remove_extra_whitespaces})."""
    pieces, spec = [], {"model_type": 1, "add_dummy_prefix": True,
                        "remove_extra_whitespaces": True}
    for field, value in read_fields(data):
        if field == 1:
            f = dict(read_fields(value))
            score = struct.unpack("<f", f[2])[0] if 2 in f else 0.0
            pieces.append((f.get(1, b"").decode("utf-8"), score, f.get(3, NORMAL)))
        elif field == 2:
            spec["model_type"] = dict(read_fields(value)).get(3, 1)
        elif field == 3:
            f = dict(read_fields(value))
            spec["add_dummy_prefix"] = bool(f.get(3, 1))
            spec["remove_extra_whitespaces"] = bool(f.get(4, 1))
    return pieces, spec


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload) -> bytes:
    """One field: a varint (wire 0), 4 raw bytes (wire 5) or length-delimited (wire 2)."""
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(payload)
    return key + (payload if wire == 5 else _varint(len(payload)) + payload)


def write_model(path, pieces, model_type: int = 1):
    """Write [(piece, score, type)] as a spiece.model (unigram unless model_type says
    otherwise; NFKC normaliser with the dummy prefix) — the fields parse_model reads."""
    body = b"".join(_field(1, 2, _field(1, 2, p.encode("utf-8")) + _field(
        2, 5, struct.pack("<f", s)) + _field(3, 0, t)) for p, s, t in pieces)
    body += _field(2, 2, _field(3, 0, model_type))                        # trainer_spec
    body += _field(3, 2, _field(1, 2, b"nmt_nfkc") + _field(3, 0, 1) + _field(4, 0, 1))
    Path(path).write_bytes(body)
    return Path(path)


# -- the tokenizer -----------------------------------------------------------------------------

class UnigramTokenizer:
    """encode/decode with a SentencePiece unigram model (ids = positions in the list).

    Args:
        pieces: [(piece, score, type)] in id order.
        add_dummy_prefix, remove_extra_whitespaces: the normaliser's switches.
    """

    def __init__(self, pieces, add_dummy_prefix=True, remove_extra_whitespaces=True):
        self.pieces = [(p, float(s), int(t)) for p, s, t in pieces]
        self.add_dummy_prefix = add_dummy_prefix
        self.remove_extra_whitespaces = remove_extra_whitespaces
        self.ids = {p: i for i, (p, _, t) in enumerate(self.pieces)
                    if t in (NORMAL, USER_DEFINED)}
        self.longest = max((len(p) for p in self.ids), default=1)
        self.unk_id = next((i for i, (_, _, t) in enumerate(self.pieces) if t == UNKNOWN),
                           None)
        scores = [s for _, s, t in self.pieces if t == NORMAL]
        self.unk_score = min(scores, default=0.0) - 10.0     # SentencePiece's penalty

    @classmethod
    def load(cls, path) -> "UnigramTokenizer":
        """The tokenizer of a spiece.model file; a ValueError names the file if the bytes
        are not a unigram SentencePiece model (truncated, a field of the wrong type)."""
        try:
            pieces, spec = parse_model(Path(path).read_bytes())
        except (ValueError, TypeError, AttributeError, struct.error) as e:
            # any bytes reach the decoder: a field may be a number where text belongs
            raise ValueError(f"{path}: not a SentencePiece model file ({e})") from None
        if spec["model_type"] != 1:
            raise ValueError(f"{path}: model_type {spec['model_type']} is not a unigram "
                             f"model (1); only unigram models (T5's) are supported")
        if not pieces or not all(isinstance(t, int) for _, _, t in pieces):
            raise ValueError(f"{path}: no pieces found (or a piece whose type is not a "
                             f"number); not a SentencePiece model file")
        return cls(pieces, spec["add_dummy_prefix"], spec["remove_extra_whitespaces"])

    def __len__(self):
        return len(self.pieces)

    def normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        if self.remove_extra_whitespaces:
            text = re.sub(r"\s+", " ", text).strip()
        if self.add_dummy_prefix and text:
            text = " " + text
        return text.replace(" ", SPACE)

    def encode(self, text: str, allowed_special=None) -> list[int]:
        """Text -> ids: the best-scoring segmentation (Viterbi); uncovered characters
        become the unknown id (consecutive ones merged, as SentencePiece does)."""
        s = self.normalize(text)
        best = [0.0] + [float("-inf")] * len(s)          # best score of s[:i]
        back = [(0, None)] * (len(s) + 1)                # (start, id) of the last piece
        for end in range(1, len(s) + 1):
            for start in range(max(0, end - self.longest), end):
                i = self.ids.get(s[start:end])
                if i is not None and best[start] + self.pieces[i][1] > best[end]:
                    best[end], back[end] = best[start] + self.pieces[i][1], (start, i)
            if best[end] == float("-inf"):               # no piece ends here: unknown char
                best[end], back[end] = best[end - 1] + self.unk_score, (end - 1, self.unk_id)
        ids, end = [], len(s)
        while end > 0:
            start, i = back[end]
            if not (i == self.unk_id and ids and ids[-1] == self.unk_id):
                ids.append(i)
            end = start
        if None in ids:
            raise ValueError("encode: the text has a character no piece covers and the "
                             "model has no unknown piece")
        return ids[::-1]

    def decode(self, ids) -> str:
        """Ids -> text: control pieces (<pad>, </s>) dropped, unknown as ' ⁇ ', '▁' -> ' '.

        Ids past the pieces are T5's sentinels as Hugging Face numbers them (the last of
        100 extra ids is <extra_id_0>); ids past those (T5's embedding has unused rows)
        are dropped, like control pieces.
        """
        out, n = [], len(self.pieces)
        for i in map(int, ids):
            if i >= n:
                out.append(f"<extra_id_{n + 99 - i}>" if i < n + 100 else "")
                continue
            piece, _, kind = self.pieces[i]
            if kind == CONTROL:
                continue
            out.append(" \u2047 " if kind == UNKNOWN else piece)
        text = "".join(out).replace(SPACE, " ")
        return text[1:] if self.add_dummy_prefix and text.startswith(" ") else text
