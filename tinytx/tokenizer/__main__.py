"""Command line for the tokenizers: train, encode, decode.

Lesson 06 "Tokenization" (report chapter 4).

    python -m tinytx.tokenizer train --data quixote.txt --vocab-size 4096 --out quixote
    python -m tinytx.tokenizer encode --model quixote.model --text "Don Quixote"
    echo "Don Quixote" | python -m tinytx.tokenizer encode --model quixote.model
    python -m tinytx.tokenizer decode --model quixote.model --ids "776 404"

``train`` writes PREFIX.model and PREFIX.vocab; ``encode`` prints the ids on
one line, separated by spaces; ``decode`` prints the text exactly (no newline
is added).
"""
import argparse
import os
import sys
import time

from ..files import read_text
from . import BasicTokenizer, GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, RegexTokenizer, load

PATTERNS = {"gpt4": GPT4_SPLIT_PATTERN, "gpt2": GPT2_SPLIT_PATTERN}


def main(argv=None):
    """Run the command line; returns the exit status (0 when all went well)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError, TypeError) as e:
        parser.exit(2, f"{parser.prog} {args.command}: error: {e}\n")


def _train(args):
    text = _read_file(args.data, "--data")
    if args.basic:
        tok = BasicTokenizer()
    else:
        tok = RegexTokenizer(PATTERNS.get(args.pattern, args.pattern))
    if args.special:
        tok.register_special_tokens({s: args.vocab_size + k for k, s in enumerate(args.special)})
    start = time.perf_counter()
    tok.train(text, args.vocab_size, verbose=args.verbose, progress=not args.quiet)
    seconds = time.perf_counter() - start
    tok.save(args.out)
    print(f"trained {len(tok.merges)} merges on {len(text.encode('utf-8')):,} bytes in "
          f"{seconds:.2f} s; wrote {args.out}.model and {args.out}.vocab", file=sys.stderr)
    return 0


def _encode(args):
    tok = load(_check_file(args.model, "--model"))
    text = sys.stdin.read() if args.text is None else args.text
    allowed = args.allowed_special
    if allowed not in ("all", "none", "none_raise"):
        allowed = set(allowed.split(","))
    print(" ".join(map(str, tok.encode(text, allowed_special=allowed))))
    return 0


def _decode(args):
    tok = load(_check_file(args.model, "--model"))
    raw = sys.stdin.read() if args.ids is None else args.ids
    try:
        ids = [int(x) for x in raw.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"--ids: expected integers separated by spaces, "
                         f"got {raw[:80]!r}") from None
    sys.stdout.write(tok.decode(ids))
    sys.stdout.flush()
    return 0


def _check_file(path, flag):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{flag}: no such file {path!r}")
    return path


def _read_file(path, flag):
    """The text of a UTF-8 file, a BOM dropped and line ends made "\\n" (as open() does)."""
    text = read_text(_check_file(path, flag), f"a text file for {flag}")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _parser():
    parser = argparse.ArgumentParser(prog="python -m tinytx.tokenizer",
                                     description="Byte-level BPE tokenizers (lesson 06).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="learn merges from a UTF-8 text file")
    p.add_argument("--data", required=True, help="the training text (UTF-8 file)")
    p.add_argument("--vocab-size", type=int, required=True, help="tokens wanted, >= 256")
    p.add_argument("--out", required=True, help="writes OUT.model and OUT.vocab")
    p.add_argument("--pattern", default="gpt4",
                   help="split regex: gpt4 (default), gpt2 or a regex of your own")
    p.add_argument("--basic", action="store_true", help="no split (BasicTokenizer)")
    p.add_argument("--special", nargs="*", default=[],
                   help="special tokens, given ids vocab_size, vocab_size + 1, ...")
    p.add_argument("--verbose", action="store_true", help="print every merge")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_train)

    p = sub.add_parser("encode", help="print the ids of a text")
    p.add_argument("--model", required=True, help="a .model file written by train")
    p.add_argument("--text", help="the text (default: read standard input)")
    p.add_argument("--allowed-special", default="none_raise",
                   help="all, none, none_raise (default) or a comma-separated list")
    p.set_defaults(run=_encode)

    p = sub.add_parser("decode", help="print the text of some ids")
    p.add_argument("--model", required=True, help="a .model file written by train")
    p.add_argument("--ids", help="ids separated by spaces (default: read standard input)")
    p.set_defaults(run=_decode)
    return parser


if __name__ == "__main__":
    sys.exit(main())
