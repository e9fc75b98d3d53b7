"""The layering checker of tests/test_architecture.py: it reads the `layers` and `optional`
blocks of docs/architecture.md and every file of a package with `ast` (nothing is
imported), and lists every import that breaks them: an import upward, an import cycle, an
import inside a function of anything but an optional dependency, a module in no layer.

    problems = check(Path("tinytx"), Path("docs/architecture.md").read_text())
"""
from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path


def read_rules(doc: str):
    """([(layer, [module patterns])] lowest first, {optional top-level names}) from the doc."""
    def block(tag):
        found = re.search(rf"^```{tag}\n(.*?)^```", doc, re.S | re.M)
        if found is None:
            raise ValueError(f"docs/architecture.md: no ```{tag} block")
        return [line.split() for line in found.group(1).splitlines() if line.strip()]
    layers = [(words[0], words[1:]) for words in block("layers")]
    optional = {name for words in block("optional") for name in words}
    return layers, optional


def modules(pkg: Path) -> dict[str, Path]:
    """Dotted names under the package ("nn.layers", "nn" for nn/__init__.py, "__init__" for
    the package's own __init__.py) -> their files."""
    out = {}
    for path in sorted(pkg.rglob("*.py")):
        parts = path.relative_to(pkg).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known, pkg_name: str):
    """(line, target, in_function) for each import in one file. target is the imported
    module's dotted name inside the package, or ("external", top-level name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    in_function = {id(n) for f in ast.walk(tree)
                   if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f) if n is not f}
    here = [] if name == "__init__" else name.split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bases = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = package[:len(package) - (node.level - 1)]
                base = ".".join([pkg_name] + up + ([node.module] if node.module else []))
            else:
                base = node.module
            bases = [(base, a.name) for a in node.names]
        else:
            continue
        for base, member in bases:
            if base != pkg_name and not base.startswith(pkg_name + "."):
                yield node.lineno, ("external", base.split(".")[0]), id(node) in in_function
                continue
            inner = base[len(pkg_name) + 1:]
            sub = f"{inner}.{member}" if inner else member
            target = sub if member and sub in known else inner or "__init__"
            yield node.lineno, target, id(node) in in_function


def layer_of(name: str, layers) -> int | None:
    """The layer of a module: the one whose pattern matches it (the module or a package
    above it) most specifically (the longest pattern), or None."""
    matches = [(len(p), i) for i, (_, patterns) in enumerate(layers) for p in patterns
               if fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, p + ".*")]
    return max(matches)[1] if matches else None


def check(pkg: Path, doc: str) -> list[str]:
    """Every way the package at `pkg` breaks the rules of `doc`, as readable lines."""
    layers, optional = read_rules(doc)
    known = modules(pkg)
    problems, graph = [], {}
    for name, path in known.items():
        where = f"{path.relative_to(pkg.parent)}"
        mine = layer_of(name, layers)
        if mine is None:
            problems.append(f"{where}: module {name!r} is in no layer of the ```layers block")
            continue
        for line, target, in_function in imports(name, path, known, pkg.name):
            if isinstance(target, tuple):
                if in_function and target[1] not in optional:
                    problems.append(f"{where}:{line}: imports {target[1]} inside a function "
                                    f"(only optional dependencies may be: {sorted(optional)})")
                continue
            lazy = any(fnmatch.fnmatchcase(target, p) for p in optional)
            if in_function and not lazy:
                problems.append(f"{where}:{line}: imports {pkg.name}.{target} inside a "
                                f"function; import it at the top of the file")
            if lazy and not in_function and name.rsplit(".", 1)[0] != target.rsplit(".", 1)[0]:
                problems.append(f"{where}:{line}: imports {pkg.name}.{target} at the top of "
                                f"the file; it loads an optional library: import it inside "
                                f"the function that uses it")
            theirs = layer_of(target, layers)
            if theirs is not None and theirs > mine:
                problems.append(f"{where}:{line}: {name} (layer {layers[mine][0]}) imports "
                                f"{target} from a layer above ({layers[theirs][0]})")
            if not in_function and target != name:
                graph.setdefault(name, set()).add(target)
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return list(dict.fromkeys(problems))      # `from x import a, b`: one line, not two


def cycles(graph) -> list[list[str]]:
    """One cycle through each back edge of a depth-first search (iterative)."""
    found, state = [], {}
    for start in sorted(graph):
        if start in state:
            continue
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        state[start] = "open"
        while stack:
            node, todo = stack[-1]
            nxt = next(todo, None)
            if nxt is None:
                state[node] = "done"
                stack.pop()
            elif state.get(nxt) == "open":
                path = [n for n, _ in stack]
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                state[nxt] = "open"
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
    return found
