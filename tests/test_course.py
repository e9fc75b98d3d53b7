"""tinytx.course, the lessons' shared helpers: options with --smoke, headings, max_diff,
token rendering, loading the book, and the headless matplotlib backend."""
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

import tinytx as tx
from tinytx.course import (load_book, max_diff, recall_table, save_figure, section, setup,
                           show_tokens)
from tinytx.data import OPENING


@dataclass
class Config:
    data: str = ""
    out_dir: str = "out"
    steps: int = 1000
    width: int = 64
    smoke: bool = False


SMOKE = dict(steps=30, width=8)


def test_setup_parses_options_and_makes_out_dir(tmp_path):
    out_dir = tmp_path / "a" / "b"
    cfg, out = setup(Config(), SMOKE, [f"--out_dir={out_dir}", "--steps=7"])
    assert (cfg.steps, cfg.width, cfg.smoke) == (7, 64, False)      # no --smoke: no change
    assert out == out_dir and out.is_dir()


def test_smoke_values_replace_only_the_defaults(tmp_path):
    cfg, _ = setup(Config(), SMOKE, ["--smoke", f"--out_dir={tmp_path}"])
    assert (cfg.steps, cfg.width) == (30, 8)
    cfg, _ = setup(Config(), SMOKE, ["--smoke", "--steps=100", f"--out_dir={tmp_path}"])
    assert (cfg.steps, cfg.width) == (100, 8)          # what the user asked for wins


def test_a_smoke_run_writes_to_its_own_folder(tmp_path):
    full = Config(out_dir=str(tmp_path / "lesson"))            # the lesson's default out_dir
    _, out = setup(full, SMOKE, [])
    assert out == tmp_path / "lesson"
    _, out = setup(full, SMOKE, ["--smoke"])                    # never over the full run's
    assert out == tmp_path / "lesson" / "smoke" and out.is_dir()
    _, out = setup(full, SMOKE, ["--smoke", f"--out_dir={tmp_path / 'mine'}"])
    assert out == tmp_path / "mine"                             # an explicit folder wins


def test_setup_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match=r"smoke: \['stepz'\] are not options of Config"):
        setup(Config(), dict(stepz=3), [f"--out_dir={tmp_path}"])
    with pytest.raises(ValueError, match="unknown option --nope"):
        setup(Config(), SMOKE, ["--nope=1"])


def test_section_heading(capsys):
    section("2. Title")
    assert capsys.readouterr().out == "\n== 2. Title " + "=" * 62 + "\n"


def test_max_diff_takes_tensors_arrays_and_lists():
    a = tx.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert max_diff(a, [[1.0, 2.5], [3.0, 3.0]]) == 1.0
    assert isinstance(max_diff(a, a), float) and max_diff(a, a) == 0.0


def test_show_tokens_escapes_and_marks_padding():
    vocab = {0: b"Don", 1: b" Quixote", 2: b"\n", 3: b"[PAD]"}
    assert show_tokens(vocab, np.array([0, 1, 2])) == "[Don][ Quixote][\\u000a]"
    assert show_tokens(vocab, [0, 3, 3], pad=3) == "[Don]··"


def book_config(path, smoke):
    return Config(data=str(path), smoke=smoke)


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("TITLE PAGE\n\n" + "Front matter. " * 50 + "\n\nIn a village of La Mancha "
                    + "lived a knight. " * 100 + "\n", encoding="utf-8")
    return path


def test_load_book_whole_and_smoke_pieces(book):
    text, where = load_book(book_config(book, smoke=False))
    assert text.startswith("TITLE PAGE") and where == "Don Quixote (Gutenberg #996)"
    piece, where = load_book(book_config(book, smoke=True), smoke_chars=50)
    assert piece == text[text.find("In a village"):][:50]
    assert where == "50 characters of chapter 1"
    piece, where = load_book(book_config(book, smoke=True), smoke_chars=20, smoke_start=None)
    assert piece == text[:20] and where == "the first 20 characters of Don Quixote"
    piece, _ = load_book(book_config(book, smoke=True), smoke_chars=None)
    assert piece == text


def test_load_book_without_a_copy(tmp_path, monkeypatch):
    missing = tmp_path / "missing.txt"
    text, where = load_book(book_config(missing, smoke=True))
    assert text == OPENING and "no local copy" in where
    text, where = load_book(book_config(missing, smoke=True), copies=3, sep="\n\n")
    assert text == "\n\n".join([OPENING] * 3) and "3 times" in where
    monkeypatch.setattr(sys, "argv", ["lessons/99_x.py"])
    with pytest.raises(SystemExit, match="99_x.py: could not load Don Quixote"):
        load_book(book_config(missing, smoke=False))


def test_a_lesson_setup_selects_a_headless_backend_importing_does_not():
    """Importing course changes nothing; setup (a lesson's entry point) picks Agg."""
    code = ("import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot; "
            "import tinytx.course; print(matplotlib.get_backend()); "
            "from dataclasses import dataclass, field; "
            "C = dataclass(type('C', (), {'__annotations__': {'smoke': bool, 'out_dir': str},"
            " 'smoke': False, 'out_dir': __import__('tempfile').mkdtemp()})); "
            "tinytx.course.setup(C(), argv=[]); print(matplotlib.get_backend())")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.lower().split() == ["svg", "agg"]


def test_recall_table(capsys):
    results = {("RNN", 2): [(0, 0.1), (50, 0.95), (100, 0.97)],
               ("RNN", 5): [(0, 0.1), (100, 0.4)]}
    recall_table(results, [2, 5], ["RNN"], steps=100, vocab=10)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == ("held-out accuracy after 100 steps (chance 10.0%); in brackets the "
                        "first step at which it reached 90%")
    assert lines[3].split() == ["2", "97.0%", "(", "50)"]
    assert lines[4].split() == ["5", "40.0%", "(", "-)"]


# -- the lessons as notebooks -------------------------------------------------------------------
@pytest.fixture
def notebook(monkeypatch):
    """A Jupyter kernel as the lessons see it: ipykernel imported, the kernel's own
    arguments in sys.argv, IPython's display (recording what it is given)."""
    import types
    shown = []
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "kernel-1.json"])
    return shown


def test_in_a_notebook_setup_ignores_the_kernels_arguments(notebook, tmp_path):
    cfg, out = setup(Config(out_dir=str(tmp_path)), SMOKE)
    assert (cfg.steps, cfg.smoke) == (1000, False) and out == tmp_path


def test_save_figure_saves_the_png_and_shows_it_only_in_a_notebook(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, _ = plt.subplots()
    save_figure(fig, tmp_path / "a.png")                 # a script: saved, not shown
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG" and not plt.get_fignums()


def test_in_a_notebook_save_figure_also_shows_it(notebook, tmp_path):
    import matplotlib.pyplot as plt
    fig, _ = plt.subplots()
    save_figure(fig, tmp_path / "b.png", dpi=50)
    assert notebook == [fig] and (tmp_path / "b.png").is_file() and not plt.get_fignums()
