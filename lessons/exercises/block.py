"""Lesson 09's exercises (the MLP and the transformer block): LayerNorm and the MLP.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check block`.
"""
from tinytx import nn
from lessons.check import same_function, with_weights


# -- your answers --------------------------------------------------------------------------
def layer_norm(x, weight, bias, eps=1e-5):
    """LayerNorm over the last axis with tinytx ops: x̂ = (x - mean) / sqrt(var + eps),
    y = x̂ · weight + bias, where var is the biased variance (the mean of (x - mean)²).
    Shapes: x (..., C), weight (C,), bias (C,) -> (..., C).
    Hint: x.mean(axis=-1, keepdims=True), F.sqrt."""
    raise NotImplementedError("your answer here")


def mlp(x, W_fc, b_fc, W_proj, b_proj):
    """The block's MLP (GPT-2's): C -> 4C -> GELU (its tanh form) -> C, with tinytx ops.
    Shapes: x (B, T, C), W_fc (C, 4C), b_fc (4C,), W_proj (4C, C), b_proj (C,) -> (B, T, C).
    Hint: F.gelu(z, approximate="tanh")."""
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check block`: no need to edit below -------------
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
