"""Lesson 13 finetunes lesson 11's checkpoint: one saved by a --smoke run (recorded in it
by lesson 11) is refused with a clear error unless --allow_smoke_checkpoint=true."""
import pytest

import tinytx as tx
from lessons.check import lesson_module
from tinytx.checkpoint import model_record, save_checkpoint
from tinytx.models import GPT, GPTConfig
from tinytx.tokenizer import BasicTokenizer


@pytest.fixture
def saved(tmp_path):
    """save(smoke) -> the path of a tiny GPT checkpoint recorded as lesson 11's."""
    def save(smoke):
        tok = BasicTokenizer()
        tok.train("abababcd", 258)
        tx.manual_seed(0)
        gpt = GPT(GPTConfig(block_size=8, vocab_size=258, n_layer=1, n_head=2, n_embd=8))
        path = tmp_path / ("smoke" if smoke else "full") / "gpt"
        save_checkpoint(path, gpt, config={**model_record(gpt, tok), "lesson": 11,
                                           "smoke": smoke})
        return path
    return save


def finetuning_config(path, *options):
    lesson = lesson_module("13")
    return lesson, lesson.setup(lesson.Config(), lesson.SMOKE, [f"--pretrained={path}",
                                                                f"--out_dir={path.parent}",
                                                                *options])[0]


def test_lesson_12_refuses_a_smoke_checkpoint(saved):
    lesson, cfg = finetuning_config(saved(smoke=True))
    with pytest.raises(SystemExit, match="saved by a --smoke run of lesson 11.*"
                                         "--allow_smoke_checkpoint=true"):
        lesson.load_pretrained(cfg)


def test_lesson_12_loads_a_smoke_checkpoint_when_asked_and_a_full_one_always(saved):
    lesson, cfg = finetuning_config(saved(smoke=True), "--allow_smoke_checkpoint=true")
    model, tok, where = lesson.load_pretrained(cfg)
    assert model.config.n_embd == 8 and where == str(cfg.pretrained)
    lesson, cfg = finetuning_config(saved(smoke=False))
    assert lesson.load_pretrained(cfg)[0].config.vocab_size == 258
