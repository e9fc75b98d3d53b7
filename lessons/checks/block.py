"""The checks of lesson 08's exercises (lessons/exercises/block.py), run by
`python -m lessons.check block`: each answer against nn.LayerNorm, nn.MLP and
nn.Block with the same weights."""
import numpy as np

import tinytx as tx
from tinytx import nn
from lessons.check import float64_inputs, same_function, with_weights


def tinytx_layer_norm(x, weight, bias, eps=1e-5):
    module = nn.LayerNorm(x.shape[-1], eps=eps, dtype="float64")
    return with_weights(module, weight=weight, bias=bias)(x)


def tinytx_mlp(x, W_fc, b_fc, W_proj, b_proj):
    module = nn.MLP(x.shape[-1])
    return with_weights(module, c_fc__weight=W_fc, c_fc__bias=b_fc, c_proj__weight=W_proj,
                        c_proj__bias=b_proj)(x)


def check_layer_norm(layer_norm):
    same_function(layer_norm, tinytx_layer_norm, [(2, 3, 8), (8,), (8,)])
    same_function(layer_norm, tinytx_layer_norm, [(4, 6), (6,), (6,)], 0.1,
                  what="with eps=0.1")
    return "equals nn.LayerNorm, forward and gradients, eps 1e-5 and 0.1"


def check_mlp(mlp):
    C = 4
    same_function(mlp, tinytx_mlp, [(2, 3, C), (C, 4 * C), (4 * C,), (4 * C, C), (C,)])
    return "equals nn.MLP (forward and gradients)"


def tinytx_block(x, w, n_head):
    block = nn.Block(x.shape[-1], n_head)
    return with_weights(block, **{name.replace(".", "__"): t for name, t in w.items()})(x)


def check_block_forward(block_forward):
    B, T, C, H = 2, 5, 8, 2
    names, shapes = zip(*[(n, p.shape) for n, p in nn.Block(C, H).named_parameters()])
    upstream = tx.tensor(np.random.default_rng(1).standard_normal((B, T, C)))
    results = []
    for fn in (block_forward, tinytx_block):
        x, *weights = float64_inputs((B, T, C), *shapes)
        out = fn(x, dict(zip(names, weights)), H)
        assert out.requires_grad, "the output carries no gradient: use tinytx ops"
        (out * upstream).sum().backward()
        results.append([out.numpy(), x.grad] + [t.grad for t in weights])
    for what, got, want in zip(["the output", "the gradient of x", *names], *results):
        assert got is not None, f"{what} got no gradient: is it used?"
        assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
        err = np.abs(got - want).max()
        assert err < 1e-10, f"{what} differs from nn.Block's by up to {err:.2e}"
    return "equals nn.Block (causal, pre-LN), forward and the gradients of x and every weight"
