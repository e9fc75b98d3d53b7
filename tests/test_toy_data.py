"""tinytx.data.toy: the recall task of lessons 03 and 04."""
import numpy as np
import pytest

from tinytx.data.toy import recall_task


@pytest.mark.parametrize("distance", [0, 1, 7])
def test_recall_task_shapes_and_answer(distance):
    x, y = recall_task(50, distance, vocab=6, rng=np.random.default_rng(1))
    assert x.shape == (50, distance + 1) and y.shape == (50,)
    assert x.dtype == np.int64 and y.dtype == np.int64
    assert (y == x[:, 0]).all()
    assert x.min() >= 0 and x.max() < 6


def test_recall_task_is_seeded_and_covers_the_vocabulary():
    a, ya = recall_task(2000, 5, 4, rng=3)
    b, yb = recall_task(2000, 5, 4, rng=np.random.default_rng(3))
    assert (a == b).all() and (ya == yb).all()
    counts = np.bincount(ya, minlength=4) / 2000          # uniform answers: chance is 1/vocab
    assert np.allclose(counts, 0.25, atol=0.05)
    assert (ya == a[:, -1]).mean() < 0.4                  # distractors drawn independently


def test_recall_task_answer_is_a_copy():
    x, y = recall_task(3, 2, 5, rng=0)
    y[:] = -1
    assert (x >= 0).all()


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_samples=0), "n_samples"), (dict(distance=-1), "distance"),
    (dict(vocab=1), "vocab"), (dict(n_samples=2.5), "n_samples"), (dict(vocab=True), "vocab")])
def test_recall_task_bad_arguments_name_the_argument(kwargs, name):
    args = dict(n_samples=4, distance=3, vocab=5, rng=0) | kwargs
    with pytest.raises(ValueError, match=name):
        recall_task(**args)


def test_recall_task_rejects_a_bad_rng():
    with pytest.raises(TypeError, match="rng"):
        recall_task(4, 3, 5, rng="seed")
