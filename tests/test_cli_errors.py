"""The jobs' error path (issue 21): whatever goes wrong that is not a bug in tinytx, a job
prints one line `error: ...` naming what is wrong, exits with code 1, shows no traceback,
and leaves nothing half-done (no checkpoint of a run that never started, no interleaved
logs).

Most cases run a job's `main` in-process through `run_main`, as its `__main__` does; the
two-run case starts real processes.
"""
import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tinytx.checkpoint.format as checkpoint_format
from tinytx.config import run_main
from tinytx.train import read_rows
from project_scripts import load_example
from test_examples import TINY

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def one_error_line(capsys, job, argv, *needles):
    """Run the job; it must return 1 and print one `error:` line containing `needles`."""
    capsys.readouterr()
    assert run_main(load_example(job).main, argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for needle in needles:
        assert needle in err[0], (needle, err[0])
    return err[0]


@pytest.fixture
def book(tmp_path):
    """A small Gutenberg-like book (the tests' stand-in for Don Quixote)."""
    body = ("In a village of La Mancha, the name of which I have no desire to call to mind, "
            "there lived not long since one of those gentlemen that keep a lance.\n\n") * 60
    path = tmp_path / "book.txt"
    path.write_text("*** START OF THE PROJECT GUTENBERG EBOOK X ***\n" + body +
                    "*** END OF THE PROJECT GUTENBERG EBOOK X ***\n")
    return path


def quixote(book, out, *more):
    return [f"--data={book}", f"--out_dir={out}", "--max_iters=4", "--eval_interval=2"] + \
        TINY + list(more)


@pytest.mark.parametrize("content, what", [("", "an empty file"),
                                           (" \n\t\n", "only whitespace")])
def test_a_data_file_without_text(tmp_path, capsys, content, what):
    (tmp_path / "empty.txt").write_text(content)
    one_error_line(capsys, "train_quixote", [f"--data={tmp_path / 'empty.txt'}",
                                             f"--out_dir={tmp_path / 'out'}"] + TINY,
                   "empty.txt: expected a text to train on, got " + what)
    assert not (tmp_path / "out").exists()


def job(name, argv):
    """Run an example as its own process: (exit code, stderr)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")] + argv, env=env,
                         capture_output=True, text=True, timeout=300)
    return run.returncode, run.stderr


def test_a_diverged_run(book, tmp_path):
    """As a real process: stderr is the one line (no NumPy overflow warnings before it)."""
    code, err = job("train_quixote", quixote(book, tmp_path / "out", "--lr=1e30",
                                              "--grad_clip=0"))
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: step ") and "the loss is" in err and "--lr" in err
    assert "training stopped without saving" in err


def test_a_full_disk_during_a_save(book, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert run_main(load_example("train_quixote").main, quixote(book, out)) == 0
    saved = (out / "last.json").read_text()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(checkpoint_format, "save_file", full)
    one_error_line(capsys, "train_quixote", quixote(book, out, "--max_iters=6"),
                   "No space left on device", "the checkpoint on disk is the previous one")
    assert (out / "last.json").read_text() == saved          # untouched, still loads
    checkpoint_format.read_checkpoint_meta(out / "last")


def test_cuda_without_cupy_fails_before_any_work(book, tmp_path, capsys, monkeypatch):
    import tinytx.backend.gpu as gpu
    monkeypatch.setattr(gpu, "cuda_available", lambda: False)
    one_error_line(capsys, "train_quixote", quixote(book, tmp_path / "out", "--device=cuda"),
                   "device 'cuda' was asked for")
    assert not (tmp_path / "out").exists()                   # no tokenizer was trained


def test_eval_iters_zero(book, tmp_path, capsys):
    one_error_line(capsys, "train_quixote", quixote(book, tmp_path / "out", "--eval_iters=0"),
                   "eval_iters: expected a positive int, got 0")


def test_resume_on_other_data_is_refused(book, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_main(load_example("train_quixote").main, quixote(book, out)) == 0
    other = tmp_path / "other.txt"
    other.write_text(book.read_text().replace("La Mancha", "Toboso"))
    before = (out / "last.json").read_text(), (out / "loss.csv").read_text()
    one_error_line(capsys, "train_quixote", quixote(other, out, "--max_iters=6", "--resume"),
                   f"{out / 'last'} was trained on sha256", "but this run reads sha256",
                   "--allow_new_data")
    assert ((out / "last.json").read_text(), (out / "loss.csv").read_text()) == before
    assert run_main(load_example("train_quixote").main, quixote(                 # allowed: goes on
        other, out, "--max_iters=6", "--resume", "--allow_new_data")) == 0
    assert [r["step"] for r in read_rows(out / "loss.csv") if r["kind"] == "val"] == [0, 2,
                                                                                      4, 6]


def test_a_folder_another_process_holds(book, tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from tinytx.files import lock_folder\n"
         f"with lock_folder({str(out)!r}):\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        one_error_line(capsys, "train_quixote", quixote(book, out),
                       f"{out} is in use by another run (pid {holder.pid} ",
                       "pass another --out_dir")
    finally:
        holder.kill()
        holder.wait()
    assert sorted(p.name for p in out.iterdir()) == [".lock"]   # nothing written


def test_two_runs_in_one_folder_at_once(book, tmp_path):
    """Two real processes: the second is refused at once, the first is not disturbed."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")])}
    first = subprocess.Popen([sys.executable, str(EXAMPLES / "train_quixote.py")] + quixote(
        book, out, "--max_iters=40", "--eval_interval=10"), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / ".lock").is_file() or f"pid {first.pid} " not in (
            out / ".lock").read_text():
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    code, err = job("train_quixote", quixote(book, out))
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"is in use by another run (pid {first.pid} " in err
    assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:]
    steps = [(r["kind"], r["step"]) for r in read_rows(out / "loss.csv")]
    assert steps == sorted(set(steps), key=lambda s: (s[1], s[0] == "val"))  # one run's
    assert max(s for _, s in steps) == 40
