"""The encoder-decoder with the Trainer: book pairs, random pair batches, the loss of a
pair batch, held-out loss, and greedy against beam search scored the same way.

Introduced in lesson 12 (report §3.4, the "cervantes" next-sentence model) and used by
examples/train_seq2seq.py. A Seq2Seq takes five tensors, so its batches are whole
PairBatches and the Trainer gets `loss_fn=seq2seq_loss`, which unpacks them: the Trainer
trains (and checkpoints) the Seq2Seq itself.

    >>> import numpy as np
    >>> from tinytx.models import Seq2Seq, Seq2SeqConfig
    >>> enc = [([5, 6], [1, 7, 2]), ([8], [1, 9, 9, 2])]       # (src, [BOS] tgt [EOS])
    >>> b = random_pair_batch(enc, 3, np.random.default_rng(0), pad_id=0)
    >>> m = Seq2Seq(Seq2SeqConfig(vocab_size=10, n_embd=8, n_head=2))
    >>> seq2seq_loss(m, b).shape                                  # the loss, a scalar
    ()
"""
from __future__ import annotations

import re

import numpy as np

from .. import functional as F
from ..data.pairs import collate_pairs, pad_batch, sentence_pairs, split_sentences
from ..generate import beam_search_seq2seq, generate_seq2seq, inference
from ..tensor import tensor

_CAPTION = re.compile(r"^(\S+\.(jpe?g|png|gif)( \(\d+K\))?|Full Size)$", re.I)


def book_pairs(text: str, max_words: int = 24) -> list[tuple[str, str]]:
    """Next-sentence pairs (sentence_i, sentence_{i+1}) of a book, keeping the pairs whose
    two sentences have at most max_words words each (short pairs train faster and decode
    in fewer steps; the pairs stay in the book's order).

    Picture captions are not sentences: Gutenberg's Don Quixote (#996) has paragraphs
    such as "p003.jpg (307K)" and "Full Size" where its illustrations were; they are
    dropped before pairing.

    >>> book_pairs("He rode.\\n\\np07.jpg (9K)\\n\\nSancho followed him. It was a long day.", 3)
    [('He rode.', 'Sancho followed him.')]
    """
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise ValueError(f"max_words: expected a positive int, got {max_words!r}")
    sentences = [s for s in split_sentences(text) if not _CAPTION.match(s)]
    return [(a, b) for a, b in sentence_pairs(sentences)
            if len(a.split()) <= max_words and len(b.split()) <= max_words]


def random_pair_batch(encoded, batch_size: int, rng: np.random.Generator, pad_id: int,
                      device=None):
    """batch_size pairs drawn at random (with replacement) and padded: a PairBatch.

    Like `tinytx.data.get_batch`, it depends on nothing but `rng`, so the Trainer's exact
    resume (which saves the generator's state) works for pairs too.
    """
    if not encoded:
        raise ValueError("encoded: expected at least one encoded pair, got none")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    rows = rng.integers(0, len(encoded), size=batch_size)
    return collate_pairs([encoded[i] for i in rows], pad_id, device)


def seq2seq_loss(model, batch):
    """The Trainer's loss function for a Seq2Seq (or T5) on a PairBatch: the mean
    cross-entropy over its target tokens."""
    return model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask,
                 targets=batch.tgt_out)[1]


def target_tokens(batch) -> int:
    """The number of target tokens (not padding) of a PairBatch: what its loss is a mean
    over (the Trainer's `count_targets`)."""
    return int(batch.tgt_mask.numpy().sum())


def pair_loss(model, encoded, pad_id: int, batch_size: int = 32, device=None) -> float:
    """Mean cross-entropy (nats per target token, [EOS] included) over every pair, in
    order: the held-out loss of a Seq2Seq, each token counted once."""
    total, count = 0.0, 0
    with inference(model):
        for first in range(0, len(encoded), batch_size):
            b = collate_pairs(encoded[first:first + batch_size], pad_id, device)
            n = target_tokens(b)
            total += seq2seq_loss(model, b).item() * n
            count += n
    return total / count


def target_logprobs(model, sources, targets, bos_id: int, pad_id: int) -> list[float]:
    """log p(target | source) summed over the target's tokens, for each pair, by teacher
    forcing (targets are id lists without [BOS]; an [EOS] at the end is scored too).

    Shapes: B sources and B targets (lists of ids) -> B floats.
    """
    src, src_mask = pad_batch(sources, pad_id)
    tgt_in, tgt_mask = pad_batch([[bos_id] + list(t[:-1]) for t in targets], pad_id)
    labels, _ = pad_batch(targets, pad_id)
    dev = next(iter(model.parameters())).device
    with inference(model):
        logits = model(*(tensor(a, device=dev) for a in (src, tgt_in, src_mask,
                                                         tgt_mask)))[0].numpy()
        logp = F.log_softmax(tensor(logits, dtype="float64")).numpy()      # (B, T, V)
    picked = np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]   # (B, T)
    return [float(v) for v in np.where(tgt_mask, picked, 0.0).sum(axis=1)]


def strip_target(ids, bos_id: int, eos_id: int, pad_id: int) -> list[int]:
    """The generated tokens of one decoded row: after [BOS], up to and with [EOS].

    >>> strip_target([1, 7, 8, 2, 0, 0], bos_id=1, eos_id=2, pad_id=0)
    [7, 8, 2]
    """
    ids = list(ids)[1:] if list(ids)[:1] == [bos_id] else list(ids)
    if eos_id in ids:
        return ids[:ids.index(eos_id) + 1]
    return [t for t in ids if t != pad_id]


def compare_decoders(model, tokenizer, sources, specials: dict, max_new_tokens: int = 40,
                     beam_width: int = 4, length_penalty: float = 1.0) -> list[dict]:
    """Decode each source greedily and by beam search, and score both outputs with the
    same teacher-forced log-probability, so the two are compared on equal terms.

    Args:
        model: a Seq2Seq; tokenizer: with [PAD] [BOS] [EOS] registered;
        sources: source id lists; specials: `special_ids(tokenizer)`.
    Returns one dict per source: greedy/beam (text), greedy_ids/beam_ids (with [EOS] if
    it was generated), greedy_logp/beam_logp (summed log-probabilities).
    """
    bos, eos, pad = specials["[BOS]"], specials["[EOS]"], specials["[PAD]"]
    src, mask = pad_batch(sources, pad)
    greedy = generate_seq2seq(model, src, mask, bos, eos, max_new_tokens, greedy=True)
    beam = beam_search_seq2seq(model, src, mask, bos, eos, max_new_tokens, beam_width,
                               length_penalty=length_penalty)
    rows = [{"greedy_ids": strip_target(g, bos, eos, pad),
             "beam_ids": strip_target(b, bos, eos, pad)}
            for g, b in zip(greedy.tolist(), beam.tolist())]
    for kind in ("greedy", "beam"):
        outs = [r[f"{kind}_ids"] or [eos] for r in rows]      # score at least one token
        for r, lp in zip(rows, target_logprobs(model, sources, outs, bos, pad)):
            r[f"{kind}_logp"] = lp
            ids = [t for t in r[f"{kind}_ids"] if t not in (bos, eos, pad)]
            r[kind] = tokenizer.decode(ids)
    return rows
