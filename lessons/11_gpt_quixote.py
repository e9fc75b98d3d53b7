# %%
r"""Lesson 11 — Training a GPT on Don Quixote (report chapter 7 and its results).

Everything so far comes together: the book becomes token ids (lesson 06), the ids become
training pairs X and Y (report eq. 1–3: Y is X shifted by one token, so every position
learns to predict the next token), and a decoder-only transformer (lesson 08's blocks,
`tinytx.models.GPT`) is trained on them by minimising the cross-entropy with AdamW. Then
it writes. This lesson:

  1. trains a BPE tokenizer on the first 90% of the book (the last 10% is held out);
  2. prints one small batch as tokens: the rows of X and of Y, shifted by one (eq. 1–3);
  3. trains a small GPT with a loop written out in full — warmup + cosine learning rate,
     forward, backward, gradient clipping, AdamW step — evaluating on held-out batches;
  4. draws the loss curves (loss.png) and measures the held-out loss on every held-out
     token (nats per token and bits per byte);
  5. samples from the report's prompt at temperatures 1.0, 0.8, 0.5 and 0.1 and with
     top-k, as in the report's results, and draws the next-token distribution at each
     temperature (temperature.png);
  6. saves the model and its tokenizer to out/lessons/11/gpt.* for lesson 13 (and for
     `python examples/sample.py --checkpoint=out/lessons/11/gpt`).
  7. shows what the trained GPT attends to: every head's attention weights on the book's
     first sentence (attention_maps.png; each block's `attn.weights`, computed from q and k);
  8. The report says / we measured: the report's late samples are verbatim passages of the
     book (memorisation). We measure ours: the longest run of words a sample shares with
     the training text and the share of its 8-grams found there, against a held-out
     passage as the baseline; the report's plot counts 524,288 = 2^19 tokens per
     iteration (GPT-3 Small's 0.5M batch), which is more than half the book per step;
     and the 6-layer, 384-wide model with 24540 tokens comes from the report's companion
     repository, not its text: its size, counted.

The same loop with gradient accumulation, loss logs, checkpoints and exact resume is
`tinytx.train.Trainer`, which examples/train_quixote.py uses for the larger main job.
docs/training.md derives each piece; the code is tinytx/models/gpt.py, tinytx/optim/,
tinytx/data/lm.py and tinytx/generate/.

Run:
    python lessons/11_gpt_quixote.py                   # the whole book, ~3 min
    python lessons/11_gpt_quixote.py --smoke           # two paragraphs, for the tests
                                    # (into out/lessons/11/smoke: never over the real gpt)
    python lessons/11_gpt_quixote.py --data=pg996.txt --max_iters=3000 --n_layer=4

Expected output (abridged; the full run's output is lessons/expected/11_gpt_quixote.txt;
measured on the whole book, seed 1337, one run):
    1. Don Quixote (Gutenberg #996): 2,288,361 characters; vocabulary 1024; 712,042
       training and 79,279 held-out tokens (2.93 bytes per token)
    2. X and Y (report eq. 1-3): windows of the token stream, Y shifted by one
         X[0] = [414, 287, 337, 904, 461, 284, 539, 44]  [ which][ he][ is][ exp][os][ing][ himself][,]
         Y[0] = [287, 337, 904, 461, 284, 539, 44, 563]  [ he][ is][ exp][os][ing][ himself][,][ without]
    3. GPT: 734,336 parameters (3 layers, 4 heads, 128 wide, block 64); 1500 AdamW steps ...
       step     0  lr 2.0e-05  train     -  val 6.961
       step   500  lr 1.7e-03  train 4.280  val 4.287
       step  1500  lr 2.0e-04  train 3.704  val 3.804
    4. held-out loss over all 79,279 held-out tokens: 3.803 nats/token = 1.872 bits/byte
    5. temperature 1.0:  ... said Don Quixote, though he saw rockl and his brought, andree
                         that the gold, ...
       temperature 0.5:  ... said Don Quixote, “I am so much, and I am not, and it is, that
                         I recogarded, for I am, I shall send a little of ...
       temperature 0.1:  ... said Don Quixote, “I’ll be away, and I am away to be a chole of
                         the windows, and I am not to be away, ...
       temperature 1.0, top-k 10:  ... said Don Quixote, who, but not so, and that I may, to
                         make it, I will be so, or I’ll give my wiliovel, ...
       saved out/lessons/11/temperature.png
    6. saved out/lessons/11/gpt.safetensors, gpt.json and tokenizer-1024.model
    7. What the trained GPT attends to, on 'In a village of La Mancha, ...':
       layer head  weight on: itself  previous token  first token  (mean over rows)
           0    0               0.15            0.28         0.10
           2    3               0.11            0.12         0.46
       (layer 0's heads look back a token or two; later heads park weight on the first
       token or on the last punctuation; attention_maps.png)
    8. longest run copied from the training text, and 8-grams found there:
       temperature 0.5                            7 words     0%  'and that I am not to be'
       held-out passage of the book (baseline)    4 words     0%  'if it were in'
       (this small GPT copies phrases, not passages: 1500 steps of 1,024 tokens are about
       two passes over the training text)
       the report's 524,288 tokens per iteration = 2^19; this lesson's step is 16 x 64 =
       1,024 tokens, 512x fewer; at 2^19 tokens per iteration the 712,042 training
       tokens last 1.36 iterations
       the companion repository's model (6 layers, 384 wide, vocabulary 24,540; not in the
       report's text): 20.2M parameters, 47% of them in wte (tied with lm_head)

Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 2 s.

Exercises (your code goes in lessons/exercises/gpt_quixote.py; check it with
`python -m lessons.check gpt_quixote`; our answers are in lessons/solutions/gpt_quixote.py)
  1. Implement `xy_batch(ids, starts, block_size)`: the report's X and Y (eq. 1-3);
     checked against tinytx.data.get_batch. Then the model they train,
     `gpt_forward(model, idx, targets)`: embeddings, blocks, ln_f, the tied head and the
     loss; checked against GPT.forward, logits, loss and every weight's gradient.
  2. Build the sampler of section 5: `top_k_filter(logits, k)`, `top_p_filter(logits, p)`,
     then the loop `sample(model, ids, max_new_tokens, temperature, top_k, top_p, rng)`;
     checked against tinytx.generate's filters and its generate with the same rng. Then
     predict, run and explain from temperature.png: what does --top_k=1 write, compared
     with the temperature 0.1 sample?
  3. Implement the KV cache's step, `cached_attention(q, k, v, cache)`: append the new
     token's key and value, attend to all cached ones; checked, one token at a time,
     against causal attention over the whole sequence. Why may the keys and values of
     earlier tokens be kept, and how much work does each new token then cost?
  4. Change and explain: train with --block_size=16 (the model then sees 16 tokens of
     context). Predict the held-out loss against the default 64, run, and explain.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
from tinytx import optim
from tinytx.checkpoint import model_record, save_checkpoint
from tinytx.course import load_book, save_figure, setup, show_tokens
from tinytx.data import get_batch, train_val_split
from tinytx.generate import apply_temperature, generate_text, probabilities
from tinytx.metrics import copied_fraction, longest_copied
from tinytx.models import GPT, GPTConfig
from tinytx.nn.transformer import Block
from tinytx.tokenizer.cached import cached_tokenizer
from tinytx.train import evaluate


@dataclass
class Config:
    data: str = ""                 # a local copy of the book ("" = cache or download)
    out_dir: str = "out/lessons/11"
    smoke: bool = False            # two paragraphs and a tiny model, for the tests
    vocab_size: int = 1024
    # the model: smaller than the main job's, to train in a few minutes
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    dropout: float = 0.0
    # the loop
    batch_size: int = 16
    max_iters: int = 1500
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 100
    eval_iters: int = 10
    seed: int = 1337
    device: str = "cpu"
    # sampling
    prompt: str = '"Here is the apple of which I spoke," said Don Quixote,'
    sample_tokens: int = 60
    top_k: int = 10


SMOKE = dict(vocab_size=300, n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8,
             max_iters=30, warmup_iters=5, eval_interval=10, eval_iters=2, sample_tokens=20)
TEMPERATURES = (1.0, 0.8, 0.5, 0.1)
SENTENCE = "In a village of La Mancha, the name of which I have no desire to call to mind"


def show_xy(tok, train_ids, rng):
    x, y = get_batch(train_ids, 2, 8, rng)          # B = 2 windows of T = 8 tokens
    print(f"   get_batch(train, batch_size=2, block_size=8): X and Y are {x.shape}; "
          f"Y[b, t] = X[b, t + 1]")
    for b in range(2):
        print(f"     X[{b}] = {x.numpy()[b].tolist()}  {show_tokens(tok.vocab, x.numpy()[b])}")
        print(f"     Y[{b}] = {y.numpy()[b].tolist()}  {show_tokens(tok.vocab, y.numpy()[b])}")
    print("   Row X[b] is the input; the model's output at position t is scored against "
          "Y[b, t], the token that follows X[b, :t+1].")
    return bool((x.numpy()[:, 1:] == y.numpy()[:, :-1]).all())     # Y is X shifted by one


# %%
# -- 3. the training loop, written out -------------------------------------------------------
def estimate_loss(model, ids, cfg, rng):
    """Mean loss over eval_iters random held-out batches (no gradients, no dropout)."""
    model.eval()
    with tx.no_grad():
        losses = [model(*get_batch(ids, cfg.batch_size, cfg.block_size, rng, cfg.device))[1]
                  .item() for _ in range(cfg.eval_iters)]
    model.train()
    return float(np.mean(losses))


def train(model, train_ids, val_ids, cfg):
    """The loop: lr schedule, forward, backward, clip, AdamW step; -> (rows, tokens/s)."""
    opt = optim.AdamW(optim.decay_groups(model, cfg.weight_decay), lr=cfg.lr,
                      betas=(cfg.beta1, cfg.beta2))
    params = list(model.parameters())
    rng = np.random.default_rng(cfg.seed)
    rows, losses, t0 = [], [], time.perf_counter()
    for step in range(cfg.max_iters + 1):
        lr = optim.lr_schedule(step, lr=cfg.lr, min_lr=cfg.min_lr,
                               warmup_steps=cfg.warmup_iters, decay_steps=cfg.max_iters)
        if step % cfg.eval_interval == 0 or step == cfg.max_iters:
            val = estimate_loss(model, val_ids, cfg, np.random.default_rng([cfg.seed, step]))
            train_loss = float(np.mean(losses)) if losses else math.nan
            rows.append(dict(step=step, lr=lr, train=train_loss, val=val))
            shown = "    -" if math.isnan(train_loss) else f"{train_loss:.3f}"
            print(f"   step {step:5d}  lr {lr:.1e}  train {shown}  val {val:.3f}")
            losses = []
        if step == cfg.max_iters:
            break
        optim.set_lr(opt, lr)                                        # warmup + cosine
        x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, rng, cfg.device)
        _, loss = model(x, y)                                        # forward: (B, T, V)
        loss.backward()                                              # backward
        optim.clip_grad_norm(params, cfg.grad_clip)                  # |g| <= grad_clip
        opt.step()                                                   # AdamW
        opt.zero_grad()
        losses.append(loss.item())
    tok_s = cfg.max_iters * cfg.batch_size * cfg.block_size / (time.perf_counter() - t0)
    return rows, tok_s


def plot_loss(rows, path):
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [r["step"] for r in rows]
    ax.plot(steps[1:], [r["train"] for r in rows[1:]], marker=".", label="train (mean since "
            "last eval)")
    ax.plot(steps, [r["val"] for r in rows], marker=".", label="held-out (random batches)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.grid(alpha=0.3)
    lr_ax = ax.twinx()
    lr_ax.plot(steps, [r["lr"] for r in rows], color="gray", ls=":", label="learning rate")
    lr_ax.set_ylabel("learning rate")
    lines = ax.get_legend_handles_labels()
    more = lr_ax.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right")
    ax.set_title("Lesson 11: a GPT on Don Quixote")
    fig.tight_layout()
    save_figure(fig, path)


# %%
# -- 5. samples and temperature ------------------------------------------------------------------
def plot_temperatures(model, tok, prompt, path, top=12):
    """The next-token distribution after the prompt, sharpened by each temperature (the
    prompt ends inside an opening quote, where the model has many good choices)."""
    ids = tok.encode(prompt)[-model.config.block_size:]
    model.eval()
    with tx.no_grad():
        logits = model(tx.tensor([ids]))[0].numpy()[0, -1].astype(np.float64)   # (V,)
    order = np.argsort(-logits)[:top]
    labels = [repr(tok.decode([int(i)]))[1:-1] for i in order]
    fig, axes = plt.subplots(1, len(TEMPERATURES), figsize=(4 * len(TEMPERATURES), 3.6),
                             dpi=100, sharey=True)
    for ax, t in zip(axes, TEMPERATURES):
        p = probabilities(apply_temperature(logits[None], t))[0]
        ax.bar(range(top), p[order])
        ax.set_xticks(range(top), labels, rotation=70, fontsize=8)
        ax.set_title(f"temperature {t}: top-{top} mass {p[order].sum():.2f}")
    axes[0].set_ylabel("p(next token | prompt)")
    fig.suptitle(f"next token after {prompt[-40:]!r}")
    fig.tight_layout()
    save_figure(fig, path)


def print_samples(model, tok, cfg):
    """Print a sample for each temperature (and top-k); -> {run name: sampled text}."""
    samples = {}
    runs = [(f"temperature {t}", dict(temperature=t)) for t in TEMPERATURES]
    runs.append((f"temperature 1.0, top-k {cfg.top_k}", dict(temperature=1.0,
                                                                top_k=cfg.top_k)))
    for name, kwargs in runs:
        text = generate_text(model, tok, cfg.prompt, cfg.sample_tokens, rng=cfg.seed, **kwargs)
        print(f"   {name}:\n      {cfg.prompt + text!r}")
        samples[name] = text
    return samples


# %%
# -- 7. what the trained GPT attends to ----------------------------------------------------------
def attention_maps(model, tok, sentence, path, device):
    """Every head's attention weights on a sentence of the book, layer by layer: the
    GPT's forward written out, asking each block's attention for its weights P (computed
    from its q and k) before the block runs. -> [(H, T, T) per layer]."""
    ids = tok.encode(sentence)[:model.config.block_size]
    tr, maps = model.transformer, []
    model.eval()
    with tx.no_grad():
        x = tr.wte(tx.tensor([ids], device=device)) + tr.wpe(len(ids))   # (1, T, C)
        for block in tr.h:
            maps.append(block.attn.weights(block.ln_1(x)).numpy()[0])   # (1, H, T, T) -> [0]
            x = block(x)
    labels = [repr(tok.decode([i]))[1:-1] for i in ids]
    L, H = len(maps), maps[0].shape[0]
    fig, axes = plt.subplots(L, H, figsize=(3.2 * H, 3.2 * L), dpi=100, squeeze=False)
    for layer, P in enumerate(maps):
        for h in range(H):
            ax = axes[layer, h]
            ax.imshow(P[h], cmap="Blues", vmin=0, vmax=1)
            ax.set_xticks(range(len(ids)), labels, rotation=90, fontsize=6)
            ax.set_yticks(range(len(ids)), labels, fontsize=6)
            ax.set_title(f"layer {layer}, head {h}", fontsize=9)
    fig.suptitle("rows: the token attending; columns: the tokens it looks at")
    fig.tight_layout()
    save_figure(fig, path)
    print("   layer head  weight on: itself  previous token  first token  (mean over rows)")
    for layer, P in enumerate(maps):
        for h in range(H):
            self_w, prev_w = np.diagonal(P[h]).mean(), np.diagonal(P[h], -1).mean()
            print(f"   {layer:5d} {h:4d}  {self_w:17.2f} {prev_w:15.2f} {P[h][:, 0].mean():12.2f}")
    return maps


# %%
# -- 8. the report says / we measured: memorisation ------------------------------------------------
def memorisation(samples, train_text, val_text, n=8):
    """How much of each sample is copied from the training text: the longest run of words
    found in it, and the share of the sample's word n-grams found in it. A held-out
    passage of the same length is the baseline (the book's own phrases recur by chance)."""
    words = len(next(iter(samples.values())).split())
    held_out = " ".join(val_text.split()[:max(words, n)])
    rows = {**samples, "held-out passage of the book (baseline)": held_out}
    print(f"   longest run copied from the training text, and {n}-grams found there:")
    result = {}
    for name, text in rows.items():
        run, share = longest_copied(text, train_text), copied_fraction(text, train_text, n)
        result[name] = (len(run), share)
        print(f"   {name:40s} {len(run):3d} words  {share:5.0%}  {' '.join(run)[:50]!r}")
    return result


def report_figures(cfg, n_train_tokens):
    """The report's loss plot counts 524,288 tokens per iteration: 2^19, GPT-3 Small's batch
    of 0.5M tokens (nanoGPT's GPT-2 recipe reaches it by gradient accumulation)."""
    per_step = cfg.batch_size * cfg.block_size
    report = 2 ** 19
    print(f"   the report's 524,288 tokens per iteration = 2^19 = {report:,}; this lesson's "
          f"step is {cfg.batch_size} x {cfg.block_size} = {per_step:,} tokens, "
          f"{report // per_step}x fewer")
    print(f"   at 2^19 tokens per iteration the {n_train_tokens:,} training tokens last "
          f"{n_train_tokens / report:.2f} iterations: N iterations of such a plot are "
          f"{report / n_train_tokens:.2f}·N passes over the book")
    # 6 layers, 6 heads, 384 wide, block 256, vocabulary 24540: figures from the report's
    # companion repository (examples/train_quixote.py --config=seed-small), not its text
    L, C, V, block = 6, 384, 24540, 256
    size = L * Block(C, 6).num_parameters() + V * C + block * C + 2 * C   # + wte, wpe, ln_f
    print(f"   the companion repository's model ({L} layers, {C} wide, vocabulary {V:,}; "
          f"not in the report's text):\n   {size / 1e6:.1f}M parameters, "
          f"{V * C / size:.0%} of them in wte (tied with lm_head)")
    return size


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    t_start = time.perf_counter()

    text, source = load_book(cfg, copies=3)
    train_text, val_text = train_val_split(text, 0.1)          # the book's end held out
    tok_prefix = out / f"tokenizer-{cfg.vocab_size}"
    tok = cached_tokenizer(train_text, cfg.vocab_size, tok_prefix)
    train_ids = np.asarray(tok.encode(train_text), dtype=np.int64)
    val_ids = np.asarray(tok.encode(val_text), dtype=np.int64)
    bytes_per_token = len(val_text.encode()) / len(val_ids)
    print(f"1. {source}: {len(text):,} characters; vocabulary {len(tok.vocab)}; "
          f"{len(train_ids):,} training and {len(val_ids):,} held-out tokens "
          f"({bytes_per_token:.2f} bytes per token)")

    print("\n2. X and Y (report eq. 1-3): windows of the token stream, Y shifted by one")
    shifted = show_xy(tok, train_ids, np.random.default_rng(cfg.seed))

    tx.manual_seed(cfg.seed)
    model = GPT(GPTConfig(block_size=cfg.block_size, vocab_size=len(tok.vocab),
                          n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
                          dropout=cfg.dropout)).to(cfg.device)
    print(f"\n3. GPT: {model.num_parameters():,} parameters ({cfg.n_layer} layers, {cfg.n_head} "
          f"heads, {cfg.n_embd} wide, block {cfg.block_size}); {cfg.max_iters} AdamW steps of "
          f"{cfg.batch_size} x {cfg.block_size} tokens; a loss of ln V = "
          f"{math.log(len(tok.vocab)):.2f} is a uniform guess")
    t_train = time.perf_counter()
    rows, tok_s = train(model, train_ids, val_ids, cfg)
    print(f"   {time.perf_counter() - t_train:.0f} s, {tok_s:,.0f} tokens/s")

    val_loss, bpb = evaluate(model, val_ids, cfg.batch_size, cfg.block_size,
                             bytes_per_token=bytes_per_token, device=cfg.device)
    plot_loss(rows, out / "loss.png")
    print(f"\n4. held-out loss over all {len(val_ids):,} held-out tokens: {val_loss:.3f} "
          f"nats/token = {bpb:.3f} bits/byte (perplexity {math.exp(val_loss):.0f})")
    print(f"   saved {out / 'loss.png'}")

    print(f"\n5. samples ({cfg.sample_tokens} tokens, seed {cfg.seed}):")
    samples = print_samples(model, tok, cfg)
    plot_temperatures(model, tok, cfg.prompt + " “", out / "temperature.png")
    print(f"   saved {out / 'temperature.png'}")

    save_checkpoint(out / "gpt", model, step=cfg.max_iters,
                    config={**model_record(model, tok),      # the tokenizer goes inside
                            "lesson": 11, "smoke": cfg.smoke, "val_loss": val_loss,
                            "bits_per_byte": bpb})
    print(f"\n6. saved {out / 'gpt.safetensors'}, {out / 'gpt.json'} and "
          f"{tok_prefix}.model (lesson 13 finetunes this model)")

    print(f"\n7. What the trained GPT attends to, on {SENTENCE!r}:")
    maps = attention_maps(model, tok, SENTENCE, out / "attention_maps.png", cfg.device)
    print(f"   saved {out / 'attention_maps.png'}")
    print("\n8. The report says / we measured: the report's late samples are the book's own "
          "passages; ours:")
    copied = memorisation(samples, train_text, val_text)
    companion = report_figures(cfg, len(train_ids))
    print(f"\nDone in {time.perf_counter() - t_start:.0f} s.")
    return {"val_loss": val_loss, "bits_per_byte": bpb, "tokens_per_s": tok_s,
            "first_loss": rows[0]["val"], "log_vocab": math.log(len(tok.vocab)),
            "xy_shifted": shifted,
            "attention_shapes": [list(P.shape) for P in maps],
            "attention_rows_sum_to_1": all(np.allclose(P.sum(-1), 1, atol=1e-5) for P in maps),
            "attention_causal": all((np.triu(P, 1) == 0).all() for P in maps),
            "copied": copied, "companion_parameters": companion}


# %%
if __name__ == "__main__":
    main()
