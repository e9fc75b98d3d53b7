"""examples/finetune.py end to end on tiny random GPT-2 and T5 folders written by the
tests (save_gpt2 / save_t5 and a hand-made spiece.model): the held-out loss goes down,
the Hugging Face folder written at the end loads back, --resume is exact, and the pieces
(chunks, padded batches, prefixed pairs) do what they say."""

import numpy as np
import pytest

import tinytx as tx
from tinytx.checkpoint import load_gpt2, load_t5, save_gpt2, save_t5
from tinytx.models import GPT, GPTConfig
from tinytx.models.t5 import T5, T5Config
from tinytx.tasks.finetune import (encode_chunks, encode_prefixed_pairs, model_type,
                                   pad_lm_batch, text_chunks)
from tinytx.tokenizer import GPT2Tokenizer
from tinytx.tokenizer.unigram import write_model
from project_scripts import load_example, load_script

TEXT = ("In a village of La Mancha, the name of which I have no desire to call to mind, "
        "there lived not long since one of those gentlemen that keep a lance in the "
        "lance-rack, an old buckler, a lean hack, and a greyhound for coursing. ") * 12
SONGS = [("a song about the sea", "the sea is wide and the sea is deep"),
         ("a song about the sun", "the sun is warm and the sun is high"),
         ("a song about the moon", "the moon is pale and the moon is cold"),
         ("a song about a horse", "the horse is lean and the horse is old")] * 5


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    tok = GPT2Tokenizer.from_merges([("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"),
                                     ("a", "n"), ("i", "n")])
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=48, vocab_size=len(tok.encoder), n_layer=2, n_head=2,
                          n_embd=24))
    folder = tmp_path_factory.mktemp("gpt2") / "gpt2"
    save_gpt2(model, folder, tokenizer=tok)
    return folder


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    """A random tiny T5 v1.1 and a unigram model whose pieces cover the songs' words."""
    words = sorted({w for pair in SONGS for side in pair for w in side.split()}
                   | {"Create", "lyrics", "of"})
    letters = sorted({ch for w in words for ch in w} | {":"})
    pieces = ([("<pad>", 0.0, 3), ("</s>", 0.0, 3), ("<unk>", 0.0, 2), ("▁", -3.0, 1)]
              + [("▁" + w, -2.0, 1) for w in words] + [(ch, -4.0, 1) for ch in letters])
    folder = tmp_path_factory.mktemp("t5") / "t5"
    folder.mkdir()
    spiece = write_model(folder / "spiece.model", pieces)
    tx.manual_seed(0)
    save_t5(T5(T5Config(vocab_size=len(pieces) + 4, d_model=24, d_kv=8, d_ff=32,
                        num_layers=1, num_heads=3, relative_attention_num_buckets=8,
                        relative_attention_max_distance=16, feed_forward_proj="gated-gelu")),
            folder, spiece=spiece)
    return folder


TINY = ["--eval_iters=2", "--sample_tokens=6", "--beam_width=2", "--progress=false",
        "--lr=3e-3", "--min_lr=3e-4"]


def test_gpt2_folder_finetunes_and_is_written_back(gpt2_folder, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text(TEXT)
    out = tmp_path / "run"
    r = load_example("finetune").main([f"--model={gpt2_folder}", f"--data={text}", f"--out_dir={out}",
                          "--chunk_chars=200", "--epochs=2", "--grad_accum=2"] + TINY)
    assert r["after"][0] < r["before"][0] - 0.3          # held-out nats/token fell
    printed = capsys.readouterr().out
    assert "samples before finetuning:" in printed and "beam:" in printed
    assert "top-k:" in printed and printed.strip().splitlines()[-1].startswith("summary:")
    back = load_gpt2(out / "hf")
    model = r["trainer"].model
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], array)
    assert model_type(out / "last") == "tinytx"           # the checkpoint is a --model too
    again = load_example("finetune").main([f"--model={out}/last", f"--data={text}",
                              f"--out_dir={tmp_path / 'again'}", "--chunk_chars=200",
                              "--max_iters=1", "--grad_accum=1"] + TINY)
    assert abs(again["before"][0] - r["after"][0]) < 1e-6


@pytest.mark.parametrize("kind", ["gpt2", "t5"])
def test_resume_is_exact(kind, gpt2_folder, t5_folder, tmp_path):
    """3 steps in one go == 2 steps, stop, --resume to 3 (weights bit for bit)."""
    if kind == "gpt2":
        data = tmp_path / "text.txt"
        data.write_text(TEXT)
        args = [f"--model={gpt2_folder}", f"--data={data}", "--chunk_chars=200"]
    else:
        data = tmp_path / "songs.tsv"
        data.write_text("".join(f"{s}\t{t}\n" for s, t in SONGS))
        args = [f"--model={t5_folder}", f"--data={data}", "--prefix=Create the lyrics of: "]
    args += TINY + ["--grad_accum=2", "--batch_size=2", "--eval_interval=1",
                    "--lr_decay_iters=3", "--warmup_iters=1",   # one schedule for both
                    "--sample_tokens=2"]
    one = load_example("finetune").main(args + [f"--out_dir={tmp_path / 'one'}", "--max_iters=3"])
    load_example("finetune").main(args + [f"--out_dir={tmp_path / 'two'}", "--max_iters=2"])
    two = load_example("finetune").main(args + [f"--out_dir={tmp_path / 'two'}", "--max_iters=3",
                                   "--resume"])
    a, b = one["trainer"].model.state_dict(), two["trainer"].model.state_dict()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert one["after"] == two["after"]
    if kind == "t5":
        assert one["after"][0] < one["before"][0]


def test_t5_pairs_finetune_with_prefix(t5_folder, tmp_path, capsys):
    data = tmp_path / "songs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in SONGS))
    out = tmp_path / "t5run"
    r = load_example("finetune").main([f"--model={t5_folder}", f"--data={data}", f"--out_dir={out}",
                          "--prefix=Create the lyrics of: ", "--epochs=6", "--batch_size=2",
                          "--grad_accum=2", "--sample_tokens=8"] + TINY)
    assert r["after"][0] < r["before"][0] - 0.5
    printed = capsys.readouterr().out
    assert "source:  'Create the lyrics of: a song about" in printed
    back = load_t5(out / "hf")
    for name, array in r["trainer"].model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], array)
    assert (out / "hf" / "spiece.model").read_bytes() == (t5_folder / "spiece.model"
                                                          ).read_bytes()


def test_pieces():
    assert text_chunks("abcdefg", 3) == ["abc", "def", "g"]
    with pytest.raises(ValueError, match="chunk_chars"):
        text_chunks("abc", 1)
    from tinytx.tokenizer import BasicTokenizer
    windows = encode_chunks(BasicTokenizer(), ["abcdefg", "h"], 3)   # "h": nothing to predict
    assert [w.tolist() for w in windows] == [[97, 98, 99, 100], [100, 101, 102, 103]]
    x, y = pad_lm_batch([np.array([1, 2, 3, 4]), np.array([5, 6])])
    assert x.tolist() == [[1, 2, 3], [5, 0, 0]] and y.tolist() == [[2, 3, 4], [6, -100, -100]]
    enc = encode_prefixed_pairs(BasicTokenizer(), [("ab", "cd")], "P:", 8, 0, 1)
    assert enc == [([80, 58, 97, 98, 1], [0, 99, 100, 1])]
    with pytest.raises(FileNotFoundError, match="--model"):
        model_type("/nonexistent/folder")


def test_lesson_12_finetunes_a_gpt2_folder(gpt2_folder, tmp_path, capsys):
    lesson = load_script("lessons/13_finetuning.py", "lesson_12")
    results = lesson.main(["--smoke", f"--gpt2={gpt2_folder}", f"--out_dir={tmp_path}",
                           "--context=32", "--finetune_lr=3e-3"])
    printed = capsys.readouterr().out
    assert f"GPT-2 from {gpt2_folder}" in printed and "5. Beam search" in printed
    assert results["finetuned"] < results["pretrained, before"]
    assert (tmp_path / "finetune.png").read_bytes()[:4] == b"\x89PNG"


def test_a_tinytx_gpt_checkpoint_finetunes_too(tmp_path):
    """--model=a checkpoint as lesson 11 / train_quixote write it (config + tokenizer file)."""
    from tinytx.checkpoint import save_checkpoint
    from tinytx.tokenizer import RegexTokenizer
    tok = RegexTokenizer()
    tok.train(TEXT, 280)
    tok.save(str(tmp_path / "tok"))
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=32, vocab_size=280, n_layer=1, n_head=2, n_embd=16))
    save_checkpoint(tmp_path / "gpt", model, config={"model": model.config.to_dict(),
                                                     "tokenizer": str(tmp_path / "tok.model")})
    text = tmp_path / "text.txt"
    text.write_text(TEXT)
    r = load_example("finetune").main([f"--model={tmp_path / 'gpt'}", f"--data={text}", "--epochs=2",
                          f"--out_dir={tmp_path / 'run'}", "--grad_accum=2"] + TINY)
    assert r["after"][0] < r["before"][0]
    assert not (tmp_path / "run" / "hf").exists()          # not a Hugging Face model
