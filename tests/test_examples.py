"""End to end: a tiny run of the main job writes its logs and checkpoints, and
examples/sample.py loads the checkpoint and samples from it."""
import math
import os
import subprocess
import sys

import pytest

from tinytx.config import run_main
from tinytx.train import read_rows
from project_scripts import EXAMPLES, gutenberg_book, load_example



@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    body = ("In a village of La Mancha, the name of which I have no desire to call to mind, "
            "there lived not long since one of those gentlemen that keep a lance in the "
            "lance-rack, an old buckler, a lean hack, and a greyhound for coursing.\n\n"
            '"Here is the apple of which I spoke," said Don Quixote, and Sancho laughed.\n\n')
    return gutenberg_book(tmp_path_factory.mktemp("book"), body, 40)


TINY = ["--vocab_size=300", "--n_layer=1", "--n_head=2", "--n_embd=16", "--block_size=16",
        "--batch_size=4", "--eval_iters=2", "--warmup_iters=2", "--sample_tokens=5",
        "--progress=false"]


def test_train_then_sample(small_book, tmp_path, capsys):
    out = tmp_path / "run"
    train = load_example("train_quixote")
    result = train.main([f"--data={small_book}", f"--out_dir={out}", "--max_iters=6",
                         "--eval_interval=3"] + TINY)
    assert math.isfinite(result["bpb"]) and result["tokens_per_s"] > 0
    printed = capsys.readouterr().out
    assert "--- before training ---\n" in printed and "--- after training ---\n" in printed
    assert "\\n" not in printed and "'\"Here is" not in printed   # text blocks, not repr
    assert printed.strip().splitlines()[-1].startswith("summary: val loss")
    rows = read_rows(out / "loss.csv")
    assert [r["step"] for r in rows if r["kind"] == "val"] == [0, 3, 6]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [3, 6]   # and at evals
    assert all(math.isfinite(r["val_bpb"]) for r in rows if r["kind"] == "val")
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    samples = load_example("sample").main([f"--checkpoint={out}/best", "--max_new_tokens=4",
                                     "--num_samples=2", "--top_p=0.9"])
    assert len(samples) == 2 and all(s.startswith('"Here is the apple') for s in samples)
    beams = load_example("sample").main([f"--checkpoint={out}/last", "--max_new_tokens=3",
                                  "--beam_width=2"])
    assert len(beams) == 1
    # --resume continues from step 6 to 9
    result = train.main([f"--data={small_book}", f"--out_dir={out}", "--max_iters=9",
                         "--eval_interval=3", "--resume"] + TINY)
    assert "resumed from" in capsys.readouterr().out
    steps = [(r["kind"], r["step"]) for r in read_rows(out / "loss.csv")]
    assert steps == [("val", 0), ("train", 3), ("val", 3), ("train", 6), ("val", 6),
                     ("train", 9), ("val", 9)]                     # appended, none twice


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(SystemExit, match="unknown option --n_layers.*--n_layer"):
        load_example("train_quixote").parse_args(["--n_layers=3"])


@pytest.mark.parametrize("example, args, message", [
    ("train_quixote", ["--resume", "--data={book}", "--vocab_size=300"], "no checkpoint at"),
    ("train_quixote", ["--data={missing}"], "missing' does not exist"),
    ("train_quixote", ["--data={latin1}"], "expected UTF-8"),
    ("train_seq2seq", ["--resume", "--data={book}", "--max_words=60", "--vocab_size=300"],
     "no checkpoint at"),
    ("sample", ["--checkpoint={missing}"], "missing.json not found"),
    ("sample", ["--checkpoint={corrupt}"], "corrupt.json: not valid JSON"),
])
def test_expected_user_errors_are_one_line_without_traceback(example, args, message,
                                                             small_book, tmp_path, capsys):
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 " * 100)
    (tmp_path / "corrupt.json").write_text("{not json")
    paths = dict(missing=tmp_path / "missing", latin1=tmp_path / "latin1.txt",
                 book=small_book, corrupt=tmp_path / "corrupt")
    argv = [a.format(**paths) for a in args] + [f"--out_dir={tmp_path / 'out'}"] * (
        example != "sample")
    assert run_main(load_example(example).main, argv) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]               # after any progress bar
    assert last.startswith("error: ") and message in last and "Traceback" not in err


def test_bad_flag_is_one_line_without_traceback():
    with pytest.raises(SystemExit, match="^error: unknown option --n_layers"):
        run_main(load_example("sample").main, ["--n_layers=3"])


def test_offline_main_job_exits_with_a_message_not_a_traceback(tmp_path):
    """No book on disk and no network (a proxy that refuses): one message, exit code 1."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path),
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent), os.environ.get("PYTHONPATH",
                                                                                 "")])}
    env.pop("no_proxy", None), env.pop("NO_PROXY", None)
    run = subprocess.run([sys.executable, str(EXAMPLES / "train_quixote.py"),
                          f"--out_dir={tmp_path / 'out'}", "--progress=false"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and run.stderr.startswith("error: download of ")
    assert "--data PATH" in run.stderr and "TINYTX_DATA_DIR" in run.stderr


def test_resume_without_checkpoint_is_a_clear_error(small_book, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_example("train_quixote").main([f"--data={small_book}", f"--out_dir={tmp_path}",
                                     "--resume"] + TINY)
