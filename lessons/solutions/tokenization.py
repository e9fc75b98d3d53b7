"""Our answers to lesson 06's exercises (lessons/exercises/tokenization.py)."""


def pair_counts(chunks):
    counts = {}
    for chunk, n in chunks.items():
        for pair in zip(chunk, chunk[1:]):          # within the chunk only
            counts[pair] = counts.get(pair, 0) + n
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
        stats = pair_counts({tuple(ids): 1})
        # the merge learned first goes first: later merges were learned on its results
        pair = min(stats, key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break                              # no pair of the text is a merge
        ids = merge(ids, pair, merges[pair])
    return ids
