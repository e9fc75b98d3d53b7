"""The checks of lesson 11's exercises (lessons/exercises/gpt_quixote.py), run by
`python -m lessons.check gpt_quixote`: each answer against tinytx's own
(tinytx.data.get_batch, tinytx.generate's filters and sampling loop, and causal attention
over the whole sequence, F.scaled_dot_product_attention)."""
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx.data import get_batch
from tinytx.generate import generate
from tinytx.generate.logits import top_k_filter as tinytx_top_k_filter
from tinytx.generate.logits import top_p_filter as tinytx_top_p_filter
from tinytx.models import GPT, GPTConfig


def check_xy_batch(xy_batch):
    ids = np.random.default_rng(0).integers(0, 50, size=200)
    B, T = 4, 8
    starts = np.random.default_rng(1).integers(0, len(ids) - T, size=B)   # as get_batch draws
    x, y = get_batch(ids, B, T, np.random.default_rng(1))
    X, Y = (np.asarray(a) for a in xy_batch(ids, starts, T))
    for name, got, want in [("X", X, x.numpy()), ("Y", Y, y.numpy())]:
        assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
        assert (got == want).all(), f"{name} differs from tinytx.data.get_batch's"
    return "X and Y equal tinytx.data.get_batch's for the same windows"


def tinytx_gpt_forward(model, idx, targets):
    return model(idx, targets)


def check_gpt_forward(gpt_forward):
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=20, n_layer=2, n_head=2, n_embd=16,
                          dropout=0.0)).to(dtype="float64")
    rng = np.random.default_rng(0)
    idx, targets = (tx.tensor(rng.integers(0, 20, size=(2, 6))) for _ in range(2))
    upstream = tx.tensor(rng.standard_normal((2, 6, 20)))
    results = []
    for forward in (gpt_forward, tinytx_gpt_forward):
        logits, loss = forward(model, idx, targets)
        (loss + (logits * upstream).sum()).backward()  # every logit's gradient counts
        results.append([logits.numpy(), loss.numpy()]
                       + [p.grad for _, p in model.named_parameters()])
        model.zero_grad()
    names = ["the logits", "the loss"] + [f"the gradient of {n}"
                                          for n, _ in model.named_parameters()]
    for what, got, want in zip(names, *results):
        assert got is not None, f"{what}: none (is that weight used?)"
        assert np.shape(got) == np.shape(want), (f"{what}: shape {np.shape(got)}, "
                                                 f"expected {np.shape(want)}")
        err = np.abs(got - want).max()
        assert err < 1e-10, f"{what} differs from the GPT's own forward by up to {err:.2e}"
    return "equals GPT.forward: logits, loss and the gradient of every weight"


def check_top_k_filter(top_k_filter):
    logits = np.random.default_rng(0).standard_normal((3, 10))       # no ties
    before = logits.copy()
    for k in (1, 3, 10):
        got = np.asarray(top_k_filter(logits, k))
        want = tinytx_top_k_filter(logits, k)
        assert got.shape == want.shape, f"k = {k}: shape {got.shape}, expected {want.shape}"
        assert np.array_equal(got, want), f"k = {k}: differs from tinytx's top_k_filter"
        assert np.array_equal(logits, before), "top_k_filter changed its input"
    return "equals tinytx.generate.logits.top_k_filter for k = 1, 3, 10"


def check_top_p_filter(top_p_filter):
    logits = 2 * np.random.default_rng(0).standard_normal((3, 10))   # no ties
    before = logits.copy()
    for p in (0.05, 0.5, 0.9, 1.0):
        got = np.asarray(top_p_filter(logits, p))
        want = tinytx_top_p_filter(logits, p)
        assert got.shape == want.shape, f"p = {p}: shape {got.shape}, expected {want.shape}"
        kept, expected = np.isfinite(got), np.isfinite(want)
        assert np.array_equal(kept, expected), (
            f"p = {p}: keeps {kept.sum(axis=-1).tolist()} tokens per row, tinytx's "
            f"top_p_filter keeps {expected.sum(axis=-1).tolist()}")
        assert np.array_equal(got[kept], want[kept]), f"p = {p}: changed the kept logits"
        assert np.array_equal(logits, before), "top_p_filter changed its input"
    return "equals tinytx.generate.logits.top_p_filter for p = 0.05, 0.5, 0.9, 1"


def check_sample(sample):
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=20, n_layer=2, n_head=2, n_embd=16,
                          dropout=0.0))
    for w in model.parameters():                       # logits of std ~1.5, not ~0.1: the
        w.data = w.data * 10 if w.ndim == 2 else w.data    # temperature and filters matter
    prompt, n = [3, 1, 4], 12                          # 15 tokens: past block_size 8
    settings = [{"temperature": 1.0}, {"temperature": 0.7, "top_k": 5},
                {"temperature": 1.5, "top_p": 0.6},
                {"temperature": 0.9, "top_k": 8, "top_p": 0.8}]
    for seed, options in enumerate(settings):
        got = sample(model, prompt, n, rng=np.random.default_rng(seed), **options)
        want = generate(model, [prompt], n, rng=np.random.default_rng(seed),
                        use_cache=False, **options).numpy()[0].tolist()
        got = [int(t) for t in got]
        assert len(got) == len(want), f"{options}: {len(got)} ids, expected {len(want)}"
        assert got == want, (f"{options}: sampled {got[len(prompt):]}, tinytx's generate "
                             f"with the same rng {want[len(prompt):]}")
    return "draws the tokens tinytx.generate draws (same rng), temperature, top-k and top-p"


def check_cached_attention(cached_attention):
    B, H, T, D = 2, 3, 6, 4
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((B, H, T, D)) for _ in range(3))
    want = F.scaled_dot_product_attention(*map(tx.tensor, (q, k, v)), is_causal=True).numpy()
    cache = None
    for t in range(T):
        step = slice(t, t + 1)
        out, cache = cached_attention(q[:, :, step], k[:, :, step], v[:, :, step], cache)
        out = np.asarray(out)
        assert out.shape == (B, H, 1, D), f"step {t}: output shape {out.shape}, expected " \
                                          f"{(B, H, 1, D)}"
        err = np.abs(out - want[:, :, step]).max()
        assert err < 1e-10, (f"step {t}: the output differs from causal attention over the "
                             f"whole sequence by {err:.2e}")
        for name, got, full in (("K", cache[0], k), ("V", cache[1], v)):
            got = np.asarray(got)
            assert got.shape == (B, H, t + 1, D), (f"step {t}: cached {name} has shape "
                                                   f"{got.shape}, expected {(B, H, t + 1, D)}")
            assert np.array_equal(got, full[:, :, :t + 1]), (
                f"step {t}: cached {name} is not the {name} of tokens 0..{t} in order")
    return (f"{T} cached steps equal F.scaled_dot_product_attention(is_causal=True) over the "
            f"whole sequence; the cache holds the keys and values in order")
