"""Our answers to lesson 05's exercises (lessons/exercises/multihead.py)."""
import tinytx.functional as F


def split_qkv(qkv, n_head):
    B, T, C3 = qkv.shape
    D = C3 // (3 * n_head)
    parts = qkv.reshape(B, T, 3, n_head, D)          # (B, T, 3C) -> (B, T, 3, H, D)
    parts = parts.permute(2, 0, 3, 1, 4)             # -> (3, B, H, T, D)
    return parts[0], parts[1], parts[2]


def repeat_kv(k, n_rep):
    B, H_kv, T, D = k.shape
    k = F.broadcast_to(k[:, :, None], (B, H_kv, n_rep, T, D))   # (B, H_kv, 1, T, D) -> ×n_rep
    return k.reshape(B, H_kv * n_rep, T, D)          # head h = kv head h // n_rep
