"""Every lesson runs in --smoke mode (seconds), writes its pictures as non-empty PNGs and
returns the smoke-sized facts its text quotes (tests/lesson_facts.py); what each lesson
may use is tested in tests/test_lessons_taught.py.

Lessons are run as a user runs them, `python lessons/NN_slug.py --smoke --out_dir=DIR`,
in a fresh process each; the process also writes what main() returns to facts.json.
"""
import ast
import json
import os
import subprocess
import sys

import pytest

import lesson_facts
from lesson_facts import facts_05, facts_10, facts_14
from project_scripts import LESSONS




def test_lessons_are_00_to_15_in_order():
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(0, 16))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_imports_only_the_installed_package(lesson):
    """A lesson runs from anywhere: it may not import the repository's tests/, examples/,
    bench/ or another lesson, only tinytx and third-party or standard modules."""
    tree = ast.parse(lesson.read_text(), filename=str(lesson))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            pytest.fail(f"{lesson.name}:{node.lineno}: relative import")
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            top = name.split(".")[0]
            assert top not in {"tests", "examples", "bench", "lessons", "conftest"}, (
                f"{lesson.name}:{node.lineno} imports {name}")


# `python lessons/NN_slug.py ARGS`, keeping what main(ARGS) returns (json: numpy scalars
# become numbers)
RUN_MAIN = ("import json, runpy, sys\n"
            "facts = runpy.run_path(sys.argv[1])['main'](sys.argv[2:])\n"
            "with open('facts.json', 'w') as f:\n"
            "    json.dump(facts, f, default=lambda o: o.item() if hasattr(o, 'item') else str(o))")


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_smoke_run_writes_pictures_and_its_facts(lesson, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, "-c", RUN_MAIN, str(lesson), "--smoke",
                          f"--out_dir={tmp_path}"],
                         capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, f"{lesson.name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), f"{lesson.name} printed nothing"
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert isinstance(facts, dict), f"{lesson.name}: main() returned {facts!r}, not a dict"
    FACTS[lesson.stem](facts)
    pictures = sorted(tmp_path.rglob("*.png"))
    assert pictures, f"{lesson.name} wrote no PNG into {tmp_path}"
    for png in pictures:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, f"{png} is not a picture"


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_opens_as_a_notebook(lesson):
    """`# %%` lines cut the lesson into cells (JupyterLab with jupytext, VS Code): one
    opens the file, one opens each section and main(), and the last cell runs main(); its
    pictures go through tinytx.course.save_figure, which shows them in a notebook."""
    source = lesson.read_text()
    lines = source.splitlines()
    assert lines[0] == "# %%", f"{lesson.name} does not open with a cell"
    for i, line in enumerate(lines):
        if line.startswith(("# -- ", "def main(")):
            assert lines[i - 1] == "# %%", f"{lesson.name}:{i + 1}: no cell opens {line!r}"
    last = max(i for i, line in enumerate(lines) if line == "# %%")
    assert lines[last + 1:] == ['if __name__ == "__main__":', "    main()"], lesson.name
    assert "savefig" not in source, f"{lesson.name}: save pictures with save_figure"


SHARED = {"section", "max_diff", "load_book", "smoke_config", "show", "setup", "show_tokens",
          "save_figure"}


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_uses_the_shared_helpers_and_imports_at_the_top(lesson):
    """The helpers every lesson needs live once, in tinytx.course (not copied into the
    lessons), and every import sits at the top: before the imports only the docstring,
    `from __future__`, and setting environment variables that must precede NumPy."""
    source = lesson.read_text()
    tree = ast.parse(source, filename=str(lesson))
    copies = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in SHARED]
    assert not copies, f"{lesson.name} defines {copies}: use tinytx.course"
    assert "noqa: E402" not in source
    seen_code = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert seen_code is None, (f"{lesson.name}:{node.lineno}: import after code "
                                       f"(line {seen_code})")
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                  or "os.environ" in ast.unparse(node)):
            seen_code = seen_code or node.lineno


FACTS = {p.stem: getattr(lesson_facts, f"facts_{p.name[:2]}") for p in LESSONS}


def test_lesson_14_without_mpi4py_says_why_and_skips_only_section_3(tmp_path):
    """Where mpi4py is missing (None in sys.modules: its import fails), sections 1 and 2
    still run and section 3 says what to install."""
    lesson = next(p for p in LESSONS if p.name.startswith("14_"))
    code = "import sys; sys.modules['mpi4py'] = None\n" + RUN_MAIN
    run = subprocess.run([sys.executable, "-c", code, str(lesson), "--smoke",
                          f"--out_dir={tmp_path}"], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "MPLBACKEND": "Agg"}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "pip install -e '.[mpi]'" in run.stdout and "skipped" in run.stdout
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert facts["mpi"]["ran"] is False
    facts_14(facts)


def test_fact_checks_can_fail():
    with pytest.raises(AssertionError):
        facts_05({"y_shape": [2, 5, 8], "hand_vs_composed": 0, "hand_vs_fused": 0,
                  "loop_vs_heads": 0, "parameters_per_H": [288] * 4,
                  "toy_accuracy": [1.0, 1.0], "favourite_offsets": [1, 1]})   # one job, twice
    with pytest.raises(AssertionError):
        facts_10({"same_decodes": {"no mask, KV cache": 0.9,
                                   "no mask, whole prefix every step": 0.5}})
    good = {"allreduce": {"n": 4, "naive_2": {"error": 0, "busiest": 32, "total": 64},
                          "ring_2": {"error": 0, "busiest": 32, "total": 64}},
            "shards": {"equal_shards": 0, "unequal_weighted": 0, "unequal_plain": 0.04},
            "mpi": {"ran": False, "skipped": "mpi4py is not installed"}}
    facts_14(good)
    for wrong in ({"shards": {**good["shards"], "unequal_plain": 1e-17}},   # no need of weights?
                  {"mpi": {"ran": False, "skipped": ""}},                     # no reason given
                  {"mpi": {"ran": True, "max_diff": 1e-3, "buckets": 5,
                           "started_during_backward": 5}}):
        with pytest.raises(AssertionError):
            facts_14({**good, **wrong})
