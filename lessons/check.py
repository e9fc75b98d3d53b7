"""Check your answers to a lesson's exercises: `python -m lessons.check NN`.

Every lesson ends its docstring with a section `Exercises`. Those with code name a
function in `lessons/exercises/<name>.py` (the lesson's docstring says which file): a
stub raising NotImplementedError("your answer here") for you to replace. Its checks are
in `lessons/checks/<name>.py`, one per exercise, `check_<function>(answer)`: each runs
your function against a reference that does not come from your answer (tinytx's own
op, analytic values, a naive loop written out in the check) and raises AssertionError
saying what differs. Our answers are in `lessons/solutions/<name>.py`, with the same
function names; read them after trying.

Run from the repository root:

    python -m lessons.check attention       # lesson 04's exercises (or its number: 04)
    python -m lessons.check                 # every lesson's, one line each
    python -m lessons.check attention --solutions   # the checks on our answers (all pass)

Each exercise prints PASS (and what was checked), TODO (still the stub) or FAIL (and
why); the exit status is 0 when every checked exercise passes.
"""
from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import re
import sys
import traceback
from pathlib import Path

import numpy as np

import tinytx as tx

LESSONS = Path(__file__).resolve().parent
EXERCISE_FILE = re.compile(r"lessons/exercises/(\w+)\.py")


def lesson_files() -> list[Path]:
    """lessons/NN_slug.py, in order."""
    return sorted(LESSONS.glob("[0-9][0-9]_*.py"))


def exercise_name(lesson: Path) -> str | None:
    """The exercises file a lesson's docstring names (lessons/exercises/<name>.py); None
    when it names none, or several (the capstone runs other lessons' answers)."""
    doc = ast.get_docstring(ast.parse(lesson.read_text(encoding="utf-8"))) or ""
    names = set(EXERCISE_FILE.findall(doc))
    return names.pop() if len(names) == 1 else None


def find_lesson(which: str) -> Path:
    """The lesson file for a number ("4", "04"), a slug ("attention") or the name of its
    exercises file ("cross_attention")."""
    for path in lesson_files():
        number, slug = path.stem.split("_", 1)
        if which.isdigit() and int(which) == int(number):
            return path
    by_name = [p for p in lesson_files() if exercise_name(p) == which]
    by_slug = [p for p in lesson_files() if which in (p.stem.split("_", 1)[1], p.stem)]
    if by_name or len(by_slug) == 1:
        return (by_name or by_slug)[0]
    names = ", ".join(f"{p.stem} ({exercise_name(p)})" for p in lesson_files())
    raise SystemExit(f"lessons.check: no lesson {which!r}, or more than one; give its "
                     f"number or its exercises' name: {names}")


def checks(name: str) -> list[tuple[str, callable]]:
    """[(function name, its check)] of lessons/checks/<name>.py, in file order."""
    module = importlib.import_module(f"lessons.checks.{name}")
    found = [(f.__name__[len("check_"):], f) for f in vars(module).values()
             if inspect.isfunction(f) and f.__name__.startswith("check_")
             and f.__module__ == module.__name__]
    return sorted(found, key=lambda item: item[1].__code__.co_firstlineno)


def run_check(check, answer) -> tuple[str, str]:
    """Run one check on one answer -> (PASS | TODO | FAIL, what was checked or why)."""
    try:
        return "PASS", check(answer) or ""
    except NotImplementedError:
        return "TODO", "not answered yet (the stub raises NotImplementedError)"
    except AssertionError as e:
        return "FAIL", str(e) or "a check failed"
    except Exception as e:                   # the answer crashed: show where, briefly
        where = traceback.extract_tb(e.__traceback__)[-1]
        return "FAIL", (f"{type(e).__name__}: {e} (at {Path(where.filename).name}:"
                        f"{where.lineno})")


def run(name: str, answers: str = "exercises") -> list[tuple[str, str, str]]:
    """Every check of lessons/checks/<name>.py on the functions of
    lessons/<answers>/<name>.py -> [(function, PASS | TODO | FAIL, message)]."""
    module = importlib.import_module(f"lessons.{answers}.{name}")
    results = []
    for function, check in checks(name):
        answer = getattr(module, function, None)
        if answer is None:
            results.append((function, "FAIL", f"lessons/{answers}/{name}.py has no "
                                              f"function {function}"))
        else:
            results.append((function, *run_check(check, answer)))
    return results


# -- what the checks share ------------------------------------------------------------------
@functools.cache
def lesson_module(which: str):
    """Import a lesson file as a module (its main() does not run): for exercises that
    extend what the lesson built, such as lesson 00's Value."""
    path = find_lesson(which)
    spec = importlib.util.spec_from_file_location(f"lesson_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module      # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def float64_inputs(*shapes, seed=0):
    """Random float64 Tensors with requires_grad=True, one per shape."""
    rng = np.random.default_rng(seed)
    return [tx.tensor(rng.standard_normal(s), dtype="float64", requires_grad=True)
            for s in shapes]


def with_weights(module, **weights):
    """Give a module the given Tensors as its weights (names as in named_parameters, with
    "__" for "."), so that tinytx's layer and an answer can run on the same inputs and
    both give gradients for them: with_weights(nn.LayerNorm(4), weight=w, bias=b)."""
    for name, tensor in weights.items():
        *path, leaf = name.split("__")
        owner = functools.reduce(getattr, path, module)
        delattr(owner, leaf)                 # a registered Parameter is not replaced silently
        setattr(owner, leaf, tensor)
    return module


def same_function(answer, reference, shapes, *args, atol=1e-10, seed=0, what="output"):
    """Assert that answer(*inputs, *args) equals reference(*inputs, *args), forward and
    backward (gradients of every input under a random upstream gradient), on random
    float64 inputs of the given shapes. Both may return a Tensor or a tuple of them."""
    results = []
    for fn in (answer, reference):
        inputs = float64_inputs(*shapes, seed=seed)
        out = fn(*inputs, *args)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        assert all(getattr(o, "requires_grad", False) for o in outs), (
            f"the {what} carries no gradient: make it with tinytx ops, not through NumPy")
        rng = np.random.default_rng(seed + 1)
        loss = sum((o * tx.tensor(rng.standard_normal(o.shape))).sum() for o in outs)
        loss.backward()
        results.append(([o.numpy() for o in outs], [x.grad for x in inputs]))
    (got, got_grads), (want, want_grads) = results
    assert len(got) == len(want), f"returned {len(got)} results, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{what} {i}: shape {g.shape}, expected {w.shape}"
        err = np.abs(g - w).max()
        assert err <= atol, f"{what} {i} differs from tinytx's by up to {err:.2e}"
    for i, (g, w) in enumerate(zip(got_grads, want_grads)):
        assert g is not None, f"input {i} got no gradient: is it used?"
        err = np.abs(g - w).max()
        assert err <= atol, f"the gradient of input {i} differs by up to {err:.2e}"


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    answers = "solutions" if "--solutions" in args else "exercises"
    wanted = [a for a in args if a != "--solutions"]
    lessons = [find_lesson(w) for w in wanted] or lesson_files()
    failed = 0
    for lesson in lessons:
        name = exercise_name(lesson)
        if name is None:
            print(f"{lesson.stem}: no exercises with code")
            continue
        results = run(name, answers)
        passed = sum(status == "PASS" for _, status, _ in results)
        todo = sum(status == "TODO" for _, status, _ in results)
        failed += len(results) - passed
        print(f"{lesson.stem}: lessons/{answers}/{name}.py, {passed} of {len(results)} pass"
              + (f", {todo} still to do" if todo else ""))
        if wanted:
            for function, status, message in results:
                print(f"  {status}  {function:<20} {message}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
