"""Lesson 00's exercises (autograd from scratch): give the scalar Value two more ops.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check autograd`. Each function takes lesson 00's `Value` and returns a
new one; make it with `type(x)(data, (x,), "op")` (its children and a label), and give
it a `_backward` that adds the chain rule's share into `x.grad`, as `Value.tanh` does.
"""
from lessons.check import lesson_module


# -- your answers --------------------------------------------------------------------------
def relu(x):
    """max(0, x) as a Value. Its derivative is 1 where x > 0 and 0 elsewhere."""
    raise NotImplementedError("your answer here")

def power(x, k):
    """x ** k for a plain number k (not a Value). d(x^k)/dx = k x^(k-1)."""
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check autograd`: no need to edit below ----------
def gradients_against_central_differences(f, args):
    """Build f(*Values) with lesson 00's Value, backward, compare every input's gradient
    with the lesson's central differences -> the largest difference."""
    lesson = lesson_module("autograd")
    vs = [lesson.Value(a) for a in args]
    out = f(*vs)
    assert isinstance(out, lesson.Value), f"expected a Value, got {type(out).__name__}"
    out.backward()
    plain = lambda *xs: f(*[lesson.Value(a) for a in xs]).data   # noqa: E731
    return max(abs(v.grad - lesson.central_difference(plain, args, i))
               for i, v in enumerate(vs))

def check_relu(relu):
    for x in (-1.5, 0.7, 2.0):
        assert relu(lesson_module("autograd").Value(x)).data == max(0.0, x), (
            f"relu({x}).data should be {max(0.0, x)}")
    # relu's input a is used again outside it: its gradients must add up, and be 0 below 0
    f = lambda a, b: relu(a) * a + relu(a * b) * b             # noqa: E731
    worst = max(gradients_against_central_differences(f, args)
                for args in [(0.8, 1.3), (-0.9, 0.6)])
    assert worst < 1e-6, f"relu's gradients differ from central differences by {worst:.1e}"
    return f"value and gradients match central differences (max difference {worst:.1e})"

def check_power(power):
    assert abs(power(lesson_module("autograd").Value(3.0), 2).data - 9.0) < 1e-12, (
        "power(Value(3), 2).data should be 9")
    worst = max(gradients_against_central_differences(
        lambda a, b: power(a, k) * a + power(a * b, 2), (1.7, -0.4)) for k in (2, 3, -1, 0.5))
    assert worst < 1e-6, f"power's gradients differ from central differences by {worst:.1e}"
    return f"k = 2, 3, -1, 0.5 match central differences (max difference {worst:.1e})"
