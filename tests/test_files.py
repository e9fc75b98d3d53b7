"""tinytx.files.atomic_write: the whole new file or the old one (lesson 11)."""
import os

import pytest

from tinytx.files import atomic_write


def test_atomic_write_replaces_the_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    assert atomic_write(path, lambda tmp: tmp.write_text("new")) == path
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["a.txt"]          # no temporary file left


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def write(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, write)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_atomic_write_names_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        atomic_write(tmp_path / "nope" / "a.txt", lambda tmp: tmp.write_text("x"))


def test_one_atomic_write_in_the_package():
    """Every os.replace of a finished file goes through tinytx.files (the checkpoint's
    move of the old arrays aside is the one other rename)."""
    import tinytx
    root = os.path.dirname(tinytx.__file__)
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py") and name != "files.py":
                text = open(os.path.join(folder, name), encoding="utf-8").read()
                found += [name] * (text.count("os.replace(") + text.count("mkstemp("))
    assert found == ["format.py"]          # tinytx/checkpoint/format.py
