"""tinytx.data's language-model data (lesson 11): the held-out split, random windows and
every window in order as (x, y) batches, and the token cache of an encoded book."""
import json

import numpy as np
import pytest

from tinytx.data import encode_cached, get_batch, iter_windows, train_val_split
from tinytx.tokenizer import RegexTokenizer


@pytest.mark.parametrize("n, frac, n_val", [(100, 0.1, 10), (101, 0.1, 10), (7, 0.0, 0),
                                            (1000, 0.25, 250)])
def test_train_val_split(n, frac, n_val):
    ids = np.arange(n)
    train, val = train_val_split(ids, frac)
    assert len(val) == n_val and np.array_equal(np.concatenate([train, val]), ids)
    assert train_val_split(list(range(n)), frac)[1] == list(range(n - n_val, n))


@pytest.mark.parametrize("frac", [1.0, -0.1, "0.1", True])
def test_train_val_split_rejects(frac):
    with pytest.raises(ValueError, match="val_frac"):
        train_val_split(np.arange(10), frac)


def test_get_batch_windows(device):
    ids = np.arange(1000, dtype=np.uint16) * 3
    x, y = get_batch(ids, 8, 16, np.random.default_rng(0), device=device)
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == np.int64
    assert x.device is device and y.device is device
    x, y = x.numpy(), y.numpy()
    starts = x[:, 0] // 3
    assert np.array_equal(x, ids[starts[:, None] + np.arange(16)])      # contiguous windows
    assert np.array_equal(y, ids[starts[:, None] + np.arange(1, 17)])   # shifted by one
    only, _ = get_batch(ids[:17], 2, 16, np.random.default_rng(0))
    assert np.array_equal(only.numpy(), np.stack([ids[:16]] * 2))     # the single window


def test_get_batch_is_deterministic_and_resumable():
    ids = np.random.default_rng(1).integers(0, 500, 5000)
    a, b = np.random.default_rng(42), np.random.default_rng(42)
    assert all(np.array_equal(get_batch(ids, 4, 8, a)[0].numpy(),
                              get_batch(ids, 4, 8, b)[0].numpy()) for _ in range(3))
    state = json.loads(json.dumps(a.bit_generator.state))     # as a checkpoint stores it
    expected = get_batch(ids, 4, 8, a)[1].numpy()
    resumed = np.random.default_rng(0)
    resumed.bit_generator.state = state
    assert np.array_equal(get_batch(ids, 4, 8, resumed)[1].numpy(), expected)


def test_get_batch_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"block_size \+ 1 = 9 tokens, got 8"):
        get_batch(np.arange(8), 2, 8, rng)
    with pytest.raises(ValueError, match="batch_size"):
        get_batch(np.arange(20), 0, 8, rng)
    with pytest.raises(TypeError, match="rng: expected a numpy.random.Generator"):
        get_batch(np.arange(20), 2, 8, np.random.RandomState(0))
    with pytest.raises(ValueError, match="1-D"):
        get_batch(np.zeros((4, 20), int), 2, 8, rng)


@pytest.mark.parametrize("n", [9, 10, 33, 40])
def test_iter_windows_covers_every_target_once(n):
    ids = np.arange(n) + 100
    batches = list(iter_windows(ids, batch_size=2, block_size=4))
    xs = np.concatenate([x.numpy().ravel() for x, _ in batches])
    ys = np.concatenate([y.numpy().ravel() for _, y in batches])
    assert np.array_equal(xs, ids[:-1]) and np.array_equal(ys, ids[1:])
    assert all(x.shape[0] <= 2 and x.shape == y.shape for x, y in batches)
    full = list(iter_windows(ids, 2, 4, drop_last=True))
    assert sum(x.shape[0] for x, _ in full) == (n - 1) // 4
    assert all(x.shape[1] == 4 for x, _ in full)


def test_encode_cached_hit_miss_invalidation(tmp_path, monkeypatch):
    tok = RegexTokenizer()
    tok.train("the knight and the squire rode on; the knight spoke. " * 4, 256 + 10)
    path = tmp_path / "toks" / "book.ids.npy"
    calls = []
    real_encode = tok.encode
    monkeypatch.setattr(tok, "encode", lambda *a, **k: calls.append(1) or real_encode(*a, **k))
    ids = encode_cached(tok, "the knight rode", path)
    assert ids.dtype == np.uint16 and ids.tolist() == real_encode("the knight rode")
    assert json.loads((tmp_path / "toks" / "book.ids.npy.json").read_text())["n_tokens"] \
        == len(ids)
    assert np.array_equal(encode_cached(tok, "the knight rode", path), ids) and len(calls) == 1
    encode_cached(tok, "the squire rode", path)                       # text changed
    assert len(calls) == 2
    other = RegexTokenizer()
    other.train("the knight and the squire " * 4, 256 + 3)
    assert encode_cached(other, "the squire rode", path).tolist() \
        == other.encode("the squire rode")                            # tokenizer changed
    path.write_bytes(b"garbage")                                      # corrupt cache
    assert encode_cached(other, "the squire rode", path).tolist() \
        == other.encode("the squire rode")
    assert sorted(p.name for p in path.parent.iterdir()) == ["book.ids.npy",
                                                             "book.ids.npy.json"]


def test_encode_cached_int32_for_big_vocab(tmp_path):
    t = RegexTokenizer()
    t.register_special_tokens({"<|end|>": 70_000})
    ids = encode_cached(t, "ab<|end|>", tmp_path / "i.npy", allowed_special="all")
    assert ids.dtype == np.int32 and ids.tolist() == [97, 98, 70_000]
