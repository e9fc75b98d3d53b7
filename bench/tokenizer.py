"""Tokenizer speed and compression on Don Quixote (lesson 06, report chapter 4).

    python bench/tokenizer.py                      # ../shared/data/quixote.txt
    python bench/tokenizer.py --data quixote.txt --vocab-sizes 1024 4096 --no-hf
    python bench/tokenizer.py --unwrap             # the book as the main job reads it

Prints, for tinytx's RegexTokenizer (GPT-4 split):
  * training time on the whole book for each vocabulary size (24540 is the
    report's);
  * bytes per token on the held-out last 10% when trained on the first 90%;
  * encode throughput of the whole book in MB/s, cold cache (a fresh encoder:
    every distinct word and chunk is split and BPE'd once) and warm (the same
    encoder again), interleaved run by run with tiktoken, medians, the ratios
    to tiktoken, and whether all the ids are identical (tiktoken, and BPE
    chunk by chunk with no cache); decode throughput. One thread.
tiktoken gets tinytx's own vocabulary (it cannot download cl100k here), so
both encode with identical merges. If HF tokenizers is installed, it trains
its own BPE with the same split (one thread) for the same figures.
"""
import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # HF tokenizers: one thread, like us

from tinytx.data import load_quixote, load_text  # noqa: E402
from tinytx.tokenizer import GPT4_SPLIT_PATTERN, RegexTokenizer  # noqa: E402
from tinytx.tokenizer.bpe import encode_bytes  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "quixote.txt"


def best_of(fn, repeat=3):
    """The fastest of ``repeat`` runs, in seconds, and the last result."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def tinytx_figures(book, train, held, sizes):
    mb = len(book.encode("utf-8")) / 1e6
    print(f"tinytx RegexTokenizer (GPT-4 split), one thread, {mb:.2f} MB book")
    trained = {}
    for v in sizes:
        tok = RegexTokenizer()
        t = time.perf_counter()
        tok.train(book, v)
        print(f"  train vocab {v:>6}: {time.perf_counter() - t:6.2f} s")
        trained[v] = tok
    held_bytes = len(held.encode("utf-8"))
    for v in sizes:
        tok = RegexTokenizer()
        tok.train(train, v)
        n = len(tok.encode_ordinary(held))
        print(f"  bytes/token, held-out 10%, vocab {v:>6}: {held_bytes / n:.3f}")
    return trained[max(sizes)]


def tiktoken_encoding(tok):
    """tiktoken with tinytx's merges and split pattern, or None if it is not installed."""
    try:
        import tiktoken
    except ImportError:
        print("tiktoken: not installed (pip install tiktoken to compare)")
        return None
    ranks = {}
    for idx, token in sorted(tok.vocab.items()):
        ranks.setdefault(token, idx)  # BPE could make the same bytes twice; tiktoken keeps one
    dropped = len(tok.vocab) - len(ranks)
    print(f"tiktoken {tiktoken.__version__} with tinytx's vocab {len(tok.vocab)}"
          + (f" ({dropped} duplicate byte strings dropped)" if dropped else ""))
    return tiktoken.Encoding("tinytx-quixote", pat_str=GPT4_SPLIT_PATTERN,
                             mergeable_ranks=ranks, special_tokens={})


def encode_figures(tok, book, repeat):
    """Encode and decode MB/s, tinytx and tiktoken interleaved run by run (medians).

    Cold: a fresh encoder (empty caches: every distinct word and chunk is split
    and BPE'd once); warm: the caches of the cold run before it.
    """
    enc = tiktoken_encoding(tok)
    mb = len(book.encode("utf-8")) / 1e6
    times = {"tinytx, cold cache": [], "tinytx, warm cache": [], "tiktoken": []}
    for _ in range(repeat):
        tok._rebuild()  # a new encoder: empty caches
        sec, ids = timed(lambda: tok.encode_ordinary(book))
        times["tinytx, cold cache"].append(sec)
        if enc is not None:
            sec, tt_ids = timed(lambda: enc.encode_ordinary(book))
            times["tiktoken"].append(sec)
        sec, warm_ids = timed(lambda: tok.encode_ordinary(book))
        times["tinytx, warm cache"].append(sec)
    base = statistics.median(times["tiktoken"]) if enc is not None else None
    print(f"encode the whole book ({mb:.2f} MB), one thread, median of {repeat} interleaved "
          f"runs:")
    print(f"  {'':20s} {'MB/s':>7s} {'vs tiktoken':>12s}")
    for name, secs in times.items():
        if secs:
            sec = statistics.median(secs)
            ratio = f"{base / sec:11.2f}x" if base else ""
            print(f"  {name:20s} {mb / sec:7.2f} {ratio:>12s}")
    dec, text = best_of(lambda: tok.decode(ids))
    assert text == book
    line = f"  decode: tinytx {mb / dec:6.1f} MB/s"
    if enc is not None:
        tt_dec, _ = best_of(lambda: enc.decode(tt_ids))
        line += f", tiktoken {mb / tt_dec:6.1f} MB/s"
    print(line)
    chunk_by_chunk = [i for chunk in tok._split(book)
                      for i in encode_bytes(chunk.encode("utf-8"), tok.merges)]
    print(f"  identical ids: {ids == chunk_by_chunk == warm_ids} (tinytx cold, warm and BPE "
          f"chunk by chunk)" + ("" if enc is None else f", {ids == tt_ids} (tiktoken)"))


def hf_figures(book, train, held, sizes):
    try:
        import tokenizers
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError:
        print("HF tokenizers: not installed (pip install tokenizers to compare)")
        return
    # Oniguruma reads "{1,3}+" as "({1,3})+", not as possessive; a complete
    # alternative never backtracks anyway, so plain {1,3} splits identically
    pattern = GPT4_SPLIT_PATTERN.replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")

    def make(text, v):
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tk.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=v, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tk.train_from_iterator([text], trainer)
        return tk

    print(f"HF tokenizers {tokenizers.__version__} BPE (same split, byte level), "
          f"RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}:")
    for v in sizes:
        t = time.perf_counter()
        tk = make(book, v)
        print(f"  train vocab {v:>6}: {time.perf_counter() - t:6.2f} s")
    mb = len(book.encode("utf-8")) / 1e6
    sec, enc = best_of(lambda: tk.encode(book, add_special_tokens=False))
    dec, text = best_of(lambda: tk.decode(enc.ids))
    print(f"  encode (vocab {max(sizes)}): {mb / sec:6.2f} MB/s; decode {mb / dec:6.1f} MB/s"
          f"{'' if text == book else ' (decode differs from the text!)'}")
    held_bytes = len(held.encode("utf-8"))
    for v in sizes:
        n = len(make(train, v).encode(held, add_special_tokens=False).ids)
        print(f"  bytes/token, held-out 10%, vocab {v:>6}: {held_bytes / n:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a Gutenberg text file")
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[1024, 4096, 24540])
    parser.add_argument("--repeat", type=int, default=7, help="encode runs per side (>= 5)")
    parser.add_argument("--no-hf", action="store_true", help="skip HF tokenizers (slow)")
    parser.add_argument("--unwrap", action="store_true",
                        help="the book as examples/train_quixote.py reads it (load_quixote: "
                             "hard line wraps undone, one line per paragraph)")
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(f"--data: no such file {str(args.data)!r}")
    # BOM, Gutenberg header and footer removed; with --unwrap also the line wraps
    book = load_quixote(args.data, progress=False) if args.unwrap else load_text(args.data)
    cut = int(len(book) * 0.9)
    train, held = book[:cut], book[cut:]
    tok = tinytx_figures(book, train, held, args.vocab_sizes)
    encode_figures(tok, book, args.repeat)
    if not args.no_hf:
        hf_figures(book, train, held, args.vocab_sizes)


if __name__ == "__main__":
    main()
