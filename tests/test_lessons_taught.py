"""No lesson uses a tinytx name before the lesson that teaches it (lessons.TEACHES: the
names each lesson teaches), and each lesson uses what the table says it teaches."""
import ast
import importlib
import types

import pytest

from lessons import TEACHES
from project_scripts import LESSONS

# Where each tinytx name is taught (lessons/__init__.py's table, lesson by lesson)
TAUGHT_IN = {name: lesson for lesson, names in TEACHES.items() for name in names}


def tinytx_names(source: str) -> dict[str, int]:
    """The tinytx names a lesson's code uses -> the first line using each: what it imports
    from tinytx modules, and what it reads off the tinytx modules it imported (tx.tensor,
    nn.Linear, F.softmax, optim.AdamW). Modules themselves and tinytx.course's helpers
    are left out; names the lesson defines itself are its own, not tinytx's."""
    tree = ast.parse(source)
    modules, found = {}, {}

    def note(name, line):
        found[name] = min(found.get(name, line), line)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update({a.asname or a.name: a.name for a in node.names
                            if a.name.split(".")[0] == "tinytx"})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinytx"):
            for a in node.names:
                obj = getattr(importlib.import_module(node.module), a.name)
                if isinstance(obj, types.ModuleType):
                    modules[a.asname or a.name] = obj.__name__
                elif node.module != "tinytx.course":
                    note(a.name, node.lineno)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            obj = getattr(importlib.import_module(modules[node.value.id]), node.attr, None)
            if obj is not None and not isinstance(obj, types.ModuleType):
                note(node.attr, node.lineno)
    return found


def early_uses(source: str, number: int, taught_in=TAUGHT_IN) -> list[str]:
    """The tinytx names lesson `number` uses before the lesson that teaches them, or that
    no lesson teaches, each as 'line N: name (lesson NN)' or 'line N: name (nowhere)'."""
    found = []
    for name, line in sorted(tinytx_names(source).items(), key=lambda item: item[1]):
        where = taught_in.get(name)
        if where is None or int(where[:2]) > number:
            taught = "nowhere" if where is None else f"lesson {where[:2]}"
            found.append(f"line {line}: {name} ({taught})")
    return found


def test_the_table_names_each_lesson_and_each_name_once():
    assert list(TEACHES) == [p.stem for p in LESSONS]
    names = [n for names in TEACHES.values() for n in names]
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_uses_no_tinytx_name_before_it_is_taught(lesson):
    early = early_uses(lesson.read_text(), int(lesson.name[:2]))
    assert not early, f"{lesson.name} uses before they are taught (lessons.TEACHES): {early}"


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_uses_what_it_teaches(lesson):
    """The table is not a list of wishes: a lesson teaches only names its code uses."""
    unused = set(TEACHES[lesson.stem]) - set(tinytx_names(lesson.read_text()))
    assert not unused, f"lessons.TEACHES says {lesson.stem} teaches {sorted(unused)}, unused there"


def test_early_use_is_caught():
    """The check can fail: a lesson 05 that builds a Block, a GPT or a LayerNorm is caught
    (a comment does not excuse it), an untaught name is caught, a lesson's own class of a
    taught name's name is its own, and the same code passes in lesson 11."""
    lesson = ("import tinytx as tx\n"
              "from tinytx import nn\n"
              "from tinytx.models import GPT\n"
              "blk = nn.Block(8, 2)\n"
              "gpt = GPT(cfg)\n"
              "ln = nn.LayerNorm(8)   # (lesson 08 explains it)\n"
              "x = tx.tensor([1.0])\n")
    assert early_uses(lesson, 5) == ["line 3: GPT (lesson 11)", "line 4: Block (lesson 08)",
                                     "line 6: LayerNorm (lesson 08)"]
    assert early_uses(lesson, 11) == []
    assert early_uses("import tinytx.functional as F\ny = F.gelu(x)\n", 13) == [
        "line 2: gelu (nowhere)"]
    assert early_uses("class LayerNorm:\n    pass\nm = LayerNorm()\n", 0) == []
