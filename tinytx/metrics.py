"""Translation metrics: BLEU and chrF, written out so they can be read, equal to sacreBLEU's.

Introduced in lesson 12 (translation) and docs/translation.md. Both compare a system's
outputs (hypotheses) with reference translations, one reference per hypothesis, and
give a score from 0 (nothing in common) to 100 (identical).

BLEU (Papineni et al. 2002) counts word n-grams, n = 1..4, with sacreBLEU's defaults:

    tokens     the "13a" tokenizer of mteval-v13a.pl (punctuation split off words)
    p_n        clipped n-gram precision: sum over sentences of min(count in hyp,
               count in ref), divided by the number of n-grams in the hypotheses
    BP         brevity penalty exp(1 - r/c) when the hypotheses (c tokens) are shorter
               than the references (r tokens), else 1
    BLEU       100 · BP · exp(mean of log p_n)
    smoothing  "exp": the k-th order with no match gets p_n = 1 / (2^k · total_n)
               instead of 0 (only if some n-gram matched at all; none → BLEU 0)

Corpus BLEU sums the counts over all sentences first, then takes the formula once; it is
not the mean of sentence BLEUs. Sentence BLEU (for printing single examples) uses the
same formula on one sentence with the "effective order": orders with no n-grams at all
(a 3-word hypothesis has no 4-grams) are left out of the mean.

chrF (Popović 2015) counts character n-grams, n = 1..6, with whitespace removed:

    P, R       the mean over n of the n-gram precision and recall (orders where the
               hypothesis or the reference has no n-gram are left out)
    chrF       100 · (1 + β²) · P · R / (β² · P + R),   β = 2 (recall weighs more)

Characters see morphology: "bilen" and "bil" share n-grams though they are different
words, which is why chrF suits Norwegian better than BLEU does.

    >>> round(corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]), 2)
    100.0
    >>> round(corpus_chrf(["bilen er rød"], ["bilen var rød"]), 2)
    44.13
"""
from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["tokenize_13a", "corpus_bleu", "sentence_bleu", "bleu_stats", "corpus_chrf",
           "sentence_chrf", "chrf_stats", "longest_copied", "copied_fraction"]

MAX_NGRAM = 4          # BLEU's word n-grams
CHAR_ORDER = 6         # chrF's character n-grams
BETA = 2.0             # chrF: recall counts β² = 4 times as much as precision

# mteval-v13a's rules, in order (sacrebleu.tokenizers.tokenizer_13a):
_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),   # split off symbols
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),   # period, comma unless after a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),   # period, comma unless before a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),        # a dash after a digit
]
_ENTITIES = {"&quot;": '"', "&amp;": "&", "&lt;": "<", "&gt;": ">"}


def tokenize_13a(line: str) -> list[str]:
    """Split a sentence into words the way sacreBLEU's default "13a" tokenizer does.

    >>> tokenize_13a("Tom's car, 3.5 m long, is red.")
    ["Tom's", 'car', ',', '3.5', 'm', 'long', ',', 'is', 'red', '.']
    """
    line = line.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in _ENTITIES.items():
        line = line.replace(entity, char)
    line = f" {line} "
    for pattern, repl in _13A:
        line = pattern.sub(repl, line)
    return line.split()


def _ngrams(items, n: int) -> Counter:
    """The n-grams of a sequence (words: tuples; a string: substrings), counted."""
    return Counter(items[i:i + n] for i in range(len(items) - n + 1))


def _check(hypotheses, references):
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"references: expected one per hypothesis ({len(hypotheses)}), "
                         f"got {len(references)}")
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        for k, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"{name}[{k}]: expected str, got {type(t).__name__}")
    return hypotheses, references


# ---------------------------------------------------------------------------------------
# BLEU
# ---------------------------------------------------------------------------------------

def bleu_stats(hypothesis: str, reference: str) -> list[int]:
    """One sentence's counts: [hyp_len, ref_len, matches_1..4, totals_1..4].

    >>> bleu_stats("a b c", "a b d")
    [3, 3, 2, 1, 0, 0, 3, 2, 1, 0]
    """
    hyp, ref = tuple(tokenize_13a(hypothesis)), tuple(tokenize_13a(reference))
    matches, totals = [], []
    for n in range(1, MAX_NGRAM + 1):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        matches.append(sum(min(c, r[g]) for g, c in h.items()))     # clipped counts
        totals.append(max(len(hyp) - n + 1, 0))
    return [len(hyp), len(ref), *matches, *totals]


def bleu_from_stats(stats, effective_order: bool = False) -> float:
    """BLEU (0..100) from summed bleu_stats, with exp smoothing and the brevity penalty."""
    c, r = stats[0], stats[1]
    matches, totals = stats[2:2 + MAX_NGRAM], stats[2 + MAX_NGRAM:]
    if not any(matches):
        return 0.0
    brevity = 1.0 if c >= r else math.exp(1 - r / c)
    log_p, order, misses = [], MAX_NGRAM, 0
    for n in range(MAX_NGRAM):
        if totals[n] == 0:            # no n-grams of this order: stop here
            if effective_order:
                order = n
            break
        if matches[n] == 0:           # "exp" smoothing: 1/2, 1/4, ... of one match
            misses += 1
            log_p.append(math.log(1 / (2 ** misses * totals[n])))
        else:
            log_p.append(math.log(matches[n] / totals[n]))
    if len(log_p) < order:            # a missing order counts as precision 0
        return 0.0
    return 100 * brevity * math.exp(sum(log_p[:order]) / order)


def corpus_bleu(hypotheses, references) -> float:
    """sacreBLEU's corpus BLEU (13a tokens, exp smoothing, 4-grams, brevity penalty).

    Args: hypotheses, references: sequences of str, one reference per hypothesis.
    """
    hypotheses, references = _check(hypotheses, references)
    total = [0] * (2 + 2 * MAX_NGRAM)
    for h, r in zip(hypotheses, references):
        total = [a + b for a, b in zip(total, bleu_stats(h, r))]
    return bleu_from_stats(total)


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """sacreBLEU's sentence_bleu: one sentence, exp smoothing, effective order.

    >>> round(sentence_bleu("a b c", "a b d"), 2)
    55.03
    """
    _check([hypothesis], [reference])
    return bleu_from_stats(bleu_stats(hypothesis, reference), effective_order=True)


# ---------------------------------------------------------------------------------------
# chrF
# ---------------------------------------------------------------------------------------

def chrf_stats(hypothesis: str, reference: str) -> list[int]:
    """One sentence's counts: [hyp n-grams, ref n-grams, matches] for n = 1..6, flat.

    Whitespace is removed first, as in sacreBLEU (chrF does not see word boundaries).
    Like sacreBLEU, an order the reference is too short for counts no hypothesis n-grams
    either (so it adds nothing to the corpus precision).

    >>> chrf_stats("Come!", "Kom!")[9:]
    [2, 1, 0, 0, 0, 0, 0, 0, 0]
    """
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    stats = []
    for n in range(1, CHAR_ORDER + 1):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        n_hyp = sum(h.values()) if r else 0
        stats += [n_hyp, sum(r.values()), sum(min(c, r[g]) for g, c in h.items())]
    return stats


def chrf_from_stats(stats) -> float:
    """chrF (0..100) from summed chrf_stats: F_β of the mean precision and recall."""
    precisions, recalls = [], []
    for n in range(CHAR_ORDER):
        n_hyp, n_ref, n_match = stats[3 * n:3 * n + 3]
        if n_hyp > 0 and n_ref > 0:        # orders that exist on both sides
            precisions.append(n_match / n_hyp)
            recalls.append(n_match / n_ref)
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if p + r == 0:
        return 0.0
    b2 = BETA ** 2
    return 100 * (1 + b2) * p * r / (b2 * p + r)


def corpus_chrf(hypotheses, references) -> float:
    """sacreBLEU's corpus chrF (character 6-grams, β = 2, whitespace ignored)."""
    hypotheses, references = _check(hypotheses, references)
    total = [0] * (3 * CHAR_ORDER)
    for h, r in zip(hypotheses, references):
        total = [a + b for a, b in zip(total, chrf_stats(h, r))]
    return chrf_from_stats(total)


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """chrF of one sentence (sacreBLEU's sentence_chrf).

    >>> sentence_chrf("Hei!", "Hei!")
    100.0
    """
    _check([hypothesis], [reference])
    return chrf_from_stats(chrf_stats(hypothesis, reference))


# -- memorisation: how much of a generated text is copied from the training text -----------
def _words(text: str) -> list[str]:
    return text.split()


def longest_copied(sample: str, text: str) -> list[str]:
    """The longest run of whole words of `sample` that occurs, word for word, in `text`
    (whitespace does not count: line breaks match spaces). Used by lesson 11 to measure
    memorisation.

        >>> longest_copied("so said Sancho Panza to me", "and Sancho Panza to his master")
        ['Sancho', 'Panza', 'to']
    """
    words, book = _words(sample), " " + " ".join(_words(text)) + " "
    best, start = 0, 0
    for i in range(len(words)):
        while i + best < len(words) and " " + " ".join(words[i:i + best + 1]) + " " in book:
            best, start = best + 1, i       # words[i:i+best] occurs: try one word longer
    return words[start:start + best]


def copied_fraction(sample: str, text: str, n: int = 8) -> float:
    """The share of the word n-grams of `sample` that occur word for word in `text` (0.0
    when the sample has fewer than n words).

        >>> copied_fraction("a b c d e", "x a b c y", n=3)
        0.3333333333333333
    """
    if n < 1:
        raise ValueError(f"copied_fraction: n must be >= 1, got {n}")
    words, book = _words(sample), " " + " ".join(_words(text)) + " "
    grams = [" " + " ".join(words[i:i + n]) + " " for i in range(len(words) - n + 1)]
    return sum(g in book for g in grams) / len(grams) if grams else 0.0
