"""Every lesson runs in --smoke mode (seconds), writes its pictures as non-empty PNGs and
returns the smoke-sized facts its text quotes; no lesson uses a module before the lesson
that introduces it.

Lessons are run as a user runs them, `python lessons/NN_slug.py --smoke --out_dir=DIR`,
in a fresh process each.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9][0-9]_*.py"))


def test_lessons_are_00_to_12_in_order():
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(0, 13))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_imports_only_the_installed_package(lesson):
    """A lesson runs from anywhere: it may not import the repository's tests/, examples/,
    bench/ or another lesson, only tinytx and third-party or standard modules."""
    tree = ast.parse(lesson.read_text(), filename=str(lesson))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            pytest.fail(f"{lesson.name}:{node.lineno}: relative import")
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            top = name.split(".")[0]
            assert top not in {"tests", "examples", "bench", "lessons", "conftest"}, (
                f"{lesson.name}:{node.lineno} imports {name}")


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_smoke_run_writes_pictures(lesson, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(lesson), "--smoke", f"--out_dir={tmp_path}"],
                         capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, f"{lesson.name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), f"{lesson.name} printed nothing"
    pictures = sorted(tmp_path.rglob("*.png"))
    assert pictures, f"{lesson.name} wrote no PNG into {tmp_path}"
    for png in pictures:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, f"{png} is not a picture"


SHARED = {"section", "max_diff", "load_book", "smoke_config", "show", "setup", "show_tokens"}


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_uses_the_shared_helpers_and_imports_at_the_top(lesson):
    """The helpers every lesson needs live once, in tinytx.course (not copied into the
    lessons), and every import sits at the top: before the imports only the docstring,
    `from __future__`, and setting environment variables that must precede NumPy."""
    source = lesson.read_text()
    tree = ast.parse(source, filename=str(lesson))
    copies = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in SHARED]
    assert not copies, f"{lesson.name} defines {copies}: use tinytx.course"
    assert "noqa: E402" not in source
    seen_code = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert seen_code is None, (f"{lesson.name}:{node.lineno}: import after code "
                                       f"(line {seen_code})")
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                  or "os.environ" in ast.unparse(node)):
            seen_code = seen_code or node.lineno


# Which lesson introduces each module a lesson may use (the name as the lesson's code
# spells it). A lesson that needs one earlier says where it is explained, on that line:
# a comment naming the lesson, e.g. `nn.LayerNorm(C)   # (lesson 07 explains it)`.
INTRODUCED_IN = {
    "RNN": "01_rnn",
    "LSTM": "02_lstm", "RecallNet": "02_lstm",
    "scaled_dot_product_attention": "03_attention", "MultiHeadAttention": "03_attention",
    "LearnedPositionalEmbedding": "03_attention",
    "split_heads": "04_multihead", "merge_heads": "04_multihead",
    "BasicTokenizer": "05_tokenization", "RegexTokenizer": "05_tokenization",
    "cached_tokenizer": "05_tokenization",
    "Embedding": "06_embeddings", "train_word2vec": "06_embeddings",
    "LayerNorm": "07_block", "MLP": "07_block", "GELU": "07_block", "Block": "07_block",
    "EncoderLayer": "07_block",
    "SinusoidalPositionalEncoding": "08_positional",
    "CrossAttention": "09_encoder_decoder", "DecoderLayer": "09_encoder_decoder",
    "Seq2Seq": "09_encoder_decoder", "Seq2SeqConfig": "09_encoder_decoder",
    "generate_seq2seq": "09_encoder_decoder",
    "GPT": "10_gpt_quixote", "GPTConfig": "10_gpt_quixote", "generate_text": "10_gpt_quixote",
    "Trainer": "11_encoder_decoder", "beam_search_seq2seq": "11_encoder_decoder",
    "beam_search": "11_encoder_decoder",
    "load_gpt2": "12_finetuning", "load_model": "12_finetuning",
}


def early_uses(source: str, number: int, introduced=INTRODUCED_IN) -> list[str]:
    """The uses in a lesson's code (not its text) of modules introduced after lesson
    `number`, each as 'line N: name (lesson NN)', unless that line names lesson NN.
    Names the lesson defines itself (lesson 00's own scalar `MLP`) are its own."""
    tree = ast.parse(source)
    own = {n.name for n in ast.walk(tree) if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        name = (node.id if isinstance(node, ast.Name)
                else node.attr if isinstance(node, ast.Attribute) else None)
        if name not in introduced or name in own:
            continue
        intro = introduced[name][:2]
        if int(intro) > number and f"lesson {intro}" not in lines[node.lineno - 1].lower():
            found.append(f"line {node.lineno}: {name} (lesson {intro})")
    return sorted(set(found))


def test_introducing_lessons_exist():
    stems = {p.stem for p in LESSONS}
    assert set(INTRODUCED_IN.values()) <= stems, set(INTRODUCED_IN.values()) - stems


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_uses_no_module_before_it_is_introduced(lesson):
    early = early_uses(lesson.read_text(), int(lesson.name[:2]))
    assert not early, f"{lesson.name} uses before they are introduced: {early}"


def test_early_use_is_caught():
    """The check can fail: a lesson 04 that builds a Block or a GPT is caught, the same
    line pointing to lesson 07 passes, and a lesson's own class of that name is its own."""
    lesson = ("from tinytx import nn\n"
              "from tinytx.models import GPT\n"
              "blk = nn.Block(8, 2)\n"
              "gpt = GPT(cfg)\n"
              "ln = nn.LayerNorm(8)   # (lesson 07 explains it)\n")
    assert early_uses(lesson, 4) == ["line 3: Block (lesson 07)", "line 4: GPT (lesson 10)"]
    assert early_uses(lesson, 10) == []
    assert early_uses("class MLP:\n    pass\nm = MLP()\n", 0) == []
    assert early_uses("m = nn.MLP(8)\n", 0) == ["line 1: MLP (lesson 07)"]
