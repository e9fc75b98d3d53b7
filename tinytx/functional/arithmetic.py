"""Arithmetic ops: + - * / ** exp log sqrt, matmul, where and masked_fill.

Introduced in lesson 01. Each op is a Function with forward/backward on raw arrays and a
lowercase wrapper. Inputs that were broadcast get their gradient summed back to their
own shape by `unbroadcast` (one helper for every op).
"""
from __future__ import annotations

from ..function import Function, unbroadcast


class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, gy):
        return unbroadcast(gy, self.shapes[0]), unbroadcast(gy, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, gy):
        gb = -gy if self.needs_input_grad[1] else None
        return unbroadcast(gy, self.shapes[0]), unbroadcast(gb, self.shapes[1])


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        ga = gy * self.b if self.needs_input_grad[0] else None
        gb = gy * self.a if self.needs_input_grad[1] else None
        return unbroadcast(ga, self.a.shape), unbroadcast(gb, self.b.shape)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        ga = gy / self.b
        gb = -ga * self.a / self.b if self.needs_input_grad[1] else None
        return unbroadcast(ga, self.a.shape), unbroadcast(gb, self.b.shape)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """x ** p for a constant exponent p."""

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        self.x = x
        return x ** self.p

    def backward(self, gy):
        return gy * self.p * self.x ** (self.p - 1)


class Exp(Function):
    def forward(self, x):
        self.y = self.xp.exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y


class Log(Function):
    def forward(self, x):
        self.x = x
        return self.xp.log(x)

    def backward(self, gy):
        return gy / self.x


class Sqrt(Function):
    def forward(self, x):
        self.y = self.xp.sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (2 * self.y)


class MatMul(Function):
    """a @ b with NumPy's rules: batch dimensions broadcast, 1-D operands are promoted.

    When b is a matrix, a's batch dimensions are folded into its rows, so one large GEMM
    runs instead of a loop of small ones (x @ W in every Linear layer).
    Shapes: a (..., N, K) @ b (..., K, M) -> (..., N, M)
    """

    def forward(self, a, b):
        ka, kb = a.shape[-1], b.shape[0 if b.ndim == 1 else -2]
        if a.ndim == 0 or b.ndim == 0 or ka != kb:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match "
                             f"(inner dimensions {a.shape[-1:]} and {b.shape[-2:][:1]})")
        self.a, self.b = a, b
        if b.ndim == 2 and a.ndim > 2:
            return (a.reshape(-1, ka) @ b).reshape(*a.shape[:-1], b.shape[1])
        return self.xp.matmul(a, b)

    def backward(self, gy):
        a, b, xp = self.a, self.b, self.xp
        a2 = a[None] if a.ndim == 1 else a                 # (K,) -> (1, K)
        b2 = b[:, None] if b.ndim == 1 else b              # (K,) -> (K, 1)
        gy = gy.reshape(*a2.shape[:-1], b2.shape[-1]) if a.ndim == 1 or b.ndim == 1 else gy
        ga = gb = None
        if b2.ndim == 2 and a2.ndim > 2:                    # fold batch dims into rows
            g2 = gy.reshape(-1, gy.shape[-1])               # (B*N, M)
            if self.needs_input_grad[0]:
                ga = (g2 @ b2.T).reshape(a2.shape)
            if self.needs_input_grad[1]:
                gb = a2.reshape(-1, a2.shape[-1]).T @ g2    # (K, B*N) @ (B*N, M)
        else:
            if self.needs_input_grad[0]:
                ga = unbroadcast(xp.matmul(gy, xp.swapaxes(b2, -1, -2)), a2.shape)
            if self.needs_input_grad[1]:
                gb = unbroadcast(xp.matmul(xp.swapaxes(a2, -1, -2), gy), b2.shape)
        ga = None if ga is None else ga.reshape(a.shape)
        gb = None if gb is None else gb.reshape(b.shape)
        return ga, gb


class Where(Function):
    """cond ? a : b, elementwise; cond is a boolean tensor and gets no gradient."""

    def forward(self, cond, a, b):
        self.cond, self.shapes = cond, (a.shape, b.shape)
        return self.xp.where(cond, a, b)

    def backward(self, gy):
        zero = gy.dtype.type(0)
        ga = self.xp.where(self.cond, gy, zero) if self.needs_input_grad[1] else None
        gb = self.xp.where(self.cond, zero, gy) if self.needs_input_grad[2] else None
        return None, unbroadcast(ga, self.shapes[0]), unbroadcast(gb, self.shapes[1])


class MaskedFill(Function):
    """x with `value` wherever mask is True (mask broadcasts to x)."""

    def __init__(self, value):
        self.value = value

    def forward(self, x, mask):
        self.mask = mask
        return self.xp.where(mask, x.dtype.type(self.value), x)

    def backward(self, gy):
        return self.xp.where(self.mask, gy.dtype.type(0), gy), None


def add(a, b): return Add()(a, b)
def sub(a, b): return Sub()(a, b)
def mul(a, b): return Mul()(a, b)
def div(a, b): return Div()(a, b)
def neg(x): return Neg()(x)
def pow(x, p): return Pow(p)(x)
def exp(x): return Exp()(x)
def log(x): return Log()(x)
def sqrt(x): return Sqrt()(x)


def matmul(a, b):
    """Matrix product with broadcasting batch dimensions (like NumPy's @)."""
    return MatMul()(a, b)


def where(cond, a, b):
    """Elementwise choice: `a` where cond is True, else `b` (both get gradients)."""
    return Where()(cond, a, b)


def masked_fill(x, mask, value):
    """x with `value` wherever `mask` is True; masked positions get no gradient."""
    return MaskedFill(value)(x, mask)
