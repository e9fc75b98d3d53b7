"""Tokenizer API: round trips, special tokens, files, errors, CLI. The split patterns are
tests/test_tokenizer_patterns.py."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from tinytx.tokenizer import BasicTokenizer, RegexTokenizer, load
from tinytx.tokenizer.__main__ import main

REPO = Path(__file__).resolve().parents[1]
QUIXOTE = REPO.parent / "shared/data/quixote.txt"
SAMPLE = ("In a village of La Mancha, the name of which I have no desire to call to mind, "
          "there lived not long since one of those gentlemen that keep a lance in the "
          "lance-rack, an old buckler, a lean hack, and a greyhound for coursing. 1605!\r\n"
          "¿Qué? Ñandú — naïve café 😀😀 日本語\t\ttabs  and   spaces\n\n") * 20


def sample_text():
    if QUIXOTE.is_file():
        return QUIXOTE.read_text(encoding="utf-8-sig")[:200_000]
    return SAMPLE


@pytest.fixture(scope="module")
def tok():
    t = RegexTokenizer()
    with warnings.catch_warnings():   # without the book the sample text runs out of pairs
        warnings.filterwarnings("ignore", "vocab_size=.*ran out of pairs", UserWarning)
        t.train(sample_text(), 256 + 500)
    t.register_special_tokens({"<|endoftext|>": 100257, "<|fim|>": 100258})
    return t


@pytest.fixture(scope="module")
def basic():
    t = BasicTokenizer()
    t.train(SAMPLE[:2000], 256 + 200)
    return t


# ---------------------------------------------------------------- round trips
UNICODE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
TRICKY = st.lists(st.sampled_from(["\r\n", "\r", "\n", "\x00", "\x1b", "\u200d", "e\u0301",
                                   "👩‍👩‍👧", "🇳🇴", " ", "  ", "'s", "'LL", "1234567", "ab",
                                   "\u2028", "\ufeff", "\U0010ffff", "ÿ"]), max_size=60)


@settings(max_examples=150, deadline=None)
@given(text=UNICODE | TRICKY.map("".join))
def test_decode_encode_round_trip(tok, basic, text):
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode_ordinary(text)) == text
    assert basic.decode(basic.encode(text)) == text


@pytest.mark.parametrize("run", ["a" * 100_000, " " * 20_000, "\r\n" * 5_000, "😀" * 3_000,
                                 "ab" * 20_000, "1" * 10_000, "\u0301" * 5_000])
def test_round_trip_of_long_runs(tok, basic, run):
    assert tok.decode(tok.encode(run)) == run
    assert basic.decode(basic.encode(run)) == run


@pytest.mark.parametrize("method", ["encode", "encode_ordinary", "train"])
def test_lone_surrogates_get_a_clear_error(tok, method):
    text = "fine \ud800 not fine"
    args = (text, 300) if method == "train" else (text,)
    target = RegexTokenizer() if method == "train" else tok
    with pytest.raises(ValueError, match=r"text: .*UTF-8.*surrogate '\\ud800' at index 5"):
        getattr(target, method)(*args)


# ------------------------------------------------------------- special tokens
def test_special_tokens_follow_tiktoken(tok):
    text = "hello<|endoftext|> world<|fim|>"
    with pytest.raises(ValueError, match=r"text: contains the special token.*<\|endoftext\|>"):
        tok.encode(text)  # default "none_raise"
    assert tok.encode(text, allowed_special="none") == tok.encode_ordinary(text)
    ids = tok.encode(text, allowed_special="all")
    assert ids == (tok.encode_ordinary("hello") + [100257] + tok.encode_ordinary(" world")
                   + [100258])
    assert tok.decode(ids) == text
    assert tok.inverse_special_tokens == {100257: "<|endoftext|>", 100258: "<|fim|>"}
    assert tok.encode("hello<|endoftext|>", allowed_special={"<|endoftext|>"})[-1] == 100257
    with pytest.raises(ValueError, match="fim"):  # in the text but not in the set
        tok.encode(text, allowed_special={"<|endoftext|>"})
    with pytest.raises(ValueError, match="allowed_special: .*not registered"):
        tok.encode(text, allowed_special={"<|nope|>"})
    with pytest.raises(ValueError, match="allowed_special: expected 'all', 'none'"):
        tok.encode(text, allowed_special="some")


def test_nothing_is_added_implicitly(tok):
    assert tok.encode("") == [] and tok.encode("", allowed_special="all") == []
    assert tok.decode(tok.encode("x", allowed_special="all")) == "x"


def test_longest_special_token_wins():
    tok = RegexTokenizer()
    tok.register_special_tokens({"<|a|>": 300, "<|a|><|a|>": 301})
    assert tok.encode("<|a|><|a|><|a|>", allowed_special="all") == [301, 300]


def test_register_special_tokens_checks_ids():
    tok = RegexTokenizer()
    tok.train("abab abab", 259)
    with pytest.raises(ValueError, match=r"special_tokens\['<\|x\|>'\]: expected an int id >= "):
        tok.register_special_tokens({"<|x|>": 257})  # an ordinary token's id
    tok.register_special_tokens({"<|x|>": 500})
    with pytest.raises(ValueError, match="already '<|x|>'"):
        tok.register_special_tokens({"<|y|>": 500})
    with pytest.raises(ValueError, match="non-empty str"):
        tok.register_special_tokens({"": 501})
    with pytest.raises(TypeError, match="special_tokens: expected a dict"):
        tok.register_special_tokens(["<|x|>"])
    with pytest.raises(ValueError, match="vocab_size: 600 would give"):
        tok.train("abab", 600)  # would collide with 500


# --------------------------------------------------------------- save / load
@pytest.mark.parametrize("cls", [BasicTokenizer, RegexTokenizer])
def test_save_load_round_trip(cls, tmp_path):
    tok = cls()
    tok.train(SAMPLE, 256 + 120)
    tok.register_special_tokens({"<|endoftext|>": 1000, "two words \"quoted\"\n": 1001})
    tok.save(tmp_path / "toy")
    assert sorted(os.listdir(tmp_path)) == ["toy.model", "toy.vocab"]  # no temp files left
    for loaded in (cls().load(tmp_path / "toy.model"), load(tmp_path / "toy.model")):
        assert type(loaded) is cls
        assert list(loaded.merges.items()) == list(tok.merges.items())
        assert loaded.special_tokens == tok.special_tokens and loaded.vocab == tok.vocab
        assert loaded.pattern == tok.pattern
        text = SAMPLE[:300] + "<|endoftext|>"
        assert loaded.encode(text, allowed_special="all") == tok.encode(text, "all")
    vocab = (tmp_path / "toy.vocab").read_text(encoding="utf-8")
    assert "[\\u000a] 10\n" in vocab and "<|endoftext|>] 1000 (special)" in vocab
    assert " -> [" in vocab


def test_loads_a_minbpe_file(tmp_path):
    path = tmp_path / "m.model"
    path.write_text("minbpe v1\n\n1\n<|endoftext|> 300\n97 97\n256 97\n", encoding="utf-8")
    tok = load(path)
    assert isinstance(tok, BasicTokenizer)
    assert tok.merges == {(97, 97): 256, (256, 97): 257}
    assert tok.encode("aaa<|endoftext|>", allowed_special="all") == [257, 300]


@pytest.mark.parametrize("content, match", [
    ("", "line 1: expected the header"),
    ("hello\n\n0\n", "line 1: expected the header 'tinytx-bpe v1'"),
    ("tinytx-bpe v2\n\n0\n", "format 'tinytx-bpe v2'; this tinytx reads 'tinytx-bpe v1'"),
    ("tinytx-bpe v1\n", "line 2: expected the pattern line"),
    ("tinytx-bpe v1\n\nmany\n", "line 3: expected the number of special tokens, got 'many'"),
    ("tinytx-bpe v1\n\n2\n300 \"<|a|>\"\n", "line 5: expected a special token line"),
    ("tinytx-bpe v1\n\n1\n300 <|a|>\n", "line 4: expected a special token line"),
    ("tinytx-bpe v1\n\n0\n97 x\n", "line 4: expected a merge line '<a> <b>' with ids below 256"),
    ("tinytx-bpe v1\n\n0\n97 97\n97 300\n", "line 5: .*ids below 257, got '97 300'"),
    ("tinytx-bpe v1\n\n0\n97 97 97\n", "line 4"),
    ("tinytx-bpe v1\n\n0\n97 97\n97 97\n", "line 5"),
    ("tinytx-bpe v1\n(unclosed\n0\n", "pattern: expected a valid regex"),
])
def test_corrupt_model_files_get_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.model"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        load(path)


def test_loading_errors(tmp_path, tok):
    with pytest.raises(FileNotFoundError, match="model_file: .*does not exist"):
        load(tmp_path / "missing.model")
    tok.save(tmp_path / "regex")
    with pytest.raises(ValueError, match="holds a RegexTokenizer model"):
        BasicTokenizer().load(tmp_path / "regex.model")
    with pytest.raises(FileNotFoundError, match="file_prefix: the folder"):
        tok.save(tmp_path / "no" / "such" / "dir")


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize("vocab_size", [255, 0, -1, 300.0, "300", True])
def test_bad_vocab_size(vocab_size):
    with pytest.raises(ValueError, match=f"vocab_size: expected an int >= 256.*got {vocab_size!r}"):
        RegexTokenizer().train("hello", vocab_size)


@pytest.mark.parametrize("method", ["train", "encode", "encode_ordinary"])
@pytest.mark.parametrize("text", [b"bytes", None, ["a"]])
def test_non_string_text(method, text):
    args = (text, 300) if method == "train" else (text,)
    with pytest.raises(TypeError, match=f"text: expected str, got {type(text).__name__}"):
        getattr(RegexTokenizer(), method)(*args)


def test_decode_errors(tok):
    with pytest.raises(ValueError, match=r"ids: expected token ids in the vocabulary .*got 99999"):
        tok.decode([104, 99999])
    with pytest.raises(ValueError, match=r"got \[1\]"):
        tok.decode([104, [1]])
    with pytest.raises(TypeError, match="ids: expected a sequence of int"):
        tok.decode("104 105")
    assert tok.decode(iter([104, 105])) == "hi"
    assert tok.decode([0xE2, 0x82]) == "\ufffd"  # half a character: replaced, as in minbpe


# ------------------------------------------------------------- command line
def test_cli_train_encode_decode(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data.txt"
    data.write_text("\ufeff" + SAMPLE, encoding="utf-8")
    prefix = str(tmp_path / "cli")
    assert main(["train", "--data", str(data), "--vocab-size", "300", "--out", prefix, "--quiet",
                 "--special", "<|endoftext|>"]) == 0
    assert "trained 44 merges" in capsys.readouterr().err
    assert main(["encode", "--model", prefix + ".model", "--text", "the lance<|endoftext|>",
                 "--allowed-special", "all"]) == 0
    ids = capsys.readouterr().out.split()
    assert ids[-1] == "300"
    assert main(["decode", "--model", prefix + ".model", "--ids", " ".join(ids)]) == 0
    assert capsys.readouterr().out == "the lance<|endoftext|>"
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("a lean hack\n"))
    main(["encode", "--model", prefix + ".model"])
    ids = capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO(ids))
    main(["decode", "--model", prefix + ".model"])
    assert capsys.readouterr().out == "a lean hack\n"


@pytest.mark.parametrize("argv, match", [
    (["train", "--data", "nope.txt", "--vocab-size", "300", "--out", "x"], "--data: no such file"),
    (["encode", "--model", "nope.model", "--text", "x"], "--model: no such file"),
    (["decode", "--model", "nope.model", "--ids", "1"], "--model: no such file"),
])
def test_cli_missing_files(tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert match in capsys.readouterr().err


def test_cli_runs_as_a_module(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text(SAMPLE, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-m", "tinytx.tokenizer", "train", "--data", str(data),
                          "--vocab-size", "260", "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "training BPE" in run.stderr  # the tqdm progress bar
    assert (tmp_path / "m.model").is_file()
