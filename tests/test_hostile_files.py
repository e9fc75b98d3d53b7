"""Nothing lost under hostile files (issue 21): files that are not UTF-8, JSON that does
not parse, a truncated model.safetensors. Each is a ValueError (or OSError) whose one-line
message names the file; nothing hangs. A hostile split pattern and the tokenizer cache's
crash: tests/test_hostile_tokenizer.py."""
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from tinytx.checkpoint import load_gpt2, load_t5, load_t5_tokenizer, save_gpt2
from tinytx.config import run_main
from tinytx.data.pairs import read_tsv_pairs
from tinytx.tasks.finetune import model_type
from tinytx.tokenizer import GPT4_SPLIT_PATTERN, GPT2Tokenizer, load, load_gpt2_tokenizer
from tinytx.tokenizer.__main__ import main as tokenizer_cli
from tinytx.tokenizer.model_file import write_model

NOT_UTF8 = b"ok \xff\xfe here\n"        # 0xff at offset 3


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
