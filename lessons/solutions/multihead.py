"""Our answers to lesson 04's exercises (lessons/exercises/multihead.py)."""


def split_heads(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, T, n_head, C // n_head).transpose(1, 2)  # (B, T, C) -> (B, H, T, D)


def merge_heads(y):
    B, H, T, D = y.shape
    return y.transpose(1, 2).reshape(B, T, H * D)                # (B, H, T, D) -> (B, T, C)
