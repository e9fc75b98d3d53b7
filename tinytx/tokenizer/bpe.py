"""BPE on token ids: the report's two steps, and encoding one chunk fast.

Lesson 06 "Tokenization" (report chapter 4). ``get_stats`` and ``merge`` are the
two steps of the report's algorithm (count adjacent pairs, replace the most
frequent one by a new id); the tests build the naive trainer from them that the
fast one (``train.py``) is pinned to. ``encode_bytes`` applies learned merges to
the bytes of one chunk: ``bpe_short`` is minbpe's loop, ``bpe_long`` gives the
same ids in O(n log n) for long chunks; ``whole_tokens`` lists the tokens that a
chunk made of exactly their bytes encodes to directly.

    >>> encode_bytes(b"aaab", {(97, 97): 256, (256, 97): 257})
    [257, 98]
"""
import heapq
from itertools import repeat

LONG_CHUNK = 64  # chunks with more bytes than this use the heap encoder
NO_MERGE = 1 << 62  # the "rank" of a pair that is not a merge (an int: faster min)


def get_stats(ids, counts=None):
    """Count adjacent pairs of ``ids`` (overlapping pairs count: "aaa" has two).

    Args:
        ids: a sequence of token ids.
        counts: an optional dict to add into (to count over several chunks);
            pairs enter it in the order they are first seen.
    Returns:
        the dict ``{(a, b): count}``.

    Example:
        >>> get_stats([1, 2, 3, 1, 2])
        {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids, pair, idx):
    """Replace each occurrence of ``pair`` in ``ids`` by ``idx``, left to right.

    Occurrences do not overlap: ``[5, 5, 5]`` with pair ``(5, 5)`` becomes
    ``[idx, 5]``.

    Example:
        >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
        [4, 3, 4]
    """
    out, i, n = [], 0, len(ids)
    while i < n:
        if i < n - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def whole_tokens(vocab, merges, trained=False):
    """``{bytes: (id,)}`` for the tokens whose bytes BPE to that one token (tiktoken's fast path).

    A chunk whose bytes are such a token is that token, with no merge loop. Merges
    learnt by ``train`` make every token qualify: each token was made inside some
    chunk, and no merge ever crosses its edges there, so the merges on its bytes alone
    happen in the same order and end at the same token. ``trained=True`` skips the
    check on that ground (the tests confirm it); loaded or hand-made merges are
    checked token by token, since e.g. ``ab``, ``bc``, then ``a`` + ``bc`` make a
    token ``abc`` that BPE never reaches (it merges ``ab`` first).

    Args:
        vocab: ``{id: bytes}`` of the ordinary tokens.
        merges: ``{(a, b): new_id}``.
        trained: the merges come from ``train`` (no check needed).

    Example:
        >>> merges = {(97, 98): 256, (98, 99): 257, (97, 257): 258}
        >>> vocab = {256: b"ab", 257: b"bc", 258: b"abc"}
        >>> sorted(whole_tokens(vocab, merges).values())
        [(256,), (257,)]
    """
    return {data: (idx,) for idx, data in vocab.items()
            if trained or idx < 256 or encode_bytes(data, merges) == [idx]}


def encode_bytes(data, merges):
    """The ids of one chunk's bytes after the merges ``{(a, b): new_id}``."""
    return bpe_long(data, merges) if len(data) > LONG_CHUNK else bpe_short(data, merges)


def bpe_short(data, merges):
    """minbpe's rule: merge the present pair of lowest rank, leftmost first.

    Merging the leftmost occurrence and looking again is the same as
    merging all occurrences left to right (nothing of lower rank can
    appear). ``rank`` holds the rank of every adjacent pair and is patched
    around each merge instead of being recomputed.
    """
    ids, get = list(data), merges.get
    rank = list(map(get, zip(ids, ids[1:]), repeat(NO_MERGE)))
    while rank:
        r = min(rank)
        if r == NO_MERGE:
            break
        i = rank.index(r)
        ids[i] = r  # a merge's rank is its new token's id
        del ids[i + 1], rank[i]  # the pair to the right of the merged one shifts to i
        if i > 0:
            rank[i - 1] = get((ids[i - 1], r), NO_MERGE)
        if i < len(rank):
            rank[i] = get((r, ids[i + 1]), NO_MERGE)
    return ids


def bpe_long(data, merges):
    """The same result as ``bpe_short`` in O(n log n): a heap of (rank, node).

    Merging the lowest rank first and, within a rank, the leftmost node
    first is exactly ``bpe_short``'s order; a merge never creates a pair of
    lower rank, because every pair holding the new token ranks after it.
    """
    ranks, tok = merges, list(data)
    n = len(tok)
    if n < 2:
        return tok
    prev, nxt = list(range(-1, n - 1)), list(range(1, n + 1))
    nxt[-1] = -1
    heap = [(ranks[p], i) for i, p in enumerate(zip(tok, tok[1:])) if p in ranks]
    heapq.heapify(heap)
    while heap:
        r, i = heapq.heappop(heap)
        j = nxt[i]
        if j == -1 or ranks.get((tok[i], tok[j])) != r:
            continue  # stale: a neighbour merged first
        k = nxt[j]
        tok[i], tok[j], nxt[i] = r, -1, k
        if k != -1:
            prev[k] = i
            if (r, tok[k]) in ranks:
                heapq.heappush(heap, (ranks[(r, tok[k])], i))
        h = prev[i]
        if h != -1 and (tok[h], r) in ranks:
            heapq.heappush(heap, (ranks[(tok[h], r)], h))
    return [t for t in tok if t != -1]
