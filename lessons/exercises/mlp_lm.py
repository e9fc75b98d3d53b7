"""Lesson 01's exercises (the MLP language model): cross-entropy with ignored targets, and
one AdamW step, both in NumPy.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check mlp_lm` (the checks are in lessons/checks/mlp_lm.py).
"""
import numpy as np                       # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def cross_entropy_ignoring(logits, targets, ignore_index):
    """The mean cross-entropy of `targets` under softmax(logits) and its gradient, where a
    target equal to `ignore_index` (padding) adds nothing to the loss and is not counted
    in the mean. When every target is ignored, the loss and the gradient are 0.
    Mind large logits: exp(1000) overflows.

    Shapes: logits (N, V) float, targets (N,) int -> (loss: a float, dlogits (N, V)).
    """
    raise NotImplementedError("your answer here")


def adamw_step(p, grad, m, v, t, lr, betas, eps, weight_decay):
    """One AdamW step (Loshchilov & Hutter; GPT-2's optimizer), in NumPy, returning new
    arrays: first the decoupled decay p <- p - lr·weight_decay·p, then Adam's update with
    the moments m, v (zeros before the first step) and their bias corrections.

    Args: p, grad, m, v: arrays of one shape; t: this step's number, 1 for the first;
        lr, eps, weight_decay: floats; betas: (β1, β2).
    Returns: (p, m, v) after the step.
    """
    raise NotImplementedError("your answer here")
