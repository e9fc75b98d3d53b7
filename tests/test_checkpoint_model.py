"""tinytx.checkpoint.record and .model: what a model checkpoint holds (model type, config,
tokenizer inside) and load_model; checkpoints of the old layout (tinytx checkpoint version 2)
load, or fail with an error naming that layout. The old layouts are built here by hand,
as the old code wrote them."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytx as tx
from tinytx import nn, optim
from tinytx.checkpoint import (CheckpointError, checkpoint_paths, load_model, model_record,
                               save_checkpoint)
from tinytx.checkpoint.model import MODELS
from tinytx.checkpoint.record import MODEL_TYPES, class_path
from tinytx.data import add_special_tokens, collate_pairs
from tinytx.models import GPT, GPTConfig, Seq2Seq, Seq2SeqConfig
from tinytx.tasks.seq2seq import seq2seq_loss
from tinytx.tokenizer import RegexTokenizer
from tinytx.train import Trainer, TrainConfig
from test_checkpoint import as_old_version


@pytest.fixture
def tok():
    t = RegexTokenizer()
    t.train("the knight rode and the squire followed the knight. " * 20, 270)
    return t


def gpt(tok):
    tx.manual_seed(0)
    return GPT(GPTConfig(block_size=8, vocab_size=len(tok.vocab), n_layer=1, n_head=2,
                         n_embd=8))


def s2s(vocab):
    tx.manual_seed(1)
    return Seq2Seq(Seq2SeqConfig(vocab_size=vocab, n_embd=8, n_head=2, n_encoder_layer=1,
                                 n_decoder_layer=1, block_size=16))


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)


def old_names(config) -> dict:
    """A Seq2Seq config as checkpoints wrote it before its block_size was renamed from
    max_len."""
    config = config.to_dict()
    config["max_len"] = config.pop("block_size")
    return config


def as_version_2(path):
    """Rewrite a checkpoint's JSON as the old code wrote it: format version 2."""
    as_old_version(checkpoint_paths(path)[1], 2)


def test_the_tokenizer_travels_inside_the_checkpoint(tok, tmp_path, monkeypatch):
    model = gpt(tok)
    save_checkpoint(tmp_path / "run" / "best", model, config=model_record(model, tok))
    shutil.move(tmp_path / "run", tmp_path / "moved")            # no path to go stale
    monkeypatch.chdir(tmp_path)
    back, back_tok = load_model(tmp_path / "moved" / "best")
    assert isinstance(back, GPT) and same_weights(back, model)
    assert back_tok.encode("the squire") == tok.encode("the squire")


def test_seq2seq_trains_without_a_wrapper(tok, tmp_path):
    """The Trainer takes the loss function, so it saves the Seq2Seq itself: its
    checkpoint keys are the model's own names, and load_model rebuilds it."""
    ids = add_special_tokens(tok)
    model = s2s(max(tok.vocab) + 1)
    pairs = [([5, 6, 7], [ids["[BOS]"], 8, 9, ids["[EOS]"]]), ([4], [ids["[BOS]"], 7,
                                                                    ids["[EOS]"]])]
    trainer = Trainer(model, TrainConfig(max_iters=2, batch_size=2, eval_interval=2,
                                         eval_iters=1, progress=False),
                      lambda split, rng: collate_pairs(pairs, ids["[PAD]"]), tmp_path,
                      loss_fn=seq2seq_loss, tokenizer=tok)
    trainer.train()
    from safetensors.numpy import load_file
    keys = load_file(str(tmp_path / "last.safetensors")).keys()
    assert "model.src_emb.weight" in keys and not any(k.startswith("model.model.")
                                                      for k in keys)
    back, back_tok = load_model(tmp_path / "last")
    assert isinstance(back, Seq2Seq) and same_weights(back, model)
    assert "[EOS]" in back_tok.special_tokens


class PairLoss(nn.Module):
    """The old adapter (tinytx <= version 2 checkpoints): the Seq2Seq under `model`."""

    def __init__(self, model):
        super().__init__()
        self.model = model


def test_an_old_seq2seq_checkpoint_loads(tok, tmp_path):
    """Old layout: keys "model.model.<name>" (the adapter), the tokenizer a path relative
    to where it was trained, the optimizer over the adapter's parameters."""
    model = s2s(len(tok.vocab))
    tok.save(str(tmp_path / "tokenizer"))
    opt = optim.AdamW(optim.decay_groups(PairLoss(model), 0.1))
    save_checkpoint(tmp_path / "last", PairLoss(model), opt, step=5,
                    config={"model": old_names(model.config), "example": {},
                            "tokenizer": "out/seq2seq/tokenizer.model"})
    as_version_2(tmp_path / "last")
    back, back_tok = load_model(tmp_path / "last")           # the tokenizer found beside
    assert isinstance(back, Seq2Seq) and same_weights(back, model)
    assert back_tok.encode("the knight") == tok.encode("the knight")
    # and it resumes into the bare model with its optimizer
    from tinytx.checkpoint import load_checkpoint
    fresh = s2s(len(tok.vocab))
    meta = load_checkpoint(tmp_path / "last", fresh,
                           optim.AdamW(optim.decay_groups(fresh, 0.1)))
    assert meta["step"] == 5 and same_weights(fresh, model)


def test_an_old_translate_checkpoint_loads(tok, tmp_path):
    model = s2s(len(tok.vocab))
    tok.save(str(tmp_path / "t"))
    save_checkpoint(tmp_path / "best", PairLoss(model),
                    config={"model": old_names(model.config), "example": {},
                            "tokenizer_model": (tmp_path / "t.model").read_text()})
    as_version_2(tmp_path / "best")
    (tmp_path / "t.model").unlink()
    back, back_tok = load_model(tmp_path / "best")
    assert same_weights(back, model) and back_tok.decode(tok.encode("rode")) == "rode"


def test_an_old_gpt_checkpoint_loads_or_names_the_old_layout(tok, tmp_path, monkeypatch):
    model = gpt(tok)
    (tmp_path / "elsewhere").mkdir()
    tok.save(str(tmp_path / "elsewhere" / "tokenizer-270"))
    save_checkpoint(tmp_path / "best", model,
                    config={"model": model.config.to_dict(), "example": {},
                            "tokenizer": "out/quixote/tokenizer-270.model"})
    as_version_2(tmp_path / "best")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match=r"old layout \(tinytx checkpoint version 2.*"
                                              r"'out/quixote/tokenizer-270.model'"):
        load_model(tmp_path / "best")
    os.makedirs("out/quixote")                             # run from the training directory
    shutil.copy(tmp_path / "elsewhere" / "tokenizer-270.model", "out/quixote/")
    back, back_tok = load_model(tmp_path / "best")
    assert same_weights(back, model) and back_tok.encode("the") == tok.encode("the")


def test_a_new_checkpoint_with_wrapper_keys_is_refused(tok, tmp_path):
    """Only version-2 checkpoints have their adapter prefix taken off."""
    model = s2s(len(tok.vocab))
    save_checkpoint(tmp_path / "x", PairLoss(model), config=model_record(model, tok))
    with pytest.raises(CheckpointError, match="model.src_emb.weight"):
        load_model(tmp_path / "x")


def test_unknown_model_types_are_clear(tok, tmp_path):
    lin = nn.Linear(2, 2)
    save_checkpoint(tmp_path / "lin", lin, config=model_record(lin))
    with pytest.raises(CheckpointError, match="model_type' is None"):
        load_model(tmp_path / "lin")


def test_an_old_checkpoint_cannot_make_load_model_read_files_outside_its_folder(
        tok, tmp_path, monkeypatch):
    """An old-layout checkpoint names its tokenizer by a path: only a file inside the
    checkpoint's folder is read, so a crafted one cannot read (and echo) another file."""
    model = gpt(tok)
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    for named in (str(secret), "../secret.txt"):
        save_checkpoint(tmp_path / "run" / "best", model,
                        config={"model": model.config.to_dict(), "tokenizer": named})
        as_version_2(tmp_path / "run" / "best")
        monkeypatch.chdir(tmp_path / "run")
        with pytest.raises(CheckpointError, match="old layout") as e:
            load_model(tmp_path / "run" / "best")
        assert "hunter2" not in str(e.value)


def test_a_crafted_config_is_refused_before_the_model_is_allocated(tok, tmp_path):
    """A small file whose manifest claims a big model: load_model compares the config's
    shapes with the file's header (a model built in nn.abstract_init) and refuses before
    allocating the big one (here ~800 MB: tracemalloc sees NumPy's allocations)."""
    import tracemalloc
    model = gpt(tok)
    record = model_record(model, tok)
    record["model"] = {**record["model"], "vocab_size": 50_000, "n_embd": 4096}
    save_checkpoint(tmp_path / "crafted", model, config=record)
    assert (tmp_path / "crafted.safetensors").stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"crafted.safetensors: .*shape.*"
                                                  r"expected \(50000, 4096\)"):
            load_model(tmp_path / "crafted")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"{peak / 1e6:.0f} MB allocated before the refusal"


def test_a_model_type_is_recorded_and_built_by_the_same_class():
    """record.py names a model's type from its class's module and name (it imports no
    model); load_model builds the class of that type: the two maps must agree."""
    assert {class_path(cls): kind for kind, (cls, _) in MODELS.items()} == MODEL_TYPES


def test_the_training_loop_imports_no_model_class():
    code = ("import sys, tinytx.train\n"
            "print(sorted(m for m in sys.modules if m.startswith('tinytx.models')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
