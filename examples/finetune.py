"""Finetune a pretrained GPT-2 or T5 (Hugging Face files) or a tinytx GPT — report §7.1.

    python examples/finetune.py --model=path/to/gpt2 --data=pg996.txt      # GPT-2, a text
    python examples/finetune.py --model=path/to/t5-small --data=songs.tsv \\
        --prefix="Create the lyrics of: "                                    # T5, pairs
    python examples/finetune.py --model=out/quixote/best --data=kafka.txt  # tinytx's GPT
    python examples/finetune.py ... --resume         # continue out/finetune/last exactly
    python examples/finetune.py ... --lr=1e-4 --epochs=2 --device=cuda     # any field
    mpiexec -n 2 python examples/finetune.py ... --batch_size=2 --grad_accum=4  # 2 processes

`--model` is a folder with config.json (its `model_type`, gpt2 or t5, picks the model;
any GPT-2 size: small, medium, large, xl) or a tinytx checkpoint prefix (lesson 11,
examples/train_quixote.py, or a run of this script). The default recipe is the report's:

    GPT-2  the text cut into 1024-character chunks, one sequence each; T5: text pairs,
           source = --prefix + source, target = target + </s>; the last 10% held out
    AdamW (lr 5e-5, weight decay 0.01), linear warmup over the first 10% of the steps,
    then cosine decay to lr/10; 5 epochs; batch 8 = micro-batch 1 x 8 accumulated

It prints the held-out loss (nats per token) and bits per byte before and after, and
samples before and after: beam search (5 beams, no_repeat_ngram_size 2, as the report)
and top-k sampling. Into --out_dir (default out/finetune): loss.csv, loss.png, the
checkpoints last.* and best.* (resume exactly with --resume; use as --model later), and
for GPT-2 and T5 the finetuned model as a Hugging Face folder, hf/ (save_gpt2 / save_t5),
which transformers' `from_pretrained` loads. Under `mpiexec -n N` (or --ddp) each process
takes 1/N of every micro-batch (so --batch_size must be a multiple of N) and the gradients
are averaged (docs/distributed.md); rank 0 alone prints and writes.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

import tinytx as tx
from tinytx.config import nested, parse_job, run_main
from tinytx.data import load_text, read_tsv_pairs, text_record
from tinytx.distributed import (ParallelConfig, data_parallel, describe, lock_out_dir,
                                processes, start)
from tinytx.files import read_text
from tinytx.generate import beam_search, beam_search_seq2seq, generate, generate_seq2seq
from tinytx.tasks.finetune import (encode_chunks, encode_prefixed_pairs, lm_held_out,
                                   load_pretrained, loss_for, pairs_held_out,
                                   random_chunk_batch, text_chunks)
from tinytx.tasks.seq2seq import random_pair_batch
from tinytx.train import Trainer, TrainConfig


@dataclass
class Config:
    """The job's own options; the training's (TrainConfig) fields are options too, flat
    (tinytx.config.nested). max_iters 0 = epochs over the training data; warmup_iters -1
    = 10% of the steps; eval_interval 0 = once per epoch (see train_config)."""
    model: str = ""                # Hugging Face folder (gpt2 / t5) or tinytx checkpoint
    data: str = ""                 # GPT: a text file; T5: source<TAB>target lines
    out_dir: str = "out/finetune"
    prefix: str = ""               # T5: the task prefix, e.g. "Create the lyrics of: "
    chunk_chars: int = 1024        # GPT: characters per training sequence
    max_len: int = 512             # T5: tokens per source and per target
    val_frac: float = 0.1          # the last part of the chunks / pairs, held out
    epochs: float = 5.0
    # batch 1 x 8 accumulated: the report's batch 8
    train: TrainConfig = nested(TrainConfig, max_iters=0, batch_size=1, grad_accum=8,
                                lr=5e-5, min_lr=5e-6, warmup_iters=-1, weight_decay=0.01,
                                beta2=0.999, eval_interval=0, eval_iters=8)
    dropout: float = 0.1
    device: str = "cpu"
    parallel: ParallelConfig = nested(ParallelConfig)   # --ddp, --bucket_mb, --zero, ...
    # samples before and after
    prompt: str = ""               # "" = the start of the held-out text / first source
    sample_tokens: int = 40
    beam_width: int = 5
    no_repeat_ngram_size: int = 2
    top_k: int = 50
    temperature: float = 1.0


def parse_args(argv):
    """--resume continues; every other --key=value sets a field of Config."""
    cfg, given = parse_job(Config(), argv)
    if not cfg.model or not cfg.data:
        raise SystemExit("error: --model=PATH (a GPT-2/T5 folder or a tinytx checkpoint) "
                         "and --data=FILE are both needed")
    return cfg, "resume" in given


def load_data(kind, tok, model, cfg):
    """{"train": [...], "val": [...]}: encoded chunks (GPT) or pairs (T5)."""
    if kind == "t5":
        pairs = read_tsv_pairs(cfg.data)
        encoded = encode_prefixed_pairs(tok, pairs, cfg.prefix, cfg.max_len,
                                        model.config.pad_id, model.config.eos_id)
        what = f"{len(pairs):,} pairs"
    else:
        chunks = text_chunks(load_text(cfg.data), cfg.chunk_chars)
        encoded = encode_chunks(tok, chunks, model.config.block_size)
        what = f"{len(chunks):,} chunks of {cfg.chunk_chars} characters"
    n_val = max(1, int(round(len(encoded) * cfg.val_frac)))
    if len(encoded) - n_val < 1:
        raise SystemExit(f"error: {cfg.data}: {what}; need at least 2 (one to train on, "
                         f"one held out)")
    return {"train": encoded[:-n_val], "val": encoded[-n_val:]}, what


def held_out(kind, model, tok, val, cfg):
    if kind == "t5":
        return pairs_held_out(model, val, tok, model.config.pad_id, device=cfg.device)
    return lm_held_out(model, val, tok, device=cfg.device)


def samples(kind, model, tok, val, cfg):
    """{"beam": text, "top-k": text} from the prompt (or the first held-out example)."""
    c, n = model.config, cfg.sample_tokens
    if kind == "t5":
        src = tok.encode(cfg.prefix + cfg.prompt) + [c.eos_id] if cfg.prompt else val[0][0]
        beam = beam_search_seq2seq(model, [src], None, c.pad_id, c.eos_id, n,
                                   cfg.beam_width, no_repeat_ngram_size=cfg.no_repeat_ngram_size)
        top_k = generate_seq2seq(model, [src], None, c.pad_id, c.eos_id, n, top_k=cfg.top_k,
                                 temperature=cfg.temperature, rng=cfg.train.seed)
        return {"source": tok.decode(src), "beam": tok.decode(beam.tolist()[0]),
                "top-k": tok.decode(top_k.tolist()[0])}
    prompt = tok.encode(cfg.prompt) if cfg.prompt else val[0][:8].tolist()
    eos = getattr(tok, "special_tokens", {}).get("<|endoftext|>")
    beam = beam_search(model, [prompt], n, cfg.beam_width,
                       no_repeat_ngram_size=cfg.no_repeat_ngram_size, eos_id=eos)
    top_k = generate(model, [prompt], n, top_k=cfg.top_k, temperature=cfg.temperature,
                     stop_tokens=eos, rng=cfg.train.seed)
    return {"prompt": tok.decode(prompt), "beam": tok.decode(beam.tolist()[0][len(prompt):]),
            "top-k": tok.decode(top_k.tolist()[0][len(prompt):])}


def print_samples(title, found):
    print(title)
    for key, text in found.items():
        print(f"  {key + ':':8s} {text!r}")


def batches(kind, data, cfg, pad_id):
    def get_batch(split, rng):
        if kind == "t5":
            return random_pair_batch(data[split], cfg.train.batch_size, rng, pad_id,
                                     cfg.device)
        return random_chunk_batch(data[split], cfg.train.batch_size, rng, cfg.device)
    return get_batch


def train_config(cfg, n_train) -> TrainConfig:
    """The TrainConfig: max_iters from the epochs, warmup 10% and one eval per epoch
    unless given."""
    tc = cfg.train
    per_epoch = max(1, math.ceil(n_train / (tc.batch_size * tc.grad_accum)))
    steps = tc.max_iters or max(1, round(cfg.epochs * per_epoch))
    return replace(tc, max_iters=steps, eval_interval=tc.eval_interval or min(per_epoch, steps),
                   warmup_iters=tc.warmup_iters if tc.warmup_iters >= 0 else steps // 10)


def save_hf(kind, model, tok, folder):
    """GPT-2 and T5: the finetuned model as a Hugging Face folder (tokenizer included)."""
    if kind == "gpt2":
        from tinytx.checkpoint import save_gpt2
        save_gpt2(model, folder, tokenizer=tok)
    elif kind == "t5":
        from tinytx.checkpoint import save_t5
        spiece = Path(getattr(tok, "folder", "") or folder) / "spiece.model"
        save_t5(model, folder, spiece=spiece if spiece.is_file() else None)
    else:
        return
    print(f"saved the finetuned {kind} as a Hugging Face folder: {folder}")


def main(argv=None):
    cfg, resume = parse_args(sys.argv[1:] if argv is None else argv)
    tx.get_device(cfg.device)         # no GPU is an error now, not after loading
    comm = start(cfg.parallel, cfg.device)          # None: one process
    with lock_out_dir(cfg.out_dir, comm):
        return finetune(cfg, resume, comm)          # one run per folder


def finetune(cfg, resume, comm=None):
    t_start, out = time.perf_counter(), Path(cfg.out_dir)
    tx.manual_seed(cfg.train.seed)
    kind, model, tok = load_pretrained(cfg.model, cfg.dropout)
    model = model.to(cfg.device)
    data, what = load_data(kind, tok, model, cfg)
    n_params = model.num_parameters()
    print(f"{kind} from {cfg.model}: {n_params:,} parameters; {cfg.data}: {what}, as "
          f"{len(data['train']):,} sequences to train on, {len(data['val']):,} held out")
    before = held_out(kind, model, tok, data["val"], cfg)
    print(f"before: held-out {before[0]:.4f} nats/token, {before[1]:.4f} bits/byte")
    print_samples("samples before finetuning:", samples(kind, model, tok, data["val"], cfg))

    train_cfg = train_config(cfg, len(data["train"]))
    pad = getattr(model.config, "pad_id", 0)
    mean_tokens = float(np.mean([len(s) + len(t) - 1 for s, t in data["train"]]
                                if kind == "t5" else [len(x) - 1 for x in data["train"]]))
    trainer = Trainer(model, train_cfg, batches(kind, data, cfg, pad), out,
                      loss_fn=loss_for(kind), tokenizer=tok,
                      meta={"example": asdict(cfg)},
                      data=text_record(read_text(cfg.data, "a text or TSV file")),
                      tokens_per_batch=int(train_cfg.batch_size * mean_tokens),
                      parallel=data_parallel(model, comm, cfg.parallel, cfg.train.seed))
    if trainer.parallel:
        print(describe(trainer.parallel))
    if resume:
        trainer.resume()
        print(f"resumed from {out / 'last'} at step {trainer.step}")
    print(f"{train_cfg.max_iters} steps of {train_cfg.batch_size} x {train_cfg.grad_accum} "
          f"sequences, lr {train_cfg.lr:g} (warmup {train_cfg.warmup_iters}), eval every "
          f"{train_cfg.eval_interval}")
    t_train, start_step = time.perf_counter(), trainer.step
    trainer.train()
    train_s = time.perf_counter() - t_train
    if not trainer.writer:     # rank 0 evaluates, samples, saves and reports
        return None
    after = held_out(kind, model, tok, data["val"], cfg)
    print(f"after:  held-out {after[0]:.4f} nats/token, {after[1]:.4f} bits/byte")
    print_samples("samples after finetuning:", samples(kind, model, tok, data["val"], cfg))
    save_hf(kind, model, tok, out / "hf")
    tok_s = ((trainer.step - start_step) * train_cfg.batch_size * train_cfg.grad_accum
             * mean_tokens / max(train_s, 1e-9))
    print(f"summary: held-out {before[0]:.4f} -> {after[0]:.4f} nats/token, "
          f"{before[1]:.4f} -> {after[1]:.4f} bits/byte | {tok_s:,.0f} tokens/s | "
          f"{processes(comm)} | wall "
          f"{time.perf_counter() - t_start:.0f} s | {out}")
    return {"before": before, "after": after, "tokens_per_s": tok_s, "trainer": trainer}


if __name__ == "__main__":
    sys.exit(run_main(main))
