"""Optimization, imported as `from tinytx import optim` (lesson 01): SGD, Adam, AdamW,
nanoGPT's decay groups, the warmup + cosine learning-rate schedule, gradient clipping.

    >>> from tinytx import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=3e-4)
    >>> optim.set_lr(opt, optim.lr_schedule(0, lr=3e-4, min_lr=3e-5, warmup_steps=9,
    ...                                     decay_steps=100))
    >>> round(opt.param_groups[0]["lr"], 8)
    3e-05
"""
from .clip import clip_grad_norm
from .optimizers import SGD, Adam, AdamW, Optimizer, decay_groups
from .schedule import lr_schedule, set_lr

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "decay_groups", "clip_grad_norm",
           "lr_schedule", "set_lr"]
