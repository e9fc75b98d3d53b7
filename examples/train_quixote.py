"""Train a GPT on Don Quixote and sample from it — tinytx's main job (report chapter 7).

    python examples/train_quixote.py                       # 10-15 min on a 2-core CPU (789 s, 1.633 bits/byte)
    python examples/train_quixote.py --max_iters=200       # any field: --key=value
    python examples/train_quixote.py --resume              # continue out/quixote/last
    python examples/train_quixote.py --config=seed-small --device=cuda   # the report's model
    python examples/train_quixote.py --data=/path/to/pg996.txt          # no download
    python examples/train_quixote.py --resume --data=other.txt --allow_new_data  # go on, new text
    mpiexec -n 2 python examples/train_quixote.py          # data-parallel over 2 processes

It fetches the book once (or reads --data / $TINYTX_DATA_DIR/quixote.txt), trains a BPE
tokenizer on the first 90% (cached for the next run), trains a GPT on it, evaluates on the
held-out last 10%, and prints samples from the report's prompts before, during and after
training. Everything lands in --out_dir (default out/quixote): loss.csv, loss.png,
checkpoints last.* and best.* (the tokenizer inside: examples/sample.py needs nothing
else), and the tokenizer. The last line is a summary: validation loss, validation bits
per byte, tokens/s and wall time.

The run holds --out_dir's lock (a second run there is refused). --resume continues with
the checkpoint's own tokenizer and refuses a text other than the one it was trained on,
unless --allow_new_data. Errors (a missing file, a full disk, a GPU that is not there,
a run that diverged) are one line, `error: ...`, and exit code 1.

Under `mpiexec -n N` (or with --ddp) each process trains on 1/N of every batch and the
gradients are averaged (tinytx.distributed, docs/distributed.md): --batch_size stays the
global batch, so the run is the same optimisation as one process. Rank 0 alone prints
and writes; the summary names the number of processes and the global tokens/s.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import tinytx as tx
from tinytx.config import nested, parse_config, pick_preset, run_main, with_options
from tinytx.data import encode_cached, get_batch, load_quixote, text_record, train_val_split
from tinytx.distributed import (ParallelConfig, data_parallel, describe, lock_out_dir,
                                processes, rank0_first, start)
from tinytx.generate import generate_text
from tinytx.models import GPT, GPTConfig
from tinytx.tokenizer.cached import cached_tokenizer
from tinytx.train import Trainer, TrainConfig, evaluate, resume_tokenizer

PROMPTS = ('"Here is the apple of which I spoke," said Don Quixote,',
           "My name is Hallvard, and I'm a student.")


@dataclass
class Config:
    """The job's own options; the model's (GPTConfig) and the training's (TrainConfig)
    fields are options too, flat: --n_layer=6, --lr=1e-3 (tinytx.config.nested)."""
    # data and output
    data: str = ""                 # a local copy of the book ("" = cache or download)
    allow_new_data: bool = False   # --resume on another text (with the old tokenizer)
    out_dir: str = "out/quixote"
    vocab_size: int = 2048         # the tokenizer's (and so the model's) vocabulary
    model: GPTConfig = nested(GPTConfig, derived=("vocab_size",), n_layer=4, n_head=4,
                              n_embd=192, block_size=128, dropout=0.1, bias=True)
    train: TrainConfig = nested(TrainConfig, max_iters=2800, lr=2e-3, min_lr=2e-4,
                                warmup_iters=100, eval_interval=700, eval_iters=10)
    device: str = "cpu"
    parallel: ParallelConfig = nested(ParallelConfig)   # --ddp, --bucket_mb, --zero, ...
    # sampling
    sample_tokens: int = 60
    temperature: float = 0.8
    top_k: int = 40


CONFIGS = {
    "default": Config(),
    # The small decoder-only model of the report's companion repository (its code gives
    # these figures, not the report's text), for a GPU: effective batch 64 sequences as
    # 32 micro-steps of 2, lr 1e-3 with 100 warmup steps and cosine to 1e-4 over 5000.
    "seed-small": with_options(Config(), out_dir="out/quixote-seed-small", vocab_size=24540,
                               n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2,
                               batch_size=2, grad_accum=32, max_iters=5000, lr=1e-3,
                               min_lr=1e-4, warmup_iters=100, weight_decay=0.1,
                               grad_clip=1.0, eval_interval=250, eval_iters=20,
                               device="cuda"),
}


def parse_args(argv):
    """--config=NAME picks a preset; --resume continues; every other --key=value sets an
    option (an unknown key is an error listing the valid ones)."""
    argv, resume = list(argv), False
    if "--resume" in argv:
        argv.remove("--resume")
        resume = True
    preset, argv = pick_preset(CONFIGS, argv)
    try:
        return parse_config(preset, argv, extra_flags=("config", "resume")), resume
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None


def sample(model, tok, prompt, cfg, seed):
    text = generate_text(model, tok, prompt, cfg.sample_tokens, temperature=cfg.temperature,
                         top_k=cfg.top_k, rng=seed)
    return prompt + text


def print_sample(header, text):
    """A sample as a block of text under a header line (not a Python repr)."""
    print(f"--- {header} ---\n{text.strip()}\n")


def main(argv=None):
    cfg, resume = parse_args(sys.argv[1:] if argv is None else argv)
    tx.get_device(cfg.device)         # no GPU is an error now, not after the tokenizer
    comm = start(cfg.parallel, cfg.device)          # None: one process
    with lock_out_dir(cfg.out_dir, comm):
        return train_and_sample(cfg, resume, comm)


def train_and_sample(cfg, resume, comm=None):
    t_start, out, tc = time.perf_counter(), Path(cfg.out_dir), cfg.train
    text = load_quixote(cfg.data or None)
    train_text, val_text = train_val_split(text, 0.1)      # contiguous: last 10% held out
    data = text_record(train_text)
    with rank0_first(comm):  # rank 0 writes the caches, the others read them
        if resume:           # the checkpoint's tokenizer, on the text it was trained on
            tok = resume_tokenizer(out / "last", data, cfg.allow_new_data)
        else:
            tok = cached_tokenizer(train_text, cfg.vocab_size,
                                   out / f"tokenizer-{cfg.vocab_size}", progress=tc.progress)
        vocab = len(tok.vocab)
        train_ids = encode_cached(tok, train_text, out / f"train-{vocab}.npy")
        val_ids = encode_cached(tok, val_text, out / f"val-{vocab}.npy")
    bytes_per_token = len(val_text.encode()) / len(val_ids)
    print(f"Don Quixote: {len(text):,} characters; vocabulary {vocab}; "
          f"{len(train_ids):,} training and {len(val_ids):,} held-out tokens "
          f"({bytes_per_token:.2f} bytes per token)")

    tx.manual_seed(tc.seed)
    mc = replace(cfg.model, vocab_size=vocab)
    model = GPT(mc).to(cfg.device)
    print(f"GPT: {model.num_parameters():,} parameters, {mc.n_layer} layers, {mc.n_head} "
          f"heads, {mc.n_embd} wide, block {mc.block_size}")
    splits = {"train": train_ids, "val": val_ids}

    def batch(split, rng):
        return get_batch(splits[split], tc.batch_size, mc.block_size, rng, cfg.device)

    def on_eval(trainer, row):
        print_sample(f"step {trainer.step}: val loss {row['val_loss']:.3f} "
                     f"({row['val_bpb']:.3f} bits/byte)",
                     sample(model, tok, PROMPTS[0], cfg, seed=trainer.step))

    trainer = Trainer(model, tc, batch, out, tokenizer=tok, on_eval=on_eval, data=data,
                      meta={"example": asdict(cfg)},
                      tokens_per_batch=tc.batch_size * mc.block_size,
                      bytes_per_token=bytes_per_token,
                      parallel=data_parallel(model, comm, cfg.parallel, tc.seed))
    if trainer.parallel:
        print(describe(trainer.parallel))
    if resume:
        trainer.resume(allow_new_data=cfg.allow_new_data)
        print(f"resumed from {out / 'last'} at step {trainer.step}")
    else:
        for prompt in PROMPTS:
            print_sample("before training", sample(model, tok, prompt, cfg, seed=0))
    t_train, start_step = time.perf_counter(), trainer.step
    trainer.train()
    train_s = time.perf_counter() - t_train
    if not trainer.writer:   # rank 0 samples, evaluates and reports
        return None
    for prompt in PROMPTS:
        print_sample("after training", sample(model, tok, prompt, cfg, seed=1))
    val_loss, bpb = evaluate(model, val_ids, tc.batch_size, mc.block_size,
                             bytes_per_token=bytes_per_token, device=cfg.device)
    tok_s = ((trainer.step - start_step) * tc.batch_size * tc.grad_accum * mc.block_size
             / max(train_s, 1e-9))
    print(f"summary: val loss {val_loss:.4f} | val bits/byte {bpb:.4f} | {tok_s:,.0f} tokens/s"
          f" | {processes(comm)} | wall "
          f"{time.perf_counter() - t_start:.0f} s | {out}")
    return {"val_loss": val_loss, "bpb": bpb, "tokens_per_s": tok_s}


if __name__ == "__main__":
    sys.exit(run_main(main))
