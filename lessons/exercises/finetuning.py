"""Lesson 12's exercises (finetuning): freeze part of a pretrained model.

Write your answer in the function below, replacing `raise NotImplementedError`; then run
`python -m lessons.check finetuning`.
"""
import numpy as np

import tinytx as tx
from tinytx import optim
from tinytx.models import GPT, GPTConfig


# -- your answers --------------------------------------------------------------------------
def freeze(model, prefixes):
    """Freeze every parameter whose name (as in model.named_parameters()) starts with one
    of `prefixes`: set its requires_grad to False, so that backward leaves its .grad at
    None and optim.decay_groups(model) leaves it out of the optimizer.
    Returns the names frozen, in named_parameters() order.
    Example: freeze(gpt, ["transformer.wte", "transformer.wpe"]) freezes the embeddings."""
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check finetuning`: no need to edit below --------
def check_freeze(freeze):
    tx.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=8,
                          dropout=0.0))
    prefixes = ["transformer.wte", "transformer.wpe"]
    names = [n for n, _ in model.named_parameters()]
    want = [n for n in names if n.startswith(tuple(prefixes))]
    got = freeze(model, prefixes)
    assert list(got) == want, f"freeze returned {got}, expected {want}"
    before = {n: p.numpy().copy() for n, p in model.named_parameters()}
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(3):                                   # three training steps
        x = tx.tensor(rng.integers(0, 16, size=(4, 8)))
        model(x, x)[1].backward()
        opt.step()
        opt.zero_grad()
    for n, p in model.named_parameters():
        moved = not np.array_equal(p.numpy(), before[n])
        assert moved == (n not in want), (f"{n} {'changed' if moved else 'did not change'} "
                                          f"in training")
    return "the embeddings stay put through 3 AdamW steps; every other weight trains"
