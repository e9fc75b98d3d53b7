"""The checks of lesson 00's exercises (lessons/exercises/autograd.py), run by
`python -m lessons.check autograd`.

Each answer is used inside an expression that uses an input twice; the value of that
expression and its gradients are compared with the expression written out in plain
Python floats (the reference: max(0, a), a ** k) and the lesson's central differences
of that reference, never of the answer itself.
"""
from lessons.check import lesson_module


def against_reference(expression, reference, args):
    """Build expression(*Values) with lesson 00's Value and backward; compare its value
    with reference(*args) and every input's gradient with central differences of the
    reference -> the largest gradient difference."""
    lesson = lesson_module("autograd")
    vs = [lesson.Value(a) for a in args]
    out = expression(*vs)
    assert isinstance(out, lesson.Value), f"expected a Value, got {type(out).__name__}"
    want = reference(*args)
    assert abs(out.data - want) < 1e-9 * max(1.0, abs(want)), (
        f"at {args}: the value is {out.data:.6g}, expected {want:.6g}")
    out.backward()
    return max(abs(v.grad - lesson.central_difference(reference, args, i))
               for i, v in enumerate(vs))


def check_relu(relu):
    # relu's input a is used again outside it: its gradients must add up, and be 0 below 0
    def expression(a, b):
        return relu(a) * a + relu(a * b) * b

    def reference(a, b):
        return max(0.0, a) * a + max(0.0, a * b) * b

    worst = max(against_reference(expression, reference, args) for args in
                [(0.8, 1.3), (-0.9, 0.6), (0.3, -2.0), (-0.4, -1.7), (2.5, 0.2)])
    assert worst < 1e-6, f"relu's gradients differ from central differences by {worst:.1e}"
    return (f"values equal max(0, x) and gradients match central differences of it "
            f"(max difference {worst:.1e})")


def check_power(power):
    worst = 0.0
    for k in (2, 3, -1, 0.5):
        def expression(a, b, k=k):
            return power(a, k) * a + power(a * b, 2)

        def reference(a, b, k=k):
            return a ** k * a + (a * b) ** 2

        for args in [(1.7, -0.4), (0.6, 2.1)]:
            worst = max(worst, against_reference(expression, reference, args))
    assert worst < 1e-6, f"power's gradients differ from central differences by {worst:.1e}"
    return (f"k = 2, 3, -1, 0.5: values equal x ** k and gradients match central "
            f"differences of it (max difference {worst:.1e})")
