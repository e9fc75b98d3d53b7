"""Tests of word2vec (lesson 07): the model's loss and its gradients (tinytx.models.word2vec),
the vocabulary, samplers and batch makers (tinytx.data.word2vec), and that training
(tinytx.tasks.word2vec) finds words that keep the same company."""
import numpy as np
import pytest

import tinytx as tx
from tinytx.data.word2vec import (Vocab, build_vocab, cbow_batches, encode_sentences,
                                  noise_distribution, sample_negatives, skipgram_batches,
                                  subsample_mask, tokenize_sentences, tokenize_words)
from tinytx.models.word2vec import Word2Vec, Word2VecConfig, analogy, log_sigmoid, most_similar
from tinytx.tasks.word2vec import train_word2vec

MODES = ["skipgram", "cbow"]


def tiny_model(mode, device, V=7, C=4, W=2):
    """A float64 model with random (not the zero/small init) tables, for gradchecks."""
    m = Word2Vec(Word2VecConfig(V, C, mode, negatives=3, window=W), device=device,
                 dtype="float64")
    rng = np.random.default_rng(0)
    for p in m.parameters():
        p.data = device.asarray(rng.standard_normal(p.shape) * 0.7)
    return m


def tiny_batch(mode, device):
    center = [1, 2, 2, 5]
    # a repeated word, a negative equal to the target, and (CBOW) -1 padding
    context = [3, 2, 4, 0] if mode == "skipgram" else [[3, 4, -1, 6], [2, 2, 0, -1],
                                                       [-1, -1, 4, -1], [0, 1, 2, 3]]
    negatives = [[4, 5, 6], [2, 2, 0], [4, 1, 3], [6, 6, 6]]
    return [tx.tensor(x, device=device) for x in (center, context, negatives)]


# -- the loss --------------------------------------------------------------------------
def test_log_sigmoid_stable_with_slope_one_half_at_zero(device):
    x = tx.tensor([-100.0, -3.0, 0.0, 2.0, 100.0], device=device, requires_grad=True)
    y = log_sigmoid(x)
    y.sum().backward()
    xs = np.array([-100.0, -3.0, 0.0, 2.0, 100.0])
    np.testing.assert_allclose(y.numpy(), -np.logaddexp(0, -xs), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(device.to_host(x.grad), 1 / (1 + np.exp(xs)), rtol=1e-6,
                               atol=1e-30)


def test_log_sigmoid_gradcheck(device):
    x = tx.tensor(np.random.default_rng(1).standard_normal((3, 4)) * 3, dtype="float64",
                  device=device, requires_grad=True)
    assert tx.gradcheck(log_sigmoid, [x])


@pytest.mark.parametrize("mode", MODES)
def test_loss_matches_formula(mode, device):
    m = tiny_model(mode, device)
    center, context, negs = tiny_batch(mode, device)
    v, u = m.in_embed.weight.numpy(), m.out_embed.weight.numpy()
    c, ctx, ng = center.numpy(), context.numpy(), negs.numpy()
    if mode == "skipgram":
        h, target = v[c], ctx
    else:
        h = np.stack([v[r[r >= 0]].mean(axis=0) for r in ctx])
        target = c
    pos = (u[target] * h).sum(-1)
    neg = np.einsum("bkc,bc->bk", u[ng], h)
    want = np.logaddexp(0, -pos) + np.logaddexp(0, neg).sum(-1)
    np.testing.assert_allclose(m.losses(center, context, negs).numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(m(center, context, negs).item(), want.mean(), rtol=1e-10)


@pytest.mark.parametrize("per_example", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_both_tables(mode, per_example, device):
    m = tiny_model(mode, device)
    batch = tiny_batch(mode, device)
    loss = m.losses if per_example else m
    assert tx.gradcheck(lambda w_in, w_out: loss(*batch),
                        [m.in_embed.weight, m.out_embed.weight])


@pytest.mark.parametrize("mode", MODES)
def test_fresh_model_gets_gradients(mode, device):
    """out_embed starts at zero, so every score is exactly 0: the slope there must be ½."""
    m = Word2Vec(Word2VecConfig(7, 4, mode, negatives=3), device=device)
    assert float(device.to_host(m.out_embed.weight.data).std()) == 0
    m(*tiny_batch(mode, device)).backward()
    assert np.abs(device.to_host(m.out_embed.weight.grad)).max() > 0
    w = device.to_host(m.in_embed.weight.data)
    assert np.abs(w).max() <= 0.5 / 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        Word2VecConfig(10, mode="glove")
    m = Word2Vec(Word2VecConfig(10, 4, "cbow"))
    with pytest.raises(ValueError, match=r"context must have shape \(B, 2W\)"):
        m(tx.tensor([1]), tx.tensor([2]), tx.tensor([[3]]))
    m = Word2Vec(Word2VecConfig(10, 4))
    with pytest.raises(ValueError, match="negatives must have shape"):
        m(tx.tensor([1, 2]), tx.tensor([2, 3]), tx.tensor([3, 4]))


# -- words and the vocabulary ----------------------------------------------------------
def test_tokenize_keeps_accented_letters():
    assert tokenize_words("Don QUIXOTE and Dulcinea; Señor Doña's 1605") == [
        "don", "quixote", "and", "dulcinea", "señor", "doña", "s"]
    assert tokenize_sentences("One two. Three!\n\nFour?") == [["one", "two"], ["three"],
                                                              ["four"]]


def test_build_vocab_counts_order_and_min_count():
    words = "b a c a b a d e e e".split()
    v = build_vocab(words, min_count=2)
    assert v.itos == ["a", "e", "b"]                   # by count, ties alphabetical
    assert v.counts.tolist() == [3, 3, 2] and v.stoi == {"a": 0, "e": 1, "b": 2}
    assert "c" not in v and len(v) == 3 and v.min_count == 2
    assert build_vocab(words, min_count=1, max_size=2).itos == ["a", "e"]
    assert v.encode(["c", "b", "a", "zzz"]).tolist() == [2, 0]
    with pytest.raises(ValueError, match="min_count=9"):
        build_vocab(words, min_count=9)
    with pytest.raises(ValueError, match="min_count"):
        build_vocab(words, min_count=0)


def test_encode_sentences():
    v = build_vocab("a b c".split(), min_count=1)
    ids, sent = encode_sentences([["a", "x", "b"], ["y"], ["c", "a"]], v)
    assert ids.tolist() == [0, 1, 2, 0] and sent.tolist() == [0, 0, 2, 2]


# -- sampling and batches --------------------------------------------------------------
def test_negatives_follow_unigram_to_the_three_quarters():
    counts = np.array([1000, 300, 50, 7, 1])
    p = noise_distribution(counts)
    np.testing.assert_allclose(p, counts ** 0.75 / (counts ** 0.75).sum())
    draws = sample_negatives(p, (50_000, 4), np.random.default_rng(0))
    freq = np.bincount(draws.ravel(), minlength=5) / draws.size
    sigma = np.sqrt(p * (1 - p) / draws.size)
    assert np.all(np.abs(freq - p) < 5 * sigma + 1e-12)


def test_subsampling_keeps_sqrt_t_over_f():
    counts = np.array([9000, 900, 90, 10])
    ids = np.repeat(np.arange(4), counts)
    t = 1e-3
    keep = subsample_mask(ids, counts, t, rng=0)
    rate = np.array([keep[ids == w].mean() for w in range(4)])
    want = np.minimum(1, np.sqrt(t / (counts / counts.sum())))
    np.testing.assert_allclose(rate, want, atol=0.05)
    assert np.array_equal(keep, subsample_mask(ids, counts, t, rng=0))  # seeded
    assert subsample_mask(ids, counts, 0).all()


def positions(window=3, n=60):
    """ids equal to positions, so a pair's ids tell its distance; sentences of 7..13."""
    sent = np.repeat(np.arange(6), [7, 13, 10, 9, 11, 10])
    return np.arange(n), sent, np.full(n, 1 / n)


def test_skipgram_batches_shapes_and_windows():
    ids, sent, noise = positions()
    batches = list(skipgram_batches(ids, 3, 16, 5, noise, np.random.default_rng(0), sent))
    assert all(c.shape == x.shape and n.shape == (len(c), 5) and len(c) <= 16
               for c, x, n in batches)
    assert all(c.dtype == x.dtype == n.dtype == np.int64 for c, x, n in batches)
    c, x = (np.concatenate([b[i] for b in batches]) for i in (0, 1))
    d = np.abs(c - x)
    assert d.min() >= 1 and d.max() <= 3
    assert np.array_equal(sent[c], sent[x])           # no pair crosses a sentence
    assert len(set(zip(c.tolist(), x.tolist()))) == len(c)  # each pair once
    neighbours = {(i, j) for i, j in zip(c.tolist(), x.tolist()) if abs(i - j) == 1}
    assert len(neighbours) == 2 * (len(ids) - 6)      # distance 1 is always in the window


def test_cbow_batches_shapes_and_windows():
    ids, sent, noise = positions()
    batches = list(cbow_batches(ids, 3, 16, 4, noise, np.random.default_rng(0), sent))
    assert all(x.shape == (len(c), 6) and n.shape == (len(c), 4) for c, x, n in batches)
    c, x = (np.concatenate([b[i] for b in batches]) for i in (0, 1))
    assert sorted(c.tolist()) == ids.tolist()           # every center once
    valid = x >= 0
    d = np.abs(x - c[:, None])
    assert d[valid].min() >= 1 and d[valid].max() <= 3
    assert np.array_equal(sent[x[valid]], np.broadcast_to(sent[c][:, None], x.shape)[valid])
    offsets = np.array([-3, -2, -1, 1, 2, 3])
    assert np.array_equal((x - c[:, None])[valid], np.broadcast_to(offsets, x.shape)[valid])


def test_batches_reject_bad_window():
    with pytest.raises(ValueError, match="window must be an int >= 1, got 0"):
        next(skipgram_batches(np.arange(5), 0, 2, 1, np.full(5, 0.2),
                              np.random.default_rng(0)))


# -- using the vectors -----------------------------------------------------------------
def hand_made(vectors, words):
    m = Word2Vec(Word2VecConfig(len(words), len(vectors[0])))
    m.in_embed.weight.data[...] = np.array(vectors, dtype=np.float32)
    return m, Vocab(list(words), np.ones(len(words), dtype=np.int64), min_count=5)


def test_most_similar_and_analogy():
    m, v = hand_made([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1], [1, -1, 1]],
                     ["king", "queen", "man", "woman", "x"])
    near = most_similar(m, v, "king", k=3)
    assert [w for w, _ in near] == ["queen", "x", "man"]
    assert near[0][1] == pytest.approx(0.9 / np.sqrt(0.82))
    assert all(a[1] >= b[1] for a, b in zip(near, near[1:]))
    assert analogy(m, v, "king", "man", "woman", k=1)[0][0] == "x"   # (1,-1,1)
    assert m.vectors().shape == (5, 3)
    with pytest.raises(KeyError, match=r"'sancho' is not in the vocabulary.*min_count=5"):
        most_similar(m, v, "sancho")


# -- training --------------------------------------------------------------------------
GROUPS = [["apple", "pear", "plum", "cherry"], ["horse", "mule", "donkey", "pony"],
          ["red", "green", "blue", "yellow"], ["sword", "lance", "shield", "helmet"],
          ["knight", "squire", "lady", "duke"]]


def grouped_text(n_sentences=500, seed=0):
    """Sentences of 6 words, each drawn from a single group."""
    rng = np.random.default_rng(seed)
    return ". ".join(" ".join(rng.choice(GROUPS[rng.integers(5)], 6))
                     for _ in range(n_sentences)) + "."


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("mode", MODES)
def test_words_of_a_group_are_nearest_neighbours(mode, optimizer):
    model, vocab, losses = train_word2vec(grouped_text(), mode=mode, n_embd=16, min_count=1,
                                          subsample=0, epochs=4, batch_size=128, seed=0,
                                          optimizer=optimizer)
    assert len(vocab) == 20
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])
    for group in GROUPS:
        for word in group:
            near = {w for w, _ in most_similar(model, vocab, word, k=3)}
            assert near == set(group) - {word}, (word, near)


def test_trains_on_every_device(device):
    model, vocab, losses = train_word2vec(grouped_text(40), mode="cbow", n_embd=8,
                                          min_count=1, epochs=1, batch_size=64,
                                          device=device)
    assert model.in_embed.weight.device is device and np.isfinite(losses).all()
    assert most_similar(model, vocab, "apple", k=2)


def test_train_rejects_bad_arguments():
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd', got"):
        train_word2vec("a b. a b.", min_count=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="no two known words"):
        train_word2vec("a. b. a. b.", min_count=1, subsample=0)


CHARACTERS = {"quixote", "don", "panza", "teresa", "ricote", "ambrosio", "andres",
              "dorothea", "cardenio", "curate", "barber", "licentiate", "landlord",
              "jeronimo", "page", "governor", "squire", "samson", "carrasco", "dapple"}


@pytest.mark.parametrize("mode", MODES)
def test_quixote_neighbours(mode, quixote_path):
    """One epoch on the whole book: the lady of El Toboso, the knight's horse beside the
    squire's ass, and other people of the book beside Sancho (true for every seed tried)."""
    text = quixote_path.read_text(encoding="utf-8")
    model, vocab, _ = train_word2vec(text, mode=mode, epochs=1, seed=0)
    near = {w: [x for x, _ in most_similar(model, vocab, w, k=10)]
            for w in ("dulcinea", "rocinante", "sancho")}
    assert "toboso" in near["dulcinea"], near
    assert "dapple" in near["rocinante"], near
    assert CHARACTERS & set(near["sancho"]), near
