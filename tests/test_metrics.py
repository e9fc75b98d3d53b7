"""BLEU and chrF (tinytx.metrics): hand-worked values, and equality with sacreBLEU."""
import math
import random
from pathlib import Path

import pytest

from tinytx.metrics import (chrf_stats, copied_fraction, corpus_bleu, corpus_chrf,
                            longest_copied, sentence_bleu, sentence_chrf, tokenize_13a)

TATOEBA_TEST = Path(__file__).resolve().parents[2] / "shared/data/tatoeba/test/eng-nor/test.txt"


def test_identical_is_100_and_disjoint_is_0():
    refs = ["The cat sat on the mat.", "Jeg har ein bil."]
    assert corpus_bleu(refs, refs) == pytest.approx(100.0)
    assert corpus_chrf(refs, refs) == pytest.approx(100.0)
    assert corpus_bleu(["xyz qqq"], ["abc ddd"]) == 0.0
    assert corpus_chrf(["xyz qqq"], ["abc ddd"]) == 0.0
    assert sentence_bleu("", "a b") == 0.0 and sentence_chrf("", "a b") == 0.0


def test_brevity_penalty_worked_out():
    # every n-gram of the 5-token hypothesis is in the 10-token reference: all p_n = 1,
    # so BLEU = 100 · exp(1 - r/c) = 100 · exp(1 - 10/5) = 100/e
    hyp, ref = "a b c d e", "a b c d e f g h i j"
    assert corpus_bleu([hyp], [ref]) == pytest.approx(100 * math.exp(-1))
    # longer than the reference: no penalty, only precision: p = 5/10, 4/9, 3/8, 2/7
    expected = 100 * math.exp(sum(math.log(p) for p in (5 / 10, 4 / 9, 3 / 8, 2 / 7)) / 4)
    assert corpus_bleu([ref], [hyp]) == pytest.approx(expected)


def test_exp_smoothing_and_effective_order():
    # matches 2, 1, 0 of totals 3, 2, 1; the 3-gram gets 1/(2·1); no 4-grams -> 3 orders
    expected = 100 * (2 / 3 * 1 / 2 * 1 / 2) ** (1 / 3)
    assert sentence_bleu("a b c", "a b d") == pytest.approx(expected)
    assert corpus_bleu(["a b c"], ["a b d"]) == 0.0      # corpus BLEU: 4-gram order missing


def test_corpus_bleu_sums_counts_not_scores():
    hyps, refs = ["a b c d", "x y z w"], ["a b c d", "p q r s"]
    # 1..4-gram precisions 4/8, 3/6, 2/4, 1/2 -> 50, not the mean (100 + 0) / 2
    assert corpus_bleu(hyps, refs) == pytest.approx(50.0)


def test_chrf_worked_out():
    # "ab" vs "abc": hyp 1-grams a b (2 match of 2; ref 3), 2-grams ab (1 of 1; ref 2),
    # 3-grams: hyp none -> order left out. P = 1, R = (2/3 + 1/2) / 2 = 7/12
    p, r = 1.0, 7 / 12
    assert sentence_chrf("ab", "abc") == pytest.approx(100 * 5 * p * r / (4 * p + r))
    assert chrf_stats("a b", "ab") == chrf_stats("ab", "ab")       # whitespace ignored


def test_13a_tokenizer():
    assert tokenize_13a("Hello, world! (3.14)") == ["Hello", ",", "world", "!", "(", "3.14",
                                                    ")"]
    assert tokenize_13a("A &amp; B-\nC  ") == ["A", "&", "BC"]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="references"):
        corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(TypeError, match=r"hypotheses\[0\]"):
        corpus_chrf([3], ["a"])


def _perturbed(refs, seed=0):
    """Hypotheses made from the references: words dropped, swapped, shuffled, emptied."""
    rng = random.Random(seed)
    hyps = []
    for ref in refs:
        words = [w for w in ref.split() if rng.random() > 0.2]
        if words and rng.random() < 0.3:
            words[rng.randrange(len(words))] = rng.choice(refs).split()[0]
        if rng.random() < 0.3:
            rng.shuffle(words)
        hyps.append("" if rng.random() < 0.05 else " ".join(words))
    return hyps


def test_equal_to_sacrebleu():
    sacrebleu = pytest.importorskip("sacrebleu")
    if TATOEBA_TEST.exists():
        lines = TATOEBA_TEST.read_text(encoding="utf-8").splitlines()[:2000]
        refs = [line.split("\t")[3] for line in lines]
    else:  # still many sentences, punctuation and digits included
        rng = random.Random(1)
        words = "Jeg har en bil , og 3.5 kr . « Hei ! » Tom's (ja) - 1-2 ærlig på å".split()
        refs = [" ".join(rng.choices(words, k=rng.randint(1, 15))) for _ in range(500)]
    hyps = _perturbed(refs)
    assert corpus_bleu(hyps, refs) == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs]).score, abs=0.01)
    assert corpus_chrf(hyps, refs) == pytest.approx(
        sacrebleu.corpus_chrf(hyps, [refs]).score, abs=0.01)
    for h, r in zip(hyps[:300], refs[:300]):
        assert sentence_bleu(h, r) == pytest.approx(sacrebleu.sentence_bleu(h, [r]).score,
                                                    abs=0.01), (h, r)
        assert sentence_chrf(h, r) == pytest.approx(sacrebleu.sentence_chrf(h, [r]).score,
                                                    abs=0.01), (h, r)


def test_memorisation_measures():
    book = "In a village of La Mancha,\nthe name of which I have no desire to call to mind"
    copied = "he said: the name of which I have no desire to forget"
    assert longest_copied(copied, book) == "the name of which I have no desire to".split()
    assert longest_copied("nothing here matches", book) == []
    assert copied_fraction(book, book, n=8) == 1.0                # the text itself
    assert copied_fraction(copied, book, n=8) == 2 / 5            # 2 of its 5 8-grams
    assert copied_fraction("too short", book) == 0.0
    assert longest_copied("of La", "village of La Mancha") == ["of", "La"]
    assert longest_copied("Manch", "La Mancha") == []             # whole words only
    with pytest.raises(ValueError, match="n must be"):
        copied_fraction(copied, book, n=0)
