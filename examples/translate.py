"""Translate English to Norwegian (or Bokmål to Nynorsk) with the encoder-decoder.

    python examples/translate.py                          # CPU default, ~10 min on 2 cores
    python examples/translate.py --config=seed-en-no      # the report's en->no model (cuda)
    python examples/translate.py --config=seed-nb-nn      # the report's nb->nn model (cuda)
    python examples/translate.py --resume                 # continue out/translate/last
    python examples/translate.py --evaluate               # score the checkpoint again
    python examples/translate.py --translate "Where is the station?"
    python examples/translate.py --pairs=en-no.tsv        # any source<TAB>target file

Data (docs/translation.md): the Tatoeba Challenge release, read from --train_file /
--test_file, else $TINYTX_DATA_DIR/tatoeba/<split>/<pair>/<split>.txt, else the cache,
else downloaded once. Only its dev and test files are plain downloads, so the model
trains on `dev` (English -> Bokmål lines by default; the last --val_pairs of them held
out for the loss curve) and is scored on `test`, which it never sees. With --pairs=FILE
it trains on a TSV file's pairs instead (shuffled; 10% held out as the test set).

One BPE vocabulary is trained on both languages (tinytx.data.shared_tokenizer). During
training, every --eval_interval steps, a few held-out sentences are translated greedily
and by beam search. At the end the whole test set is translated both ways and scored
with corpus BLEU and chrF (tinytx.metrics, equal to sacreBLEU's), next to two
baselines on the same lines: copying the source, and a word-for-word dictionary
learned from the training pairs (IBM Model 1). Everything lands in --out_dir: loss.csv,
loss.png, checkpoints last.* / best.* (the tokenizer inside), results.json and
translations.tsv (every test sentence with its reference and both outputs). The last
line is the summary.

Every Config field is an option: --key=value. Under `mpiexec -n N` it is data-parallel.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

import tinytx as tx
from tinytx.checkpoint import load_checkpoint, load_model, read_checkpoint_meta
from tinytx.config import nested, parse_config, pick_preset, run_main, with_options
from tinytx.data import (encode_pairs, load_tatoeba, read_tsv_pairs, shared_tokenizer,
                         special_ids, text_record, train_val_split)
from tinytx.distributed import (ParallelConfig, data_parallel, lock_out_dir, processes,
                                rank0_first, start)
from tinytx.models import Seq2Seq, Seq2SeqConfig
from tinytx.tasks.seq2seq import pair_loss, random_pair_batch, target_tokens
from tinytx.tasks.translation import baselines, score, smoothed_loss, translate_corpus
from tinytx.train import Trainer, TrainConfig


@dataclass
class Config:
    """Every default of this script, in one place: the job's own options, the model's
    (Seq2SeqConfig) and the training's (TrainConfig); all are flat options --key=value."""
    # data
    pair: str = "eng-nor"          # the Tatoeba release's language pair
    source_langs: str = "eng"      # comma-separated codes to keep ("" = all)
    target_langs: str = "nob"      # Bokmål; "nno" for Nynorsk, "nob,nno" for both
    train_split: str = "dev"       # the release's split to train on
    test_split: str = "test"       # ... and the one to score on (never trained on)
    train_file: str = ""           # explicit files instead of the lookup
    test_file: str = ""
    pairs: str = ""                # a source<TAB>target file instead of Tatoeba
    skip_bad: bool = False         # skip malformed lines (counted) instead of failing
    val_pairs: int = 200           # training pairs held out for the validation loss
    n_test: int = 0                # score on the first n test pairs (0 = all)
    out_dir: str = "out/translate"
    vocab_size: int = 1000         # one BPE vocabulary for both languages
    max_len: int = 48              # tokens per source / target (longer ones are cut)
    # model (tinytx.models.Seq2SeqConfig): n_inner 0 = 4 * n_embd; norm_first: pre-LN
    # (the report's models are post-LN); tie_generator: output layer = the shared
    # embedding table, transposed
    model: Seq2SeqConfig = nested(
        Seq2SeqConfig, derived=("vocab_size", "tgt_vocab_size", "block_size", "pad_id",
                                "share_embeddings"),
        n_embd=128, n_head=4, n_encoder_layer=3, n_decoder_layer=3, n_inner=0,
        dropout=0.1, bias=True, norm_first=True, tie_generator=False)
    # training (tinytx.train.TrainConfig; AdamW, warmup + cosine)
    train: TrainConfig = nested(
        TrainConfig, batch_size=64, grad_accum=1, max_iters=2400, lr=1.5e-3, min_lr=1e-4,
        warmup_iters=200, lr_decay_iters=0, weight_decay=0.1, beta1=0.9, beta2=0.98,
        eps=1e-8, grad_clip=1.0, eval_interval=300, eval_iters=4, seed=1337)
    label_smoothing: float = 0.0   # ε of the smoothed target (0 = plain cross-entropy)
    device: str = "cpu"
    parallel: ParallelConfig = nested(ParallelConfig)   # --ddp, --bucket_mb, --zero, ...
    # decoding
    n_examples: int = 3            # held-out sentences printed at each evaluation
    beam_width: int = 5
    no_repeat_ngram_size: int = 0  # the report uses 2
    length_penalty: float = 1.0
    max_new_tokens: int = 48


_REPORT = dict(n_embd=512, n_head=8, dropout=0.1, norm_first=False, lr=1e-4, min_lr=1e-4,
               warmup_iters=0, weight_decay=0.0, beta1=0.9, beta2=0.98, eps=1e-9,
               device="cuda", vocab_size=8000, batch_size=64, max_iters=20000,
               eval_interval=1000, no_repeat_ngram_size=2)
CONFIGS = {
    "default": Config(),
    # the report's en->no model: 3+3 layers, 8 heads, 512 wide, feed-forward 512, post-LN,
    # Adam lr 1e-4 (constant), betas (0.9, 0.98), eps 1e-9
    "seed-en-no": with_options(Config(), **_REPORT, n_encoder_layer=3, n_decoder_layer=3,
                               n_inner=512, out_dir="out/translate-en-no"),
    # the report's nb->nn model as printed: 6 encoder / 8 decoder layers (its config
    # listing says 8 / 12, docs/translation.md)
    "seed-nb-nn": with_options(Config(), **_REPORT, n_encoder_layer=6, n_decoder_layer=8,
                               pair="nor-nor", source_langs="nob", target_langs="nno",
                               out_dir="out/translate-nb-nn"),
}


def parse_args(argv):
    """-> (cfg, mode, sentence): --config=NAME picks a preset; --resume, --evaluate and
    --translate "SENTENCE" choose what to do; every other --key=value sets a field."""
    argv, mode, sentence = list(argv), "train", None
    for flag in ("--resume", "--evaluate"):
        if flag in argv:
            argv.remove(flag)
            mode = flag[2:]
    for k, arg in enumerate(list(argv)):
        if arg == "--translate" or arg.startswith("--translate="):
            sentence = arg.partition("=")[2] if "=" in arg else (argv[k + 1:k + 2] or [""])[0]
            argv = argv[:k] + argv[k + (1 if "=" in arg else 2):]
            mode = "translate"
            if not sentence.strip():
                raise SystemExit('error: --translate needs a sentence: --translate "Hi."')
            break
    preset, argv = pick_preset(CONFIGS, argv)
    try:
        cfg = parse_config(preset, argv, extra_flags=("config", "resume", "evaluate",
                                                            "translate"))
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    return cfg, mode, sentence


def _codes(text):
    return [c for c in text.split(",") if c] or None


def load_data(cfg):
    """(train pairs, validation pairs, test pairs, a one-line description)."""
    if cfg.pairs:
        pairs = read_tsv_pairs(cfg.pairs)
        order = np.random.default_rng(cfg.train.seed).permutation(len(pairs))  # sorted files
        train, test = train_val_split([pairs[i] for i in order], 0.1)
        what = f"{cfg.pairs}: {len(pairs):,} pairs"
    else:
        langs = dict(pair=cfg.pair, target_langs=_codes(cfg.target_langs),
                     source_langs=_codes(cfg.source_langs), skip_bad=cfg.skip_bad,
                     progress=cfg.train.progress)
        train = load_tatoeba(cfg.train_split, path=cfg.train_file or None, **langs)
        test = load_tatoeba(cfg.test_split, path=cfg.test_file or None, **langs)
        what = (f"Tatoeba {cfg.pair} {cfg.source_langs or '*'}->{cfg.target_langs or '*'}: "
                f"{len(train):,} {cfg.train_split} pairs, {len(test):,} {cfg.test_split} pairs")
    n_val = min(cfg.val_pairs, len(train) // 10)
    train, val = train[:len(train) - n_val], train[len(train) - n_val:]
    test = test[:cfg.n_test] if cfg.n_test > 0 else test
    if len(train) < 1 or len(val) < 1 or len(test) < 1:
        raise SystemExit(f"error: {what}; need pairs to train on, to validate and to test")
    return train, val, test, what


def build_model(cfg, tok):
    mc = replace(cfg.model, vocab_size=max(tok.vocab) + 1, pad_id=special_ids(tok)["[PAD]"],
                 block_size=max(cfg.max_len, cfg.max_new_tokens) + 2)
    return Seq2Seq(mc).to(cfg.device)


def load_translator(path, device="cpu"):
    """(Seq2Seq, tokenizer, example config dict) from a checkpoint of this script; the
    tokenizer travels inside the checkpoint, so the folder can be moved."""
    model, tok = load_model(path, device)
    return model, tok, read_checkpoint_meta(path)["config"]["example"]


def decode_options(cfg):
    return {k: getattr(cfg, k) for k in ("max_len", "max_new_tokens", "no_repeat_ngram_size",
                                         "length_penalty")}


def evaluate(s2s, tok, cfg, train, test, out):
    """Translate the test sources greedily and by beam search; score them and the
    baselines; print examples and a table; write results.json. -> the results dict."""
    from tinytx.metrics import sentence_chrf
    sources, refs = [s for s, _ in test], [t for _, t in test]
    results, outputs = {}, {}
    for name, width in (("greedy", 1), (f"beam {cfg.beam_width}", cfg.beam_width)):
        t0 = time.perf_counter()
        outputs[name] = translate_corpus(s2s, tok, sources, beam_width=width,
                                         **decode_options(cfg))
        results[name] = {**score(outputs[name], refs), "seconds": time.perf_counter() - t0}
    results.update(baselines(train, test))
    for i in np.linspace(0, len(test) - 1, min(cfg.n_examples, len(test))).astype(int):
        print(f"  source:    {sources[i]}\n  reference: {refs[i]}")
        for name, texts in outputs.items():
            print(f"  {name + ':':<10} {texts[i]}   [chrF {sentence_chrf(texts[i], refs[i]):.1f}]")
    print(f"held-out {cfg.test_split} set, {len(test):,} pairs:\n"
          f"  {'system':<12} {'BLEU':>6} {'chrF':>6}")
    for name, r in results.items():
        print(f"  {name:<12} {r['bleu']:6.2f} {r['chrf']:6.2f}")
    (out / "results.json").write_text(json.dumps({"n_test": len(test), **results}, indent=1))
    rows = zip(sources, refs, *outputs.values())
    (out / "translations.tsv").write_text(
        "\t".join(["source", "reference", *outputs]) + "\n" +
        "".join("\t".join(" ".join(t.split()) for t in row) + "\n" for row in rows),
        encoding="utf-8")
    return results


def main(argv=None):
    cfg, mode, sentence = parse_args(sys.argv[1:] if argv is None else argv)
    t_start, out = time.perf_counter(), Path(cfg.out_dir)
    if mode == "translate":
        if not (out / "best.json").exists():
            raise SystemExit(f"error: --translate: no checkpoint {out / 'best.json'}; train "
                             f"first (python examples/translate.py) or pass --out_dir")
        s2s, tok, saved = load_translator(out / "best", cfg.device)
        saved_cfg = replace(cfg, **{k: v for k, v in saved.items()
                                    if k in ("max_len", "max_new_tokens")})
        for name, width in (("greedy", 1), (f"beam {cfg.beam_width}", cfg.beam_width)):
            text = translate_corpus(s2s, tok, [sentence], beam_width=width,
                                    **decode_options(saved_cfg))[0]
            print(f"{name + ':':<8} {text}")
        return {"translation": text}
    tx.get_device(cfg.device)         # no GPU is an error now, not after the tokenizer
    comm = start(cfg.parallel, cfg.device)      # under mpiexec: docs/distributed.md
    with lock_out_dir(cfg.out_dir, comm):       # one run per folder
        return train_and_score(cfg, mode, out, t_start, comm)


def train_and_score(cfg, mode, out, t_start, comm=None):
    train, val, test, what = load_data(cfg)
    tc = cfg.train
    with rank0_first(comm):    # rank 0 writes the cache, the others read it
        tok = shared_tokenizer(train, cfg.vocab_size, out / f"tokenizer-{cfg.vocab_size}",
                               progress=tc.progress)
    pad = special_ids(tok)["[PAD]"]
    enc = {"train": encode_pairs(tok, train, cfg.max_len),
           "val": encode_pairs(tok, val, cfg.max_len)}
    tokens_per_pair = np.mean([len(s) + len(t) - 1 for s, t in enc["train"]])
    print(f"{what}; training on {len(train):,}, {len(val):,} held out for the loss; "
          f"shared vocabulary {max(tok.vocab) + 1}")
    tx.manual_seed(tc.seed)
    s2s = build_model(cfg, tok)
    mc = s2s.config
    print(f"Seq2Seq: {s2s.num_parameters():,} parameters, {mc.n_encoder_layer}+"
          f"{mc.n_decoder_layer} layers, {mc.n_head} heads, {mc.n_embd} wide, "
          f"{'pre' if mc.norm_first else 'post'}-LN")
    examples = [val[i] for i in np.linspace(0, len(val) - 1, min(cfg.n_examples,
                                                                 len(val))).astype(int)]

    def batch(split, rng):
        return random_pair_batch(enc[split], tc.batch_size, rng, pad, cfg.device)

    def on_eval(trainer, row):
        print(f"[step {trainer.step}] val loss {row['val_loss']:.3f}")
        srcs = [s for s, _ in examples]
        greedy = translate_corpus(s2s, tok, srcs, **decode_options(cfg))
        beam = translate_corpus(s2s, tok, srcs, beam_width=cfg.beam_width,
                                **decode_options(cfg))
        for (src, ref), g, b in zip(examples, greedy, beam):
            print(f"  {src}  ->  greedy: {g}  |  beam: {b}  |  reference: {ref}")

    if not comm or comm.rank == 0:
        tok.save(str(out / "tokenizer"))              # with [PAD] [BOS] [EOS], readable
    trainer = Trainer(s2s, tc, batch, out, loss_fn=smoothed_loss(cfg.label_smoothing),
                      tokenizer=tok, on_eval=on_eval, meta={"example": asdict(cfg)},
                      data=text_record("\n".join(f"{s}\t{t}" for s, t in train)),
                      tokens_per_batch=int(tc.batch_size * tokens_per_pair),
                      count_targets=target_tokens,  # padded pairs: weight by tokens
                      parallel=data_parallel(s2s, comm, cfg.parallel, tc.seed))
    if mode in ("resume", "evaluate"):
        trainer.resume()
        print(f"resumed from {out / 'last'} at step {trainer.step}")
    t_train, start_step = time.perf_counter(), trainer.step
    if mode != "evaluate":
        trainer.train()
    train_s = time.perf_counter() - t_train
    if not trainer.writer:     # rank 0 scores and reports
        return None
    load_checkpoint(out / "best", s2s, restore_rng=False)           # the best val loss
    val_loss = pair_loss(s2s, enc["val"], pad, tc.batch_size, cfg.device)
    results = evaluate(s2s, tok, cfg, train, test, out)
    steps = trainer.step - start_step
    tok_s = steps * tc.batch_size * tc.grad_accum * tokens_per_pair / max(train_s, 1e-9)
    g, b = results["greedy"], results[f"beam {cfg.beam_width}"]
    print(f"summary: {cfg.test_split} BLEU/chrF greedy {g['bleu']:.2f}/{g['chrf']:.2f}, "
          f"beam {cfg.beam_width} {b['bleu']:.2f}/{b['chrf']:.2f} | copy "
          f"{results['copy']['bleu']:.2f}/{results['copy']['chrf']:.2f}, dictionary "
          f"{results['dictionary']['bleu']:.2f}/{results['dictionary']['chrf']:.2f} | val "
          f"loss {val_loss:.3f} | {trainer.step} steps, {tok_s:,.0f} tokens/s, "
          f"{processes(comm)} | wall {time.perf_counter() - t_start:.0f} s | {out}")
    return {"val_loss": val_loss, "steps": trainer.step, **results}


if __name__ == "__main__":
    sys.exit(run_main(main, threads=1))   # small matrices: one BLAS thread is faster
