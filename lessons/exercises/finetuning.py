"""Lesson 13's exercises (finetuning): freeze part of a pretrained model.

Write your answer in the function below, replacing `raise NotImplementedError`; then run
`python -m lessons.check finetuning` (the checks are in lessons/checks/finetuning.py).
"""

# -- your answers --------------------------------------------------------------------------
def freeze(model, prefixes):
    """Freeze every parameter whose name (as in model.named_parameters()) starts with one
    of `prefixes`: set its requires_grad to False, so that backward leaves its .grad at
    None and optim.decay_groups(model) leaves it out of the optimizer.
    Returns the names frozen, in named_parameters() order.
    Example: freeze(gpt, ["transformer.wte", "transformer.wpe"]) freezes the embeddings."""
    raise NotImplementedError("your answer here")
