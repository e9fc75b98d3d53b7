# %%
"""Lesson 12 — The encoder-decoder: next-sentence prediction on Don Quixote, greedy against
beam search (report §3.4 and Figure 3; the report's "cervantes" model).

The encoder reads a whole source sentence with self-attention in both directions and
hands its output, the memory, to the decoder; the decoder writes the target one token at
a time with causal self-attention over what it has written and cross-attention into the
memory. Trained with teacher forcing, the decoder reads [BOS] + target and predicts
target + [EOS]; the padding of a batch is masked out of attention and of the loss. As in
the report, the task is next-sentence prediction: source = sentence i of the book,
target = sentence i + 1. This lesson:

  1. cuts the book into sentences and pairs (sentence_i, sentence_{i+1}) and shows one
     padded batch as tokens: src, tgt_in = [BOS] target, tgt_out = target [EOS], masks;
  2. trains `tinytx.models.Seq2Seq` with `tinytx.train.Trainer` (its loss function
     `tinytx.tasks.seq2seq.seq2seq_loss` unpacks a padded batch into the five inputs);
  3. decodes held-out sources greedily and with beam search and prints both, each with
     its average log-probability per token and its length;
  4. measures, over many held-out sources, what a wider beam buys: mean log-probability
     per token and length for beam widths 1 (= greedy), 2, 4, 8, against the log-
     probability the model gives the true next sentence (beam_search.png);
  5. translates: trains examples/translate.py's CPU default (English -> Bokmål on the
     Tatoeba dev pairs, one shared BPE vocabulary), prints test
     sentences with reference, greedy and beam-5 outputs and each one's sentence chrF,
     draws the cross-attention of one translation (cross_attention.png), and measures
     corpus BLEU and chrF against beam width (bleu_beam_width.png). docs/translation.md;
  6. The report says / we measured: its nb->nn model is printed with 6+8 layers but
     configured with 8+12; one layer of each kind, counted, says what that difference weighs.

The answer to 4 is the lesson: search finds sentences the model likes much more than
the real next sentence, and they are short and generic. A next sentence is hard to
predict; decoding maximises the model's probability, not faithfulness to the book.

docs/encoder_decoder.md explains Figure 3, the masks and the decoders; the code is
tinytx/models/seq2seq.py, tinytx/data/pairs.py, tinytx/tasks/seq2seq.py and
tinytx/generate/beam.py. examples/train_seq2seq.py is the same model as a job (and
trains on translation pairs with --pairs=FILE.tsv).

Run:
    python lessons/12_encoder_decoder.py               # the book ~2.5 min, then part 5
    python lessons/12_encoder_decoder.py --smoke       # two paragraphs, for the tests
    python lessons/12_encoder_decoder.py --max_iters=1500 --beam_widths=1,4,16
    python lessons/12_encoder_decoder.py --translate=false    # parts 1-4 only

Expected output (abridged; the full run's output is lessons/expected/12_encoder_decoder.txt;
measured on the whole book, seed 1337):
    1. Don Quixote: 2,276 next-sentence pairs of at most 32 words (2,048 to train on, 228
       held out: the end of the book); vocabulary 1027 with {'[PAD]': 1024, ...}
         src     [E][P][I][T][AP][H]··········
         tgt_in  [[BOS]][He][re][ Dulcinea][ li][es][.]·······
         tgt_out [He][re][ Dulcinea][ li][es][.][[EOS]]·······
       src_mask (1 = True = may attend): 1111110000000000 and 1111111111111111
    2. Seq2Seq: 1,190,147 parameters (2 encoder + 2 decoder layers, 128 wide, ...)
       step 450: train 3.7889, val 4.2545
       held-out loss over every target token: 4.235 nats/token
    3. source:    CHAPTER LXIV.
       reference: TREATING OF THE ADVENTURE WHICH GAVE DON QUIXOTE MORE UNHAPPINESS THAN ...
       greedy:    CHAPTER XXXVIX OF THE IN THE IN WHICH THE INNABLE ADVENTURE OF THE ...
                  [-1.71 nats/token, 40 tokens]
       beam 4:    CHAPTER XXXVII OF WHAT BEFELL DON QUIXOTE WITH OTHER INCIDENTS
                  [-1.23 nats/token, 20 tokens]
       source:    Hold off! ye weaklings; hold your hands!
       greedy:    “On the landled, and the bitter, and I am I am I am I am I am I am I ...
                  [-2.41 nats/token, 40 tokens]
       beam 4:    “On that I am,” said Don Quixote.   [-1.64 nats/token, 12 tokens]
    4. Beam width on 64 held-out sources (length penalty 1.0):
       width  nats/token  total nats  tokens  ended by [EOS]
           1      -2.128      -84.34    39.6             17%
           2      -1.846      -63.83    33.6             34%
           4      -1.493      -31.53    18.8             81%
           8      -1.414      -23.91    14.4             95%
       the true next sentences: -4.225 nats/token under the same model
       saved out/lessons/12/beam_search.png

Runtime: the full run's wall time is in lessons/expected/README.md; --smoke about 5-10 s.
Part 5 uses the model `python examples/translate.py` trains (2,400 steps, 10-25 min;
its test scores are in docs/translation.md §6) when out/translate/best exists
(--mt_checkpoint), and otherwise trains the same model here for 120 steps only
(--mt_max_iters), to show every step of the pipeline in about a minute: its
translations are Norwegian-looking words that rarely mean the source (BLEU below 1);
--smoke trains it for 10 steps on 300 pairs (or six built-in pairs without the files).

Exercises (your code goes in lessons/exercises/encoder_decoder.py; check it with
`python -m lessons.check encoder_decoder`; our answers are in lessons/solutions/encoder_decoder.py)
  1. Implement `teacher_forcing(targets, bos_id, eos_id, pad_id)`: tgt_in, tgt_out and
     tgt_mask of a padded batch; checked against tinytx.data.pairs.collate_pairs.
  2. Implement `greedy_decode(model, src, bos_id, eos_id, max_new_tokens)` with
     model.encode and model.decode; checked against generate_seq2seq(greedy=True).
  3. Implement `beam_decode(model, src, bos_id, beam_width, max_new_tokens)`: beam search
     over a fixed number of new tokens, ranked by the summed log-probability; checked
     against beam_search_seq2seq (no eos, length_penalty=0) for widths 1, 2 and 4.
  4. Predict, then run: `--beam_widths=1,16 --translate=false`. Will the width-16 beam
     write longer or shorter sentences than greedy, with a higher or lower
     log-probability per token? Explain with section 4's table what beam search
     maximises, and try --length_penalty=2.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
from tinytx.checkpoint import load_model
from tinytx.course import load_book, save_figure, setup, show_tokens
from tinytx.data import (add_special_tokens, collate_pairs, encode_pairs, load_tatoeba,
                         pad_batch, shared_tokenizer, special_ids, train_val_split)
from tinytx.generate import beam_search_seq2seq
from tinytx.metrics import sentence_chrf
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.nn.transformer import DecoderLayer, EncoderLayer
from tinytx.tasks.seq2seq import (book_pairs, compare_decoders, pair_loss,
                                  random_pair_batch, seq2seq_loss, strip_target,
                                  target_logprobs, target_tokens)
from tinytx.tasks.translation import (cross_attention, scores_by_beam_width,
                                      smoothed_loss, translate_corpus)
from tinytx.tokenizer import render_token
from tinytx.tokenizer.cached import cached_tokenizer
from tinytx.train import Trainer, TrainConfig


@dataclass
class Config:
    data: str = ""                 # a local copy of the book ("" = cache or download)
    out_dir: str = "out/lessons/12"
    smoke: bool = False            # two paragraphs and a tiny model, for the tests
    vocab_size: int = 1024
    max_words: int = 32            # pairs whose sentences have at most this many words
    max_len: int = 48              # tokens per source / target
    # the model (tinytx.models.Seq2SeqConfig)
    n_embd: int = 128
    n_head: int = 4
    n_encoder_layer: int = 2
    n_decoder_layer: int = 2
    dropout: float = 0.1
    # training (tinytx.train.TrainConfig)
    batch_size: int = 32
    max_iters: int = 450
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 60
    weight_decay: float = 0.1
    beta2: float = 0.98
    grad_clip: float = 1.0
    eval_interval: int = 100
    eval_iters: int = 10
    seed: int = 1337
    device: str = "cpu"
    # decoding
    n_show: int = 4                # held-out sources printed with both decodes
    n_score: int = 64              # held-out sources in the beam-width comparison
    beam_widths: str = "1,2,4,8"
    length_penalty: float = 1.0
    max_new_tokens: int = 40
    # 5. translation English -> Bokmål on Tatoeba: examples/translate.py's CPU default
    translate: bool = True
    mt_vocab_size: int = 1000
    mt_n_layer: int = 3            # encoder and decoder layers each (128 wide, 4 heads)
    mt_batch_size: int = 64
    mt_max_iters: int = 120        # a short run; examples/translate.py trains 2,400 steps
    mt_checkpoint: str = "out/translate/best"   # if examples/translate.py was run: use it
    mt_lr: float = 1.5e-3
    mt_label_smoothing: float = 0.0
    mt_n_score: int = 200          # test sentences in the BLEU-against-beam-width table
    mt_beam_widths: str = "1,2,5"


SMOKE = dict(vocab_size=300, max_words=80, n_embd=32, n_head=2, n_encoder_layer=1,
             n_decoder_layer=1, batch_size=8, max_iters=20, warmup_iters=4,
             eval_interval=10, eval_iters=2, n_show=2, n_score=4, beam_widths="1,2",
             max_new_tokens=8, mt_checkpoint="", mt_vocab_size=300, mt_n_layer=1,
             mt_batch_size=8,
             mt_max_iters=10, mt_n_score=8, mt_beam_widths="1,2")
# --smoke without the Tatoeba files on disk: a few pairs, enough to run every step
FALLBACK_PAIRS = [("I am hungry.", "Jeg er sulten."), ("Tom is here.", "Tom er her."),
                  ("Where is the station?", "Hvor er stasjonen?"),
                  ("I like tea.", "Jeg liker te."), ("We are tired.", "Vi er trøtte."),
                  ("Mary reads a book.", "Mary leser en bok.")] * 4

# %%
# -- 1. pairs and one batch ------------------------------------------------------------------
def show_batch(tok, enc, pad):
    middle = enc[len(enc) // 2:]                     # past the title page and contents
    short = [p for p in middle if len(p[0]) <= 16 and len(p[1]) <= 16]   # readable ones
    two = short[:1] + [p for p in short[1:] if len(p[0]) != len(short[0][0])][:1]
    b = collate_pairs(two if len(two) == 2 else enc[:2], pad)
    print(f"   one batch of 2 pairs, padded with [PAD] (shown ·): src {b.src.shape}, "
          f"tgt_in and tgt_out {b.tgt_in.shape}")
    for name in ("src", "tgt_in", "tgt_out"):
        for row in getattr(b, name).numpy():
            print(f"     {name:8s}{show_tokens(tok.vocab, row, pad)}")
    masks = ["".join("1" if m else "0" for m in row) for row in b.src_mask.numpy()]
    print(f"   src_mask (1 = True = may attend): {masks[0]} and {masks[1]}"
          f"\n   It keeps the encoder's self-attention and the decoder's cross-attention off "
          f"the padding;\n   tgt_mask joins the causal mask in the decoder, and tgt_out "
          f"== [PAD] is left out of the loss.")


# %%
# -- 4. beam width -------------------------------------------------------------------------------
def beam_width_table(model, sources, refs, specials, cfg):
    """Per width: mean log-prob per token, mean length, seconds; and the references' score."""
    bos, eos, pad = specials["[BOS]"], specials["[EOS]"], specials["[PAD]"]
    src, mask = pad_batch(sources, pad)
    rows = []
    for w in [int(s) for s in cfg.beam_widths.split(",")]:
        t0 = time.perf_counter()
        out = beam_search_seq2seq(model, src, mask, bos, eos, cfg.max_new_tokens, w,
                                  length_penalty=cfg.length_penalty)
        seconds = time.perf_counter() - t0
        hyps = [strip_target(r, bos, eos, pad) or [eos] for r in out.tolist()]
        logps = target_logprobs(model, sources, hyps, bos, pad)
        rows.append(dict(width=w, per_token=np.mean([lp / len(h) for lp, h in zip(logps, hyps)]),
                         total=np.mean(logps), length=np.mean([len(h) for h in hyps]),
                         ended=np.mean([h[-1] == eos for h in hyps]), seconds=seconds))
    ref_logps = target_logprobs(model, sources, refs, bos, pad)
    reference = np.mean([lp / len(r) for lp, r in zip(ref_logps, refs)])
    return rows, reference


def plot_widths(rows, reference, path):
    widths = [str(r["width"]) for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100)
    a.bar(widths, [r["per_token"] for r in rows], color="tab:blue")
    a.axhline(reference, color="tab:red", ls="--", label="the true next sentence")
    a.set_xlabel("beam width (1 = greedy)")
    a.set_ylabel("mean log-probability per token")
    a.legend(loc="lower right")
    b.bar(widths, [r["length"] for r in rows], color="tab:green")
    b.set_xlabel("beam width (1 = greedy)")
    b.set_ylabel("mean output length (tokens)")
    fig.suptitle("Lesson 12: what a wider beam finds (held-out sources)")
    fig.tight_layout()
    save_figure(fig, path)


# %%
# -- 5. translation ---------------------------------------------------------------------------
def load_translation_pairs(cfg):
    """(train, test, description): Tatoeba eng->nob dev to train on, test to score on."""
    try:
        kw = dict(pair="eng-nor", source_langs="eng", target_langs="nob",
                  download=not cfg.smoke, progress=False)
        train, test = load_tatoeba("dev", **kw), load_tatoeba("test", **kw)
    except (OSError, ValueError) as e:
        if not cfg.smoke:
            sys.exit(f"lesson 12: could not load the Tatoeba files: {e}")
        return FALLBACK_PAIRS, FALLBACK_PAIRS[:6], "six built-in pairs (no Tatoeba files)"
    if cfg.smoke:
        return train[:300], test[:20], "300 Tatoeba eng->nob dev pairs (smoke)"
    return train, test, "Tatoeba eng->nob"


def plot_cross_attention(att, src_tokens, tgt_tokens, path):
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(src_tokens), 1 + 0.4 * len(tgt_tokens)),
                           dpi=100)
    ax.imshow(att, cmap="Blues", vmin=0, vmax=att.max())
    ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(tgt_tokens)), tgt_tokens)
    ax.set_xlabel("source token (English)")
    ax.set_ylabel("decoder reads ... predicts the next token")
    ax.set_title("cross-attention\n(last layer, mean of heads)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def train_translator(cfg, out, train):
    """examples/translate.py's CPU default model, trained for cfg.mt_max_iters steps."""
    n_val = min(200, len(train) // 10)
    train, val = train[:-n_val], train[-n_val:]
    tok = shared_tokenizer(train, cfg.mt_vocab_size, out / f"mt-tokenizer-{cfg.mt_vocab_size}")
    pad = special_ids(tok)["[PAD]"]
    enc = {"train": encode_pairs(tok, train, cfg.max_len),
           "val": encode_pairs(tok, val, cfg.max_len)}
    tx.manual_seed(cfg.seed)
    s2s = Seq2Seq(Seq2SeqConfig(vocab_size=max(tok.vocab) + 1, n_embd=cfg.n_embd,
                                n_head=cfg.n_head, n_encoder_layer=cfg.mt_n_layer,
                                n_decoder_layer=cfg.mt_n_layer, dropout=cfg.dropout,
                                block_size=cfg.max_len + 2, pad_id=pad)).to(cfg.device)
    train_cfg = TrainConfig(max_iters=cfg.mt_max_iters, batch_size=cfg.mt_batch_size,
                            lr=cfg.mt_lr, min_lr=1e-4, beta2=0.98,
                            warmup_iters=min(200, cfg.mt_max_iters // 10),
                            eval_interval=300, eval_iters=4, seed=cfg.seed, progress=False)
    print(f"   one BPE vocabulary of {max(tok.vocab) + 1} for both languages")
    print(f"   Seq2Seq: {s2s.num_parameters():,} parameters, {cfg.mt_n_layer}+"
          f"{cfg.mt_n_layer} layers; {cfg.mt_max_iters} steps of {cfg.mt_batch_size} pairs, "
          f"label smoothing {cfg.mt_label_smoothing}")
    t0 = time.perf_counter()
    Trainer(s2s, train_cfg,
            lambda split, rng: _pair_batch(enc[split], cfg.mt_batch_size, rng, pad, cfg),
            out / "translation", loss_fn=smoothed_loss(cfg.mt_label_smoothing)).train()
    print(f"   trained in {time.perf_counter() - t0:.0f} s (python examples/translate.py "
          f"trains it for 2,400 steps; this lesson then loads that model)")
    return s2s, tok


def translation(cfg, out):
    """Translate with examples/translate.py's model: its checkpoint when the example has
    been run (cfg.mt_checkpoint), else the same model trained here for a few steps."""
    train, test, source = load_translation_pairs(cfg)
    print(f"\n5. Translation, {source}: {len(train):,} pairs to train on, {len(test):,} test "
          f"pairs")
    checkpoint = Path(cfg.mt_checkpoint) if cfg.mt_checkpoint else None
    if checkpoint is not None and checkpoint.with_name(checkpoint.name + ".json").is_file():
        s2s, tok = load_model(checkpoint, cfg.device)   # the model and its tokenizer
        print(f"   loaded {checkpoint} (examples/translate.py's trained model): "
              f"{s2s.num_parameters():,} parameters")
    else:
        s2s, tok = train_translator(cfg, out, train)
    print("   test sentences, each output with its sentence chrF:")
    picks = np.linspace(0, len(test) - 1, min(cfg.n_show, len(test))).astype(int)
    srcs, refs = [test[i][0] for i in picks], [test[i][1] for i in picks]
    outs = {"greedy": translate_corpus(s2s, tok, srcs, max_len=cfg.max_len),
            "beam 5": translate_corpus(s2s, tok, srcs, beam_width=5, max_len=cfg.max_len)}
    for k, (src, ref) in enumerate(zip(srcs, refs)):
        print(f"   source:    {src}\n   reference: {ref}")
        for name, texts in outs.items():
            print(f"   {name + ':':10s} {texts[k]}   [chrF {sentence_chrf(texts[k], ref):.1f}]")
    target_ids = tok.encode_ordinary(outs["greedy"][0])[:cfg.max_len]
    att = cross_attention(s2s, tok, srcs[0], target_ids, cfg.max_len)      # (T, S)
    names = lambda ids: [render_token(tok.vocab[i]) for i in ids]          # noqa: E731
    plot_cross_attention(att, names(tok.encode_ordinary(srcs[0])[:cfg.max_len]),
                         ["[BOS]"] + names(target_ids), out / "cross_attention.png")
    print(f"   saved {out / 'cross_attention.png'} (the first sentence's greedy output)")

    n = min(cfg.mt_n_score, len(test))
    print(f"   BLEU and chrF against beam width on the first {n} test pairs:\n"
          f"   width   BLEU   chrF  seconds")
    rows = scores_by_beam_width(s2s, tok, test[:n], [int(x) for x in
                                                     cfg.mt_beam_widths.split(",")],
                                max_len=cfg.max_len)
    for r in rows:
        print(f"   {r['width']:5d} {r['bleu']:6.2f} {r['chrf']:6.2f} {r['seconds']:8.1f}")
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=100)
    ax.plot([r["width"] for r in rows], [r["bleu"] for r in rows], "o-", label="BLEU")
    ax.plot([r["width"] for r in rows], [r["chrf"] for r in rows], "s-", label="chrF")
    ax.set_xlabel("beam width (1 = greedy)")
    ax.set_ylabel("score (0-100)")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "bleu_beam_width.png")
    print(f"   saved {out / 'bleu_beam_width.png'}")
    return rows


def report_layers(n_embd=512, n_head=8, vocab_size=8000):
    """The report's nb->nn model: its text prints 6 encoder and 8 decoder layers, its
    configuration listing says 8 and 12 (512 wide, 8 heads, post-LN as torch's default).
    What the difference weighs, counted on one layer of each kind."""
    enc = EncoderLayer(n_embd, n_head, norm_first=False).num_parameters()
    dec = DecoderLayer(n_embd, n_head, norm_first=False).num_parameters()
    emb = vocab_size * n_embd                  # one shared embedding table (and generator)
    sizes = {f"{e}+{d}": emb + e * enc + d * dec for e, d in ((6, 8), (8, 12))}
    print(f"\n6. The report says / we measured: its nb->nn model is printed with 6+8 layers "
          f"and configured with 8+12.\n   One encoder layer of width {n_embd} has {enc:,} "
          f"parameters, one decoder layer {dec:,} (cross-attention adds 4·C² + 4·C); with "
          f"a\n   shared {vocab_size}-token embedding: " + ", ".join(
              f"{k} layers {v / 1e6:.1f}M parameters" for k, v in sizes.items()))
    return {"layer_parameters": [enc, dec], "nb_nn_parameters": sizes}


def _pair_batch(encoded, batch_size, rng, pad, cfg):
    """A random padded batch of pairs (a PairBatch) on cfg.device."""
    return random_pair_batch(encoded, batch_size, rng, pad, cfg.device)


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    t_start = time.perf_counter()

    text, source = load_book(cfg, copies=3, sep="\n\n")
    train_pairs, val_pairs = train_val_split(book_pairs(text, cfg.max_words), 0.1)
    sentences = dict.fromkeys(s for pair in train_pairs for s in pair)
    tok = cached_tokenizer("\n".join(sentences), cfg.vocab_size,
                           out / f"tokenizer-{cfg.vocab_size}")
    specials = add_special_tokens(tok)
    pad = specials["[PAD]"]
    enc = {"train": encode_pairs(tok, train_pairs, cfg.max_len),
           "val": encode_pairs(tok, val_pairs, cfg.max_len)}
    print(f"1. {source}: {len(train_pairs) + len(val_pairs):,} next-sentence pairs of at most "
          f"{cfg.max_words} words ({len(train_pairs):,} to train on, {len(val_pairs):,} "
          f"held out: the end of the book); vocabulary {max(tok.vocab) + 1} with {specials}")
    for a, b in train_pairs[len(train_pairs) // 2:][:2]:
        print(f"   source: {a}\n   target: {b}")
    show_batch(tok, enc["train"], pad)

    tx.manual_seed(cfg.seed)
    s2s = Seq2Seq(Seq2SeqConfig(vocab_size=max(tok.vocab) + 1, n_embd=cfg.n_embd,
                                n_head=cfg.n_head, n_encoder_layer=cfg.n_encoder_layer,
                                n_decoder_layer=cfg.n_decoder_layer, dropout=cfg.dropout,
                                block_size=max(cfg.max_len, cfg.max_new_tokens + 1),
                                pad_id=pad)).to(cfg.device)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    train_cfg = TrainConfig(**{k: v for k, v in vars(cfg).items() if k in fields},
                            progress=False)

    def batch(split, rng):                 # a PairBatch; seq2seq_loss unpacks it
        return _pair_batch(enc[split], cfg.batch_size, rng, pad, cfg)

    print(f"\n2. Seq2Seq: {s2s.num_parameters():,} parameters ({cfg.n_encoder_layer} encoder "
          f"+ {cfg.n_decoder_layer} decoder layers, {cfg.n_embd} wide, shared embeddings); "
          f"{cfg.max_iters} steps of {cfg.batch_size} pairs with the Trainer")
    t_train = time.perf_counter()
    trainer = Trainer(s2s, train_cfg, batch, out, loss_fn=seq2seq_loss, meta={"lesson": 12},
                      count_targets=target_tokens)  # padded pairs: weight by tokens
    trainer.train()
    val_loss = pair_loss(s2s, enc["val"], pad, cfg.batch_size, cfg.device)
    print(f"   {time.perf_counter() - t_train:.0f} s; held-out loss over every target token: "
          f"{val_loss:.3f} nats/token; saved {out / 'loss.png'}")

    print("\n3. Held-out sources, decoded greedily and by beam search (width 4):")
    picks = np.linspace(0, len(val_pairs) - 1, min(cfg.n_show, len(val_pairs))).astype(int)
    rows = compare_decoders(s2s, tok, [enc["val"][i][0] for i in picks], specials,
                            cfg.max_new_tokens, beam_width=4,
                            length_penalty=cfg.length_penalty)
    for i, r in zip(picks, rows):
        print(f"   source:    {val_pairs[i][0]}\n   reference: {val_pairs[i][1]}")
        for kind, label in (("greedy", "greedy:   "), ("beam", "beam 4:   ")):
            n = len(r[f"{kind}_ids"])
            print(f"   {label} {r[kind]}   [{r[f'{kind}_logp'] / max(n, 1):.2f} "
                  f"nats/token, {n} tokens]")
        print()

    n = min(cfg.n_score, len(val_pairs))
    sources = [s for s, _ in enc["val"][:n]]
    refs = [t[1:] for _, t in enc["val"][:n]]            # target + [EOS], without [BOS]
    print(f"4. Beam width on {n} held-out sources (length penalty {cfg.length_penalty}):")
    table, reference = beam_width_table(s2s, sources, refs, specials, cfg)
    print("   width  nats/token  total nats  tokens  ended by [EOS]  seconds")
    for r in table:
        print(f"   {r['width']:5d}  {r['per_token']:10.3f}  {r['total']:10.2f}  "
              f"{r['length']:6.1f}  {r['ended']:14.0%}  {r['seconds']:7.2f}")
    print(f"   (outputs that did not end by [EOS] ran into max_new_tokens = "
          f"{cfg.max_new_tokens}, usually in a loop)")
    print(f"   the true next sentences: {reference:.3f} nats/token under the same model")
    plot_widths(table, reference, out / "beam_search.png")
    print(f"   saved {out / 'beam_search.png'}")
    mt = translation(cfg, out) if cfg.translate else None
    layers = report_layers()
    print(f"\nDone in {time.perf_counter() - t_start:.0f} s.")
    return {"val_loss": val_loss, "beam": table, "reference": reference, "translation": mt,
            **layers}


# %%
if __name__ == "__main__":
    main()
