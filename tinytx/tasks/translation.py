"""Translation with the encoder-decoder: decode a corpus, score it, and two baselines.

Introduced in lesson 12 (translation; docs/translation.md) and used by
examples/translate.py and bench/translation_baselines.py.

    smoothed_loss      the Trainer's loss function (seq2seq_loss) with label smoothing
    translate_corpus   sentences -> translations, greedy (beam_width=1) or beam search,
                       in batches of similar length
    score              corpus BLEU and chrF (tinytx.metrics, equal to sacreBLEU's)
    scores_by_beam_width   the same for several beam widths (lesson 12)
    copy_source        the "do nothing" baseline: the source itself as its translation
    WordDictionary     word-for-word translation with a dictionary learned from the
                       training pairs by IBM Model 1 (a few rounds of EM)

A model is only worth its training if it beats both baselines on the same test lines:
copying scores above zero because names, numbers and punctuation survive translation;
the dictionary knows the words but not the grammar (word order, agreement, idioms).

    >>> d = WordDictionary().fit([("I eat fish.", "Jeg spiser fisk."),
    ...                           ("You eat bread.", "Du spiser brød."),
    ...                           ("I see bread.", "Jeg ser brød."),
    ...                           ("You see fish.", "Du ser fisk.")], rounds=10)
    >>> d.translate("You eat fish."), d.translate("I see Tom.")
    ('Du spiser fisk.', 'Jeg ser Tom.')
"""
from __future__ import annotations

import re
import time
from collections import Counter, defaultdict

import numpy as np

from .. import functional as F
from ..data.pairs import pad_batch, special_ids
from ..generate import beam_search_seq2seq, generate_seq2seq, inference
from ..metrics import corpus_bleu, corpus_chrf
from ..nn import fused
from ..nn.attention import split_heads
from ..tensor import tensor
from .seq2seq import seq2seq_loss, strip_target


def smoothed_cross_entropy(logits, targets, pad_id: int, smoothing: float):
    """Cross-entropy against a smoothed target: 1 - ε on the right token, ε spread evenly
    over the whole vocabulary (Szegedy et al. 2016; "Attention is all you need" uses ε =
    0.1). It keeps a model trained on little data from becoming over-confident.

        loss = (1 - ε) · CE(logits, targets) + ε · mean_t [ -mean_v log softmax(logits)_v ]

    where -mean_v log p_v = logsumexp(logits) - mean_v(logits); positions whose target
    is pad_id are left out of both terms.
    Shapes: logits (B, T, V), targets (B, T) int -> a scalar
    """
    ce = fused.cross_entropy(logits, targets, ignore_index=pad_id)
    if smoothing == 0:
        return ce
    keep = (targets.numpy() != pad_id).astype(logits.dtype)                    # (B, T)
    uniform = F.logsumexp(logits, axis=-1) - F.mean(logits, axis=-1)          # (B, T)
    weights = tensor(keep / max(keep.sum(), 1), device=logits.device)
    return ce * (1 - smoothing) + F.sum(uniform * weights) * smoothing


def smoothed_loss(smoothing: float = 0.0):
    """The Trainer's loss function for a Seq2Seq on a PairBatch with label smoothing ε:
    `loss_fn(model, batch)`; ε = 0 is `seq2seq_loss` itself."""
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing: expected 0 <= ε < 1, got {smoothing!r}")
    if smoothing == 0:
        return seq2seq_loss

    def loss_fn(model, batch):
        logits, _ = model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask)
        return smoothed_cross_entropy(logits, batch.tgt_out, model.config.pad_id,
                                      smoothing)
    return loss_fn


def translate_corpus(model, tokenizer, sources, *, beam_width: int = 1, max_len: int = 48,
                     max_new_tokens: int = 48, no_repeat_ngram_size: int = 0,
                     length_penalty: float = 1.0, batch_size: int = 64) -> list[str]:
    """Translate each source sentence (str) with a Seq2Seq; returns the texts in order.

    Sources are encoded as ordinary text and cut to max_len tokens, sorted by length and
    decoded batch_size at a time (less padding); beam_width = 1 is greedy decoding.
    """
    ids = special_ids(tokenizer)
    bos, eos, pad = ids["[BOS]"], ids["[EOS]"], ids["[PAD]"]
    encoded = [tokenizer.encode_ordinary(s)[:max_len] or [eos] for s in sources]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    device = next(iter(model.parameters())).device
    out = [""] * len(encoded)
    for first in range(0, len(order), batch_size):
        rows = order[first:first + batch_size]
        src, mask = pad_batch([encoded[i] for i in rows], pad)          # (B, S) each
        src, mask = tensor(src, device=device), tensor(mask, device=device)
        if beam_width == 1:
            res = generate_seq2seq(model, src, mask, bos, eos, max_new_tokens, greedy=True,
                                   no_repeat_ngram_size=no_repeat_ngram_size)
        else:
            res = beam_search_seq2seq(model, src, mask, bos, eos, max_new_tokens,
                                      beam_width, length_penalty, no_repeat_ngram_size)
        for i, row in zip(rows, res.tolist()):
            kept = [t for t in strip_target(row, bos, eos, pad) if t not in (bos, eos, pad)]
            out[i] = tokenizer.decode(kept)
    return out


def score(hypotheses, references) -> dict:
    """{"bleu": corpus BLEU, "chrf": corpus chrF}, both 0..100."""
    return {"bleu": corpus_bleu(hypotheses, references),
            "chrf": corpus_chrf(hypotheses, references)}


def scores_by_beam_width(model, tokenizer, pairs, widths, **options) -> list[dict]:
    """Corpus BLEU and chrF of the (source, reference) pairs for each beam width:
    [{"width", "bleu", "chrf", "seconds"}]; options go to translate_corpus."""
    sources, refs = [s for s, _ in pairs], [t for _, t in pairs]
    rows = []
    for width in widths:
        t0 = time.perf_counter()
        hyps = translate_corpus(model, tokenizer, sources, beam_width=width, **options)
        rows.append(dict(width=width, **score(hyps, refs), seconds=time.perf_counter() - t0))
    return rows


# ---------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------

def copy_source(sources) -> list[str]:
    """The copy baseline: each source sentence is its own "translation"."""
    return list(sources)


_WORD = re.compile(r"\w+|[^\w\s]")       # words, and each punctuation mark on its own


def words(sentence: str) -> list[str]:
    """Lower-cased words and punctuation marks.

    >>> words("Tom's car, please!")
    ['tom', "'", 's', 'car', ',', 'please', '!']
    """
    return _WORD.findall(sentence.lower())


class WordDictionary:
    """Word-for-word translation with a dictionary learned by IBM Model 1.

    IBM Model 1 (Brown et al. 1993) learns t(target word | source word) from sentence
    pairs alone: start uniform; then, repeatedly (EM), share each target word of a pair
    among the pair's source words in proportion to t, and re-estimate t from the shared
    counts. Words that keep appearing together end up with most of the probability.
    `translate` replaces each source word by its most likely target word (a word never
    seen in training is copied) and keeps the source's word order.
    """

    def __init__(self):
        self.best = {}

    def fit(self, pairs, rounds: int = 5):
        """Learn the dictionary from (source, target) sentence pairs; returns self."""
        corpus = [(words(s), words(t)) for s, t in pairs]
        t_prob = defaultdict(lambda: 1.0)                     # t(f | e), uniform at first
        for _ in range(rounds):
            counts, totals = Counter(), Counter()
            for src, tgt in corpus:
                for f in tgt:                                 # E step: share f among src
                    norm = sum(t_prob[(e, f)] for e in src) or 1.0
                    for e in src:
                        c = t_prob[(e, f)] / norm
                        counts[(e, f)] += c
                        totals[e] += c
            t_prob = defaultdict(float, {(e, f): c / totals[e]           # M step
                                         for (e, f), c in counts.items()})
        best = {}
        for (e, f), p in t_prob.items():
            if p > best.get(e, ("", 0.0))[1]:
                best[e] = (f, p)
        self.best = {e: f for e, (f, _) in best.items()}
        return self

    def translate(self, sentence: str) -> str:
        out = [self.best.get(w.lower(), w) for w in _WORD.findall(sentence)]   # unknown: as is
        text = " ".join(out)
        text = re.sub(r" ([.,!?;:])", r"\1", text)             # "bil ." -> "bil."
        return text[:1].upper() + text[1:] if sentence[:1].isupper() else text

    def translate_all(self, sentences) -> list[str]:
        return [self.translate(s) for s in sentences]


def baselines(train_pairs, test_pairs) -> dict:
    """{"copy": score(...), "dictionary": score(...)} on the test pairs."""
    sources, refs = [s for s, _ in test_pairs], [t for _, t in test_pairs]
    dictionary = WordDictionary().fit(train_pairs)
    return {"copy": score(copy_source(sources), refs),
            "dictionary": score(dictionary.translate_all(sources), refs)}


def cross_attention(model, tokenizer, source: str, target_ids, max_len: int = 48):
    """Where the decoder looks: the last decoder layer's cross-attention weights,
    averaged over heads, while the model reads [BOS] + target_ids (teacher forcing).

    The layer's inputs are caught on the way in and its softmax(q·kᵀ/√D) recomputed
    here, so the model code stays as it is. Returns an array (T, S): one row per target
    position (the token it predicts next), one column per source token.
    """
    ids = special_ids(tokenizer)
    src = tensor([tokenizer.encode_ordinary(source)[:max_len]])          # (1, S)
    target_ids = list(target_ids)[:model.config.block_size - 1]              # fits the PE
    tgt_in = tensor([[ids["[BOS]"], *target_ids]])                        # (1, T)
    layer, seen = model.decoder[-1].cross_attn, []
    layer.forward = lambda x, memory, *a, **kw: (seen.append((x, memory)),
                                                 type(layer).forward(layer, x, memory,
                                                                     *a, **kw))[1]
    try:
        with inference(model):
            model(src, tgt_in)
            x, memory = seen[0]
            H = layer.n_head
            q = split_heads(layer.c_q(x), H).numpy()                       # (1, H, T, D)
            k = split_heads(layer.c_kv(memory).split(layer.n_embd, axis=2)[0], H).numpy()
    finally:
        del layer.forward                     # back to the class's method
    att = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])                   # (1, H, T, S)
    att = np.exp(att - att.max(axis=-1, keepdims=True))
    att /= att.sum(axis=-1, keepdims=True)
    return att[0].mean(axis=0)                                            # (T, S)
