"""Train the encoder-decoder (report §3.4, Figure 3) on sentence pairs and decode with it.

    python examples/train_seq2seq.py                        # ~2-3 min on a 2-core CPU
    python examples/train_seq2seq.py --max_iters=300        # any field: --key=value
    python examples/train_seq2seq.py --resume               # continue out/seq2seq/last
    python examples/train_seq2seq.py --pairs=en-es.tsv      # translation pairs instead
    python examples/train_seq2seq.py --data=/path/to/pg996.txt --device=cuda

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

The Trainer calls model(x, y); a Seq2Seq needs five tensors, so the model is wrapped in
`tinytx.train.seq2seq.PairLoss` (x is a whole padded PairBatch, y its targets) and the
checkpoints hold that wrapper: `load_seq2seq(path)` below rebuilds the model from one.
"""
from __future__ import annotations

import os

# Small matrices: OpenBLAS threads cost more than they save (and fight on a busy machine);
# set OPENBLAS_NUM_THREADS yourself to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tinytx as tx
from tinytx.checkpoint import load_checkpoint, read_checkpoint_meta
from tinytx.config import parse_config, run_main
from tinytx.data import (add_special_tokens, cached_tokenizer, encode_pairs, load_quixote,
                         read_tsv_pairs, special_ids, train_val_split)
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.tokenizer import load as load_tokenizer
from tinytx.train import Trainer, TrainConfig
from tinytx.train.seq2seq import (PairLoss, book_pairs, compare_decoders, pair_loss,
                                  random_pair_batch, target_tokens)


@dataclass
class Config:
    # data and output
    data: str = ""                 # a local copy of Don Quixote ("" = cache or download)
    pairs: str = ""                # a TSV of source<TAB>target pairs ("" = the book)
    out_dir: str = "out/seq2seq"
    vocab_size: int = 1024
    max_words: int = 32            # book pairs: both sentences at most this many words
    max_len: int = 48              # tokens per source / target (longer ones are cut)
    # model (tinytx.models.Seq2SeqConfig)
    n_embd: int = 128
    n_head: int = 4
    n_encoder_layer: int = 2
    n_decoder_layer: int = 2
    dropout: float = 0.1
    bias: bool = True
    norm_first: bool = True
    # training (tinytx.train.TrainConfig)
    batch_size: int = 32           # pairs per micro-batch
    grad_accum: int = 1
    max_iters: int = 600
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 60
    lr_decay_iters: int = 0        # 0: max_iters
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.98
    grad_clip: float = 1.0
    eval_interval: int = 150
    eval_iters: int = 10
    seed: int = 1337
    device: str = "cpu"
    # decoding the held-out examples
    n_examples: int = 3
    beam_width: int = 4
    length_penalty: float = 1.0
    max_new_tokens: int = 40
    progress: bool = True


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
        order = np.random.default_rng(cfg.seed).permutation(len(pairs))  # files are sorted
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


def load_seq2seq(path, device="cpu"):
    """(Seq2Seq, tokenizer) from a checkpoint written by this script."""
    meta = read_checkpoint_meta(path)
    model = PairLoss(Seq2Seq(Seq2SeqConfig(**meta["config"]["model"])))
    load_checkpoint(path, model, restore_rng=False)
    return model.model.to(device), load_tokenizer(meta["config"]["tokenizer"])


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
    t_start, out = time.perf_counter(), Path(cfg.out_dir)
    train_pairs, val_pairs, what = load_pairs(cfg)
    sentences = dict.fromkeys(s for pair in train_pairs for s in pair)   # each once
    tok = cached_tokenizer("\n".join(sentences), cfg.vocab_size,
                           out / f"tokenizer-{cfg.vocab_size}", progress=cfg.progress)
    specials = add_special_tokens(tok)
    tok.save(str(out / "tokenizer"))                   # with [PAD] [BOS] [EOS], for loading
    pad = specials["[PAD]"]
    enc = {"train": encode_pairs(tok, train_pairs, cfg.max_len),
           "val": encode_pairs(tok, val_pairs, cfg.max_len)}
    tokens_per_pair = np.mean([len(s) + len(t) - 1 for s, t in enc["train"]])
    print(f"{what}; {len(enc['train']):,} to train on, {len(enc['val']):,} held out; "
          f"vocabulary {max(tok.vocab) + 1} with {specials}")

    tx.manual_seed(cfg.seed)
    s2s = Seq2Seq(Seq2SeqConfig(vocab_size=max(tok.vocab) + 1, n_embd=cfg.n_embd,
                                n_head=cfg.n_head, n_encoder_layer=cfg.n_encoder_layer,
                                n_decoder_layer=cfg.n_decoder_layer, dropout=cfg.dropout,
                                bias=cfg.bias, norm_first=cfg.norm_first,
                                max_len=max(cfg.max_len, cfg.max_new_tokens + 1),
                                pad_id=pad))
    model = PairLoss(s2s).to(cfg.device)
    print(f"Seq2Seq: {model.num_parameters():,} parameters, {cfg.n_encoder_layer} encoder "
          f"and {cfg.n_decoder_layer} decoder layers, {cfg.n_head} heads, {cfg.n_embd} wide")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    train_cfg = TrainConfig(**{k: v for k, v in vars(cfg).items() if k in fields})
    picks = np.linspace(0, len(val_pairs) - 1, min(cfg.n_examples, len(val_pairs)))
    examples = [(enc["val"][i][0], *val_pairs[i]) for i in picks.astype(int)]

    def batch(split, rng):
        b = random_pair_batch(enc[split], cfg.batch_size, rng, pad, cfg.device)
        return b, b.tgt_out

    def on_eval(trainer, row):
        print(f"[step {trainer.step}] val loss {row['val_loss']:.3f}; held-out decodes:")
        print_decodes(s2s, tok, examples, cfg)

    trainer = Trainer(model, train_cfg, batch, out, on_eval=on_eval,
                      meta={"model": s2s.config.to_dict(), "example": vars(cfg),
                            "tokenizer": str(out / "tokenizer.model")},
                      tokens_per_batch=int(cfg.batch_size * tokens_per_pair),
                      batch_tokens=target_tokens)  # padded pairs: weight by tokens
    if resume:
        trainer.resume()
        print(f"resumed from {out / 'last'} at step {trainer.step}")
    t_train, start_step = time.perf_counter(), trainer.step
    trainer.train()
    train_s = time.perf_counter() - t_train
    val_loss = pair_loss(s2s, enc["val"], pad, cfg.batch_size, cfg.device)
    tok_s = ((trainer.step - start_step) * cfg.batch_size * cfg.grad_accum * tokens_per_pair
             / max(train_s, 1e-9))
    print(f"summary: val loss {val_loss:.4f} (perplexity {math.exp(val_loss):.1f}) | "
          f"{tok_s:,.0f} tokens/s | wall {time.perf_counter() - t_start:.0f} s | {out}")
    return {"val_loss": val_loss, "tokens_per_s": tok_s}


if __name__ == "__main__":
    sys.exit(run_main(main))
