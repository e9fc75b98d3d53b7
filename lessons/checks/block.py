"""The checks of lesson 08's exercises (lessons/exercises/block.py), run by
`python -m lessons.check block`: each answer against nn.LayerNorm and nn.MLP."""
from tinytx import nn
from lessons.check import same_function, with_weights


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
