"""Lesson 04 reuses lesson 03's RNN and LSTM recall curves only when they were made with
the same options (tinytx.tasks.recall.save_curves / load_curve); training is
deterministic, so a reused curve is the one retraining would give."""
import dataclasses

import tinytx as tx
from tinytx.tasks.recall import RecallNet, load_curve, save_curves, train_recall


@dataclasses.dataclass
class Options:
    vocab: int = 4
    n_embd: int = 4
    hidden_size: int = 8
    batch_size: int = 8
    steps: int = 6
    lr: float = 3e-3
    clip: float = 1.0
    eval_every: int = 3
    n_test: int = 20
    seed: int = 0
    other: str = "not an option of the curve"


def curve(kind, N, cfg):
    tx.manual_seed(cfg.seed)
    return train_recall(RecallNet(kind, cfg.vocab, cfg.n_embd, cfg.hidden_size), N, cfg)


def test_a_saved_curve_is_what_retraining_gives_and_other_options_retrain(tmp_path):
    cfg, path = Options(), tmp_path / "recall_curves.json"
    save_curves(path, {("LSTM", 3): curve("LSTM", 3, cfg)}, cfg)
    assert load_curve(path, "LSTM", 3, cfg) == curve("LSTM", 3, cfg)
    assert load_curve(path, "LSTM", 3, dataclasses.replace(cfg, other="x")) is not None
    assert load_curve(path, "LSTM", 3, dataclasses.replace(cfg, steps=7)) is None
    assert load_curve(path, "LSTM", 3, dataclasses.replace(cfg, lr=1e-3)) is None
    assert load_curve(path, "RNN", 3, cfg) is None and load_curve(path, "LSTM", 4, cfg) is None
    assert load_curve(tmp_path / "absent.json", "LSTM", 3, cfg) is None
    path.write_text("{not json")
    assert load_curve(path, "LSTM", 3, cfg) is None
