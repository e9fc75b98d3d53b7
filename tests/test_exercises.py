"""The lessons' exercises: every lesson ends with an Exercises section; every exercise with
code has a stub, a check and our answer; the answer passes its check, the stub does not,
and at least two wrong answers per check fail it, one of them self-consistent (so the
checks compare with a reference of their own, not the answer with itself); no stub
imports a reference. `python -m lessons.check` reports the same.
"""
import ast
import importlib

import numpy as np
import pytest
import wrong_answer
import wrong_answers_early  # noqa: F401  (importing the three registers their @wrong answers)
import wrong_answers_engine  # noqa: F401
import wrong_answers_late  # noqa: F401

import tinytx as tx
from lessons import check

LESSONS = check.lesson_files()
NAMES = [check.exercise_name(p) for p in LESSONS]
EXERCISES = [(name, function) for name in NAMES if name
             for function, _ in check.checks(name)]
CAPSTONE = "15_capstone"      # runs the answers of lessons 01, 08, 11 and 14; none of its own
OWN_EXERCISES = [p for p in LESSONS if p.stem != CAPSTONE]


def docstring(lesson):
    return ast.get_docstring(ast.parse(lesson.read_text(encoding="utf-8")))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_ends_with_two_to_four_exercises(lesson):
    doc = docstring(lesson)
    lines = doc.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Exercises")]
    assert starts, f"{lesson.name}: no line starting with 'Exercises' in its docstring"
    items = [line for line in lines[starts[-1]:] if line[:5].strip()[:-1].isdigit()
             and line.strip()[1:3] == ". "]
    assert 2 <= len(items) <= 4, f"{lesson.name}: {len(items)} exercises, expected 2 to 4"
    assert [int(line.strip()[0]) for line in items] == list(range(1, len(items) + 1))


@pytest.mark.parametrize("lesson", OWN_EXERCISES, ids=[p.stem for p in OWN_EXERCISES])
def test_every_lesson_names_its_exercises_stubs_and_solutions(lesson):
    name = check.exercise_name(lesson)
    assert name, f"{lesson.name}: its Exercises section names no lessons/exercises/*.py"
    stubs = importlib.import_module(f"lessons.exercises.{name}")
    ours = importlib.import_module(f"lessons.solutions.{name}")
    functions = [f for f, _ in check.checks(name)]
    assert functions, f"lessons/exercises/{name}.py has no check_* function"
    for f in functions:
        assert callable(getattr(stubs, f, None)), f"lessons/exercises/{name}.py lacks {f}"
        assert callable(getattr(ours, f, None)), f"lessons/solutions/{name}.py lacks {f}"
        assert f"`{f}(" in docstring(lesson), f"{lesson.name} does not ask for `{f}(`"


def test_the_capstone_is_no_lessons_exercises(capsys):
    """Its docstring names the four files whose answers it runs: the checker takes it for
    none of those lessons (not for the first file its text names)."""
    lesson = check.find_lesson("15")
    assert lesson.stem == CAPSTONE and check.exercise_name(lesson) is None
    assert len(set(check.EXERCISE_FILE.findall(docstring(lesson)))) == 4
    assert [check.find_lesson(n).stem for n in ("mlp_lm", "block")] == ["01_mlp_lm", "08_block"]
    assert check.main(["15"]) == 0
    assert capsys.readouterr().out == "15_capstone: no exercises with code\n"


def test_exercise_files_have_distinct_names():
    assert len(set(NAMES)) == len(NAMES), f"two lessons share an exercises file: {NAMES}"


@pytest.mark.parametrize("name, function", EXERCISES, ids=[f"{n}.{f}" for n, f in EXERCISES])
def test_our_answer_passes_and_the_stub_does_not(name, function):
    checks = dict(check.checks(name))
    stub = getattr(importlib.import_module(f"lessons.exercises.{name}"), function)
    ours = getattr(importlib.import_module(f"lessons.solutions.{name}"), function)
    status, message = check.run_check(checks[function], ours)
    assert status == "PASS", f"our {name}.{function}: {status} {message}"
    # TODO, not FAIL: the check got as far as calling the learner's function
    assert check.run_check(checks[function], stub)[0] == "TODO"


# -- wrong answers each check must reject --------------------------------------------------
WRONG = wrong_answer.WRONG      # registered by importing the three files above


@pytest.mark.parametrize("name, function", EXERCISES, ids=[f"{n}.{f}" for n, f in EXERCISES])
def test_every_check_has_two_wrong_answers_one_of_them_consistent(name, function):
    kinds = [kind for n, f, kind, _ in WRONG if (n, f) == (name, function)]
    assert len(kinds) >= 2, f"{name}.{function}: {len(kinds)} wrong answers, expected 2+"
    assert "consistent" in kinds, f"{name}.{function}: no self-consistent wrong answer"


@pytest.mark.parametrize("name, function, kind, wrong", WRONG,
                         ids=[f"{n}.{w.__name__}" for n, _, _, w in WRONG])
def test_a_wrong_answer_fails_its_check(name, function, kind, wrong):
    """The check itself says what differs (an AssertionError), not a crash."""
    with pytest.raises(AssertionError) as failure:
        dict(check.checks(name))[function](wrong)
    assert str(failure.value), f"{name}.{function}: {wrong.__name__} failed without a message"


# inputs for the differentiable answers: what the old, self-comparing checks looked at
GRADIENT_INPUTS = {"rnn_step": ([(3, 4), (3, 5), (5, 5), (5, 4), (5,)], ()),
                   "cifg_cell": ([(3, 4), (3, 5), (3, 5), (9, 15), (15,)], ()),
                   "attention": ([(2, 6, 4), (2, 6, 4), (2, 6, 3)], (3,)),
                   "split_qkv": ([(2, 3, 24)], (2,)), "repeat_kv": ([(2, 2, 3, 4)], (2,)),
                   "layer_norm": ([(2, 3, 8), (8,), (8,)], ()),
                   "mlp": ([(2, 3, 4), (4, 16), (16,), (16, 4), (4,)], ())}
VALUE_EXPRESSIONS = {"relu": lambda op, a, b: op(a) * a + op(a * b) * b,
                     "power": lambda op, a, b: op(a, 3) * a + op(a * b, 2)}


@pytest.mark.parametrize("name, function, wrong",
                         [(n, f, w) for n, f, kind, w in WRONG if kind == "consistent"
                          and f in {**GRADIENT_INPUTS, **VALUE_EXPRESSIONS}],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_a_consistent_wrong_answer_agrees_with_its_own_central_differences(name, function,
                                                                         wrong):
    """Why a check must not compare an answer with itself: these wrong answers pass that."""
    if function in VALUE_EXPRESSIONS:
        lesson, at = check.lesson_module("autograd"), (0.8, -1.3)
        expression = VALUE_EXPRESSIONS[function]
        inputs = [lesson.Value(a) for a in at]
        expression(wrong, *inputs).backward()
        value = lambda *xs: expression(wrong, *map(lesson.Value, xs)).data   # noqa: E731
        for i, v in enumerate(inputs):
            assert abs(v.grad - lesson.central_difference(value, at, i)) < 1e-6
    else:
        shapes, args = GRADIENT_INPUTS[function]
        assert tx.gradcheck(lambda *xs: wrong(*xs, *args), check.float64_inputs(*shapes))


@pytest.mark.parametrize("wrong", [w for _, f, kind, w in WRONG
                                   if f == "cross_entropy_ignoring" and kind == "consistent"],
                         ids=lambda w: w.__name__)
def test_a_consistent_wrong_cross_entropy_agrees_with_its_own_central_differences(wrong):
    """These return the gradient of the loss they compute: checked against themselves they
    would pass; lesson 01's check compares them with F.cross_entropy and rejects them."""
    rng = np.random.default_rng(0)
    logits, targets = rng.standard_normal((7, 4)), np.array([1, 0, 3, 3, 2, 0, 1])
    _, grad = wrong(logits, targets, 3)
    numeric = np.zeros_like(logits)
    for i in np.ndindex(logits.shape):
        step = np.zeros_like(logits)
        step[i] = 1e-6
        numeric[i] = (wrong(logits + step, targets, 3)[0]
                      - wrong(logits - step, targets, 3)[0]) / 2e-6
    assert np.abs(numeric - grad).max() < 1e-7


def imported_modules(path):
    """Every module a file imports, and the names it takes from modules with `from`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names]
    taken = [f"{node.module}.{a.name}" for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) for a in node.names]
    return modules, taken


@pytest.mark.parametrize("name", [n for n in NAMES if n])
def test_no_stub_imports_a_reference(name):
    """The stubs import whole modules for the learner to use (NumPy, tinytx, its ops),
    never a function or class that answers an exercise, nor the checks or our answers."""
    modules, taken = imported_modules(check.LESSONS / "exercises" / f"{name}.py")
    assert set(modules) <= {"math", "numpy", "tinytx", "tinytx.functional"}, modules
    assert not taken, f"lessons/exercises/{name}.py imports {taken}"


# -- the command ---------------------------------------------------------------------------
def test_the_command_reports_each_exercise(capsys):
    assert check.main(["04"]) == 1                          # the stubs: still to do
    out = capsys.readouterr().out
    assert "0 of 2 pass, 2 still to do" in out and "TODO  attention" in out
    assert check.main(["attention", "--solutions"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 pass" in out and "PASS  causal_mask" in out


def test_a_lesson_is_found_by_number_slug_or_exercises_name():
    assert check.find_lesson("4") == check.find_lesson("04") == check.find_lesson("attention")
    assert check.find_lesson("cross_attention").stem.endswith("encoder_decoder")
    with pytest.raises(SystemExit, match="no lesson 'nonesuch'"):
        check.find_lesson("nonesuch")
