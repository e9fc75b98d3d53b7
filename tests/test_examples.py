"""End to end: a tiny run of the main job writes its logs and checkpoints, and
examples/sample.py loads the checkpoint and samples from it."""
import importlib.util
import math
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while loading
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    body = ("In a village of La Mancha, the name of which I have no desire to call to mind, "
            "there lived not long since one of those gentlemen that keep a lance in the "
            "lance-rack, an old buckler, a lean hack, and a greyhound for coursing.\n\n"
            '"Here is the apple of which I spoke," said Don Quixote, and Sancho laughed.\n\n')
    text = ("*** START OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***\n\n" + body * 40 +
            "*** END OF THE PROJECT GUTENBERG EBOOK DON QUIXOTE ***\n")
    path = tmp_path_factory.mktemp("book") / "quixote.txt"
    path.write_text(text)
    return path


TINY = ["--vocab_size=300", "--n_layer=1", "--n_head=2", "--n_embd=16", "--block_size=16",
        "--batch_size=4", "--eval_iters=2", "--warmup_iters=2", "--sample_tokens=5",
        "--progress=false"]


def test_train_then_sample(small_book, tmp_path, capsys):
    out = tmp_path / "run"
    train = _load("train_quixote")
    result = train.main([f"--data={small_book}", f"--out_dir={out}", "--max_iters=6",
                         "--eval_interval=3"] + TINY)
    assert math.isfinite(result["bpb"]) and result["tokens_per_s"] > 0
    printed = capsys.readouterr().out
    assert "before training" in printed and "after training" in printed
    assert printed.strip().splitlines()[-1].startswith("summary: val loss")
    assert (out / "loss.csv").read_text().count("\n") == 1 + 3
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    samples = _load("sample").main([f"--checkpoint={out}/best", "--max_new_tokens=4",
                                     "--num_samples=2", "--top_p=0.9"])
    assert len(samples) == 2 and all(s.startswith('"Here is the apple') for s in samples)
    beams = _load("sample").main([f"--checkpoint={out}/last", "--max_new_tokens=3",
                                  "--beam_width=2"])
    assert len(beams) == 1
    # --resume continues from step 6 to 9
    result = train.main([f"--data={small_book}", f"--out_dir={out}", "--max_iters=9",
                         "--eval_interval=3", "--resume"] + TINY)
    assert "resumed from" in capsys.readouterr().out
    assert (out / "loss.csv").read_text().count("\n") == 1 + 4


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(SystemExit, match="unknown option --n_layers.*--n_layer"):
        _load("train_quixote").parse_args(["--n_layers=3"])


def test_resume_without_checkpoint_is_a_clear_error(small_book, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _load("train_quixote").main([f"--data={small_book}", f"--out_dir={tmp_path}",
                                     "--resume"] + TINY)
