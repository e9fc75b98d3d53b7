"""Lesson 05's exercises (multi-head attention): the fused projection cut into heads, and
the key/value heads that grouped-query attention shares.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check multihead` (the checks are in lessons/checks/multihead.py).
"""
import tinytx.functional as F            # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def split_qkv(qkv, n_head):
    """c_attn's output (B, T, 3C), the columns of q, then of k, then of v, -> the tuple
    (q, k, v), each (B, H, T, D) with H = n_head and D = C / H: head h of q gets q's
    channels h·D .. (h+1)·D - 1 of every token. Use one reshape and one permute for all
    three at once (no split into q, k, v first), then index the result."""
    raise NotImplementedError("your answer here")


def repeat_kv(k, n_rep):
    """Grouped-query attention (GQA, Ainslie et al. 2023; Llama 2 70B, Mistral) keeps fewer
    key/value heads than query heads: H_kv of them, each shared by n_rep query heads.
    Give the keys (or values) one head per query head: (B, H_kv, T, D) ->
    (B, H_kv·n_rep, T, D), where query head h uses key head h // n_rep (so heads 0..n_rep-1
    share key head 0). With tinytx ops; the gradient of a shared head is the sum over
    the query heads that used it."""
    raise NotImplementedError("your answer here")
