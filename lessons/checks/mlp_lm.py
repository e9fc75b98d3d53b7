"""The checks of lesson 01's exercises (lessons/exercises/mlp_lm.py), run by
`python -m lessons.check mlp_lm`: each answer against tinytx's op or optimizer."""
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx import optim


def tinytx_cross_entropy(logits, targets, ignore_index):
    """F.cross_entropy's loss and, by autograd, its gradient (float64)."""
    z = tx.tensor(logits, dtype="float64", requires_grad=True)
    loss = F.cross_entropy(z, tx.tensor(targets), ignore_index=ignore_index)
    loss.backward()
    return loss.item(), z.grad


def check_cross_entropy_ignoring(cross_entropy_ignoring):
    rng = np.random.default_rng(0)
    cases = {"no target ignored": (rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6),
                                   -100),
             "two padding targets": (rng.standard_normal((7, 4)),
                                     np.array([1, 0, 3, 3, 2, 0, 1]), 3),
             "logits near 1000": (1000 + rng.standard_normal((5, 6)), rng.integers(0, 6, 5), -1),
             "every target ignored": (rng.standard_normal((3, 4)), np.full(3, -1), -1)}
    for what, (logits, targets, ignore) in cases.items():
        loss, grad = cross_entropy_ignoring(logits.copy(), targets.copy(), ignore)
        want_loss, want_grad = tinytx_cross_entropy(logits, targets, ignore)
        grad = np.asarray(grad)
        assert grad.shape == logits.shape, (f"{what}: dlogits has shape {grad.shape}, "
                                            f"expected {logits.shape}")
        assert abs(float(loss) - want_loss) < 1e-10, (f"{what}: loss {float(loss):.6f}, "
                                                      f"F.cross_entropy gives {want_loss:.6f}")
        err = np.abs(grad - want_grad).max()
        assert err < 1e-10, f"{what}: dlogits differs from autograd's by up to {err:.2e}"
    return "loss and gradient equal F.cross_entropy's (autograd), with and without padding"


def check_adamw_step(adamw_step):
    rng = np.random.default_rng(1)
    lr, betas, eps, decay = 0.01, (0.8, 0.95), 1e-6, 0.3
    start = rng.standard_normal((3, 4))
    param = tx.tensor(start, dtype="float64", requires_grad=True)
    opt = optim.AdamW([param], lr=lr, betas=betas, eps=eps, weight_decay=decay)
    p, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for t in range(1, 5):
        grad = rng.standard_normal(start.shape)
        param.grad = grad.copy()
        opt.step()
        p, m, v = adamw_step(p, grad.copy(), m, v, t, lr, betas, eps, decay)
        err = np.abs(np.asarray(p) - param.numpy()).max()
        assert err < 1e-12, f"step {t}: p differs from optim.AdamW's by up to {err:.2e}"
    return "four steps equal optim.AdamW's (betas 0.8, 0.95; weight decay 0.3; float64)"
