"""The fast BPE trainer: the report's merges, without recounting every pair.

Lesson 06 "Tokenization" (report chapter 4). The straightforward algorithm
(``naive`` in the tests, and in the report) recounts every adjacent pair of the
whole text on every merge. This module produces exactly the same merges, in the
same order, with three changes that do not alter the answer:

1. **Distinct chunks, weighted.** Every distinct chunk is stored once, in the
   order in which it first appears in the text, and its pairs count as many
   times as the chunk occurs. A repeated chunk is always tokenized the same
   way, so this is the same count.
2. **One linked list of tokens.** The distinct chunks are laid end to end as a
   doubly linked list of nodes (``-1`` marks a chunk boundary, so pairs never
   cross chunks). A merge writes the new token into the left node and unlinks
   the right one; no node ever moves, so a node's index is a fixed position.
3. **An index and a heap.** For every pair we keep the set of nodes where it
   starts, its weighted count, and ``first``: the smallest such node. Merging
   a pair touches only its own occurrences and their two neighbours, and
   changes the counts by deltas. A heap ordered by ``(-count, first)`` hands
   out the next merge; stale entries are skipped when popped ("lazy deletion").

Why ``first`` is the naive tie-break: the naive scan meets pair occurrences in
text order, so ties go to the pair whose first occurrence comes first. Node
indices are in exactly that order (chunks by first appearance, then left to
right), and a merge never reorders surviving nodes, so the smallest node index
of a pair *is* its first occurrence in the scan. ``docs/tokenization.md`` has
the full argument.
"""
import heapq
from collections import defaultdict


def train_merges(chunks, first_id=256):
    """Yield the BPE merges of weighted byte chunks, best first, one at a time.

    Args:
        chunks: ``{bytes: int}`` — each distinct chunk and how often it occurs,
            in the order of first appearance in the text (a ``Counter`` built
            from the chunks in text order has exactly this order).
        first_id: the id given to the first new token; later ones count up.
    Yields:
        ``(pair, new_id, count)``: the merged pair of ids, the id of the new
        token and the weighted number of occurrences the pair had. Stops when
        no pair is left (every chunk is a single token). Stop early by simply
        not asking for more (e.g. ``itertools.islice``).

    Example:
        >>> from itertools import islice
        >>> [m[:2] for m in islice(train_merges({b"aaabdaaabac": 1}), 3)]
        [((97, 97), 256), ((256, 97), 257), ((257, 98), 258)]
    """
    tok, prev, nxt, weight = _link(chunks)
    count = defaultdict(int)  # pair -> weighted count
    where = defaultdict(set)  # pair -> nodes where the pair starts
    for i, j in enumerate(nxt):
        if j != -1:
            pair = (tok[i], tok[j])
            count[pair] += weight[i]
            where[pair].add(i)
    first = {pair: min(nodes) for pair, nodes in where.items()}
    heap = [(-c, first[p], p) for p, c in count.items()]
    heapq.heapify(heap)

    new_id = first_id
    while heap:
        neg, at, pair = heapq.heappop(heap)
        if count.get(pair) != -neg or first.get(pair) != at:
            continue  # stale: the pair's count or first node changed since
        changed = _merge(pair, new_id, tok, prev, nxt, weight, count, where, first)
        for p in changed:
            if count[p] == 0:
                del count[p], where[p], first[p]
            else:
                if first[p] is None:  # its first occurrence was removed
                    first[p] = min(where[p])
                heapq.heappush(heap, (-count[p], first[p], p))
        yield pair, new_id, -neg
        new_id += 1


def _link(chunks):
    """Lay the chunks end to end as a linked list of token nodes.

    Single-byte chunks have no pairs and never change, so they are left out.
    """
    tok, prev, nxt, weight = [], [], [], []
    for chunk, n in chunks.items():
        if len(chunk) < 2:
            continue
        start, end = len(tok), len(tok) + len(chunk)
        tok.extend(chunk)  # bytes -> ints
        weight.extend([n] * len(chunk))
        prev.extend(range(start - 1, end - 1))
        nxt.extend(range(start + 1, end + 1))
        prev[start] = nxt[end - 1] = -1
    return tok, prev, nxt, weight


def _merge(pair, new_id, tok, prev, nxt, weight, count, where, first):
    """Replace every occurrence of ``pair``, left to right, by ``new_id``.

    Updates ``count``/``where``/``first`` by deltas around each occurrence and
    returns the set of pairs whose entries changed (``first[p] is None`` means
    "recompute": the node that was first is gone).
    """
    a, b = pair
    changed = set()

    def remove(node, p, w):
        if p == pair:  # the merged pair itself is dropped wholesale
            return
        count[p] -= w
        where[p].discard(node)
        if first[p] == node:
            first[p] = None
        changed.add(p)

    def add(node, p, w):
        # p holds the new token, so p is new in this sweep, and the sweep adds
        # its occurrences left to right: the first one added is its first
        count[p] += w
        where[p].add(node)
        first.setdefault(p, node)
        changed.add(p)

    nodes = sorted(where.pop(pair))
    del count[pair], first[pair]
    for i in nodes:
        j = nxt[i]
        # an earlier merge in this sweep may have consumed i ("aaa": the
        # occurrence at the second 'a' disappears when the first one merges)
        if tok[i] != a or j == -1 or tok[j] != b:
            continue
        w, h, k = weight[i], prev[i], nxt[j]
        if h != -1:
            remove(h, (tok[h], a), w)
        if k != -1:
            remove(j, (b, tok[k]), w)
        tok[i], tok[j] = new_id, -1
        nxt[i] = k
        if k != -1:
            prev[k] = i
            add(i, (new_id, tok[k]), w)
        if h != -1:
            add(h, (tok[h], new_id), w)
    return changed
