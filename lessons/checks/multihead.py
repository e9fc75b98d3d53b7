"""The checks of lesson 05's exercises (lessons/exercises/multihead.py), run by
`python -m lessons.check multihead`: split_qkv against tinytx.nn.attention.split_heads,
repeat_kv against a loop over the query heads written here."""
import tinytx.functional as F
from tinytx.nn.attention import split_heads
from lessons.check import same_function


def check_split_qkv(split_qkv):
    for n_head in (1, 2, 4):
        same_function(split_qkv, lambda qkv, n: tuple(split_heads(qkv, n, parts=3)),
                      [(2, 3, 3 * 8)], n_head, atol=0, what=f"split_qkv(qkv, {n_head})")
    return ("equals tinytx.nn.attention.split_heads(qkv, H, parts=3) for 1, 2 and 4 heads "
            "(and gradients)")


def heads_one_by_one(k, n_rep):
    """Query head h takes key head h // n_rep: a slice per query head, concatenated."""
    return F.concat([k[:, h // n_rep:h // n_rep + 1] for h in range(k.shape[1] * n_rep)],
                    axis=1)


def check_repeat_kv(repeat_kv):
    for n_rep in (1, 2, 3):
        same_function(repeat_kv, heads_one_by_one, [(2, 2, 3, 4)], n_rep,
                      what=f"repeat_kv(k, {n_rep})")
    return ("equals a loop over the query heads (head h uses key head h // n_rep), "
            "gradients too")
