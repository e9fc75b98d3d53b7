# %%
r"""Lesson 13 — Finetuning a pretrained GPT (report §7.1: finetuning GPT-2).

Training from scratch spends most of its steps learning what every text shares: words,
spelling, grammar. A pretrained model already knows that, so a new task needs far fewer
steps, at a lower learning rate, starting from its weights. This lesson takes the GPT
that lesson 11 trained on Don Quixote (out/lessons/11/gpt) and finetunes it on a
different text — by default a task made from the book: only what the characters say,
each speech on a line of its own in “quotes” (no narration); or any other text file with
--text=PATH. It measures, on held-out lines of the new text:

  1. the pretrained model before finetuning (loss and a sample);
  2. the same model after N finetuning steps (same tokenizer, lower learning rate);
  3. a model of the same size trained from scratch for the same N steps;

as held-out cross-entropy (nats per token, and bits per byte, which do not depend on the
tokenizer) and as samples, and draws both learning curves (finetune.png). The held-out
speeches come from the last 10% of the book, which lesson 11 never trained on.

With --gpt2=PATH (a Hugging Face GPT-2 folder: model.safetensors, config.json,
vocab.json, merges.txt; any size) the model finetuned is OpenAI's GPT-2 instead, loaded
with `tinytx.checkpoint.load_gpt2`, with its own tokenizer (the from-scratch
baseline is then a GPT-2 of the same size with random weights). GPT-2 small has 124M
parameters: on a CPU give it a short context and few steps (--context=128 --iters=40
--batch_size=4), or --device=cuda. Nothing is downloaded. examples/finetune.py is the
full recipe of the report (1024-character chunks, 5 epochs, batch 8, writing the result
back as a Hugging Face folder).

Part 5 compares beam search (5 beams, no_repeat_ngram_size 2, the report's decoding)
with top-k sampling, and shows in code why the report's beam search "with temperature
0.7" was not affected by the temperature: Hugging Face's generate applies the temperature
only when it samples (do_sample=True). Dividing the logits by T never changes which token
is largest, so greedy decoding is the same at every T; beam search, which adds
log-probabilities over steps, can change. The lesson runs the beam search again on logits
divided by 0.7 for real and says whether the output changed (measured on a full run: it
did — so the report's beams were the untempered ones).

If out/lessons/11/gpt is missing, the lesson says so and first trains a quick GPT on
the book itself (--pretrain_iters steps); in --smoke mode a tiny one, in seconds. A
checkpoint saved by lesson 11's --smoke run (its own folder, out/lessons/11/smoke) is
refused unless --allow_smoke_checkpoint=true.
docs/finetuning.md explains the choices; the code is tinytx/checkpoint/ (format.py,
gpt2.py) and tinytx/tokenizer/gpt2.py.

Run:
    python lessons/11_gpt_quixote.py && python lessons/13_finetuning.py   # ~3 + ~2 min
    python lessons/13_finetuning.py --smoke                 # for the tests, seconds
    python lessons/13_finetuning.py --text=pg2000.txt       # finetune on another book
    python lessons/13_finetuning.py --gpt2=/path/to/gpt2 --context=128 --iters=40

Expected output (abridged; the full run's output is lessons/expected/13_finetuning.txt;
measured after lesson 11's full run, seed 1337, one run):
    1. out/lessons/11/gpt: 734,336 parameters, 3 layers, block 64, vocabulary 1024
    2. The new text: the book's speeches, one per line (held out: the last 10% of the
       book): 382,580 tokens to finetune on, 41,346 held out
    3. 400 steps of 16 x 64 tokens each way
       finetune  step    0: held-out 4.031
       finetune  step   50: held-out 3.771
       finetune  step  400: held-out 3.698
       scratch   step    0: held-out 6.953
       scratch   step  200: held-out 4.620
       scratch   step  400: held-out 4.333
       on all 41,346 held-out tokens:   nats/token  bits/byte
       pretrained, before                4.022      2.017
       finetuned                         3.738      1.875
       from scratch                      4.352      2.182
       saved out/lessons/13/finetune.png
    4. pretrained, before: '“Sancho, my friend, señor, señor,” replied the curate, “for, I
                            can seeking I was nobody to be so much as a good fortune, ...'
       finetuned:          '“Sancho, my friend, señor, señor,”\n“there are, and my
                            favours, who, my good, you can tell you that there will ...'
       from scratch:       '“Sancho, my friend, Sancho, if if they’ and he had been, and
                            not in a cir, Sancho, or dicked in a thigh in the ...'
    5. beam 5, no_repeat_ngram_size 2: '“Sancho, my friend, señor,”\n“there is no more
                            thanks, for it is not to be, and that I am not able ...'
       T = 0.3: top-3 tokens [808, 271, 304] with p = [0.489, 0.175, 0.096]; greedy picks 808
       T = 2.0: top-3 tokens [808, 271, 304] with p = [0.02, 0.017, 0.015]; greedy picks 808
       Applied for real (logits / 0.7 inside the model), beam search gives the same
       output: False

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 2 s.

Exercises (your code goes in lessons/exercises/finetuning.py; check it with
`python -m lessons.check finetuning`; our answers are in lessons/solutions/finetuning.py)
  1. Implement `freeze(model, prefixes)`: set requires_grad=False on the parameters
     whose names start with a prefix; checked by training a GPT three steps with its
     embeddings frozen.
  2. Change and explain: finetune at the from-scratch rate, `--finetune_lr=2e-3`.
     Predict the held-out loss at step 50 and at the end against the default 3e-4,
     run, and explain what large steps do to what pretraining learned.
  3. Change and explain: freeze the pretrained model's embeddings with your `freeze`
     before it is finetuned (in main), and compare the held-out loss. How many
     parameters still train, and is the embedding table worth training here?
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
from tinytx import optim
from tinytx.checkpoint import load_gpt2, load_model, read_checkpoint_meta
from tinytx.course import load_book, save_figure, setup
from tinytx.data import get_batch, iter_windows, load_text, train_val_split
from tinytx.generate import beam_search, generate_text, probabilities
from tinytx.models import GPT, GPTConfig
from tinytx.tokenizer import load_gpt2_tokenizer
from tinytx.tokenizer.cached import cached_tokenizer


@dataclass
class Config:
    data: str = ""                 # a local copy of Don Quixote ("" = cache or download)
    out_dir: str = "out/lessons/13"
    smoke: bool = False            # a tiny model and two passages, for the tests
    pretrained: str = "out/lessons/11/gpt"   # lesson 11's checkpoint
    allow_smoke_checkpoint: bool = False     # finetune a --smoke run's checkpoint anyway
    text: str = ""                 # finetune on this text file ("" = the book's speeches)
    gpt2: str = ""                 # a Hugging Face GPT-2 folder to finetune ("" = lesson 11's)
    context: int = 0               # tokens per training window (0 = the model's block_size)
    # finetuning and the from-scratch baseline: the same steps and batches
    iters: int = 400
    batch_size: int = 16
    finetune_lr: float = 3e-4      # small steps: keep what pretraining learned
    scratch_lr: float = 2e-3       # lesson 11's rate, right for random weights
    warmup_iters: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 50
    eval_iters: int = 10
    seed: int = 1337
    device: str = "cpu"
    # a quick pretrained model when lesson 11's is missing
    pretrain_iters: int = 400
    vocab_size: int = 1024
    # sampling
    prompt: str = "“Sancho, my friend,"       # how a line of the new text starts
    sample_tokens: int = 60
    temperature: float = 0.8
    top_k: int = 20
    beam_width: int = 5            # the report's beam search ...
    no_repeat_ngram_size: int = 2  # ... with no repeated bigram


SMOKE = dict(iters=12, batch_size=8, warmup_iters=2, eval_interval=6, eval_iters=2,
             pretrain_iters=15, vocab_size=300, sample_tokens=15)
# In --smoke mode: the windmills and what follows, or without the book on disk (the tests
# never use the network) chapter 1's opening, repeated, both to pretrain on and for its
# quoted speeches.
SMOKE_BOOK = dict(smoke_chars=24000, smoke_start="At this point they came in sight", copies=4)


def speeches(text: str, min_words: int = 3) -> str:
    """What the characters say: every “quoted” passage of at least min_words words, on a
    line of its own, in its quotes (titles such as “Don Quixote” are too short to count)."""
    found = (" ".join(q.split()) for q in re.findall(r"“([^”]*)”", text))
    return "".join(f"“{q}”\n" for q in found if len(q.split()) >= min_words)


# %%
# -- the model to start from -----------------------------------------------------------------
def load_pretrained(cfg):
    """(model, tokenizer, description): GPT-2 (--gpt2), lesson 11's GPT, or a quick one
    trained here."""
    if cfg.gpt2:
        return (load_gpt2(cfg.gpt2, dropout=0.0).to(cfg.device),
                load_gpt2_tokenizer(cfg.gpt2), f"GPT-2 from {cfg.gpt2}")
    path = Path(cfg.pretrained)
    if path.with_name(path.name + ".json").is_file():
        recorded = read_checkpoint_meta(path).get("config") or {}
        if recorded.get("smoke") and not cfg.allow_smoke_checkpoint:
            raise SystemExit(f"{path} was saved by a --smoke run of lesson 11 (a tiny model "
                             f"trained for seconds), not by the full lesson; run "
                             f"lessons/11_gpt_quixote.py without --smoke, or pass "
                             f"--allow_smoke_checkpoint=true to finetune it anyway")
        model, tok = load_model(path, cfg.device)          # the tokenizer travels inside
        return model, tok, str(path)
    steps = cfg.pretrain_iters
    print(f"   {path}.json not found: run lessons/11_gpt_quixote.py first for the real "
          f"thing;\n   meanwhile a quick GPT is trained on the book here ({steps} steps).")
    book, _ = load_book(cfg, **SMOKE_BOOK)
    pre_text = train_val_split(book, 0.1)[0]
    tok = cached_tokenizer(pre_text, cfg.vocab_size,
                           Path(cfg.out_dir) / f"tokenizer-{cfg.vocab_size}")
    small = dict(n_layer=1, n_head=2, n_embd=32, block_size=32) if cfg.smoke else dict(
        n_layer=3, n_head=4, n_embd=128, block_size=64)
    tx.manual_seed(cfg.seed)
    model = GPT(GPTConfig(vocab_size=len(tok.vocab), **small)).to(cfg.device)
    ids = np.asarray(tok.encode(pre_text), dtype=np.int64)
    train(model, ids, None, steps, 2e-3, cfg, label="pretrain")
    return model, tok, f"a quick GPT ({steps} steps on the book)"


# %%
# -- training and measuring ----------------------------------------------------------------------
def train(model, train_ids, val_ids, steps, lr, cfg, label):
    """AdamW with warmup + cosine for `steps` steps; -> [(step, held-out loss)]."""
    opt = optim.AdamW(optim.decay_groups(model, cfg.weight_decay), lr=lr, betas=(0.9, 0.99))
    params, rng, curve = list(model.parameters()), np.random.default_rng(cfg.seed), []
    T = context(model, cfg)
    for step in range(steps + 1):
        if val_ids is not None and (step % cfg.eval_interval == 0 or step == steps):
            curve.append((step, estimate_loss(model, val_ids, cfg, step)))
            print(f"   {label:9s} step {step:4d}: held-out {curve[-1][1]:.3f}")
        if step == steps:
            break
        optim.set_lr(opt, optim.lr_schedule(step, lr=lr, min_lr=lr / 10,
                                            warmup_steps=min(cfg.warmup_iters, steps),
                                            decay_steps=steps))
        _, loss = model(*get_batch(train_ids, cfg.batch_size, T, rng, cfg.device))
        loss.backward()
        optim.clip_grad_norm(params, cfg.grad_clip)
        opt.step()
        opt.zero_grad()
    return curve


def context(model, cfg):
    """Tokens per window: --context, at most the model's block_size."""
    return min(cfg.context or model.config.block_size, model.config.block_size)


def estimate_loss(model, ids, cfg, step):
    """Held-out loss on eval_iters random batches (the same batches for every model)."""
    rng = np.random.default_rng([cfg.seed, step])
    model.eval()
    with tx.no_grad():
        losses = [model(*get_batch(ids, cfg.batch_size, context(model, cfg), rng,
                                   cfg.device))[1].item() for _ in range(cfg.eval_iters)]
    model.train()
    return float(np.mean(losses))


def held_out(model, ids, n_bytes, cfg):
    """(nats per token, bits per byte) over every held-out token."""
    total, count = 0.0, 0
    model.eval()
    with tx.no_grad():
        for x, y in iter_windows(ids, cfg.batch_size, context(model, cfg),
                                 device=cfg.device):
            total += model(x, y)[1].item() * y.size
            count += y.size
    model.train()
    nats = total / count
    return nats, nats * count / math.log(2) / n_bytes


def sample(model, tok, cfg):
    text = generate_text(model, tok, cfg.prompt, cfg.sample_tokens, rng=cfg.seed,
                         temperature=cfg.temperature, top_k=cfg.top_k)
    return repr(cfg.prompt + text)


def plot_curves(curves, before, path):
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for label, curve in curves.items():
        ax.plot(*zip(*curve), marker=".", label=label)
    ax.axhline(before, color="gray", ls=":", label="pretrained, before finetuning")
    ax.set_xlabel("step on the new text")
    ax.set_ylabel("held-out cross-entropy (nats per token)")
    ax.set_title("Lesson 13: finetuning against training from scratch")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def beam_vs_sampling(model, tok, cfg):
    """The report's beam search against top-k sampling, and the temperature under each."""
    prompt = tok.encode(cfg.prompt)
    beam = beam_search(model, [prompt], cfg.sample_tokens, cfg.beam_width,
                       no_repeat_ngram_size=cfg.no_repeat_ngram_size).tolist()[0]
    print(f"   beam {cfg.beam_width}, no_repeat_ngram_size {cfg.no_repeat_ngram_size}: "
          f"{cfg.prompt + tok.decode(beam[len(prompt):])!r}")
    print(f"   top-k {cfg.top_k}, temperature {cfg.temperature}:    {sample(model, tok, cfg)}")
    # The temperature divides the logits: z / T. It changes the probabilities (sharper
    # below 1, flatter above), never their order, so the most likely token stays the
    # most likely: greedy decoding picks the same tokens at every T. Beam search need
    # not: it adds log-probabilities over steps, and z / T changes how much each step's
    # choice costs, so applied for real a temperature can change the beams.
    model.eval()
    with tx.no_grad():
        z = model(tx.tensor([prompt[-context(model, cfg):]], device=cfg.device))[0]
    z = z.numpy()[0, -1].astype(np.float64)                       # next-token logits (V,)
    orders = []
    for T in (0.3, 0.7, 1.0, 2.0):
        p = probabilities(z / T)
        top = np.argsort(-p)[:3]
        orders.append(np.argsort(-p, kind="stable").tolist())
        print(f"   T = {T}: top-3 tokens {top.tolist()} with p = "
              f"{np.round(p[top], 3).tolist()}; greedy picks {int(np.argmax(z / T))}")
    model.train()
    print("   Same order at every T, only the probabilities change. Hugging Face's\n"
          "   generate(num_beams=5, temperature=0.7) without do_sample=True runs beam\n"
          "   search on the model's own log-probabilities and applies the temperature only\n"
          "   when it samples, so the report's temperature had no effect on its beams.")
    same = beam == tempered_beam(model, prompt, cfg, 0.7)
    print(f"   Applied for real (logits / 0.7 inside the model), beam search gives the same "
          f"output: {same}\n   (greedy always would; a beam sums log-probabilities over "
          f"steps, and z / T reweighs them,\n   so a temperature the report's beams had "
          f"really used could have changed them)")
    return {"same_order_at_every_T": all(o == orders[0] for o in orders),
            "beam_length": len(beam) - len(prompt), "beam_same_with_temperature": same}


def tempered_beam(model, prompt, cfg, T):
    """Beam search on logits / T. GPT's logits are ln_f(x) @ wteᵀ, so scaling ln_f's weight
    and bias by 1/T divides every logit by T; the weights are restored afterwards."""
    ln_f = model.transformer.ln_f
    params = [p for p in (ln_f.weight, ln_f.bias) if p is not None]
    kept = [p.data.copy() for p in params]
    for p in params:
        p.data *= p.data.dtype.type(1 / T)
    beam = beam_search(model, [prompt], cfg.sample_tokens, cfg.beam_width,
                       no_repeat_ngram_size=cfg.no_repeat_ngram_size).tolist()[0]
    for p, k in zip(params, kept):
        p.data[...] = k
    return beam


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    t_start = time.perf_counter()

    print("1. The pretrained model")
    pretrained, tok, where = load_pretrained(cfg)
    c = pretrained.config
    print(f"   {where}: {pretrained.num_parameters():,} parameters, {c.n_layer} layers, block "
          f"{c.block_size}, vocabulary {c.vocab_size}")

    if cfg.text:
        new_text = load_text(cfg.text)
        what = f"{cfg.text}"
        train_text, val_text = train_val_split(new_text, 0.1)
    else:
        book, _ = load_book(cfg, **SMOKE_BOOK)
        book_train, book_val = train_val_split(book, 0.1)            # lesson 11's split
        train_text, val_text = speeches(book_train), speeches(book_val)
        what = "the book's speeches, one per line (held out: the last 10% of the book)"
    train_ids = np.asarray(tok.encode(train_text), dtype=np.int64)
    val_ids = np.asarray(tok.encode(val_text), dtype=np.int64)
    n_bytes = len(val_text.encode())
    print(f"\n2. The new text: {what}: {len(train_ids):,} tokens to finetune on, "
          f"{len(val_ids):,} held out")
    for line in val_text.splitlines()[:2]:
        print(f"   {line[:110]}")

    print(f"\n3. {cfg.iters} steps of {cfg.batch_size} x {context(pretrained, cfg)} tokens each "
          f"way")
    before = held_out(pretrained, val_ids, n_bytes, cfg)
    before_sample = sample(pretrained, tok, cfg)
    tx.manual_seed(cfg.seed)
    scratch = GPT(replace(c, dropout=0.0)).to(cfg.device)      # same size, random weights
    curves = {"finetuned": train(pretrained, train_ids, val_ids, cfg.iters, cfg.finetune_lr,
                                 cfg, "finetune"),
              "from scratch": train(scratch, train_ids, val_ids, cfg.iters, cfg.scratch_lr,
                                    cfg, "scratch")}
    results = {"pretrained, before": before, "finetuned": held_out(pretrained, val_ids,
                                                                   n_bytes, cfg),
               "from scratch": held_out(scratch, val_ids, n_bytes, cfg)}
    print(f"   on all {len(val_ids):,} held-out tokens:   nats/token  bits/byte")
    for name, (nats, bpb) in results.items():
        print(f"   {name:22s}         {nats:8.3f}  {bpb:9.3f}")
    plot_curves(curves, before[0], out / "finetune.png")
    print(f"   saved {out / 'finetune.png'}")

    print(f"\n4. Samples (temperature {cfg.temperature}, top-k {cfg.top_k}, seed {cfg.seed}):")
    print(f"   pretrained, before: {before_sample}")
    print(f"   finetuned:          {sample(pretrained, tok, cfg)}")
    print(f"   from scratch:       {sample(scratch, tok, cfg)}")
    print("\n5. Beam search against sampling (the finetuned model)")
    facts = beam_vs_sampling(pretrained, tok, cfg)
    print(f"\nDone in {time.perf_counter() - t_start:.0f} s.")
    return {**{name: nats for name, (nats, _) in results.items()}, **facts}


# %%
if __name__ == "__main__":
    main()
