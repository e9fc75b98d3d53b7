"""Optimizers against hand-written NumPy formulas; decay groups; optimizer state round
trips; the CPU Adam kernel. Clipping and the schedule: tests/test_clip_and_schedule.py."""
import numpy as np
import pytest

import tinytx as tx
from tinytx import nn, optim


def make_param(device, rng, shape=(3, 4)):
    """A float64 parameter and a fixed gradient for it (NumPy copies of both)."""
    w0, g = rng.standard_normal(shape), rng.standard_normal(shape)
    p = nn.Parameter(tx.tensor(w0, dtype="float64", device=device))
    p.grad = device.asarray(g)
    return p, w0, g


def run(opt, p, g, steps):
    """`steps` optimizer steps; g is one gradient for every step or a list, one per step."""
    for t in range(steps):
        p.grad = p.device.asarray(g[t] if isinstance(g, list) else g)
        opt.step()


def changing_grads(rng, g, steps):
    """A different gradient at each step: with a constant one, Adam's bias-corrected
    m̂ equals g and v̂ equals g², so an Adam stepping with g instead of m̂ would pass."""
    return [g * rng.uniform(0.2, 3.0) + rng.standard_normal(g.shape) for _ in range(steps)]


@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.1)])
def test_sgd_matches_formula(device, rng, momentum, wd):
    p, w, g = make_param(device, rng)
    opt = optim.SGD([p], lr=0.1, momentum=momentum, weight_decay=wd)
    grad_before = p.grad.copy()
    opt.step()
    np.testing.assert_array_equal(device.to_host(grad_before), g)  # grads only read
    p.data, gs = device.asarray(w.copy()), changing_grads(rng, g, 3)
    opt = optim.SGD([p], lr=0.1, momentum=momentum, weight_decay=wd)
    run(opt, p, gs, 3)
    buf = None
    for g in gs:
        d = g + wd * w
        buf = d if buf is None else momentum * buf + d
        w = w - 0.1 * (buf if momentum else d)
    np.testing.assert_allclose(p.numpy(), w, rtol=1e-12)


def adam_reference(w, gs, lr, b1, b2, eps, wd, decoupled):
    """Adam (L2 decay in the gradient) or AdamW (decoupled decay), one step per gradient."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(gs, start=1):
        if decoupled:
            w = w - lr * wd * w
            d = g
        else:
            d = g + wd * w
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d * d
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w, m, v


@pytest.mark.parametrize("cls, wd", [(optim.Adam, 0.0), (optim.Adam, 0.1),
                                     (optim.AdamW, 0.1)])
def test_adam_and_adamw_match_formula(device, rng, cls, wd):
    p, w, g = make_param(device, rng)
    gs = changing_grads(rng, g, 4)
    opt = cls([p], lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    run(opt, p, gs, 4)
    w_ref, m_ref, v_ref = adam_reference(w, gs, 0.01, 0.8, 0.95, 1e-6, wd,
                                         decoupled=cls is optim.AdamW)
    np.testing.assert_allclose(p.numpy(), w_ref, rtol=1e-12)
    state = opt.state_dict()["state"][0]
    assert state["step"] == 4
    np.testing.assert_allclose(state["exp_avg"], m_ref, rtol=1e-12)
    np.testing.assert_allclose(state["exp_avg_sq"], v_ref, rtol=1e-12)


@pytest.mark.parametrize("layout", ["contiguous", "transposed grad", "transposed param"])
def test_adamw_in_cache_sized_pieces_matches_formula(device, rng, monkeypatch, layout):
    """The CPU update runs in pieces of Device.PIECE values: with PIECE = 7 a (5, 6)
    parameter is five pieces, the last one short; non-contiguous arrays are updated whole."""
    monkeypatch.setattr(type(device), "PIECE", 7)
    p, w, g = make_param(device, rng, (5, 6))
    if layout == "transposed param":
        p.data = device.asarray(w.T.copy()).T                 # a (5, 6) view of a (6, 5)
    gs = changing_grads(rng, g, 3)
    if layout == "transposed grad":
        gs = [np.ascontiguousarray(x.T).T for x in gs]
    opt = optim.AdamW([p], lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)
    for x in gs:
        p.grad = device.asarray(x)
        opt.step()
    w_ref, m_ref, _ = adam_reference(w, gs, 0.01, 0.8, 0.95, 1e-6, 0.1, decoupled=True)
    np.testing.assert_allclose(p.numpy(), w_ref, rtol=1e-12)
    np.testing.assert_allclose(opt.state_dict()["state"][0]["exp_avg"], m_ref, rtol=1e-12)


def test_adamw_default_decay_and_float32_stays_float32(device):
    lin = nn.Linear(3, 2, device=device)
    opt = optim.AdamW(lin.parameters())
    assert opt.param_groups[0]["weight_decay"] == 0.01
    lin(tx.randn(4, 3, device=device)).sum().backward()
    opt.step()
    assert lin.weight.dtype == np.float32 and device.is_own(lin.weight.data)


def test_adamw_decays_only_matrices(device):
    model = nn.Sequential(nn.Embedding(5, 3, device=device), nn.LayerNorm(3, device=device),
                          nn.Linear(3, 2, device=device))
    groups = optim.decay_groups(model, weight_decay=0.5)
    assert [len(g["params"]) for g in groups] == [2, 3]
    assert all(p.ndim >= 2 for p in groups[0]["params"])
    before = {n: p.numpy() for n, p in model.named_parameters()}
    opt = optim.AdamW(groups, lr=0.1)
    for p in model.parameters():
        p.grad = device.xp.zeros(p.shape, dtype=p.dtype)  # only decay can move them
    opt.step()
    for name, p in model.named_parameters():
        factor = 1 - 0.1 * 0.5 if p.ndim >= 2 else 1.0
        np.testing.assert_allclose(p.numpy(), before[name] * factor, rtol=1e-6,
                                   err_msg=name)


def test_params_without_grad_are_skipped(device, rng):
    p, w, g = make_param(device, rng)
    q, wq, _ = make_param(device, rng)
    q.grad = None
    opt = optim.Adam([p, q], lr=0.1)
    opt.step()
    np.testing.assert_array_equal(q.numpy(), wq)
    assert 1 not in opt.state_dict()["state"]
    opt.zero_grad()
    assert p.grad is None


def test_per_group_hyperparameters(device, rng):
    p, w, g = make_param(device, rng)
    q, wq, gq = make_param(device, rng)
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 1.0}], lr=0.1)
    opt.step()
    np.testing.assert_allclose(p.numpy(), w - 0.1 * g)
    np.testing.assert_allclose(q.numpy(), wq - 1.0 * gq)
    optim.set_lr(opt, 0.5)
    assert [grp["lr"] for grp in opt.param_groups] == [0.5, 0.5]


def test_bad_arguments_are_named(device, rng):
    p, _, _ = make_param(device, rng)
    with pytest.raises(ValueError, match="lr: expected a number >= 0, got -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="empty list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than one place"):
        optim.Adam([p, p])
    with pytest.raises(KeyError, match="unknown hyperparameters \\['momentum'\\]"):
        optim.Adam([{"params": [p], "momentum": 0.9}])
    with pytest.raises(TypeError, match="leaf Tensor with requires_grad=True"):
        optim.SGD([tx.zeros(2)], lr=0.1)


@pytest.mark.parametrize("cls, kwargs", [(optim.AdamW, dict(lr=0.01)),
                                         (optim.SGD, dict(lr=0.01, momentum=0.9))])
def test_state_dict_round_trip_continues_identically(device, rng, cls, kwargs):
    p, w, g = make_param(device, rng)
    p2 = nn.Parameter(tx.tensor(w, dtype="float64", device=device))
    opt = cls([p], **kwargs)
    run(opt, p, g, 2)
    sd = opt.state_dict()
    p2.data = device.asarray(p.numpy())
    opt2 = cls([p2], lr=123.0)  # hyperparameters come back from the state dict
    opt2.load_state_dict({"state": {str(k): v for k, v in sd["state"].items()},  # as JSON
                          "param_groups": sd["param_groups"]})
    assert opt2.param_groups[0]["lr"] == 0.01
    g2 = rng.standard_normal(g.shape)
    run(opt, p, g2, 3)
    run(opt2, p2, g2, 3)
    np.testing.assert_array_equal(p.numpy(), p2.numpy())
    for k in sd["state"][0]:  # the saved copy did not follow later steps
        if isinstance(sd["state"][0][k], np.ndarray):
            assert not np.array_equal(sd["state"][0][k], opt.state_dict()["state"][0][k])


def test_load_state_dict_errors_change_nothing(rng):
    p, _, g = make_param(tx.get_device("cpu"), rng)
    opt = optim.Adam([p])
    opt.step()
    sd = opt.state_dict()
    before = opt.state_dict()
    bad = {"state": {0: {**sd["state"][0], "exp_avg": np.zeros(5)}},
           "param_groups": [{**sd["param_groups"][0], "lr": 9.0}]}
    with pytest.raises(ValueError, match=r"state 0 'exp_avg' has shape \(5,\), expected "
                                         r"the parameter's \(3, 4\)"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == before["param_groups"][0]["lr"]
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["exp_avg"],
                                  before["state"][0]["exp_avg"])
    with pytest.raises(ValueError, match="2 param groups, this optimizer has 1"):
        opt.load_state_dict({"state": {}, "param_groups": sd["param_groups"] * 2})
    with pytest.raises(ValueError, match="keys \\['step'\\], expected"):
        opt.load_state_dict({"state": {0: {"step": 1}}, "param_groups": sd["param_groups"]})


@pytest.mark.parametrize("decoupled", [True, False])
def test_the_cpu_adam_kernel_equals_its_composed_reference_bit_for_bit(decoupled,
                                                                      monkeypatch):
    """kernels/adam.py: the update in cache-sized pieces (with a tiny piece size, so that
    several pieces and a short last one run) equals the one-line-per-formula reference."""
    from tinytx.backend import get_device
    from tinytx.kernels.adam import adam, adam_composed
    rng = np.random.default_rng(0)
    shapes = [(37, 5), (3,), (11, 2, 3)]
    make = lambda: [rng.standard_normal(s).astype(np.float32) for s in shapes]  # noqa: E731
    p, g, m, v = make(), make(), make(), [np.abs(a) for a in make()]
    args = dict(steps=[1, 5, 9], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1,
                decoupled=decoupled)
    copies = [[a.copy() for a in arrays] for arrays in (p, m, v)]
    monkeypatch.setattr(type(get_device("cpu")), "PIECE", 16)
    adam(p, g, m, v, **args)
    adam_composed(copies[0], g, copies[1], copies[2], **args)
    for got, want in zip(p + m + v, copies[0] + copies[1] + copies[2]):
        np.testing.assert_array_equal(got, want)
