"""Our answers to lesson 08's exercises (lessons/exercises/block.py)."""
import tinytx.functional as F


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)                     # (..., 1)
    xc = x - mean
    var = (xc * xc).mean(axis=-1, keepdims=True)              # biased, as in the paper
    return xc / F.sqrt(var + eps) * weight + bias


def mlp(x, W_fc, b_fc, W_proj, b_proj):
    h = F.gelu(x @ W_fc + b_fc, approximate="tanh")           # (B, T, C) -> (B, T, 4C)
    return h @ W_proj + b_proj                                # (B, T, 4C) -> (B, T, C)


def block_forward(x, w, n_head):
    B, T, C = x.shape
    h = layer_norm(x, w["ln_1.weight"], w["ln_1.bias"])
    qkv = h @ w["attn.c_attn.weight"] + w["attn.c_attn.bias"]         # (B, T, 3C)
    qkv = qkv.reshape(B, T, 3, n_head, C // n_head).permute(2, 0, 3, 1, 4)  # (3, B, H, T, D)
    y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=True)
    y = y.permute(0, 2, 1, 3).reshape(B, T, C)                        # (B, H, T, D) -> (B, T, C)
    x = x + y @ w["attn.c_proj.weight"] + w["attn.c_proj.bias"]
    h = layer_norm(x, w["ln_2.weight"], w["ln_2.bias"])
    return x + mlp(h, w["mlp.c_fc.weight"], w["mlp.c_fc.bias"], w["mlp.c_proj.weight"],
                   w["mlp.c_proj.bias"])
