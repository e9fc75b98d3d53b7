"""Lesson 08's exercises (the MLP and the transformer block): LayerNorm and the MLP.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check block` (the checks are in lessons/checks/block.py).
"""
import tinytx.functional as F          # noqa: F401 (for your answer)


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
