"""A lesson opens as a notebook: lesson 02, read by jupytext (its `# %%` cells) and run in
a Jupyter kernel, shows its two pictures inline, saves them as PNGs and raises nothing.
Skips where jupytext, nbclient or ipykernel is not installed (the project needs none of
them; tests/test_lessons.py checks every lesson's cells without them)."""
import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]


def test_a_lesson_runs_as_a_notebook_and_shows_its_pictures(tmp_path, monkeypatch):
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)                  # the kernel imports this tinytx
    notebook = jupytext.read(ROOT / "lessons" / "02_rnn.py")
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2     # shown inline
    saved = sorted(p.name for p in (tmp_path / "out" / "lessons" / "02").glob("*.png"))
    assert saved == ["gradient_norms.png", "sine_rnn.png"]                  # and saved
