"""Every lesson runs in --smoke mode (seconds) and writes its pictures as non-empty PNGs.

Lessons are run as a user runs them, `python lessons/NN_slug.py --smoke --out_dir=DIR`,
in a fresh process each.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9][0-9]_*.py"))


def test_lessons_are_00_to_12_in_order():
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(0, 13))


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


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_smoke_run_writes_pictures(lesson, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(lesson), "--smoke", f"--out_dir={tmp_path}"],
                         capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, f"{lesson.name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), f"{lesson.name} printed nothing"
    pictures = sorted(tmp_path.rglob("*.png"))
    assert pictures, f"{lesson.name} wrote no PNG into {tmp_path}"
    for png in pictures:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, f"{png} is not a picture"


SHARED = {"section", "max_diff", "load_book", "smoke_config", "show", "setup", "show_tokens"}


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
