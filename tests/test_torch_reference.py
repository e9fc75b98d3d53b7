"""Optional: compare ops with PyTorch when it happens to be installed (skips otherwise).

Nothing in tinytx needs PyTorch; these tests only confirm that the same inputs give the
same outputs and gradients as the library the report used.
"""
import numpy as np
import pytest

import tinytx as tx
import tinytx.functional as F
from tinytx.nn.fused import fused

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = {
    "softmax": (lambda x: F.softmax(x, axis=-1), lambda x: torch.softmax(x, dim=-1)),
    "log_softmax": (lambda x: F.log_softmax(x), lambda x: TF.log_softmax(x, dim=-1)),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh")),
    "layer_norm": (lambda x: F.layer_norm(x), lambda x: TF.layer_norm(x, x.shape[-1:])),
    "var": (lambda x: F.var(x, axis=1), lambda x: x.var(dim=1, unbiased=False)),
    "logsumexp": (lambda x: F.logsumexp(x, axis=-1), lambda x: torch.logsumexp(x, dim=-1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_unary_ops_match_torch(name):
    ours, theirs = CASES[name]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4, 5)), None
    a = tx.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya, yb = ours(a), theirs(b)
    w = rng.standard_normal(ya.shape)
    (ya * tx.tensor(w)).sum().backward()
    (yb * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ya.numpy(), yb.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("use_fused", [True, False])
def test_cross_entropy_and_attention_match_torch(use_fused):
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((6, 7)), rng.integers(0, 7, 6)
    t[2] = -100
    q, k, v = (rng.standard_normal((2, 3, 5, 4)) for _ in range(3))
    with fused(use_fused):
        a = [tx.tensor(x, requires_grad=True) for x in (z, q, k, v)]
        loss = tx.nn.fused.cross_entropy(a[0], tx.tensor(t))
        o = tx.nn.fused.attention(*a[1:], is_causal=True)
    b = [torch.tensor(x, requires_grad=True) for x in (z, q, k, v)]
    loss_t = TF.cross_entropy(b[0], torch.tensor(t), ignore_index=-100)
    o_t = TF.scaled_dot_product_attention(*b[1:], is_causal=True)
    w = rng.standard_normal(o.shape)
    (loss + (o * tx.tensor(w)).sum()).backward()
    (loss_t + (o_t * torch.tensor(w)).sum()).backward()
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-10)
    np.testing.assert_allclose(o.numpy(), o_t.detach().numpy(), rtol=1e-9, atol=1e-12)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.grad, y.grad.numpy(), rtol=1e-8, atol=1e-10)
