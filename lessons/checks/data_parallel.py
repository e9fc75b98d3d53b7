"""The checks of lesson 14's exercises (lessons/exercises/data_parallel.py), run by
`python -m lessons.check data_parallel`: the all-reduce against np.sum, a pairwise tree
sum written out here and the bytes recursive doubling must send; the shard weights
against the mean over all tokens (analytic) and a GPT's gradient on the whole batch; the
training step from micro-batches against tinytx's step on the whole batch."""
import numpy as np

import tinytx as tx
from tinytx.models import GPT, GPTConfig


def pairwise_tree_sum(arrays):
    """Neighbours added level by level, ((a0 + a1) + (a2 + a3)) + ...: the order in which
    recursive doubling adds, on every rank (x + y is y + x exactly in floating point)."""
    level = list(arrays)
    while len(level) > 1:
        level = [level[i] + level[i + 1] for i in range(0, len(level), 2)]
    return level[0]


def check_recursive_doubling_allreduce(recursive_doubling_allreduce):
    rng, n = np.random.default_rng(0), 1000
    for W in (1, 2, 4, 8):
        arrays = [rng.standard_normal(n) for _ in range(W)]
        before = [a.copy() for a in arrays]
        results, sent = recursive_doubling_allreduce(arrays)
        results = list(results)                     # (a 2-D array: its rows, kept alive)
        assert len(results) == W, f"W = {W}: {len(results)} results, expected one per rank"
        assert len({id(r) for r in results}) == W, (
            f"W = {W}: some ranks share one result array; every rank needs its own")
        exact, results = np.sum(before, axis=0), [np.asarray(x) for x in results]
        for r, got in enumerate(results):
            assert got.shape == (n,), f"W = {W}: rank {r}'s result has shape {got.shape}"
            err = np.abs(got - exact).max()
            assert err < 1e-12, f"W = {W}: rank {r}'s result differs from np.sum by {err:.1e}"
        assert all(np.array_equal(a, b) for a, b in zip(arrays, before)), (
            f"W = {W}: the input arrays were changed")
        want = np.log2(W) * n * 8                         # float64: 8 bytes a value
        got = np.asarray(sent, dtype=np.float64)
        assert got.shape == (W,) and (got == want).all(), (
            f"W = {W}: bytes sent by each rank {got.tolist()}, expected log2(W)·n·8 = "
            f"{want:,.0f} each")
        tree = pairwise_tree_sum(before)
        for r, got in enumerate(results):
            assert np.array_equal(got, tree), (
                f"W = {W}: rank {r}'s sum is np.sum's to 1e-12 but was not added in "
                f"recursive doubling's order: step 0 adds pairs of ranks, step 1 pairs of "
                f"pairs, ... ((a0 + a1) + (a2 + a3)) + ...")
    try:
        recursive_doubling_allreduce([np.zeros(3) for _ in range(6)])
    except ValueError as e:
        assert "6" in str(e), f"W = 6: the ValueError does not name W: {e}"
    else:
        raise AssertionError("W = 6 is not a power of two: expected a ValueError")
    return ("W = 1, 2, 4, 8: every rank gets np.sum's result, added pairwise in log2 W "
            "steps, sending log2(W)·n values")


def tiny_gpt_gradient(x, y):
    """The gradient of a fixed float64 GPT's mean loss on (x, y), as one vector."""
    tx.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=8,
                          dropout=0.0)).to(dtype="float64")
    model(tx.tensor(x), tx.tensor(y))[1].backward()
    return np.concatenate([p.grad.ravel() for p in model.parameters()])


def check_shard_weights(shard_weights):
    rng = np.random.default_rng(0)
    for counts in ([4, 4], [3, 5], [2, 7, 1, 6], [0, 5, 3, 8]):
        losses = rng.standard_normal(sum(counts))           # one loss per target token
        shards = np.split(losses, np.cumsum(counts)[:-1])
        w = np.asarray(shard_weights(list(counts)), dtype=np.float64)
        assert w.shape == (len(counts),), f"counts {counts}: weights of shape {w.shape}"
        means = np.array([s.mean() if len(s) else 0.0 for s in shards])
        averaged = (w * means).sum() / len(counts)          # what DataParallel computes
        assert abs(averaged - losses.mean()) < 1e-12, (
            f"counts {counts}: the ranks' weighted losses average to {averaged:.6f}, the "
            f"mean over all tokens is {losses.mean():.6f}")
    x = rng.integers(0, 16, size=(8, 8))                    # a global batch of 8 rows
    y = np.roll(x, -1, axis=1)
    big = tiny_gpt_gradient(x, y)
    w = np.asarray(shard_weights([3 * 8, 5 * 8]), dtype=np.float64)   # shards of 3, 5 rows
    averaged = (w[0] * tiny_gpt_gradient(x[:3], y[:3])
                + w[1] * tiny_gpt_gradient(x[3:], y[3:])) / 2
    err = np.abs(averaged - big).max()
    assert err < 1e-12, f"a GPT on shards of 3 and 5 rows: off the whole batch's by {err:.1e}"
    for bad in ([3, -1], [0, 0]):
        try:
            shard_weights(bad)
        except ValueError as e:
            assert "counts" in str(e), f"counts {bad}: the ValueError does not name counts"
        else:
            raise AssertionError(f"counts {bad}: expected a ValueError")
    return ("averaged over the ranks, the weighted shard losses are the mean over all "
            "tokens, and a GPT's gradient on shards of 3 and 5 rows is the batch's")


def gpt_and_sgd():
    """A fixed float64 GPT and SGD with momentum. Not AdamW: its first update is about
    lr·sign(gradient), the same for a loss scaled by any factor, so it would pass answers
    that scale the loss wrongly."""
    tx.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=8,
                          dropout=0.0)).to(dtype="float64")
    return model, tx.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)


def check_train_step(train_step):
    (model, opt), (reference, ref_opt) = gpt_and_sgd(), gpt_and_sgd()
    rng = np.random.default_rng(0)
    for step, grad_clip in enumerate((1e9, 0.05, 1e9)):     # unclipped, clipped, unclipped
        x = rng.integers(0, 16, size=(8, 6))                 # a batch of 8 rows
        x, y = tx.tensor(x), tx.tensor(np.roll(x, -1, axis=1))
        loss = train_step(model, opt, [(x[:3], y[:3]), (x[3:], y[3:])], grad_clip)
        ref_opt.zero_grad()                                  # tinytx, the whole batch
        want = reference(x, y)[1]
        want.backward()
        tx.optim.clip_grad_norm(list(reference.parameters()), grad_clip)
        ref_opt.step()
        assert abs(float(loss) - want.item()) < 1e-10, (
            f"step {step}: returned loss {float(loss):.6f}, the whole batch's is "
            f"{want.item():.6f}")
        for (name, p), q in zip(model.named_parameters(), reference.parameters()):
            err = np.abs(p.numpy() - q.numpy()).max()
            assert err < 1e-10, (f"step {step} (grad_clip {grad_clip:g}): {name} is off "
                                 f"the step on the whole batch by {err:.1e}")
    return ("three SGD steps from micro-batches of 3 and 5 rows equal tinytx's steps on the "
            "whole batch, clipped and not")
