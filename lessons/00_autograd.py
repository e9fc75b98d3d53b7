# %%
"""Lesson 00 — autograd from scratch: reverse-mode differentiation, then tinytx's own.

Before the report's chapter 2 (the RNN, trained by backpropagation through time) can be
run, something must compute gradients. Every later lesson calls `loss.backward()`; this
one builds that call from nothing, in the spirit of micrograd, and then shows that
tinytx's `Tensor`, `Function`, `backward` and `gradcheck` are the same idea for arrays.

This lesson
  1. builds a scalar `Value` with + * tanh exp: each result remembers its inputs and a
     small `_backward` that applies the chain rule locally; `backward()` orders the graph
     topologically (iteratively, no recursion) and calls them in reverse. It checks every
     gradient against central differences and draws the computation graph;
  2. trains a tiny MLP (3 -> 4 -> 4 -> 1, tanh) made of Values by gradient descent;
  3. does the same for arrays: broadcasting in the forward pass means summing in the
     backward pass (`sum_to`), and a matmul C = A @ B has two gradients,
     dA = dC @ B^T and dB = A^T @ dC — checked with central differences and a random
     upstream gradient;
  4. puts tinytx beside it: the same expressions as tinytx Tensors give the same
     gradients as `Value` and the array version; `tinytx.function.sum_to` is our
     `sum_to`; a tanh written as a tinytx `Function` passes `tx.gradcheck`.
Every fact above is asserted: a mismatch stops the lesson (and fails its --smoke test).
See docs/autograd.md for how tinytx's backward sweep works.

Run:
    python lessons/00_autograd.py            # the full lesson (a few seconds)
    python lessons/00_autograd.py --smoke    # fewer training steps (the tests)

Expected output (abridged; the full run's output is lessons/expected/00_autograd.txt; yours
may differ in the last digits):
    1. neuron o = tanh(x1*w1 + x2*w2 + b) = 0.7071; do/dx1 = -1.5000, do/dw1 = +1.0000;
       Value's gradients against central differences: max difference 1.4e-10
    2. MLP with 41 parameters: loss 3.590 -> 0.0031 in 200 steps (smoke: 0.0131 in 60)
    3. x (5, 3) @ w (3, 4) + b (4,): b's gradient is summed over the 5 rows it was
       broadcast to; x, w, b against central differences: max difference 4.3e-10
    4. Value against tinytx and Array against tinytx: max difference 0.0e+00; our sum_to
       equals tinytx's; a Tanh written as a tinytx Function: gradcheck True
    pictures: out/lessons/00/graph.png, out/lessons/00/mlp_loss.png
Runtime: the full run's wall time is recorded in lessons/expected/README.md (with every
lesson's, on the machine named there); --smoke about 1 s.

Exercises (your code goes in lessons/exercises/autograd.py; check it with
`python -m lessons.check autograd`; our answers are in lessons/solutions/autograd.py)
  1. Predict, then run: with the lesson's Value, what is a.grad after `b = a + a;
     b.backward()`? And if `__add__`'s `_backward` said `=` instead of `+=`? Try both
     (`from lessons.check import lesson_module; Value = lesson_module("autograd").Value`,
     from the repository root), and say why a node's gradient must add up the shares of
     all its uses.
  2. Implement `relu(x)` and `power(x, k)` for the scalar Value (a result with its
     children, a label and a `_backward`, as `Value.tanh`). The check compares values
     and gradients, in expressions that use an input twice, with the same expressions
     written in plain floats (max(0, a), a ** k) and central differences of those.
  3. Change and explain: train the MLP with --lr=0.5 and with --lr=0.005 (add
     --loss_target=10 so that the lesson's check lets a slow run finish). Look at
     mlp_loss.png: which run gets below 0.01 in 200 steps, and what does the step size do
     to each step of gradient descent?
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

import tinytx as tx
import tinytx.functional as F
from tinytx.course import save_figure, section, setup
from tinytx.function import Function
from tinytx.function import sum_to as tinytx_sum_to


@dataclass
class Config:
    mlp_steps: int = 200          # gradient-descent steps for the tiny MLP
    lr: float = 0.05              # learning rate
    loss_target: float = 0.01     # the MLP's loss must end below this
    seed: int = 0
    smoke: bool = False
    out_dir: str = "out/lessons/00"


SMOKE = dict(mlp_steps=60, loss_target=0.1)      # --smoke: seconds, for the tests


# %%
# -- 1. a scalar Value -----------------------------------------------------------------------
class Value:
    """A number that remembers how it was made, so that gradients can flow back to it."""

    def __init__(self, data, children=(), op=""):
        self.data = float(data)
        self.grad = 0.0                  # dL/dself, filled by backward()
        self._prev = tuple(children)     # the Values this one was computed from
        self._op = op                    # for printing and drawing
        self._backward = lambda: None    # adds self.grad's share into the children

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():                 # d(a+b)/da = d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():                 # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():                 # d tanh(x)/dx = 1 - tanh(x)^2
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():                 # d exp(x)/dx = exp(x)
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def backward(self):
        """Fill .grad of every Value this one depends on (reverse-mode, dL/dL = 1)."""
        order = topological_order(self)
        self.grad = 1.0
        for v in reversed(order):        # every node after all the nodes that use it
            v._backward()

    def __repr__(self):
        return f"Value({self.data:.4f}, grad={self.grad:.4f})"


def topological_order(root):
    """Every Value reachable from root, each after its children (iterative DFS, postorder).

    An explicit stack of (node, iterator over its children) instead of recursion: a graph
    100,000 nodes deep would overflow Python's recursion limit. tinytx does the same.
    """
    order, seen = [], {id(root)}
    stack = [(root, iter(root._prev))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:                # all children done: node comes after them
            stack.pop()
            order.append(node)
        elif id(child) not in seen:
            seen.add(id(child))
            stack.append((child, iter(child._prev)))
    return order


def central_difference(f, xs, i, eps=1e-6):
    """d f / d xs[i] by (f(x+eps) - f(x-eps)) / 2eps, on plain floats."""
    up, down = list(xs), list(xs)
    up[i] += eps
    down[i] -= eps
    return (f(*up) - f(*down)) / (2 * eps)


def neuron(x1, x2, w1, w2, b):
    """micrograd's example neuron; works on floats-as-Values and on Values alike."""
    return (x1 * w1 + x2 * w2 + b).tanh()


def expression(a, b, c):
    """A graph that uses a twice (its gradients from both uses must add up)."""
    return (a * b + c.exp()) * (a + 1.0).tanh()


def value_section(out):
    section("1. A scalar Value and its backward")
    point = [2.0, 0.0, -3.0, 1.0, 6.8813735870195432]    # x1, x2, w1, w2, b
    vs = [Value(p) for p in point]
    o = neuron(*vs)
    o.backward()
    print(f"o = tanh(x1*w1 + x2*w2 + b) = {o.data:.4f}")
    for name, v in zip(["x1", "x2", "w1", "w2", "b"], vs):
        print(f"  do/d{name} = {v.grad:+.4f}")
    # the two numbers micrograd's lecture finds by hand: do/dn = 1 - o^2 = 0.5
    assert abs(o.data - math.sqrt(0.5)) < 1e-12
    assert abs(vs[2].grad - 1.0) < 1e-12 and abs(vs[0].grad + 1.5) < 1e-12

    worst = 0.0
    for f, args in [(neuron, point), (expression, [0.7, -1.3, 0.4])]:
        vs = [Value(a) for a in args]
        f(*vs).backward()
        plain = lambda *x: f(*[Value(a) for a in x]).data   # noqa: E731
        for i, v in enumerate(vs):
            worst = max(worst, abs(v.grad - central_difference(plain, args, i)))
    print(f"Value's gradients against central differences: max difference {worst:.1e}")
    assert worst < 1e-7, "Value's backward disagrees with central differences"
    a, b, c = (Value(x) for x in (0.7, -1.3, 0.4))
    root = expression(a, b, c)
    root.backward()
    draw_graph(root, {id(a): "a", id(b): "b", id(c): "c"}, out / "graph.png")
    return {"o": o.data, "value_vs_central": worst}


def draw_graph(root, names, path):
    """Each Value as a box (data, grad), placed by its depth from the leaves; edges to its op."""
    order = topological_order(root)
    depth = {}
    for v in order:                      # children come first, so their depth is known
        depth[id(v)] = 1 + max((depth[id(c)] for c in v._prev), default=-1)
    rows = {}
    pos = {}
    for v in order:
        d = depth[id(v)]
        pos[id(v)] = (d, rows.get(d, 0))
        rows[d] = rows.get(d, 0) + 1
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for v in order:
        x, y = pos[id(v)]
        for c in v._prev:
            cx, cy = pos[id(c)]
            ax.annotate("", (x - 0.22, y), (cx + 0.22, cy),
                        arrowprops=dict(arrowstyle="->", color="gray"))
        label = f"{names.get(id(v), v._op or 'const')}\ndata {v.data:.3f}\ngrad {v.grad:.3f}"
        ax.text(x, y, label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", fc="lightyellow" if v._prev else "lightblue"))
    ax.set_xlim(-0.6, max(depth.values()) + 0.6)
    ax.set_ylim(-0.8, max(rows.values()) - 0.2)
    ax.axis("off")
    ax.set_title("(a*b + exp(c)) * tanh(a + 1): each node's value and dL/dnode")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    print(f"wrote {path}")


# %%
# -- 2. a tiny MLP made of Values ----------------------------------------------------------
class Neuron:
    def __init__(self, n_in, rng):
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(n_in)]
        self.b = Value(0.0)

    def __call__(self, x):
        return (sum((wi * xi for wi, xi in zip(self.w, x)), self.b)).tanh()

    def parameters(self):
        return self.w + [self.b]


class MLP:
    def __init__(self, sizes, rng):
        self.layers = [[Neuron(a, rng) for _ in range(b)] for a, b in zip(sizes, sizes[1:])]

    def __call__(self, x):
        for layer in self.layers:
            x = [n(x) for n in layer]
        return x[0]

    def parameters(self):
        return [p for layer in self.layers for n in layer for p in n.parameters()]


def mlp_section(cfg, out):
    section("2. A tiny MLP trained with Value")
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    model = MLP([3, 4, 4, 1], random.Random(cfg.seed))
    params = model.parameters()
    losses = []
    for _ in range(cfg.mlp_steps):
        preds = [model(x) for x in xs]
        loss = sum(((p - y) * (p - y) for p, y in zip(preds, ys)), Value(0.0))
        for p in params:
            p.grad = 0.0                 # gradients add up: zero them before each backward
        loss.backward()
        for p in params:
            p.data -= cfg.lr * p.grad
        losses.append(loss.data)
    print(f"MLP with {len(params)} parameters: loss {losses[0]:.3f} -> {losses[-1]:.4f} "
          f"in {cfg.mlp_steps} steps; predictions "
          f"{[round(model(x).data, 2) for x in xs]} for targets {ys}")
    assert losses[-1] < cfg.loss_target, (
        f"the MLP's loss {losses[-1]:.4f} did not fall below {cfg.loss_target}")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(losses)
    ax.set_xlabel("step")
    ax.set_ylabel("sum of squared errors")
    ax.set_title("A 3-4-4-1 MLP of Values learns 4 points")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out / "mlp_loss.png", dpi=110)
    print(f"wrote {out / 'mlp_loss.png'}")
    return {"mlp_parameters": len(params), "mlp_loss": [losses[0], losses[-1]]}


# %%
# -- 3. the same idea for arrays -----------------------------------------------------------
def sum_to(g, shape):
    """Sum the gradient g down to `shape`: undoing a broadcast of `shape` up to g.shape.

    A value broadcast to many places was *used* in many places, so its gradient is the
    sum of the gradients of all those uses.
    """
    lead = g.ndim - len(shape)                      # axes broadcasting put in front
    g = g.sum(axis=tuple(range(lead)))              # g.shape now has len(shape) axes
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True)          # stretched size-1 axes: back to 1


class Array(Value):
    """Value for NumPy arrays: the same graph and the same backward (inherited), with
    array-shaped gradients. The root is a 0-d sum, so backward's dL/dL = 1.0 still fits."""

    def __init__(self, data, children=(), op=""):
        self.data = np.asarray(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)
        self._prev, self._op = tuple(children), op
        self._backward = lambda: None

    def __repr__(self):
        return f"Array(shape={self.data.shape})"

    def __add__(self, other):
        out = Array(self.data + other.data, (self, other), "+")

        def _backward():                            # broadcast forward -> sum backward
            self.grad += sum_to(out.grad, self.data.shape)
            other.grad += sum_to(out.grad, other.data.shape)
        out._backward = _backward
        return out

    def __mul__(self, other):
        out = Array(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += sum_to(other.data * out.grad, self.data.shape)
            other.grad += sum_to(self.data * out.grad, other.data.shape)
        out._backward = _backward
        return out

    def __matmul__(self, other):                    # (N, K) @ (K, M) -> (N, M)
        out = Array(self.data @ other.data, (self, other), "@")

        def _backward():                            # dA = dC B^T (N, M)(M, K); dB = A^T dC
            self.grad += out.grad @ other.data.T
            other.grad += self.data.T @ out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = np.tanh(self.data)
        out = Array(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def sum(self):
        out = Array(self.data.sum(), (self,), "sum")

        def _backward():                            # every element feeds the sum once
            self.grad += np.broadcast_to(out.grad, self.data.shape)
        out._backward = _backward
        return out


def layer(x, w, b, up):
    """sum(up * tanh(x @ w + b)): a linear layer, b (M,) broadcast over the N rows of x @ w.

    `up` is a random upstream gradient: with all ones, some wrong backwards go unseen.
    """
    return (up * (x @ w + b).tanh()).sum()


def array_section(rng):
    section("3. The same idea for arrays: broadcasting and matmul")
    x = Array(rng.standard_normal((5, 3)))          # (N, K)
    w = Array(rng.standard_normal((3, 4)))          # (K, M)
    b = Array(rng.standard_normal(4))               # (M,), broadcast to (N, M)
    up = Array(rng.standard_normal((5, 4)))         # (N, M)
    y = layer(x, w, b, up)
    y.backward()
    print(f"shapes: x {x.data.shape} @ w {w.data.shape} + b {b.data.shape} -> "
          f"{(x.data @ w.data).shape};  grads: x {x.grad.shape}, w {w.grad.shape}, "
          f"b {b.grad.shape} (summed over the {x.data.shape[0]} rows b was broadcast to)")
    dz = up.data * (1 - np.tanh(x.data @ w.data + b.data) ** 2)   # dL/d(x@w+b), (N, M)
    assert np.allclose(b.grad, dz.sum(axis=0))
    assert np.allclose(w.grad, x.data.T @ dz) and np.allclose(x.grad, dz @ w.data.T)
    worst = 0.0
    for p in (x, w, b):
        numeric = np.zeros_like(p.data)
        for i in np.ndindex(p.data.shape):          # central differences, one element at a time
            keep = p.data[i]
            p.data[i] = keep + 1e-6
            f_up = layer(x, w, b, up).data
            p.data[i] = keep - 1e-6
            f_down = layer(x, w, b, up).data
            p.data[i] = keep
            numeric[i] = (f_up - f_down) / 2e-6
        worst = max(worst, float(np.abs(p.grad - numeric).max()))
    print(f"x, w, b gradients against central differences: max difference {worst:.1e}")
    assert worst < 1e-6, "the array backward disagrees with central differences"
    return x, w, b, up


# %%
# -- 4. tinytx side by side ----------------------------------------------------------------
class Tanh(Function):
    """Value.tanh's _backward, written as a tinytx Function on raw arrays."""

    def forward(self, x):
        self.y = self.xp.tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


def tinytx_section(arrays, rng):
    section("4. tinytx: Tensor, Function, backward, gradcheck")
    print("  this lesson                    tinytx\n"
          "  Value / Array                  tx.Tensor (tensor.py)\n"
          "  out._backward closure          a Function subclass's backward (function.py)\n"
          "  topological_order + reversed   tinytx.autograd.topological_order, run_backward\n"
          "  sum_to                         tinytx.function.sum_to\n"
          "  central_difference             tx.gradcheck (random upstream gradient)")
    args = [0.7, -1.3, 0.4]
    vs = [Value(a) for a in args]
    expression(*vs).backward()
    ts = [tx.tensor(a, dtype="float64", requires_grad=True) for a in args]
    a, b, c = ts
    ((a * b + F.exp(c)) * F.tanh(a + 1.0)).backward()
    d_scalar = max(abs(v.grad - float(t.grad)) for v, t in zip(vs, ts))
    print(f"(a*b + exp(c)) * tanh(a+1): Value against tinytx, max difference {d_scalar:.1e}")

    x, w, b, up = arrays
    tt = [tx.tensor(p.data, dtype="float64", requires_grad=True) for p in (x, w, b)]
    up_t = tx.tensor(up.data, dtype="float64")
    (up_t * F.tanh(tt[0] @ tt[1] + tt[2])).sum().backward()
    d_array = max(float(np.abs(p.grad - t.grad).max()) for p, t in zip((x, w, b), tt))
    print(f"sum(up * tanh(x @ w + b)): Array against tinytx, max difference {d_array:.1e}")
    assert d_scalar < 1e-12 and d_array < 1e-12, "our autograd and tinytx's disagree"

    for g_shape, shape in [((2, 3, 4), (4,)), ((2, 3, 4), (3, 1)), ((5, 4), (1, 4))]:
        g = rng.standard_normal(g_shape)
        assert np.allclose(sum_to(g, shape), tinytx_sum_to(g, shape), rtol=0, atol=1e-13)
    print("our sum_to equals tinytx.function.sum_to on (2,3,4)->(4,), ->(3,1), (5,4)->(1,4)")

    z = tx.randn(3, 4, dtype="float64", requires_grad=True)
    ok = tx.gradcheck(lambda t: Tanh()(t), [z])
    same = np.allclose(Tanh()(z).numpy(), F.tanh(z).numpy())
    print(f"a Tanh written as a tinytx Function: gradcheck {ok}, equals F.tanh: {same}")
    assert ok and same
    return {"value_vs_tinytx": d_scalar, "array_vs_tinytx": d_array, "tanh_gradcheck": ok}


# %%
def main(argv=None):
    cfg, out = setup(Config(), SMOKE, argv)
    tx.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    facts = {**value_section(out), **mlp_section(cfg, out)}
    arrays = array_section(rng)
    facts.update(tinytx_section(arrays, rng))
    print(f"\npictures: {out / 'graph.png'}, {out / 'mlp_loss.png'}")
    return facts


# %%
if __name__ == "__main__":
    main()
