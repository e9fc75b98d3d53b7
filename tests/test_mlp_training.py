"""End to end: a small MLP (Linear-GELU-Linear) trained with AdamW learns a smooth
regression and the two-spirals classification, in a few seconds on the CPU."""
import numpy as np
import tinytx as tx
import tinytx.functional as F
from tinytx import nn, optim


def mlp(n_in, n_hidden, n_out, device):
    return nn.Sequential(nn.Linear(n_in, n_hidden, device=device), nn.GELU(),
                         nn.Linear(n_hidden, n_out, device=device))


def train(model, loss_fn, steps, lr, warmup=20):
    opt = optim.AdamW(optim.decay_groups(model, weight_decay=1e-4), lr=lr)
    for step in range(steps):
        optim.set_lr(opt, optim.lr_schedule(step, lr=lr, min_lr=lr / 10,
                                            warmup_steps=warmup, decay_steps=steps))
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm(model.parameters(), 1.0)
        opt.step()
    return loss.item()


def test_regression_of_a_smooth_function(device):
    tx.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, 2)).astype(np.float32)
    y = (np.sin(2 * x[:, :1]) * np.cos(1.5 * x[:, 1:])).astype(np.float32)  # (N, 1)
    X, Y = tx.tensor(x, device=device), tx.tensor(y, device=device)
    model = mlp(2, 32, 1, device)

    def mse():
        diff = model(X) - Y
        return (diff * diff).mean()

    first = mse().item()
    train(model, mse, steps=1000, lr=1e-2)
    with tx.no_grad():
        final = mse().item()
    assert final < 0.01 * first and final < 1e-3, (first, final)


def spirals(n_per_class=100, seed=0):
    """Two interleaved spirals in the plane: points (N, 2) and labels (N,)."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.05, 1, n_per_class)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.01, (2 * n_per_class, 2))
    labels = np.repeat([0, 1], n_per_class)
    return x.astype(np.float32), labels


def test_two_spirals_reach_full_accuracy(device):
    tx.manual_seed(0)
    x, labels = spirals()
    X, T = tx.tensor(x, device=device), tx.tensor(labels, device=device)
    model = mlp(2, 64, 2, device)
    final = train(model, lambda: F.cross_entropy(model(X), T), steps=600, lr=3e-2)
    model.eval()
    with tx.no_grad():
        accuracy = (model(X).argmax(axis=-1).numpy() == labels).mean()
    assert accuracy == 1.0 and final < 0.05, (accuracy, final)
