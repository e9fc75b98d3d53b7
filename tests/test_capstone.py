"""Lesson 15, the capstone, run as a user runs it (`python lessons/15_capstone.py --smoke`,
a fresh process each): it trains on our pieces; a wrong piece stops it before training,
naming the piece, with no checkpoint written; a stub falls back to ours and says so; a bad
--data file is named."""
import ast
import json
import os
import shutil
import subprocess
import sys

import pytest
from test_lessons import RUN_MAIN

from project_scripts import ROOT

LESSON = ROOT / "lessons" / "15_capstone.py"
SOLUTIONS = ROOT / "lessons" / "solutions"


def run_capstone(tmp_path, *args):
    """-> (the finished process, main()'s facts or None, the output folder)."""
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-c", RUN_MAIN, str(LESSON), "--smoke",
                          f"--out_dir={out}", *args], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "MPLBACKEND": "Agg"}, cwd=tmp_path)
    facts = tmp_path / "facts.json"
    return run, json.loads(facts.read_text()) if facts.exists() else None, out


def answers(tmp_path, **changes):
    """A copy of our answers in tmp_path/answers, each file of `changes` edited by its
    function (source -> source)."""
    folder = tmp_path / "answers"
    shutil.copytree(SOLUTIONS, folder)
    for file, change in changes.items():
        path = folder / f"{file}.py"
        source = path.read_text()
        path.write_text(change(source))
        assert path.read_text() != source, f"the change to {file}.py changed nothing"
    return folder


def replace(old, new):
    return lambda source: source.replace(old, new)


def stub(function):
    """Make `function` the exercise's stub again: its body only raises."""
    def change(source):
        node = next(n for n in ast.parse(source).body if getattr(n, "name", "") == function)
        lines = source.splitlines(keepends=True)
        raise_line = '    raise NotImplementedError("your answer here")\n'
        return "".join(lines[:node.body[0].lineno - 1] + [raise_line] + lines[node.end_lineno:])
    return change


def test_our_pieces_train_and_the_bits_per_byte_fall(tmp_path):
    run, facts, out = run_capstone(tmp_path, "--use=ours")
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(facts["pieces"].values()) == {"ours"} and facts["checked"] == []
    assert facts["bits_per_byte"] < facts["untrained_bpb"] - 0.5
    assert (out / "gpt.safetensors").is_file() and (out / "capstone_loss.png").is_file()
    assert "(--use=ours)" in run.stdout


WRONG = {   # piece: (its file, the change that makes it wrong, what the lesson says)
    "block_forward": ("block", replace("    return x + mlp(h,", "    return mlp(h,"),
                      "layer_norm + mlp + block_forward: the GPT's loss differs"),
    "gpt_forward": ("gpt_quixote", replace("tr.ln_f(x) @", "x @"),
                    "gpt_forward: the GPT's loss differs"),
    "cross_entropy_ignoring": ("mlp_lm", replace("return loss, grad / n", "return loss, grad"),
                               "cross_entropy_ignoring: the gradient of"),
    # self-consistent but wrong: the loss in bits, and its gradient right for that loss
    "cross_entropy_ignoring in bits": (
        "mlp_lm", lambda source: source.replace("return loss, grad / n",
                                                "return loss / np.log(2), grad / n / np.log(2)"),
        "cross_entropy_ignoring: the GPT's loss differs"),
    "adamw_step": ("mlp_lm", replace("p = p - lr * weight_decay * p", "p = p"),
                   "adamw_step: after step 1 the weights differ from optim.AdamW's"),
    "train_step": ("data_parallel", replace("share = y.size / tokens",
                                            "share = 1 / len(micro_batches)"),
                   "train_step: it returned the loss"),
    "sample": ("gpt_quixote", replace("[0, -1] / temperature", "[0, -1]"),
               "top_k_filter + top_p_filter + sample: with {'top_k': 20} it drew"),
}


@pytest.mark.parametrize("piece", WRONG)
def test_a_wrong_piece_stops_the_lesson_before_training(tmp_path, piece):
    file, change, said = WRONG[piece]
    run, facts, out = run_capstone(tmp_path, f"--exercises={answers(tmp_path, **{file: change})}")
    assert run.returncode != 0 and facts is None
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(said) and f"python -m lessons.check {file}`" in last, last
    assert "bits per byte: train" not in run.stdout                  # no step was taken
    assert not (out / "gpt.json").exists() and not (out / "gpt.safetensors").exists()


def test_a_stub_falls_back_to_ours_and_your_pieces_call_it(tmp_path):
    """block.py with layer_norm still the stub: your block_forward runs our layer_norm;
    gpt_quixote.py still the stubs: all five are ours."""
    stubs = (ROOT / "lessons" / "exercises" / "gpt_quixote.py").read_text()
    folder = answers(tmp_path, block=stub("layer_norm"), gpt_quixote=lambda _: stubs)
    run, facts, _ = run_capstone(tmp_path, f"--exercises={folder}")
    assert run.returncode == 0, run.stderr[-3000:]
    ours = {"layer_norm", "xy_batch", "gpt_forward", "top_k_filter", "top_p_filter", "sample"}
    assert {n for n, who in facts["pieces"].items() if who == "ours"} == ours
    assert sorted(facts["checked"]) == ["adamw_step", "block_forward", "cross_entropy_ignoring",
                                        "mlp", "train_step"]
    table = " ".join(run.stdout.split())
    assert "layer_norm 08 ours (yours is still the stub) mlp 08 yours block_forward 08 yours " \
           "xy_batch 11 ours (yours is still the stub)" in table
    assert facts["bits_per_byte"] < facts["untrained_bpb"]


def test_a_stub_cross_entropy_falls_back_to_ours_and_the_loss_is_still_trained(tmp_path):
    """mlp_lm.py with cross_entropy_ignoring still the stub: ours is the loss, your
    adamw_step (in the same file) is still yours and checked, and the model learns."""
    run, facts, _ = run_capstone(
        tmp_path, f"--exercises={answers(tmp_path, mlp_lm=stub('cross_entropy_ignoring'))}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert {n for n, who in facts["pieces"].items() if who == "ours"} == {"cross_entropy_ignoring"}
    assert "cross_entropy_ignoring" not in facts["checked"] and "adamw_step" in facts["checked"]
    table = " ".join(run.stdout.split())
    assert "cross_entropy_ignoring 01 ours (yours is still the stub) adamw_step 01 yours" in table
    assert "gpt_forward's own loss is not used for training" in table
    assert facts["bits_per_byte"] < facts["untrained_bpb"] - 0.5


@pytest.mark.parametrize("text, said", [(None, "does not exist"), ("", "an empty file"),
                                        ("Sancho " * 20, "a block_size of 32 needs at least")])
def test_a_bad_text_file_is_named(tmp_path, text, said):
    path = tmp_path / "mine.txt"
    if text is not None:
        path.write_text(text)
    run, facts, out = run_capstone(tmp_path, f"--data={path}", "--use=ours")
    last = run.stderr.strip().splitlines()[-1]
    assert run.returncode != 0 and str(path) in last and said in last, last
    assert not (out / "gpt.json").exists()
