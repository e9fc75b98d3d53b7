"""Recurrent layers (report chapter 2): gradient checks of the RNN and LSTM cells and
sequences, the fused LSTM kernel pinned to the composed cell, the LSTM language model, and
clear errors for bad shapes."""
import numpy as np
import pytest

import tinytx as tx
from tinytx.kernels.lstm import LSTMCellFunction
from tinytx.kernels.lstm import lstm_cell as fused_cell
from tinytx.kernels.lstm import lstm_step as fused_step
from tinytx.models.lstm_lm import LSTMLM, LSTMConfig
from tinytx.nn.fused import fused
from tinytx.nn.recurrent import LSTM, RNN, LSTMCell, RNNCell, lstm_cell, lstm_step
from tinytx.optim import AdamW

B, T, I, H = 2, 3, 3, 4
CELLS = {"fused": fused_cell, "composed": lstm_cell}
STEPS = {"fused": fused_step, "composed": lstm_step}


def _x(device, *shape, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return tx.tensor(rng.standard_normal(shape) * scale, device=device, requires_grad=True)


def _f64(module, device):
    return module.to(device=device, dtype="float64")


def _check_module(fn, module, inputs):
    """gradcheck with respect to the inputs and every parameter of the module."""
    n = len(inputs)
    assert tx.gradcheck(lambda *xs: fn(*xs[:n]), list(inputs) + list(module.parameters()))


def _grads(fn, inputs, seed=0):
    """Outputs and input gradients of fn under a random upstream for every output."""
    outs = fn(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    rng = np.random.default_rng(seed)
    total = None
    for o in outs:
        term = (o * tx.tensor(rng.standard_normal(o.shape), device=o.device)).sum()
        total = term if total is None else total + term
    total.backward()
    return [o.numpy() for o in outs], [x.device.to_host(x.grad).copy() for x in inputs]


def _assert_same(a, b, tol=1e-10):
    for u, v in zip(a[0] + a[1], b[0] + b[1]):
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


# -- the cells ---------------------------------------------------------------------------
@pytest.mark.parametrize("impl", ["fused", "composed"])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_gradcheck(device, impl, bias):
    x, h, c = _x(device, B, I), _x(device, B, H, seed=1), _x(device, B, H, seed=2)
    W, b = _x(device, H + I, 4 * H, seed=3, scale=0.5), _x(device, 4 * H, seed=4)
    inputs = [x, h, c, W, b] if bias else [x, h, c, W]
    assert tx.gradcheck(CELLS[impl], inputs)


@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_lstm_step_gradcheck(device, impl):
    xw, h, c = _x(device, B, 4 * H), _x(device, B, H, seed=1), _x(device, B, H, seed=2)
    assert tx.gradcheck(STEPS[impl], [xw, h, c, _x(device, H, 4 * H, seed=3)])


@pytest.mark.parametrize("bias", [True, False])
def test_fused_lstm_cell_matches_composed(device, bias):
    shapes = [(B, I), (B, H), (B, H), (H + I, 4 * H), (4 * H,)][:5 if bias else 4]
    results = []
    for cell in (fused_cell, lstm_cell):
        inputs = [_x(device, *s, seed=i, scale=2.0) for i, s in enumerate(shapes)]
        results.append(_grads(cell, inputs))
    _assert_same(*results)


def test_fused_lstm_step_matches_composed(device):
    shapes = [(B, 4 * H), (B, H), (B, H), (H, 4 * H)]
    results = []
    for step in (fused_step, lstm_step):
        inputs = [_x(device, *s, seed=i, scale=2.0) for i, s in enumerate(shapes)]
        results.append(_grads(step, inputs))
    _assert_same(*results)


@pytest.mark.parametrize("on", [True, False])
def test_lstm_cell_module_gradcheck_and_switch(device, on):
    tx.manual_seed(0)
    cell = _f64(LSTMCell(I, H), device)
    with fused(on):
        h, _ = cell(_x(device, B, I))
        assert isinstance(h._ctx, LSTMCellFunction) == on   # the switch picks the kernel
        inputs = [_x(device, B, I), _x(device, B, H, seed=1), _x(device, B, H, seed=2)]
        _check_module(lambda x, h, c: cell(x, (h, c)), cell, inputs)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_gradcheck(device, nonlinearity):
    tx.manual_seed(0)
    cell = _f64(RNNCell(I, H, nonlinearity=nonlinearity), device)
    _check_module(cell, cell, [_x(device, B, I), _x(device, B, H, seed=1)])


def test_init():
    cell = LSTMCell(3, 100)
    bound = 1 / np.sqrt(100)
    w, b = cell.weight.numpy(), cell.bias.numpy()
    assert w.shape == (103, 400) and bound / 2 < np.abs(w).max() <= bound
    assert (b[:100] == 1).all() and np.abs(b[100:]).max() <= bound   # forget gate open
    assert LSTMCell(3, 4, bias=False).bias is None and RNNCell(3, 4).weight.shape == (7, 4)


# -- the sequences -----------------------------------------------------------------------
@pytest.mark.parametrize("with_h0", [False, True])
def test_rnn_sequence_gradcheck_and_loop(device, with_h0):
    tx.manual_seed(0)
    rnn = _f64(RNN(I, H), device)
    x, h0 = _x(device, B, T, I), _x(device, B, H, seed=1) if with_h0 else None
    _check_module(lambda x, *h: rnn(x, *h), rnn, [x] + ([h0] if with_h0 else []))
    hs, h_T = rnn(x, h0)
    h = h0
    for t in range(T):                         # the same as the cell applied step by step
        h = rnn.cell(x[:, t], h)
        np.testing.assert_allclose(hs.numpy()[:, t], h.numpy(), atol=1e-12)
    np.testing.assert_allclose(h_T.numpy(), h.numpy(), atol=1e-12)


@pytest.mark.parametrize("on", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_sequence_gradcheck(device, on, with_state, num_layers):
    tx.manual_seed(0)
    lstm = _f64(LSTM(I, H, num_layers=num_layers), device)
    state = [_x(device, num_layers, B, H, seed=s) for s in (1, 2)] if with_state else []
    fn = lambda x, *s: _flat(lstm(x, tuple(s) if s else None))
    with fused(on):
        _check_module(fn, lstm, [_x(device, B, T, I)] + state)


def test_lstm_sequence_equals_cell_loop(device):
    tx.manual_seed(0)
    lstm = _f64(LSTM(I, H), device)
    x = _x(device, B, T, I)
    h0, c0 = _x(device, 1, B, H, seed=1), _x(device, 1, B, H, seed=2)
    hs, (h_T, c_T) = lstm(x, (h0, c0))
    h, c = h0[0], c0[0]
    for t in range(T):                         # W split into W_h, W_x == W on [h, x]
        h, c = lstm.cells[0](x[:, t], (h, c))
        np.testing.assert_allclose(hs.numpy()[:, t], h.numpy(), atol=1e-12)
    np.testing.assert_allclose(h_T.numpy()[0], h.numpy(), atol=1e-12)
    np.testing.assert_allclose(c_T.numpy()[0], c.numpy(), atol=1e-12)


def test_fused_lstm_matches_composed(device):
    tx.manual_seed(0)
    lstm = _f64(LSTM(I, H, num_layers=2), device)
    results = []
    for on in (True, False):
        inputs = [_x(device, B, 5, I), _x(device, 2, B, H, seed=1),
                  _x(device, 2, B, H, seed=2)]
        lstm.zero_grad()
        with fused(on):
            outs, grads = _grads(lambda x, h, c: _flat(lstm(x, (h, c))), inputs)
        grads += [p.device.to_host(p.grad) for p in lstm.parameters()]
        results.append((outs, grads))
    _assert_same(*results)


def _flat(out):
    hs, (h, c) = out
    return hs, h, c


# -- the language model ------------------------------------------------------------------
def test_lstm_lm_shapes_and_state(device):
    tx.manual_seed(0)
    cfg = LSTMConfig(vocab_size=11, n_embd=6, hidden_size=8, num_layers=2)
    model = LSTMLM(cfg).to(device=device)
    idx = tx.tensor(np.random.default_rng(0).integers(0, 11, (2, 5)), device=device)
    logits, loss = model(idx, idx)
    assert logits.shape == (2, 5, 11) and loss.shape == () and loss.item() > 0
    assert model(idx)[1] is None
    assert model.num_parameters() == 11 * 6 + (14 * 32 + 32) + (16 * 32 + 32) + 8 * 11 + 11
    full, _ = model.run(idx)                   # reading in two halves, carrying the state,
    first, state = model.run(idx[:, :3])       # gives the same logits as reading at once
    second, _ = model.run(idx[:, 3:], state)
    np.testing.assert_allclose(np.concatenate([first.numpy(), second.numpy()], axis=1),
                               full.numpy(), atol=1e-5)
    out = model.generate(idx, 4)
    assert out.shape == (2, 9) and (out.numpy()[:, :5] == idx.numpy()).all()
    assert ((out.numpy() >= 0) & (out.numpy() < 11)).all()
    greedy = model.generate(idx, 3, temperature=0)
    np.testing.assert_array_equal(greedy.numpy()[:, 5], full.numpy()[:, -1].argmax(-1))


def test_lstm_lm_overfits_a_short_sequence():
    tx.manual_seed(0)
    model = LSTMLM(LSTMConfig(vocab_size=12, n_embd=16, hidden_size=32, num_layers=1))
    # 1 is followed by 4 or by 5, 5 by 9 or by 3: a loss near 0 needs the LSTM's memory
    seq = np.tile(np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3]), 2)
    x, y = tx.tensor(seq[None, :-1]), tx.tensor(seq[None, 1:])
    opt = AdamW(model.parameters(), lr=2e-2, weight_decay=0.0)
    losses = []
    for _ in range(100):
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.1 < losses[0] / 10, losses[::10]


# -- errors ------------------------------------------------------------------------------
X_SHAPE = r"x must have shape \(B, input_size=3\), got "
SEQ_SHAPE = r"x must have shape \(B, T, input_size=3\) with T >= 1, got "
BAD = [
    (lambda: RNNCell(3, 4)(tx.randn(2, 5)), X_SHAPE + r"\(2, 5\)"),
    (lambda: RNNCell(3, 4)(tx.randn(2, 3), tx.randn(2, 5)),
     r"h must have shape \(2, 4\), got \(2, 5\)"),
    (lambda: RNN(3, 4)(tx.randn(2, 3)), SEQ_SHAPE + r"\(2, 3\)"),
    (lambda: RNN(3, 4)(tx.randn(2, 5, 3), tx.randn(4)),
     r"h0 must have shape \(2, 4\), got \(4,\)"),
    (lambda: LSTMCell(3, 4)(tx.randn(2, 6)), X_SHAPE + r"\(2, 6\)"),
    (lambda: LSTMCell(3, 4)(tx.randn(2, 3), (tx.randn(2, 4), tx.randn(3, 4))),
     r"c_prev must have shape \(2, 4\).*got \(3, 4\)"),
    (lambda: LSTM(3, 4)(tx.randn(2, 5, 2)), SEQ_SHAPE + r"\(2, 5, 2\)"),
    (lambda: LSTM(3, 4)(tx.randn(2, 0, 3)), SEQ_SHAPE + r"\(2, 0, 3\)"),
    (lambda: LSTM(3, 4, 2)(tx.randn(2, 5, 3), (tx.randn(2, 4), tx.randn(2, 4))),
     r"h0 must have shape \(2, 2, 4\), got \(2, 4\)"),
    (lambda: LSTM(3, 4)(tx.randn(2, 5, 3), tx.randn(1, 2, 4)), r"state must be a pair"),
    (lambda: fused_cell(tx.randn(2, 3), tx.randn(2, 4), tx.randn(2, 4), tx.randn(7, 15)),
     r"W must have shape \(H\+I, 4H\), got \(7, 15\)"),
    (lambda: lstm_cell(tx.randn(2, 3), tx.randn(2, 4), tx.randn(2, 4), tx.randn(7, 16),
                       tx.randn(8)), r"b must have shape \(16,\).*got \(8,\)"),
    (lambda: LSTMLM(LSTMConfig(vocab_size=5, n_embd=2, hidden_size=3))(tx.randn(2, 3)),
     r"idx must be an integer tensor of shape \(B, T\), got shape \(2, 3\), dtype float32"),
    (lambda: RNNCell(3, 4, nonlinearity="sigmoid"),
     r"nonlinearity must be 'tanh' or 'relu'"),
    (lambda: LSTM(3, 4, num_layers=0), r"num_layers must be a positive int, got 0"),
]


@pytest.mark.parametrize("call, match", BAD)
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
