"""Our answers to lesson 01's exercises (lessons/exercises/mlp_lm.py)."""
import numpy as np


def cross_entropy_ignoring(logits, targets, ignore_index):
    counted = targets != ignore_index                         # (N,) bool
    n = int(counted.sum())
    if n == 0:
        return 0.0, np.zeros_like(logits)
    z = logits - logits.max(axis=1, keepdims=True)            # no overflow in exp
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # (N, V)
    rows, y = np.flatnonzero(counted), targets[counted]
    loss = -log_p[rows, y].sum() / n
    grad = np.exp(log_p)                                      # p
    grad[rows, y] -= 1                                        # p - y
    grad[~counted] = 0                                        # ignored rows: no gradient
    return loss, grad / n


def adamw_step(p, grad, m, v, t, lr, betas, eps, weight_decay):
    beta1, beta2 = betas
    p = p - lr * weight_decay * p                             # decoupled: not in m or v
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
