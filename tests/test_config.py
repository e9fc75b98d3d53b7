"""tinytx.config: --key=value parsing, and job configs composed from the package's
configs with nested() (flat options, the job's defaults, derived fields hidden)."""
import dataclasses
from dataclasses import dataclass

import pytest

from tinytx.config import nested, options, parse_config, with_options
from tinytx.models import GPTConfig, Seq2SeqConfig
from tinytx.train import TrainConfig
from project_scripts import load_example



@dataclass
class Job:
    out_dir: str = "out"
    vocab_size: int = 300
    model: GPTConfig = nested(GPTConfig, derived=("vocab_size",), n_layer=2)
    train: TrainConfig = nested(TrainConfig, max_iters=50)


def values(config) -> dict:
    """{option: value} of a config, nested options included (flat)."""
    return {k: getattr(config if where is None else getattr(config, where), k)
            for k, (where, _) in options(config).items()}


def test_nested_options_are_flat_with_the_jobs_defaults():
    job = parse_config(Job(), ["--n_layer=4", "--lr=3e-4", "--out_dir", "x", "--bias=false"])
    assert (job.model.n_layer, job.train.lr, job.out_dir, job.model.bias) == (4, 3e-4, "x",
                                                                              False)
    assert Job().model.n_layer == 2 and Job().train.max_iters == 50      # job defaults
    assert Job().model.n_embd == GPTConfig().n_embd                     # the rest: package's
    assert Job().model is not Job().model                               # one per instance
    assert list(options(Job()))[:3] == ["out_dir", "vocab_size", "block_size"]


def test_derived_fields_are_not_options_and_unknown_keys_list_the_valid_ones():
    job = parse_config(Job(), ["--vocab_size=512"])
    assert job.vocab_size == 512 and job.model.vocab_size == GPTConfig().vocab_size
    with pytest.raises(ValueError, match="unknown option --n_layers; valid options: "
                                         "--out_dir, --vocab_size, .*--n_layer.*--lr.*--resume"):
        parse_config(Job(), ["--n_layers=3"], extra_flags=("resume",))
    with pytest.raises(ValueError, match="unknown option --nope"):
        with_options(Job(), nope=1)


def test_help_prints_every_option_with_its_default_and_exits(capsys):
    with pytest.raises(SystemExit) as stop:
        parse_config(Job(), ["--lr=1", "--help"], extra_flags=("resume",))
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for key, value in values(Job()).items():
        assert f"--{key}={value!r}" in text
    assert "--vocab_size=300" in text and "--n_layer=2" in text and "--resume" in text


def test_one_name_twice_is_an_error():
    @dataclass
    class Clash:
        vocab_size: int = 300
        model: GPTConfig = nested(GPTConfig)             # vocab_size not derived: ambiguous
    with pytest.raises(TypeError, match="--vocab_size is declared twice"):
        options(Clash())
    with pytest.raises(TypeError, match="no field"):
        nested(GPTConfig, n_layers=3)


def test_optional_ints_parse():
    @dataclass
    class S:
        model: Seq2SeqConfig = nested(Seq2SeqConfig, derived=("vocab_size",))
    assert parse_config(S(), ["--n_inner=32"]).model.n_inner == 32
    assert parse_config(S(), ["--n_inner=none"]).model.n_inner is None


# The options and defaults of examples/train_quixote.py before its Config was composed
# from GPTConfig and TrainConfig: they must all still be there, with the same values.
QUIXOTE = dict(data="", out_dir="out/quixote", vocab_size=2048, n_layer=4, n_head=4,
               n_embd=192, block_size=128, dropout=0.1, bias=True, batch_size=16,
               grad_accum=1, max_iters=2800, lr=2e-3, min_lr=2e-4, warmup_iters=100,
               lr_decay_iters=0, weight_decay=0.1, beta1=0.9, beta2=0.99, grad_clip=1.0,
               eval_interval=700, log_interval=10, eval_iters=10, seed=1337, device="cpu",
               sample_tokens=60, temperature=0.8, top_k=40, progress=True)
SEED_SMALL = dict(QUIXOTE, out_dir="out/quixote-seed-small", vocab_size=24540, n_layer=6,
                  n_head=6, n_embd=384, block_size=256, dropout=0.2, batch_size=2,
                  grad_accum=32, max_iters=5000, lr=1e-3, min_lr=1e-4, eval_interval=250,
                  eval_iters=20, device="cuda")
TRANSLATE = dict(n_embd=128, n_head=4, n_encoder_layer=3, n_decoder_layer=3, n_inner=0,
                 dropout=0.1, bias=True, norm_first=True, tie_generator=False, batch_size=64,
                 grad_accum=1, max_iters=2400, lr=1.5e-3, min_lr=1e-4, warmup_iters=200,
                 lr_decay_iters=0, weight_decay=0.1, beta1=0.9, beta2=0.98, eps=1e-8,
                 grad_clip=1.0, label_smoothing=0.0, eval_interval=300, eval_iters=4,
                 seed=1337, vocab_size=1000, max_len=48, max_new_tokens=48, beam_width=5)


@pytest.mark.parametrize("name, preset, expected", [
    ("train_quixote", "default", QUIXOTE), ("train_quixote", "seed-small", SEED_SMALL),
    ("translate", "default", TRANSLATE)])
def test_example_options_and_defaults_are_unchanged(name, preset, expected):
    got = values(load_example(name).CONFIGS[preset])
    assert {k: got.get(k, "missing") for k in expected} == expected


def test_example_configs_repeat_no_package_field():
    """No example declares a field of GPTConfig, Seq2SeqConfig or TrainConfig itself
    (except those the package's config derives from the job's, like vocab_size; and
    finetune's dropout, which overrides a pretrained model's config read from files)."""
    package = {f.name for c in (GPTConfig, Seq2SeqConfig, TrainConfig)
               for f in dataclasses.fields(c)} - {"vocab_size"}
    for name, allowed in (("train_quixote", set()), ("train_seq2seq", set()),
                          ("translate", set()), ("finetune", {"dropout"})):
        own = {f.name for f in dataclasses.fields(load_example(name).Config)
               if "derived" not in f.metadata}
        assert own & package == allowed, name
