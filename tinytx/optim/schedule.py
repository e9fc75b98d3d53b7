"""The learning-rate schedule: linear warmup, then cosine decay to a floor.

Introduced in lesson 01. The same schedule as nanoGPT's `get_lr` (and GPT-3's): the
learning rate climbs linearly from almost 0 to `lr` over `warmup_steps` (large early
steps on random weights are what make training blow up), follows half a cosine down to
`min_lr` at `decay_steps`, and stays at `min_lr` after that.

    >>> [round(lr_schedule(s, lr=1.0, min_lr=0.1, warmup_steps=2, decay_steps=4), 3)
    ...  for s in range(6)]
    [0.333, 0.667, 1.0, 0.55, 0.1, 0.1]
"""
from __future__ import annotations

import math


def lr_schedule(step: int, *, lr: float, min_lr: float, warmup_steps: int,
                decay_steps: int) -> float:
    """The learning rate at `step` (a pure function: call it every step).

    Args:
        step: the optimizer step about to be taken, from 0.
        lr: the peak learning rate, reached at step == warmup_steps.
        min_lr: the floor, reached at step == decay_steps and kept afterwards.
        warmup_steps: length of the linear warmup; lr·(step+1)/(warmup_steps+1) before it.
        decay_steps: where the cosine ends (>= warmup_steps).
    """
    if step < 0:
        raise ValueError(f"lr_schedule: step must be >= 0, got {step}")
    if not 0 <= min_lr <= lr:
        raise ValueError(f"lr_schedule: expected 0 <= min_lr <= lr, got min_lr={min_lr}, "
                         f"lr={lr}")
    if not 0 <= warmup_steps <= decay_steps:
        raise ValueError(f"lr_schedule: expected 0 <= warmup_steps <= decay_steps, got "
                         f"warmup_steps={warmup_steps}, decay_steps={decay_steps}")
    if step < warmup_steps:
        return lr * (step + 1) / (warmup_steps + 1)
    if step >= decay_steps:
        return min_lr
    ratio = (step - warmup_steps) / (decay_steps - warmup_steps)   # 0 -> 1
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


def set_lr(optimizer, lr: float):
    """Set the learning rate of every param group (call before `optimizer.step()`).

        >>> import tinytx as tx
        >>> from tinytx.optim import SGD
        >>> opt = SGD([tx.zeros(2, requires_grad=True)], lr=0.1)
        >>> set_lr(opt, 0.01); opt.param_groups[0]["lr"]
        0.01
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
