"""Nothing lost under hostile files (issue 21): a split pattern that backtracks for ever,
a crash between the tokenizer cache's two writes, files that are not UTF-8, JSON that does
not parse, a truncated model.safetensors. Each is a ValueError (or OSError) whose one-line
message names the file, or for the pattern, the pattern; nothing hangs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import regex
from safetensors.numpy import save_file

from tinytx.checkpoint import load_gpt2, load_t5, load_t5_tokenizer, save_gpt2
from tinytx.config import run_main
from tinytx.data.pairs import read_tsv_pairs
from tinytx.tasks.finetune import model_type
from tinytx.tokenizer import (GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, GPT2Tokenizer,
                              RegexTokenizer, load, load_gpt2_tokenizer)
from tinytx.tokenizer.__main__ import main as tokenizer_cli
from tinytx.tokenizer.cached import cached_tokenizer
from tinytx.tokenizer.model_file import write_model

REPO = Path(__file__).resolve().parents[1]
CRAFTED = "(a|a)+$"                     # 2^n ways to fail on "aaa...ab"
VICTIM = "a" * 30 + "b"
NOT_UTF8 = b"ok \xff\xfe here\n"        # 0xff at offset 3


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


# -- 3. files that are not UTF-8, not JSON, or cut short --------------------------------------

def gpt2_folder(folder):
    """A tiny GPT-2 folder that loads: weights, config.json, vocab.json, merges.txt."""
    from tinytx.models import GPT, GPTConfig
    model = GPT(GPTConfig(block_size=4, vocab_size=260, n_layer=1, n_head=1, n_embd=4))
    save_gpt2(model, folder, tokenizer=GPT2Tokenizer.from_merges([("h", "e")]))
    return folder


def t5_folder(folder):
    folder.mkdir(parents=True)
    save_file({"shared.weight": np.zeros((4, 2), np.float32)}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"model_type": "t5"}))
    return folder


def truncate(path, keep=-8):
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def test_the_tiny_folders_load(tmp_path):
    folder = gpt2_folder(tmp_path / "gpt2")
    load_gpt2(folder), load_gpt2_tokenizer(folder)
    assert model_type(folder) == "gpt2"


READERS = {
    "tsv": ("pairs.tsv", lambda p: read_tsv_pairs(p)),
    "model": ("tok.model", lambda p: load(p)),
    "gpt2-config": ("gpt2/config.json", lambda p: load_gpt2(p.parent)),
    "vocab": ("gpt2/vocab.json", lambda p: load_gpt2_tokenizer(p.parent)),
    "merges": ("gpt2/merges.txt", lambda p: load_gpt2_tokenizer(p.parent)),
    "finetune-config": ("gpt2/config.json", lambda p: model_type(p.parent)),
    "t5-config": ("t5/config.json", lambda p: load_t5(p.parent)),
}


def read_broken(tmp_path, reader, content: bytes) -> tuple[Path, str]:
    """Good GPT-2 and T5 folders with the reader's file replaced by `content`: (that
    file, the message of the ValueError its reader raises)."""
    name, read = READERS[reader]
    gpt2_folder(tmp_path / "gpt2")
    t5_folder(tmp_path / "t5")
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        read(path)
    return path, str(info.value)


@pytest.mark.parametrize("reader", READERS)
def test_a_file_that_is_not_utf8_is_named(tmp_path, reader):
    path, message = read_broken(tmp_path, reader, NOT_UTF8)
    assert str(path) in message and "offset 3" in message


@pytest.mark.parametrize("reader", ["gpt2-config", "vocab", "finetune-config", "t5-config"])
@pytest.mark.parametrize("text, what", [('{"n_head": 2,\n "n_embd" 4}', "line 2 column 11"),
                                        ("[1, 2]", "a JSON list")])
def test_json_that_is_not_an_object_is_named_with_what_is_wrong(tmp_path, reader, text, what):
    path, message = read_broken(tmp_path, reader, text.encode())
    assert str(path) in message and what in message


@pytest.mark.parametrize("content, match", [
    ("#version: 0.2\nh e\nh e x\n", "line 3"),             # three tokens
    ("#version: 0.2\nq z\n", "line 2"),                     # "qz" is not in vocab.json
])
def test_a_bad_merges_line_is_named(tmp_path, content, match):
    folder = gpt2_folder(tmp_path / "gpt2")
    (folder / "merges.txt").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match) as info:
        load_gpt2_tokenizer(folder)
    assert str(folder / "merges.txt") in str(info.value)


def test_bad_values_in_config_json_are_named(tmp_path):
    folder = gpt2_folder(tmp_path / "gpt2")
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_head": "two"}))
    with pytest.raises(ValueError, match="'n_head'") as info:
        load_gpt2(folder)
    assert str(folder / "config.json") in str(info.value)
    folder = t5_folder(tmp_path / "t5")
    for bad in ({"d_model": "512"}, {"feed_forward_proj": 3}, {"feed_forward_proj": "swish"}):
        (folder / "config.json").write_text(json.dumps({"model_type": "t5", **bad}))
        with pytest.raises(ValueError) as info:
            load_t5(folder)
        assert str(folder / "config.json") in str(info.value)


@pytest.mark.parametrize("load_folder", [load_gpt2, load_t5])
def test_a_truncated_model_safetensors_is_named(tmp_path, load_folder):
    folder = (gpt2_folder if load_folder is load_gpt2 else t5_folder)(tmp_path / "m")
    truncate(folder / "model.safetensors")
    with pytest.raises(ValueError, match="truncated") as info:
        load_folder(folder)
    assert str(folder / "model.safetensors") in str(info.value)


def test_a_truncated_model_safetensors_is_one_line_through_run_main(tmp_path, capsys):
    folder = gpt2_folder(tmp_path / "gpt2")
    truncate(folder / "model.safetensors", keep=5)
    assert run_main(lambda argv: load_gpt2(folder)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert str(folder / "model.safetensors") in err


def test_read_header_checks_every_tensor(tmp_path):
    from tinytx.safetensors_file import read_arrays, read_header
    path = tmp_path / "x.safetensors"
    save_file({"a": np.zeros((2, 3), np.float32), "b": np.ones(4, np.int64)}, str(path),
              metadata={"format": "pt"})
    header, metadata = read_header(path)
    assert sorted(header) == ["a", "b"] and metadata == {"format": "pt"}
    good = path.read_bytes()
    n = int.from_bytes(good[:8], "little")

    def with_header(h):
        raw = json.dumps(h).encode()
        return len(raw).to_bytes(8, "little") + raw + good[8 + n:]
    cases = {
        b"\x01\x02": "header length -1",
        (10 ** 6).to_bytes(8, "little") + b"{}": "header length 1000000",
        good[:8] + b"\xff" * n + good[8 + n:]: "not UTF-8 JSON",
        with_header({**header, "a": {**header["a"], "shape": [2, 4]}}): "key 'a': shape",
        with_header({**header, "b": {**header["b"], "data_offsets": [24, 9999]}}): "key 'b'",
        with_header({**header, "a": "?"}): "key 'a'",
        good[:-4]: "': truncated: the tensor needs",
    }
    for data, match in cases.items():
        path.write_bytes(data)
        with pytest.raises(ValueError, match=match) as info:
            read_arrays(path)
        assert str(path) in str(info.value)
    # what only the library checks (bytes no tensor owns, an unknown dtype): its own
    # SafetensorError, made a ValueError naming the file
    for data in (good + b"1234", with_header({**header, "a": {**header["a"], "dtype": "Q9"}})):
        path.write_bytes(data)
        with pytest.raises(ValueError, match="cannot read the safetensors file") as info:
            read_arrays(path)
        assert str(path) in str(info.value)


def test_a_model_file_with_a_bad_pattern_or_special_token_is_named(tmp_path):
    path = tmp_path / "tok.model"
    write_model(path, "(unclosed", {}, {})
    with pytest.raises(ValueError, match="expected a valid regex") as info:
        load(path)
    assert str(path) in str(info.value)
    write_model(path, GPT4_SPLIT_PATTERN, {"<|x|>": 3}, {})     # 3 is a byte's id
    with pytest.raises(ValueError, match="special_tokens") as info:
        load(path)
    assert str(path) in str(info.value)


def test_a_corrupt_spiece_model_is_named(tmp_path):
    for data in (b"\x0a\xff\xff", b"\x0a\x02\x08\x01", b"\x0a\x03\x0a\x01\xff"):
        path = tmp_path / "spiece.model"
        path.write_bytes(data)
        with pytest.raises(ValueError) as info:
            load_t5_tokenizer(path)
        assert str(path) in str(info.value)


def test_the_tokenizer_cli_names_a_data_file_that_is_not_utf8(tmp_path, capsys):
    data = tmp_path / "book.txt"
    data.write_bytes(NOT_UTF8)
    with pytest.raises(SystemExit) as info:
        tokenizer_cli(["train", "--data", str(data), "--vocab-size", "260",
                       "--out", str(tmp_path / "m"), "--quiet"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert str(data) in err and "offset 3" in err and err.count("\n") == 1
