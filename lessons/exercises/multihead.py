"""Lesson 04's exercises (multi-head attention): cut the width into heads and back.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check multihead`.
"""
import tinytx as tx
from tinytx.nn import attention as tinytx_attention
from lessons.check import same_function


# -- your answers --------------------------------------------------------------------------
def split_heads(x, n_head):
    """(B, T, C) -> (B, H, T, D) with H = n_head and D = C / H: head h gets the channels
    h·D .. (h+1)·D - 1 of every token. Hint: one reshape, then one transpose."""
    raise NotImplementedError("your answer here")


def merge_heads(y):
    """(B, H, T, D) -> (B, T, H·D): the inverse of split_heads (concatenate the heads)."""
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check multihead`: no need to edit below ---------
def check_split_heads(split_heads):
    for n_head in (1, 2, 4):
        same_function(split_heads, tinytx_attention.split_heads, [(2, 3, 8)], n_head,
                      atol=0, what=f"split_heads(x, {n_head})")
    return "equals tinytx.nn.attention.split_heads for 1, 2 and 4 heads (and gradients)"


def check_merge_heads(merge_heads):
    same_function(merge_heads, tinytx_attention.merge_heads, [(2, 4, 3, 2)], atol=0)
    x = tx.arange(2 * 3 * 8).reshape(2, 3, 8)            # (B, T, C) = (2, 3, 8)
    back = merge_heads(tinytx_attention.split_heads(x, 4))
    assert (back.numpy() == x.numpy()).all(), "merge_heads(split_heads(x, 4)) is not x"
    return "equals tinytx.nn.attention.merge_heads and undoes split_heads"
