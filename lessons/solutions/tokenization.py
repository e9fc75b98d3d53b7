"""Our answers to lesson 05's exercises (lessons/exercises/tokenization.py)."""


def get_stats(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids, pair, idx):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def encode(text, merges):
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        stats = get_stats(ids)
        # the merge learned first goes first: later merges were learned on its results
        pair = min(stats, key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break                              # no pair of the text is a merge
        ids = merge(ids, pair, merges[pair])
    return ids
