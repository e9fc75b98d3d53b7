"""The checks of lesson 13's exercises (lessons/exercises/finetuning.py), run by
`python -m lessons.check finetuning`: each answer against three AdamW steps of a small GPT."""
import numpy as np

import tinytx as tx
from tinytx import optim
from tinytx.models import GPT, GPTConfig


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
