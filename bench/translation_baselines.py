"""Translation baselines on the Tatoeba test lines: what a model must beat.

    python bench/translation_baselines.py                          # eng -> nob
    python bench/translation_baselines.py --target_langs=nno       # eng -> nno
    python bench/translation_baselines.py --pair=nor-nor --source_langs=nob --target_langs=nno

Two systems that learn nothing about sentences, scored with corpus BLEU and chrF
(tinytx.metrics, equal to sacreBLEU's) on the release's test split:
    copy         the source sentence itself (names, numbers and punctuation survive)
    dictionary   word for word, with a dictionary learned from the dev split by IBM
                 Model 1 (tinytx.tasks.translation.WordDictionary); unknown words copied
examples/translate.py prints the same two rows next to the model's scores. The files come
from $TINYTX_DATA_DIR/tatoeba/ (or the cache, or one download). Takes a few seconds.
"""
import argparse
import time

from tinytx.data import load_tatoeba
from tinytx.tasks.translation import baselines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", default="eng-nor")
    ap.add_argument("--source_langs", default="eng")
    ap.add_argument("--target_langs", default="nob")
    args = ap.parse_args()
    langs = dict(pair=args.pair, source_langs=args.source_langs.split(","),
                 target_langs=args.target_langs.split(","))
    train, test = load_tatoeba("dev", **langs), load_tatoeba("test", **langs)
    t0 = time.perf_counter()
    results = baselines(train, test)
    print(f"Tatoeba {args.pair} {args.source_langs}->{args.target_langs}: dictionary "
          f"learned from {len(train):,} dev pairs, scored on {len(test):,} test pairs "
          f"({time.perf_counter() - t0:.1f} s)")
    print(f"  {'system':<12} {'BLEU':>6} {'chrF':>6}")
    for name, r in results.items():
        print(f"  {name:<12} {r['bleu']:6.2f} {r['chrf']:6.2f}")


if __name__ == "__main__":
    main()
