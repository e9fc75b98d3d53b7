"""Our answers to lesson 00's exercises (lessons/exercises/autograd.py)."""


def relu(x):
    out = type(x)(max(0.0, x.data), (x,), "relu")

    def _backward():                     # d relu(x)/dx = 1 if x > 0 else 0
        x.grad += (x.data > 0) * out.grad
    out._backward = _backward
    return out


def power(x, k):
    out = type(x)(x.data ** k, (x,), f"**{k}")

    def _backward():                     # d x^k/dx = k x^(k-1)
        x.grad += k * x.data ** (k - 1) * out.grad
    out._backward = _backward
    return out
