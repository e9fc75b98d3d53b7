"""The package keeps the layering of docs/architecture.md: no import upward, no import
cycle, no import inside a function except of an optional dependency; `import tinytx` runs
without tqdm and regex; no op class is named like an nn module.

The checker (tests/layering.py) reads the `layers` and `optional` blocks of
docs/architecture.md and every file of tinytx/ with `ast` (nothing is imported), so the
rule lives in one place; its own tests, on a synthetic package, are here too.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from layering import check, layer_of, modules, read_rules

import tinytx
import tinytx.functional
import tinytx.kernels
from tinytx import nn
from tinytx.function import Function

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


# -- the package keeps the rules ---------------------------------------------------------------
def test_package_keeps_the_layers_of_the_architecture_doc():
    problems = check(ROOT / "tinytx", DOC.read_text())
    assert not problems, "\n".join(problems)


def test_every_layer_of_the_doc_names_something_that_exists():
    layers, _ = read_rules(DOC.read_text())
    names = modules(ROOT / "tinytx")
    for layer, patterns in layers:
        for p in patterns:
            assert any(layer_of(n, [(layer, [p])]) is not None for n in names), \
                f"docs/architecture.md: layer {layer!r} lists {p!r}, which matches no module"


# -- the checker itself, on a synthetic package -------------------------------------------------
DOC_TOY = """
```layers
low      low  util*
high     high
package  __init__
```

```optional
cupy
```
"""


def _toy(tmp_path, **files):
    pkg = tmp_path / "toy"
    pkg.mkdir()
    base = {"__init__": "from . import high\n", "low": "X = 1\n",
            "high": "from .low import X\n", "util_io": "import json\n"}
    for name, text in {**base, **files}.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(text))
    return pkg


def test_checker_accepts_a_clean_package(tmp_path):
    assert check(_toy(tmp_path), DOC_TOY) == []


def test_checker_reports_an_upward_import(tmp_path):
    problems = check(_toy(tmp_path, low="from . import high\nX = 1\n"), DOC_TOY)
    assert any("low (layer low) imports high from a layer above (high)" in p
               for p in problems), problems


def test_checker_reports_a_function_body_import_unless_optional(tmp_path):
    pkg = _toy(tmp_path, high="""
        from .low import X

        def f():
            import json
            from .low import X as Y
            import cupy
            return json, Y, cupy
        """)
    problems = check(pkg, DOC_TOY)
    assert any("imports json inside a function" in p for p in problems), problems
    assert any("imports toy.low inside a function" in p for p in problems), problems
    assert not any("imports cupy" in p for p in problems), problems
    assert len(problems) == 2, problems


def test_checker_reports_a_cycle_and_an_unlisted_module(tmp_path):
    pkg = _toy(tmp_path, low="from .util_io import Y\nX = 1\n",
               util_io="from .low import X\nY = 2\n", stray="Z = 3\n")
    problems = check(pkg, DOC_TOY)
    assert any(p.startswith("import cycle:") and "low" in p and "util_io" in p
               for p in problems), problems
    assert any("'stray' is in no layer" in p for p in problems), problems


# -- the core runs without the task layers' dependencies ---------------------------------------
BLOCKED = """
import json
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tqdm", "regex"):
            raise ImportError(f"blocked for the test: {name}")

sys.meta_path.insert(0, Block())
import tinytx as tx
x = tx.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
w = tx.tensor([[0.5], [2.0]], requires_grad=True)
((x @ w).tanh() * 3).sum().backward()
print(json.dumps([x.grad.tolist(), w.grad.tolist()]))
print(sorted(m for m in ("tqdm", "regex", "numba", "cupy", "mpi4py") if m in sys.modules))
"""


def test_import_tinytx_needs_neither_tqdm_nor_regex():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    done = subprocess.run([sys.executable, "-c", BLOCKED], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    grads, loaded = done.stdout.strip().splitlines()
    x_grad, w_grad = json.loads(grads)
    # d/dx sum(3 tanh(x w)) = 3 (1 - tanh(x w)^2) wᵀ, row by row
    xs, ws = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[0.5], [2.0]])
    g = 3 * (1 - np.tanh(xs @ ws) ** 2)                          # (2, 1)
    np.testing.assert_allclose(x_grad, g @ ws.T, rtol=1e-4, atol=1e-6)   # float32
    np.testing.assert_allclose(w_grad, xs.T @ g, rtol=1e-4, atol=1e-6)
    assert loaded == "[]"


def test_the_task_layers_load_on_first_use():
    assert isinstance(tinytx.data.load_quixote, type(test_the_task_layers_load_on_first_use))
    assert "data" in dir(tinytx)
    try:
        tinytx.no_such_thing
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("tinytx.no_such_thing should raise AttributeError")


# -- names ---------------------------------------------------------------------------------------
def _subclasses(cls):
    todo, out = [cls], set()
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in out:
                out.add(sub)
                todo.append(sub)
    return out


def test_no_op_class_is_named_like_an_nn_module():
    for pkg in (tinytx.functional, tinytx.kernels):
        for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
            if not info.name.startswith("tinytx.kernels.cuda"):   # those need numba
                importlib.import_module(info.name)
    ops = {c.__name__ for c in _subclasses(Function) if c.__module__.startswith("tinytx.")}
    layers = {c.__name__ for c in _subclasses(nn.Module) if c.__module__.startswith("tinytx.")}
    assert {"LinearFunction", "LayerNormFunction", "GELUFunction"} <= ops
    assert {"Linear", "LayerNorm", "GELU"} <= layers
    assert not ops & layers, f"op classes named like nn modules: {sorted(ops & layers)}"


def test_no_device_name_branches_outside_the_backend():
    """What a device does differently is a method of its Device subclass (backend/), so
    no code elsewhere asks a device for its name to decide what to do."""
    compare = re.compile(r"""(==|!=)\s*["'](cpu|cuda|strict)["']|["'](cpu|cuda|strict)["']\s*(==|!=)"""
                         r"""|\.name\s*(==|!=)|device\.name\s+(not\s+)?in\b""")
    found = []
    for path in sorted((ROOT / "tinytx").rglob("*.py")):
        if "backend" in path.relative_to(ROOT / "tinytx").parts:
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if compare.search(line.split("#")[0]):
                found.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not found, "\n".join(found)
