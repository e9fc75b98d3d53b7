"""Nothing lost under a hostile tokenizer (issue 21): a split pattern that backtracks for
ever is a one-line error naming the pattern, from a model file, one's own pattern or a
checkpoint's tokenizer record, and nothing hangs; a crash between the tokenizer cache's
two writes retrains. Hostile data and model files: tests/test_hostile_files.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import regex

from tinytx.tokenizer import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, RegexTokenizer, load
from tinytx.tokenizer.cached import cached_tokenizer
from tinytx.tokenizer.model_file import write_model

REPO = Path(__file__).resolve().parents[1]
CRAFTED = "(a|a)+$"                     # 2^n ways to fail on "aaa...ab"
VICTIM = "a" * 30 + "b"


def python(code, *args, timeout=60):
    """Run `code` in a fresh Python (this checkout first on the path) with a time limit,
    so a pattern that hangs fails the test instead of hanging it."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, *(["-c", code] if code else []), *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


# -- 1. a crafted split pattern ---------------------------------------------------------------

def test_a_crafted_pattern_in_a_model_file_is_a_one_line_error_not_a_hang(tmp_path):
    model = tmp_path / "crafted.model"
    write_model(model, CRAFTED, {}, {})
    run = python(None, "-m", "tinytx.tokenizer", "encode", "--model", str(model),
                 "--text", VICTIM)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "error:" in run.stderr
    assert repr(CRAFTED) in run.stderr and "ran out of time" in run.stderr


@pytest.mark.parametrize("pattern", [CRAFTED, "(?:a|a)+$"])   # finditer and findall
def test_a_crafted_pattern_of_ones_own_stops_encode_and_train(pattern):
    code = f"""
from tinytx.tokenizer import RegexTokenizer
for step in ("encode", "train"):
    tok = RegexTokenizer({pattern!r})
    try:
        tok.encode({VICTIM!r}) if step == "encode" else tok.train({VICTIM!r}, 260)
    except ValueError as e:
        assert {pattern!r} in str(e), e
        print(step, "stopped")
"""
    run = python(code)
    assert run.stdout.split("\n") == ["encode stopped", "train stopped", ""], run.stderr


def test_known_patterns_run_without_the_timer():
    calls = []

    class Spy:             # stands in for the compiled regex: records findall's arguments
        groups = 0

        def findall(self, text, **kwargs):
            calls.append(kwargs)
            return [text]
    for pattern in (GPT4_SPLIT_PATTERN, GPT2_SPLIT_PATTERN, "".join(GPT4_SPLIT_PATTERN)):
        tok = RegexTokenizer(pattern)
        tok._compiled = Spy()
        tok._split("some text")
    other = RegexTokenizer(r"\w+|\s+")
    other._compiled = Spy()
    other._split("some text")
    assert calls[:3] == [{}, {}, {}]                   # no timeout: no cost
    assert set(calls[3]) == {"timeout"} and calls[3]["timeout"] > 0


def test_the_time_limit_grows_with_the_text(monkeypatch):
    monkeypatch.setattr("tinytx.tokenizer.regex.TIMEOUT_SECONDS", 0.0)
    text = "The knight rode on, and Sancho followed him. " * 4000     # 180,000 characters
    slow_gpt2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    tok = RegexTokenizer(slow_gpt2)          # GPT-2's original pattern: not a known one
    assert tok._split(text) == regex.findall(slow_gpt2, text)   # 1.8 s is plenty


def test_a_crafted_pattern_from_a_checkpoint_tokenizer_record_is_stopped(tmp_path):
    """A checkpoint keeps the .model text and loads it through tinytx.tokenizer.load."""
    model = tmp_path / "tok.model"
    write_model(model, CRAFTED, {}, {})
    code = f"""
from tinytx.tokenizer import load
tok = load({str(model)!r})
try:
    tok.encode({VICTIM!r})
except ValueError as e:
    print("stopped" if {CRAFTED!r} in str(e) else e)
"""
    assert python(code).stdout == "stopped\n"


# -- 2. the tokenizer cache -------------------------------------------------------------------

def test_a_crash_between_the_cache_writes_retrains(tmp_path):
    text_a, text_b = "abab abab abab cdcd", "xyxy xyxy zwzw zwzw"
    prefix = tmp_path / "tok"
    a = cached_tokenizer(text_a, 258, prefix)
    meta = json.loads((tmp_path / "tok.meta.json").read_text())
    assert set(meta) == {"vocab_size", "text_sha256", "model_sha256"}
    b = RegexTokenizer()
    b.train(text_b, 258)
    b.save(str(prefix))      # the crash: B's .model written, A's meta still beside it
    again = cached_tokenizer(text_a, 258, prefix)
    assert again.merges == a.merges != b.merges
    assert load(str(prefix) + ".model").merges == a.merges      # and the files are A's again


def test_an_old_meta_without_the_model_hash_retrains(tmp_path):
    prefix = tmp_path / "tok"
    a = cached_tokenizer("abab abab", 258, prefix)
    meta_path = tmp_path / "tok.meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["model_sha256"]
    meta_path.write_text(json.dumps(meta))
    assert cached_tokenizer("abab abab", 258, prefix).merges == a.merges
    assert "model_sha256" in json.loads(meta_path.read_text())
