"""A training step reads nothing back from the device (issue 20): on the strict device
every read of an array's values into the host (`float`, `bool`, `int`, `.item()`,
`.tolist()`, `Device.to_host` …, what waits for the GPU on the cuda device) is counted in
tinytx.backend.strict.HOST_READS, with the line that made it.

The step here is forward + backward + clip_grad_norm + AdamW, with the fused kernels: on
the strict device the CPU fused kernels' xp code runs, which is what runs on CuPy for
every op without a CUDA kernel.
"""
import numpy as np
import pytest

import tinytx as tx
from tinytx import optim
from tinytx.backend.strict import HOST_READS, StrictArray, counting_host_reads
from tinytx.models.gpt import GPT, GPTConfig

# The one read the step may make, by design: the CPU cross-entropy kernel checks the
# targets' range and raises IndexError, as PyTorch does on the CPU (free there); on the
# cuda device the CUDA kernel checks in the kernel and a bad target gives a NaN loss that
# the Trainer's guard reports, with no read.
KNOWN = {
    "tinytx/kernels/cross_entropy.py": {"bool"},
}


def _where(key):
    kind, at = key.split(" at ")
    path = at.rsplit(":", 1)[0].replace("\\", "/")
    return kind, path[path.rfind("tinytx/"):] if "tinytx/" in path else path


def _unexpected(reads):
    return {k: n for k, n in reads.items()
            if _where(k)[0] not in KNOWN.get(_where(k)[1], ())}


def test_host_reads_are_counted_with_their_line():
    a = StrictArray(np.arange(4.0))
    dev = tx.backend.get_device("strict")
    with counting_host_reads() as reads:
        float(a.sum()), bool(a.any()), int(a[1]), a.item(1), a.tolist(), dev.to_host(a)
        [0, 1][a[1].astype(int)]                           # __index__
        tx.backend.get_device("cpu").asarray(a)            # strict -> host
    kinds = sorted(k.split(" at ")[0] for k in reads)
    assert kinds == sorted(["float", "bool", "int", "item", "tolist", "to_host", "index",
                            "asarray"])
    assert all(k.split(" at ")[1].startswith(__file__) for k in reads), reads
    with counting_host_reads():
        assert not HOST_READS                               # cleared at the start
    a + a, a.reshape(2, 2), a.sum(), a > 1, len(a)          # none of these reads
    assert not HOST_READS


def _step(model, opt, x, y):
    _, loss = model(x, y)
    loss.backward()
    norm = optim.clip_grad_norm(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    return loss, norm


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_a_gpt_training_step_reads_nothing_from_the_device(dropout):
    tx.manual_seed(0)
    cfg = GPTConfig(block_size=8, vocab_size=32, n_layer=2, n_head=2, n_embd=16,
                    dropout=dropout)
    model = GPT(cfg).to("strict")
    model.train()
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-3)
    rng = np.random.default_rng(0)
    x, y = (tx.tensor(rng.integers(0, 32, (2, 8)), device="strict") for _ in range(2))
    for _ in range(2):                                  # the first step makes Adam's state
        with counting_host_reads() as reads:
            loss, norm = _step(model, opt, x, y)
        assert not _unexpected(reads), f"host reads in a training step: {dict(reads)}"
    assert isinstance(loss.data, StrictArray) and isinstance(norm, StrictArray)
    with counting_host_reads() as reads:
        assert np.isfinite(float(loss.data)) and np.isfinite(float(norm))   # asked for
    assert sum(reads.values()) == 2


def test_clip_and_adamw_read_nothing_from_the_device():
    model = tx.nn.Sequential(tx.nn.Linear(3, 4), tx.nn.Linear(4, 2)).to("strict")
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-2)
    x = tx.randn(5, 3, device="strict")
    for max_norm in (1e-3, 1e3, float("inf")):          # clipped, not clipped, norm only
        y = model(x)
        (y * y).sum().backward()
        with counting_host_reads() as reads:
            optim.clip_grad_norm(model.parameters(), max_norm)
            opt.step()
            opt.zero_grad()
        assert not reads, dict(reads)
