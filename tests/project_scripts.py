"""The project's scripts (examples/, lessons/, bench/) loaded as modules by the tests, and
a small Gutenberg-shaped book for the example jobs to train on."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))     # 00_autograd.py, ...


def load_script(path, name: str):
    """The script ROOT/path run as the module `name` (registered in sys.modules first:
    dataclasses look their module up while loading)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_example(name: str):
    """examples/<name>.py as the module example_<name>."""
    return load_script(EXAMPLES / f"{name}.py", f"example_{name}")


def gutenberg_book(folder: Path, body: str, copies: int) -> Path:
    """folder/quixote.txt: `body` repeated between Project Gutenberg's start and end
    lines, as the book's file has them."""
    path = folder / "quixote.txt"
    path.write_text("*** START OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***\n\n" +
                    body * copies + "*** END OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***\n")
    return path
