"""Activations and the softmax family: tanh, sigmoid, relu, gelu, softmax, log_softmax,
logsumexp.

tanh, softmax and log_softmax are introduced in lesson 01 (the MLP language model's
layer and its loss), sigmoid in lesson 03 (the LSTM gates), softmax as attention weights
in lesson 04 (report eq. 7), gelu in lesson 08 (the MLP).
"""
from __future__ import annotations

import math

from ..function import Function


class Tanh(Function):
    def forward(self, x):
        self.y = self.xp.tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


class Sigmoid(Function):
    def forward(self, x):
        self.y = 0.5 * (1 + self.xp.tanh(0.5 * x))  # = 1/(1+e^-x), without overflow
        return self.y

    def backward(self, gy):
        return gy * self.y * (1 - self.y)


class ReLU(Function):
    def forward(self, x):
        self.positive = x > 0
        return x * self.positive

    def backward(self, gy):
        return gy * self.positive


# GPT-2's tanh form of the GELU: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). The one place
# these two numbers live; the fused kernels (kernels/linear_gelu.py, kernels/cuda/gelu.py)
# import them.
GELU_C, GELU_A = math.sqrt(2 / math.pi), 0.044715


class GELUFunction(Function):
    """GELU(x) = x·Φ(x), Φ the standard normal CDF: Φ(x) = ½(1 + erf(x/√2)),
    GELU'(x) = Φ(x) + x·φ(x)."""

    def forward(self, x):
        self.x = x
        self.cdf = 0.5 * (1 + self.device.erf(x * (1 / math.sqrt(2))))
        return x * self.cdf

    def backward(self, gy):
        x = self.x
        pdf = self.xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return gy * (self.cdf + x * pdf)


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max)); backward: gx = y·(gy - Σ gy·y)."""

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        e = self.xp.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, gy):
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x); backward: gx = gy - softmax(x)·Σ gy."""

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        self.y = x - _logsumexp(self.xp, x, self.axis)
        return self.y

    def backward(self, gy):
        return gy - self.xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


class LogSumExp(Function):
    """y = log Σ exp(x) along axis; backward: gx = gy·softmax(x)."""

    def __init__(self, axis=-1, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        self.y = _logsumexp(self.xp, x, self.axis)  # keepdims, for backward's broadcast
        return self.y if self.keepdims else self.y.squeeze(axis=self.axis)

    def backward(self, gy):
        if not self.keepdims:
            gy = self.xp.expand_dims(gy, self.axis)
        return gy * self.xp.exp(self.x - self.y)


def _logsumexp(xp, x, axis):
    m = x.max(axis=axis, keepdims=True)
    return m + xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))


def tanh(x): return Tanh()(x)
def sigmoid(x): return Sigmoid()(x)
def relu(x): return ReLU()(x)


def gelu(x, approximate="none"):
    """Gaussian Error Linear Unit x·Φ(x) (one op, with erf); approximate="tanh" is
    GPT-2's version, composed from the ops it is made of (autograd derives its backward;
    the fused kernel `tinytx.kernels.linear_gelu` computes it in place)."""
    if approximate == "tanh":
        u = GELU_C * (x + GELU_A * (x * x * x))
        return 0.5 * x * (1 + tanh(u))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFunction()(x)


def softmax(x, axis=-1):
    """Softmax along `axis` (report eq. 7), computed stably by subtracting the max."""
    return Softmax(axis)(x)


def log_softmax(x, axis=-1):
    return LogSoftmax(axis)(x)


def logsumexp(x, axis=-1, keepdims=False):
    return LogSumExp(axis, keepdims)(x)
