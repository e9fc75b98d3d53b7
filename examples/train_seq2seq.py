"""Train the encoder-decoder (report §3.4, Figure 3) on sentence pairs and decode with it.

    python examples/train_seq2seq.py                        # ~2-3 min on a 2-core CPU
    python examples/train_seq2seq.py --max_iters=300        # any field: --key=value
    python examples/train_seq2seq.py --resume               # continue out/seq2seq/last
    python examples/train_seq2seq.py --pairs=en-es.tsv      # translation pairs instead
    python examples/train_seq2seq.py --data=/path/to/pg996.txt --device=cuda
    mpiexec -n 2 python examples/train_seq2seq.py           # data-parallel, 2 processes

By default it learns next-sentence prediction on Don Quixote, as the report's
"cervantes" model: the source is sentence i of the book, the target sentence i + 1 (only
pairs whose sentences have at most --max_words words; the last 10% of the pairs held
out). With --pairs=FILE.tsv it learns from `source<TAB>target` lines instead (e.g. a
Tatoeba/Anki file; shuffled with --seed, then 10% held out). A BPE tokenizer is trained
on the training sentences, with [PAD] [BOS] [EOS] registered after its vocabulary.

At every evaluation it decodes a few held-out sources greedily and by beam search and
prints source / reference / greedy / beam, each output with its average log-probability
per token. Everything lands in --out_dir (default out/seq2seq): loss.csv, loss.png,
checkpoints last.* and best.*, the tokenizer. The last line is a summary: held-out loss,
tokens/s and wall time.

The Trainer's batches are whole padded PairBatches and its loss function
`tinytx.tasks.seq2seq.seq2seq_loss` unpacks them; the checkpoints hold the Seq2Seq and
its tokenizer, so `tinytx.checkpoint.load_model(path)` rebuilds both. Under `mpiexec -n N`
(or --ddp) each process takes 1/N of every batch of --batch_size pairs and the gradients
are averaged, every target token weighted the same (docs/distributed.md).
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

import tinytx as tx
from tinytx.config import nested, parse_config, run_main
from tinytx.data import (add_special_tokens, encode_pairs, load_quixote, read_tsv_pairs,
                         text_record,
                         special_ids, train_val_split)
from tinytx.distributed import (ParallelConfig, data_parallel, describe, lock_out_dir,
                                processes, rank0_first, start)
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.tasks.seq2seq import (book_pairs, compare_decoders, pair_loss,
                                  random_pair_batch, seq2seq_loss, target_tokens)
from tinytx.tokenizer.cached import cached_tokenizer
from tinytx.train import Trainer, TrainConfig


@dataclass
class Config:
    """The job's own options; the model's (Seq2SeqConfig) and the training's (TrainConfig)
    fields are options too, flat: --n_embd=256, --lr=1e-3 (tinytx.config.nested)."""
    # data and output
    data: str = ""                 # a local copy of Don Quixote ("" = cache or download)
    pairs: str = ""                # a TSV of source<TAB>target pairs ("" = the book)
    out_dir: str = "out/seq2seq"
    vocab_size: int = 1024
    max_words: int = 32            # book pairs: both sentences at most this many words
    max_len: int = 48              # tokens per source / target (longer ones are cut)
    model: Seq2SeqConfig = nested(
        Seq2SeqConfig, derived=("vocab_size", "tgt_vocab_size", "block_size", "pad_id",
                                "share_embeddings"),
        n_embd=128, n_head=4, n_encoder_layer=2, n_decoder_layer=2, dropout=0.1)
    train: TrainConfig = nested(TrainConfig, batch_size=32, max_iters=600, lr=1e-3,
                                min_lr=1e-4, warmup_iters=60, beta2=0.98, eval_interval=150,
                                eval_iters=10)
    device: str = "cpu"
    parallel: ParallelConfig = nested(ParallelConfig)   # --ddp, --bucket_mb, --zero, ...
    # decoding the held-out examples
    n_examples: int = 3
    beam_width: int = 4
    length_penalty: float = 1.0
    max_new_tokens: int = 40


def parse_args(argv):
    """--resume continues; every other --key=value sets a field of Config."""
    argv, resume = list(argv), "--resume" in argv
    argv = [a for a in argv if a != "--resume"]
    try:
        return parse_config(Config(), argv, extra_flags=("resume",)), resume
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None


def load_pairs(cfg):
    """(train pairs, held-out pairs, a one-line description)."""
    if cfg.pairs:
        pairs = read_tsv_pairs(cfg.pairs)
        order = np.random.default_rng(cfg.train.seed).permutation(len(pairs))  # sorted files
        train, val = train_val_split([pairs[i] for i in order], 0.1)
        what = f"{cfg.pairs}: {len(pairs):,} translation pairs"
    else:
        train, val = train_val_split(book_pairs(load_quixote(cfg.data or None),
                                                cfg.max_words), 0.1)   # the book's end
        what = (f"Don Quixote: {len(train) + len(val):,} next-sentence pairs of at most "
                f"{cfg.max_words} words")
    if len(train) < 1 or len(val) < 1:
        raise SystemExit(f"error: {what}; need at least 2 pairs (one to train on, one held "
                         f"out)")
    return train, val, what


def print_decodes(model, tok, examples, cfg):
    """Greedy and beam search on held-out (source ids, source text, reference text)."""
    rows = compare_decoders(model, tok, [ids for ids, _, _ in examples], special_ids(tok),
                            cfg.max_new_tokens, cfg.beam_width, cfg.length_penalty)
    for (_, src, ref), r in zip(examples, rows):
        g = r["greedy_logp"] / max(len(r["greedy_ids"]), 1)
        b = r["beam_logp"] / max(len(r["beam_ids"]), 1)
        print(f"  source:    {src}\n  reference: {ref}\n"
              f"  greedy:    {r['greedy']}   [{g:.2f} nats/token]\n"
              f"  beam {cfg.beam_width}:    {r['beam']}   [{b:.2f} nats/token]")


def main(argv=None):
    cfg, resume = parse_args(sys.argv[1:] if argv is None else argv)
    tx.get_device(cfg.device)         # no GPU is an error now, not after the tokenizer
    comm = start(cfg.parallel, cfg.device)          # None: one process
    with lock_out_dir(cfg.out_dir, comm):
        return train_and_decode(cfg, resume, comm)  # one run per folder


def train_and_decode(cfg, resume, comm=None):
    t_start, out, tc = time.perf_counter(), Path(cfg.out_dir), cfg.train
    train_pairs, val_pairs, what = load_pairs(cfg)
    sentences = "\n".join(dict.fromkeys(s for pair in train_pairs for s in pair))  # each once
    with rank0_first(comm):    # rank 0 writes the caches, the others read them
        tok = cached_tokenizer(sentences, cfg.vocab_size,
                               out / f"tokenizer-{cfg.vocab_size}", progress=tc.progress)
        specials = add_special_tokens(tok)
        if not comm or comm.rank == 0:
            tok.save(str(out / "tokenizer"))           # with [PAD] [BOS] [EOS], readable
    pad = specials["[PAD]"]
    enc = {"train": encode_pairs(tok, train_pairs, cfg.max_len),
           "val": encode_pairs(tok, val_pairs, cfg.max_len)}
    tokens_per_pair = np.mean([len(s) + len(t) - 1 for s, t in enc["train"]])
    print(f"{what}; {len(enc['train']):,} to train on, {len(enc['val']):,} held out; "
          f"vocabulary {max(tok.vocab) + 1} with {specials}")

    tx.manual_seed(tc.seed)
    mc = replace(cfg.model, vocab_size=max(tok.vocab) + 1, pad_id=pad,
                 block_size=max(cfg.max_len, cfg.max_new_tokens + 1))
    model = Seq2Seq(mc).to(cfg.device)
    print(f"Seq2Seq: {model.num_parameters():,} parameters, {mc.n_encoder_layer} encoder "
          f"and {mc.n_decoder_layer} decoder layers, {mc.n_head} heads, {mc.n_embd} wide")
    picks = np.linspace(0, len(val_pairs) - 1, min(cfg.n_examples, len(val_pairs)))
    examples = [(enc["val"][i][0], *val_pairs[i]) for i in picks.astype(int)]

    def batch(split, rng):
        return random_pair_batch(enc[split], tc.batch_size, rng, pad, cfg.device)

    def on_eval(trainer, row):
        print(f"[step {trainer.step}] val loss {row['val_loss']:.3f}; held-out decodes:")
        print_decodes(model, tok, examples, cfg)

    trainer = Trainer(model, tc, batch, out, loss_fn=seq2seq_loss, tokenizer=tok,
                      on_eval=on_eval, meta={"example": asdict(cfg)},
                      data=text_record(sentences),
                      tokens_per_batch=int(tc.batch_size * tokens_per_pair),
                      count_targets=target_tokens,  # padded pairs: weight by tokens
                      parallel=data_parallel(model, comm, cfg.parallel, tc.seed))
    if trainer.parallel:
        print(describe(trainer.parallel))
    if resume:
        trainer.resume()
        print(f"resumed from {out / 'last'} at step {trainer.step}")
    t_train, start_step = time.perf_counter(), trainer.step
    trainer.train()
    train_s = time.perf_counter() - t_train
    if not trainer.writer:     # rank 0 evaluates and reports
        return None
    val_loss = pair_loss(model, enc["val"], pad, tc.batch_size, cfg.device)
    tok_s = ((trainer.step - start_step) * tc.batch_size * tc.grad_accum * tokens_per_pair
             / max(train_s, 1e-9))
    print(f"summary: val loss {val_loss:.4f} (perplexity {math.exp(val_loss):.1f}) | "
          f"{tok_s:,.0f} tokens/s | {processes(comm)} | wall "
          f"{time.perf_counter() - t_start:.0f} s | {out}")
    return {"val_loss": val_loss, "tokens_per_s": tok_s}


if __name__ == "__main__":
    sys.exit(run_main(main, threads=1))   # small matrices: one BLAS thread is faster
