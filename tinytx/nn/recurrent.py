"""Recurrent layers: RNNCell and RNN (lesson 02), LSTMCell and LSTM (lesson 03).

Report chapter 2. A recurrent net reads a sequence one step at a time and carries a
hidden state h_t from step to step; the same weights are used at every step.

    RNN:   h_t = f([h_{t-1}, x_t] W + b)
    LSTM:  Γ_f, Γ_u, Γ_o = σ([h_{t-1}, x_t] W_{f,u,o} + b),  C̃_t = tanh(... W_c + b)
           C_t = Γ_f ⊗ C_{t-1} + Γ_u ⊗ C̃_t,   h_t = Γ_o ⊗ tanh(C_t)

Weights follow the report's form: one matrix W applied to the concatenation
[h_{t-1}, x_t], stored (in, out) like every Linear here, so W is (H+I, H) for the RNN and
(H+I, 4H) for the LSTM, the h rows first. Its first H rows are W_h and the rest W_x, so
[h, x] W = h W_h + x W_x: the sequence layers use that split to compute x_t W_x for all t
in one matmul before the loop, leaving only h_{t-1} W_h inside it.

The LSTM's columns hold the gates in the order (forget Γ_f, update Γ_u, output Γ_o,
candidate C̃): the three sigmoid gates side by side. The LSTM runs the fused kernel of
`tinytx.kernels.lstm` (on the cuda device its CUDA gates kernel) unless the fused switch
is off (`with fused(False):`, TINYTX_FUSED=0), when it runs `lstm_cell` of
`tinytx.functional.recurrent`, composed from F ops: the readable reference
(`tinytx.kernels.dispatch` picks).

    >>> import tinytx as tx
    >>> hs, (h, c) = LSTM(3, 5, num_layers=2)(tx.randn(4, 7, 3))     # (B, T, I)
    >>> hs.shape, h.shape, c.shape
    ((4, 7, 5), (2, 4, 5), (2, 4, 5))
"""
from __future__ import annotations

import math

from .. import functional as F
from ..backend import get_device
from ..functional.recurrent import (check_cell_shapes, lstm_cell, lstm_gates,  # noqa: F401
                                    lstm_step)
from ..kernels import dispatch
from ..tensor import Tensor, zeros
from .layers import draw_parameter, float_dtype, positive_int
from .containers import ModuleList
from .module import Module

_NONLINEARITIES = {"tanh": F.tanh, "relu": F.relu}


# -- helpers ------------------------------------------------------------------------------
def _uniform(shape, hidden_size, device, dtype):
    """A Parameter uniform in (-1/√H, 1/√H), PyTorch's init for recurrent layers."""
    bound = 1 / math.sqrt(hidden_size)
    return draw_parameter(lambda s, d: device.rand(s, d) * (2 * bound) - bound, shape, device, dtype)


def _check_shape(where, name, t, want):
    if not isinstance(t, Tensor) or t.shape != want:
        got = t.shape if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f"{where}: {name} must have shape {want}, got {got}")


def _check_sequence(where, x, input_size):
    """x must be (B, T, input_size) with T >= 1; returns B, T."""
    ok = isinstance(x, Tensor) and x.ndim == 3 and x.shape[2] == input_size
    if not ok or not x.shape[1]:
        got = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{where}: x must have shape (B, T, input_size={input_size}) with "
                         f"T >= 1, got {got}")
    return x.shape[0], x.shape[1]


def _check_step(where, x, input_size):
    """x must be (B, input_size); returns B."""
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != input_size:
        got = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{where}: x must have shape (B, input_size={input_size}), "
                         f"got {got}")
    return x.shape[0]


def _time_steps(x):
    """(B, T, C) -> T tensors (B, C), cut in one op (indexing x[:, t] for each t would
    make backward write T zero-filled (B, T, C) arrays)."""
    B, _, C = x.shape
    return [p.reshape(B, C) for p in F.split(x, 1, axis=1)]    # T × (B, 1, C) -> (B, C)


def _zeros(B, H, like):
    """The default initial state: zeros (B, H) of the weights' dtype and device."""
    return zeros(B, H, dtype=like.dtype, device=like.device)


# -- the RNN (report §2.1) ----------------------------------------------------------------
class RNNCell(Module):
    """One step of the plain RNN: h_t = f([h_{t-1}, x_t] W + b), f = tanh or relu.

    W (H+I, H) is applied to the concatenation [h_{t-1}, x_t], as in the report; W and b
    start uniform in (-1/√H, 1/√H).

    Args:
        input_size, hidden_size: I and H.
        nonlinearity: "tanh" (the report's) or "relu".
        bias: whether to add b.
        device, dtype: where the parameters live and their dtype (float32).
    Shapes: x (B, I), h (B, H) or None (zeros) -> h_t (B, H)

        >>> import tinytx as tx
        >>> RNNCell(3, 4)(tx.randn(2, 3)).shape
        (2, 4)
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh",
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        I = self.input_size = positive_int(input_size, "input_size", "RNNCell")
        H = self.hidden_size = positive_int(hidden_size, "hidden_size", "RNNCell")
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        dev, dtype = get_device(device), float_dtype(dtype, "RNNCell")
        self.weight = _uniform((H + I, H), H, dev, dtype)
        self.bias = _uniform((H,), H, dev, dtype) if bias else None

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        B = _check_step("RNNCell", x, self.input_size)
        h = _zeros(x.shape[0], self.hidden_size, self.weight) if h is None else h
        _check_shape("RNNCell", "h", h, (B, self.hidden_size))
        hx = F.concat([h, x], axis=1)                          # [h_{t-1}, x_t]: (B, H+I)
        z = F.linear(hx, self.weight, self.bias)               # (B, H+I) @ (H+I, H)
        return _NONLINEARITIES[self.nonlinearity](z)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, nonlinearity="
                f"{self.nonlinearity!r}, bias={self.bias is not None}")


class RNN(Module):
    """The RNN over a whole sequence: the cell applied at t = 1 … T with shared weights.

    Args: as RNNCell (its one cell is `self.cell`).
    Shapes: x (B, T, I), h0 (B, H) or None (zeros) -> hs (B, T, H) every h_t, h_T (B, H)

        >>> import tinytx as tx
        >>> hs, h = RNN(3, 4)(tx.randn(2, 5, 3))
        >>> hs.shape, h.shape
        ((2, 5, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh",
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size, nonlinearity, bias, device, dtype)
        self.input_size, self.hidden_size = self.cell.input_size, self.cell.hidden_size

    def forward(self, x: Tensor, h0: Tensor | None = None):
        B, T = _check_sequence("RNN", x, self.input_size)
        H, W = self.hidden_size, self.cell.weight
        f = _NONLINEARITIES[self.cell.nonlinearity]
        h = _zeros(B, H, W) if h0 is None else h0
        _check_shape("RNN", "h0", h, (B, H))
        W_h = W[:H]                                            # (H+I, H) -> (H, H)
        xw = F.linear(x, W[H:], self.cell.bias)                # (B, T, I) @ (I, H), all t
        hs = []
        for xw_t in _time_steps(xw):
            h = f(xw_t + h @ W_h)                              # (B, H) @ (H, H)
            hs.append(h)
        return F.stack(hs, axis=1), h                          # T × (B, H) -> (B, T, H)

    def extra_repr(self):
        return self.cell.extra_repr()


# -- the LSTM (report chapter 2) -----------------------------------------------------------
class LSTMCell(Module):
    """One LSTM step: forget Γ_f, update Γ_u and output Γ_o gates, candidate C̃_t.

        z = [h_{t-1}, x_t] W + b,  Γ_f, Γ_u, Γ_o = σ(z_f), σ(z_u), σ(z_o),  C̃_t = tanh(z_c)
        C_t = Γ_f ⊗ C_{t-1} + Γ_u ⊗ C̃_t,   h_t = Γ_o ⊗ tanh(C_t)

    W (H+I, 4H) holds the four gates' columns in the order (Γ_f, Γ_u, Γ_o, C̃). W and b
    start uniform in (-1/√H, 1/√H) as in PyTorch, except the forget gate's bias, which
    starts at 1 (Gers et al. 2000; Jozefowicz et al. 2015): Γ_f ≈ σ(1) ≈ 0.73 keeps most
    of C_{t-1} from the first step on, so the memory and its gradient survive across many
    steps before training has learned to keep them.

    Args:
        input_size, hidden_size: I and H.
        bias: whether to add b.
        device, dtype: where the parameters live and their dtype (float32).
    Shapes: x (B, I), state (h, c) each (B, H), or None (zeros) -> (h_t, C_t) each (B, H)

        >>> import tinytx as tx
        >>> h, c = LSTMCell(3, 4)(tx.randn(2, 3))
        >>> h.shape, c.shape
        ((2, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        I = self.input_size = positive_int(input_size, "input_size", "LSTMCell")
        H = self.hidden_size = positive_int(hidden_size, "hidden_size", "LSTMCell")
        dev, dtype = get_device(device), float_dtype(dtype, "LSTMCell")
        self.weight = _uniform((H + I, 4 * H), H, dev, dtype)
        self.bias = _uniform((4 * H,), H, dev, dtype) if bias else None
        if bias:
            self.bias.data[:H] = 1                             # forget gate open at start

    def forward(self, x: Tensor, state=None):
        B = _check_step("LSTMCell", x, self.input_size)
        h, c = (_zeros(B, self.hidden_size, self.weight),) * 2 if state is None else state
        check_cell_shapes("LSTMCell", x, h, c, self.weight, self.bias)
        cell = dispatch.pick("lstm_cell", x.device)
        return cell(x, h, c, self.weight, self.bias)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias is not None}"


class LSTM(Module):
    """A stack of `num_layers` LSTMs over a whole sequence; layer l + 1 reads the hidden
    states of layer l (with dropout between layers while training, as in PyTorch).

    The states are stacked per layer, as in PyTorch, also when num_layers = 1: pass
    `state=(h0, c0)` and get `(h_T, c_T)`, each (num_layers, B, H). To carry the state
    over to the next batch (truncated backpropagation through time), detach it first.

    Args:
        input_size, hidden_size: I and H.
        num_layers: how many LSTMs are stacked (their cells are `self.cells[l]`).
        bias: whether the cells add b.
        dropout: the dropout probability between layers (not after the last).
        device, dtype: where the parameters live and their dtype (float32).
    Shapes: x (B, T, I) -> hs (B, T, H) the top layer's h_t, (h_T, c_T) each (L, B, H)

        >>> import tinytx as tx
        >>> hs, (h, c) = LSTM(3, 4)(tx.randn(2, 5, 3))
        >>> hs.shape, h.shape
        ((2, 5, 4), (1, 2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, dropout: float = 0.0, device=None, dtype=None):
        super().__init__()
        self.input_size = positive_int(input_size, "input_size", "LSTM")
        self.hidden_size = H = positive_int(hidden_size, "hidden_size", "LSTM")
        self.num_layers = positive_int(num_layers, "num_layers", "LSTM")
        if not 0 <= dropout < 1:
            raise ValueError(f"LSTM: dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.cells = ModuleList([LSTMCell(self.input_size if l == 0 else H, H, bias, device,
                                          dtype) for l in range(self.num_layers)])

    def forward(self, x: Tensor, state=None):
        B, _ = _check_sequence("LSTM", x, self.input_size)
        h0, c0 = self._initial_state(state, B)
        hs, h_T, c_T = x, [], []
        for l, cell in enumerate(self.cells):
            if l > 0:
                hs = F.dropout(hs, self.dropout, self.training)
            hs, (h, c) = self._layer(cell, hs, h0[l], c0[l])
            h_T.append(h)
            c_T.append(c)
        return hs, (F.stack(h_T), F.stack(c_T))               # L × (B, H) -> (L, B, H)

    def _layer(self, cell, x, h, c):
        """One layer over the sequence from (h, c); returns hs (B, T, H), (h_T, c_T)."""
        H = self.hidden_size
        W_h, W_x = cell.weight[:H], cell.weight[H:]           # (H, 4H), (I, 4H)
        xw = F.linear(x, W_x, cell.bias)                      # (B, T, I) @ (I, 4H), all t
        step = dispatch.pick("lstm_step", x.device)
        hs = []
        for xw_t in _time_steps(xw):
            h, c = step(xw_t, h, c, W_h)
            hs.append(h)
        return F.stack(hs, axis=1), (h, c)                    # T × (B, H) -> (B, T, H)

    def _initial_state(self, state, B):
        """Per-layer lists of h0 and c0 (B, H): zeros, or cut from (L, B, H) tensors."""
        L, H = self.num_layers, self.hidden_size
        if state is None:
            zero = _zeros(B, H, self.cells[0].weight)
            return [zero] * L, [zero] * L
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"LSTM: state must be a pair (h0, c0), got "
                             f"{type(state).__name__}")
        for name, t in zip(("h0", "c0"), state):
            _check_shape("LSTM", name, t, (L, B, H))
        return [state[0][l] for l in range(L)], [state[1][l] for l in range(L)]

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"dropout={self.dropout}")
