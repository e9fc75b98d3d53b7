"""Tokenizer speed and compression on Don Quixote (lesson 05, report chapter 4).

    python bench/tokenizer.py                      # ../shared/data/quixote.txt
    python bench/tokenizer.py --data quixote.txt --vocab-sizes 1024 4096

Prints, for tinytx's RegexTokenizer (GPT-4 split):
  * training time on the whole book for each vocabulary size (24540 is the
    report's);
  * encode throughput in MB/s (cold: every distinct chunk is BPE'd once; warm:
    every chunk is a cache hit) and decode throughput, one thread;
  * bytes per token on the held-out last 10% when trained on the first 90%.
If tiktoken and/or HF tokenizers are installed, the same figures for them:
tiktoken gets tinytx's own 24540-token vocabulary (it cannot download
cl100k here), so both encode with identical merges; HF trains its own BPE
with the same split. Both are limited to one thread.
"""
import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # HF tokenizers: one thread, like us

from tinytx.data import load_text  # noqa: E402
from tinytx.tokenizer import GPT4_SPLIT_PATTERN, RegexTokenizer  # noqa: E402

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
    tok = trained[max(sizes)]

    def encode_cold():
        tok._cache.clear()  # every distinct chunk is BPE'd once
        return tok.encode_ordinary(book)

    cold, ids = best_of(encode_cold)
    warm, _ = best_of(lambda: tok.encode_ordinary(book))
    dec, text = best_of(lambda: tok.decode(ids))
    assert text == book
    print(f"  encode (vocab {max(sizes)}): {mb / cold:6.2f} MB/s cold cache, "
          f"{mb / warm:6.2f} MB/s warm cache; decode {mb / dec:6.1f} MB/s")
    held_bytes = len(held.encode("utf-8"))
    for v in sizes:
        tok = RegexTokenizer()
        tok.train(train, v)
        n = len(tok.encode_ordinary(held))
        print(f"  bytes/token, held-out 10%, vocab {v:>6}: {held_bytes / n:.3f}")
    return trained[max(sizes)], ids


def tiktoken_figures(tok, book, ours):
    try:
        import tiktoken
    except ImportError:
        print("tiktoken: not installed (pip install tiktoken to compare)")
        return
    ranks = {}
    for idx, token in sorted(tok.vocab.items()):
        ranks.setdefault(token, idx)  # BPE can make the same bytes twice; tiktoken keeps one
    enc = tiktoken.Encoding("tinytx-quixote", pat_str=GPT4_SPLIT_PATTERN,
                            mergeable_ranks=ranks, special_tokens={})
    mb = len(book.encode("utf-8")) / 1e6
    sec, ids = best_of(lambda: enc.encode_ordinary(book))
    dec, _ = best_of(lambda: enc.decode(ids))
    same = "identical ids" if ids == ours else f"{len(ids)} vs {len(ours)} tokens"
    print(f"tiktoken {tiktoken.__version__} with tinytx's vocab {len(tok.vocab)} "
          f"({len(tok.vocab) - len(ranks)} duplicate byte strings dropped), one thread:")
    print(f"  encode {mb / sec:6.2f} MB/s; decode {mb / dec:6.1f} MB/s; {same}")


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
    parser.add_argument("--no-compare", action="store_true", help="skip tiktoken and HF")
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(f"--data: no such file {str(args.data)!r}")
    book = load_text(args.data)  # BOM, Gutenberg header and footer removed
    cut = int(len(book) * 0.9)
    train, held = book[:cut], book[cut:]
    tok, ids = tinytx_figures(book, train, held, args.vocab_sizes)
    if not args.no_compare:
        tiktoken_figures(tok, book, ids)
        hf_figures(book, train, held, args.vocab_sizes)


if __name__ == "__main__":
    main()
