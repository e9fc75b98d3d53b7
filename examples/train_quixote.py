"""Train a GPT on Don Quixote and sample from it — tinytx's main job (report chapter 7).

    python examples/train_quixote.py                       # 10-15 min on a 2-core CPU (869 s, 1.632 bits/byte)
    python examples/train_quixote.py --max_iters=200       # any field: --key=value
    python examples/train_quixote.py --resume              # continue out/quixote/last
    python examples/train_quixote.py --config=seed-small --device=cuda   # the report's model
    python examples/train_quixote.py --data=/path/to/pg996.txt          # no download

It fetches the book once (or reads --data / $TINYTX_DATA_DIR/quixote.txt), trains a BPE
tokenizer on the first 90% (cached for the next run), trains a GPT on it, evaluates on the
held-out last 10%, and prints samples from the report's prompts before, during and after
training. Everything lands in --out_dir (default out/quixote): loss.csv, loss.png,
checkpoints last.* and best.*, and the tokenizer. The last line is a summary: validation
loss, validation bits per byte, tokens/s and wall time.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path


import tinytx as tx
from tinytx.config import parse_config, pick_preset, run_main
from tinytx.data import (cached_tokenizer, encode_cached, get_batch, iter_windows,
                         load_quixote)
from tinytx.generate import generate_text
from tinytx.models import GPT, GPTConfig
from tinytx.train import Trainer, TrainConfig

PROMPTS = ('"Here is the apple of which I spoke," said Don Quixote,',
           "My name is Hallvard, and I'm a student.")


@dataclass
class Config:
    # data and output
    data: str = ""                 # a local copy of the book ("" = cache or download)
    out_dir: str = "out/quixote"
    vocab_size: int = 2048
    # model
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 192
    block_size: int = 128
    dropout: float = 0.1
    bias: bool = True
    # training (see tinytx.train.TrainConfig)
    batch_size: int = 16           # sequences per micro-batch
    grad_accum: int = 1            # micro-batches per optimizer step
    max_iters: int = 2800
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_iters: int = 100
    lr_decay_iters: int = 0        # 0: max_iters
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 700
    log_interval: int = 10         # a train row in loss.csv every this many steps
    eval_iters: int = 10
    seed: int = 1337
    device: str = "cpu"
    # sampling
    sample_tokens: int = 60
    temperature: float = 0.8
    top_k: int = 40
    progress: bool = True


CONFIGS = {
    "default": Config(),
    # The report's small decoder-only model, for a GPU: effective batch 64 sequences as
    # 32 micro-steps of 2, lr 1e-3 with 100 warmup steps and cosine to 1e-4 over 5000.
    "seed-small": Config(out_dir="out/quixote-seed-small", vocab_size=24540, n_layer=6,
                         n_head=6, n_embd=384, block_size=256, dropout=0.2, batch_size=2,
                         grad_accum=32, max_iters=5000, lr=1e-3, min_lr=1e-4,
                         warmup_iters=100, weight_decay=0.1, grad_clip=1.0,
                         eval_interval=250, eval_iters=20, device="cuda"),
}


def parse_args(argv):
    """--config=NAME picks a preset; --resume continues; every other --key=value sets a
    field of Config (an unknown key is an error listing the valid ones)."""
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


def held_out_loss(model, ids, cfg):
    """Mean cross-entropy (nats per token) over every token of the held-out split."""
    total, count = 0.0, 0
    model.eval()
    with tx.no_grad():
        for x, y in iter_windows(ids, cfg.batch_size, cfg.block_size, device=cfg.device):
            total += model(x, y)[1].item() * y.size
            count += y.size
    model.train()
    return total / count


def main(argv=None):
    cfg, resume = parse_args(sys.argv[1:] if argv is None else argv)
    t_start, out = time.perf_counter(), Path(cfg.out_dir)
    text = load_quixote(cfg.data or None)
    split = int(0.9 * len(text))
    train_text, val_text = text[:split], text[split:]          # contiguous: last 10% held out
    tok = cached_tokenizer(train_text, cfg.vocab_size, out / f"tokenizer-{cfg.vocab_size}",
                           progress=cfg.progress)
    train_ids = encode_cached(tok, train_text, out / f"train-{cfg.vocab_size}.npy")
    val_ids = encode_cached(tok, val_text, out / f"val-{cfg.vocab_size}.npy")
    bytes_per_token = len(val_text.encode()) / len(val_ids)
    print(f"Don Quixote: {len(text):,} characters; vocabulary {len(tok.vocab)}; "
          f"{len(train_ids):,} training and {len(val_ids):,} held-out tokens "
          f"({bytes_per_token:.2f} bytes per token)")

    tx.manual_seed(cfg.seed)
    model = GPT(GPTConfig(block_size=cfg.block_size, vocab_size=len(tok.vocab),
                          n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
                          dropout=cfg.dropout, bias=cfg.bias)).to(cfg.device)
    print(f"GPT: {model.num_parameters():,} parameters, {cfg.n_layer} layers, {cfg.n_head} "
          f"heads, {cfg.n_embd} wide, block {cfg.block_size}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    train_cfg = TrainConfig(**{k: v for k, v in vars(cfg).items() if k in fields})
    splits = {"train": train_ids, "val": val_ids}

    def batch(split, rng):
        return get_batch(splits[split], cfg.batch_size, cfg.block_size, rng, cfg.device)

    def on_eval(trainer, row):
        print_sample(f"step {trainer.step}: val loss {row['val_loss']:.3f} "
                     f"({row['val_bpb']:.3f} bits/byte)",
                     sample(model, tok, PROMPTS[0], cfg, seed=trainer.step))

    trainer = Trainer(model, train_cfg, batch, out, on_eval=on_eval,
                      meta={"model": model.config.to_dict(), "example": vars(cfg),
                            "tokenizer": str(out / f"tokenizer-{cfg.vocab_size}.model")},
                      tokens_per_batch=cfg.batch_size * cfg.block_size,
                      bytes_per_token=bytes_per_token)
    if resume:
        trainer.resume()
        print(f"resumed from {out / 'last'} at step {trainer.step}")
    else:
        for prompt in PROMPTS:
            print_sample("before training", sample(model, tok, prompt, cfg, seed=0))
    t_train, start_step = time.perf_counter(), trainer.step
    trainer.train()
    train_s = time.perf_counter() - t_train
    for prompt in PROMPTS:
        print_sample("after training", sample(model, tok, prompt, cfg, seed=1))
    val_loss = held_out_loss(model, val_ids, cfg)
    bpb = val_loss / math.log(2) / bytes_per_token
    tok_s = (trainer.step - start_step) * cfg.batch_size * cfg.grad_accum * cfg.block_size / max(train_s, 1e-9)
    print(f"summary: val loss {val_loss:.4f} | val bits/byte {bpb:.4f} | {tok_s:,.0f} tokens/s"
          f" | wall {time.perf_counter() - t_start:.0f} s | {out}")
    return {"val_loss": val_loss, "bpb": bpb, "tokens_per_s": tok_s}


if __name__ == "__main__":
    sys.exit(run_main(main))
