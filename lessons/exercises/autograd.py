"""Lesson 00's exercises (autograd from scratch): give the scalar Value two more ops.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check autograd` (the checks are in lessons/checks/autograd.py).
Each function takes lesson 00's `Value` and returns a new one; make it with
`type(x)(data, (x,), "op")` (its children and a label), and give it a `_backward` that
adds the chain rule's share into `x.grad`, as `Value.tanh` does.
"""


# -- your answers --------------------------------------------------------------------------
def relu(x):
    """max(0, x) as a Value. Its derivative is 1 where x > 0 and 0 elsewhere."""
    raise NotImplementedError("your answer here")


def power(x, k):
    """x ** k for a plain number k (not a Value). d(x^k)/dx = k x^(k-1)."""
    raise NotImplementedError("your answer here")
