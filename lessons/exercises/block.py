"""Lesson 08's exercises (the MLP and the transformer block): LayerNorm, the MLP, and a
whole block built from its weights.

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


def block_forward(x, w, n_head):
    """GPT-2's pre-LN block (Block), from its weights, with your layer_norm and mlp:
        x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
    where attn is causal multi-head self-attention: c_attn maps (B, T, C) to (B, T, 3C),
    q, k and v side by side, each cut into n_head heads of D = C / n_head (lesson 05's
    split_qkv); each head attends causally, softmax(q kᵀ / √D) v
    (F.scaled_dot_product_attention, lesson 04); the heads are put side by side again,
    (B, H, T, D) -> (B, T, C), and c_proj maps them to C.
    w: a dict of Tensors named as in Block.named_parameters(): "ln_1.weight",
    "ln_1.bias", "attn.c_attn.weight" (C, 3C), "attn.c_attn.bias", "attn.c_proj.weight"
    (C, C), "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight" (C, 4C),
    "mlp.c_fc.bias", "mlp.c_proj.weight" (4C, C), "mlp.c_proj.bias" (a Linear computes
    x @ weight + bias). Shapes: x (B, T, C) -> (B, T, C)."""
    raise NotImplementedError("your answer here")
