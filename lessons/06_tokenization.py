# %%
r"""Lesson 06 — Tokenization: byte-level BPE with the GPT-4 split (report chapter 4).

A transformer reads integers, so text must first become a list of token ids. Byte-level
BPE starts from the 256 byte values and repeatedly merges the most frequent adjacent
pair into a new token; GPT-4 first cuts the text into chunks with a regular expression
so that no merge crosses a word, number or punctuation boundary. The vocabulary size V
trades sequence length against model size. With tinytx.tokenizer, this lesson shows:

  1. BPE merge by merge on the Wikipedia example "aaabdaaabac" and on the book's first
     sentence (pair counts, the chosen merge, the text after it), checked against
     BasicTokenizer;
  2. the GPT-4 split pattern alternative by alternative: which chunks each of its eight
     alternatives cuts from a sentence built to need all of them;
  3. vocabulary size against sequence length: RegexTokenizers with V = 256 ... 8192
     trained on the first 90% of Don Quixote and measured on the held-out 10% (tokens,
     bytes per token, and the size of the embedding table a model would need);
  4. the Quixote tokenizer at work on a sentence from the report, token by token;
  5. The report says / we measured: the report's BPE training loop run with each of its
     four slips (three stop with an error, one decodes wrongly) and fixed (the same merges
     as RegexTokenizer); its regex table's readings of '?+' and '\s+(?!\S)', tested.

The derivations (and why the fast trainer learns exactly the report's merges) are in
docs/tokenization.md; the code is in tinytx/tokenizer/.

Run:
    python lessons/06_tokenization.py                  # the whole book
    python lessons/06_tokenization.py --smoke          # a few paragraphs, for the tests
    python lessons/06_tokenization.py --data=pg996.txt --vocab_sizes=256,1024,24540
The book is fetched from Project Gutenberg once and cached; offline, pass a local copy
with --data=PATH or put it at $TINYTX_DATA_DIR/quixote.txt.

Expected output (abridged; the full run's output is lessons/expected/06_tokenization.txt;
every number is measured by the run):
    1. BPE merge by merge on 'aaabdaaabac' (the Wikipedia example)
       round 1: 'a'+'a'=4  'a'+'b'=2  'b'+'d'=1  'd'+'a'=1  ->  'a'+'a' becomes 256 'aa', 9 tokens
       ...
    2. The GPT-4 split pattern, alternative by alternative (8 of them)
       3. \p{N}{1,3}+                    '160'  '5'  '123'  '45'
       ...
    3. Vocabulary size against sequence length (... held out: the last 10%, 232,332 bytes)
            V  merges  train s  held-out tokens  bytes/token  wte (V x 384)  longest token
          256       0     0.17          232,332         1.00         98,304  (bytes only)
          ...
         8192    7936     0.62           54,459         4.27      3,145,728  ' accomplishments'
    4. The Quixote tokenizer (V=4096) on a sentence from the report
       "My name is Hallvard, and I'm a student.": 39 bytes -> 16 tokens
       tokens [My][ name][ is][ H][all][v][ard][,][ and][ I]['][m][ a][ stud][ent][.]
    saved out/lessons/06/vocab_vs_length.png
    5. The report says / we measured
       zip(ids...) for zip(chunk_ids...)   -> TypeError: unhashable type: 'list'
       counts where it means stats         -> NameError: name 'counts' is not defined
       merges[pair] = i, not 256 + i       -> runs, but the round trip gives the text back: False
       no initial vocabulary               -> KeyError: 32
       fixed: the same 64 merges as tinytx's RegexTokenizer: True; round trip True

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 2 s.

Exercises (your code goes in lessons/exercises/tokenization.py; check it with
`python -m lessons.check tokenization`; our answers are in lessons/solutions/tokenization.py)
  1. Implement `pair_counts(chunks)`, the pair counts of section 5's loop over chunks
     when each distinct chunk is read once and weighted by how often it occurs (as
     tinytx's trainer does), and `merge(ids, pair, idx)`; checked against
     tinytx.tokenizer.bpe.
  2. Implement `encode(text, merges)`: section 1 trains the merges; this is the other
     half, cutting new text with them (from its bytes, with pair_counts and merge); the
     check compares it with BasicTokenizer.encode.
  3. Predict, then run: an encode that merges, each round, the most frequent pair of the
     text (among the merges) instead of the merge learned first. With 44 merges learned
     from the book's opening (BasicTokenizer().train(tinytx.data.OPENING, 300)), how do
     the two cut 'mind,'? Make that change in your encode and read the check's message.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import matplotlib.pyplot as plt
import regex

from tinytx.course import load_book, save_figure, setup, show_tokens
from tinytx.data import train_val_split
from tinytx.tokenizer import (GPT4_SPLIT_PATTERN, BasicTokenizer, RegexTokenizer,
                              get_stats, merge, render_token, train_merges)


@dataclass
class Config:
    data: str = ""                                # a local copy of the book ("" = cache/download)
    out_dir: str = "out/lessons/06"
    vocab_sizes: str = "256,512,1024,4096,8192"   # section 3, comma-separated
    show_vocab: int = 4096                        # section 4: the tokenizer to show off
    merge_rounds: int = 8                         # section 1: merges shown on the sentence
    sentence: str = "My name is Hallvard, and I'm a student."   # one of the report's prompts
    smoke: bool = False                           # a few paragraphs and small vocabularies


SMOKE = dict(vocab_sizes="256,300,400,512")   # --smoke: a few paragraphs, for the tests

# A sentence that needs every one of the eight alternatives of the GPT-4 pattern.
SPLIT_DEMO = ("\"I'LL ride,\" said Don Quixote in 1605 -- 12345 leagues...\n\n"
              "Don't   go  \nnow!   ")


def pair_text(pair, vocab):
    """A pair of ids as 'a'+'b'."""
    return "+".join(f"'{render_token(vocab[i])}'" for i in pair)


# %%
# -- 1. BPE merge by merge ----------------------------------------------------------------
def bpe_by_hand(text, rounds, top=4, width=100):
    """The report's loop with get_stats and merge, printing each round; returns merges."""
    ids = list(text.encode("utf-8"))
    vocab = {i: bytes([i]) for i in range(256)}
    merges = {}
    print(f"   start: {len(ids)} tokens (the UTF-8 bytes)")
    for r in range(rounds):
        counts = get_stats(ids)
        if not counts:
            break
        pair = max(counts, key=counts.get)   # the most frequent; ties: the pair seen first
        new = 256 + r
        ids = merge(ids, pair, new)
        merges[pair] = new
        vocab[new] = vocab[pair[0]] + vocab[pair[1]]
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:top]   # stable: ties keep order
        shown = "  ".join(f"{pair_text(p, vocab)}={n}" for p, n in best)
        print(f"   round {r + 1}: {shown}  ->  {pair_text(pair, vocab)} becomes {new} "
              f"'{render_token(vocab[new])}', {len(ids)} tokens")
        rendered = show_tokens(vocab, ids)
        print(f"            {rendered[:width]}{' ...' if len(rendered) > width else ''}")
    return merges


def section_bpe(cfg, book):
    print("1. BPE merge by merge on 'aaabdaaabac' (the Wikipedia example)")
    merges = bpe_by_hand("aaabdaaabac", 3)
    tok = BasicTokenizer()
    tok.train("aaabdaaabac", 256 + 3)
    print(f"   BasicTokenizer learns the same merges: {tok.merges == merges}; "
          f"encode -> {tok.encode('aaabdaaabac')}")
    start = max(book.find("In a village of La Mancha"), 0)   # past the front matter
    first = book[start:book.index(".", start) + 1].replace("\n", " ")
    print(f"\n   and on the book's first sentence ({len(first)} characters, one chunk):")
    print(f"   {first!r}")
    merges = bpe_by_hand(first, cfg.merge_rounds)
    tok = BasicTokenizer()
    tok.train(first, 256 + len(merges))
    print(f"   BasicTokenizer learns the same merges: {tok.merges == merges}")
    glued = [render_token(tok.vocab[i]) for i in merges.values() if b" " in tok.vocab[i][1:]]
    print(f"   Without a split, merges glue the end of one word to the start of the next "
          f"({', '.join(repr(g) for g in glued) or 'none this time'}):\n"
          f"   the regex split of section 2 forbids that.")


# %%
# -- 2. the GPT-4 split, alternative by alternative ----------------------------------------
def alternatives(pattern):
    """Split a regex at its top-level '|' (outside groups, classes and escapes)."""
    parts, depth, in_class, escaped, start = [], 0, False, False, 0
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    return parts + [pattern[start:]]


def section_split(cfg):
    alts = alternatives(GPT4_SPLIT_PATTERN)
    print(f"\n2. The GPT-4 split pattern, alternative by alternative ({len(alts)} of them)")
    print(f"   sentence: {SPLIT_DEMO!r}")
    # One capturing group around each alternative: the same matches, and the group that
    # took part tells which alternative the engine chose (the first that matches).
    tagged = regex.compile("|".join(f"({a})" for a in alts))
    found = {k: [] for k in range(1, len(alts) + 1)}
    chunks = []
    for m in tagged.finditer(SPLIT_DEMO):
        found[m.lastindex].append(m.group())
        chunks.append(m.group())
    assert chunks == regex.findall(GPT4_SPLIT_PATTERN, SPLIT_DEMO)  # grouping changed nothing
    for k, alt in enumerate(alts, 1):
        shown = "  ".join(repr(c) for c in found[k]) or "(nothing here)"
        print(f"   {k}. {alt:<30} {shown}")
    print(f"   all chunks in order ({len(chunks)}): " + "|".join(repr(c)[1:-1] for c in chunks))


# %%
# -- 3. vocabulary size against sequence length -------------------------------------------
def section_sizes(cfg, book, sizes):
    train_text, held = train_val_split(book, 0.1)
    held_bytes = len(held.encode("utf-8"))
    print(f"\n3. Vocabulary size against sequence length (trained on the first 90%, "
          f"{len(train_text.encode('utf-8')):,} bytes;\n   held out: the last 10%, "
          f"{held_bytes:,} bytes)")
    chunks = {c.encode("utf-8"): n for c, n in Counter(regex.findall(GPT4_SPLIT_PATTERN,
                                                                     train_text)).items()}
    first = [next_merge for _, next_merge in zip(range(10), train_merges(chunks))]
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), idx, _ in first:
        vocab[idx] = vocab[a] + vocab[b]
    print("   the first merges on the book: " + ", ".join(
        f"'{render_token(vocab[idx])}' ({n:,})" for _, idx, n in first))
    print(f"   {'V':>6} {'merges':>7} {'train s':>8} {'held-out tokens':>16} "
          f"{'bytes/token':>12} {'wte (V x 384)':>14}  longest token")
    rows, toks = [], {}
    for v in sizes:
        tok = RegexTokenizer()
        t0 = time.perf_counter()
        tok.train(train_text, v)
        secs = time.perf_counter() - t0
        n = len(tok.encode_ordinary(held))
        longest = max(tok.vocab.values(), key=len) if tok.merges else None
        rows.append((v, n, held_bytes / n))
        toks[v] = tok
        print(f"   {v:>6} {len(tok.merges):>7} {secs:>8.2f} {n:>16,} {held_bytes / n:>12.2f} "
              f"{v * 384:>14,}  " + (f"'{render_token(longest)}'" if longest else "(bytes only)"))
    print("   wte (V x 384): the token-embedding table a model with n_embd=384 (the report's "
          "companion\n   repository) needs; its output layer lm_head is as big again.")
    return rows, toks


def plot_sizes(rows, path):
    v, n, bpt = zip(*rows)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(v, n, "o-")
    ax1.set(xscale="log", xlabel="vocabulary size V", ylabel="tokens",
            title="the held-out 10%: length in tokens")
    ax2.plot(v, bpt, "o-", color="C1")
    ax2.set(xscale="log", xlabel="vocabulary size V", ylabel="bytes per token",
            title="bytes per token (compression)")
    for ax in (ax1, ax2):
        ax.set_xticks(v, [str(x) for x in v])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


# %%
# -- 4. the Quixote tokenizer at work -------------------------------------------------------
def section_encode(cfg, book, toks):
    v = max((s for s in toks if s <= cfg.show_vocab), default=max(toks))
    tok = toks[v]
    print(f"\n4. The Quixote tokenizer (V={v}) on a sentence from the report")
    for text in (cfg.sentence, "Sancho Panza rode his ass behind Rocinante."):
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        print(f"   {text!r}: {len(text.encode('utf-8'))} bytes -> {len(ids)} tokens")
        print(f"   ids    {ids}")
        print(f"   tokens {show_tokens(tok.vocab, ids)}")
    print(f"   (\"'m\" stays two tokens: the book writes the apostrophe as ’ "
          f"{book.count('’'):,} times and as ' {book.count(chr(39)):,} times)")


# %%
# -- 5. the report says / we measured ------------------------------------------------------
# The report's BPE training loop (minbpe's RegexTokenizer.train), here without its slips.
LISTING = """
chunks = regex.findall(pattern, text)
ids = [list(ch.encode("utf-8")) for ch in chunks]
merges = {}
vocab = {idx: bytes([idx]) for idx in range(256)}
for i in range(num_merges):
    stats = {}
    for chunk_ids in ids:
        for pair in zip(chunk_ids, chunk_ids[1:]):
            stats[pair] = stats.get(pair, 0) + 1
    pair = max(stats, key=stats.get)
    idx = 256 + i
    ids = [merge(chunk_ids, pair, idx) for chunk_ids in ids]
    merges[pair] = idx
    vocab[idx] = vocab[pair[0]] + vocab[pair[1]]
"""
# The report's four slips: (what it prints, the correct line, the line as the report has it)
SLIPS = [("zip(ids...) for zip(chunk_ids...)", "for pair in zip(chunk_ids, chunk_ids[1:]):",
          "for pair in zip(ids, ids[1:]):"),
         ("counts where it means stats", "stats[pair] = stats.get(pair, 0) + 1",
          "counts[pair] = counts.get(pair, 0) + 1"),
         ("merges[pair] = i, not 256 + i", "idx = 256 + i", "idx = i"),
         ("no initial vocabulary", "vocab = {idx: bytes([idx]) for idx in range(256)}",
          "vocab = {}")]


def run_listing(source, text, num_merges):
    """Run a training loop's source; -> its merges, or the error it stops with."""
    env = dict(regex=regex, merge=merge, pattern=GPT4_SPLIT_PATTERN, text=text,
               num_merges=num_merges)
    try:
        exec(source, env)
    except Exception as e:                   # the slips raise TypeError, NameError, KeyError
        return f"{type(e).__name__}: {e}"
    decoded = b"".join(env["vocab"][i] for ch in env["ids"] for i in ch)
    return env["merges"], decoded == text.encode("utf-8")


def report_says(text, num_merges=64):
    print("\n5. The report says / we measured")
    print(f"   (a) the report's BPE loop, trained for {num_merges} merges, one slip at a time:")
    failed = []
    for what, right, wrong in SLIPS:
        result = run_listing(LISTING.replace(right, wrong), text, num_merges)
        failed.append(isinstance(result, str) or not result[1])
        shown = (result if isinstance(result, str) else f"runs, but the round trip gives the "
                 f"text back: {result[1]} (ids 0..{num_merges - 1} are bytes and merges)")
        print(f"       {what:35s} -> {shown[:90]}")
    merges, round_trip = run_listing(LISTING, text, num_merges)
    tok = RegexTokenizer()
    tok.train(text, 256 + num_merges)
    same = tok.merges == merges
    print(f"       fixed: the same {len(merges)} merges as tinytx's RegexTokenizer: {same}; "
          f"round trip {round_trip}")
    print("   (b) the regex table: '?+' is 'zero or one, possessive', not 'zero or more':")
    one = regex.fullmatch(r"a?+", "aa") is None and regex.fullmatch(r"a?+", "a") is not None
    keeps = regex.fullmatch(r"a?+a", "a") is None and regex.fullmatch(r"a?a", "a") is not None
    print(f"       'a?+' matches 'a' but not 'aa': {one}; possessive, it never gives the 'a' "
          f"back ('a?+a' fails on 'a' where 'a?a' matches): {keeps}")
    demo = "Don't   go  \nnow!   "
    chunks = regex.findall(GPT4_SPLIT_PATTERN, demo)
    print(r"       '\s+(?!\S)' is not 'end of lines': it takes a run of whitespace but its "
          "last character,\n       which goes with the next word ('   go' -> '  ', ' go'): "
          + "|".join(repr(c)[1:-1] for c in chunks))
    return {"slips_fail": failed,
            "fixed_same_merges": same, "fixed_round_trip": round_trip,
            "possessive_zero_or_one": one and keeps, "whitespace_chunks": chunks}


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    sizes = sorted({int(s) for s in cfg.vocab_sizes.split(",")})
    t0 = time.perf_counter()
    book, source = load_book(cfg, smoke_chars=6000)
    print(f"Text: {source}, {len(book):,} characters\n")
    section_bpe(cfg, book)
    section_split(cfg)
    rows, toks = section_sizes(cfg, book, sizes)
    path = out / "vocab_vs_length.png"
    plot_sizes(rows, path)
    print(f"   saved {path}")
    section_encode(cfg, book, toks)
    facts = report_says(book[:20_000])
    print(f"\nDone in {time.perf_counter() - t0:.1f} s.")
    return {**facts, "held_out_tokens": [n for _, n, _ in rows]}


# %%
if __name__ == "__main__":
    main()
