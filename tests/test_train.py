"""The training loop: accumulation, exact resume, the NaN guard, logs and checkpoints."""
import math

import numpy as np
import pytest

import tinytx as tx
from tinytx.checkpoint import checkpoint_paths
from tinytx.models import GPT, GPTConfig
from tinytx.train import (Trainer, TrainConfig, TrainingDiverged, accumulate_gradients,
                          read_rows)

V, T = 17, 8


def _model(dropout=0.1):
    tx.manual_seed(0)
    return GPT(GPTConfig(block_size=T, vocab_size=V, n_layer=1, n_head=2, n_embd=16,
                         dropout=dropout))


DATA = np.random.default_rng(0).integers(0, V, 400)


def get_batch(split, rng, batch_size=4):
    ids = DATA[:300] if split == "train" else DATA[300:]
    i = rng.integers(0, len(ids) - T - 1, batch_size)
    x = np.stack([ids[j:j + T] for j in i])
    y = np.stack([ids[j + 1:j + T + 1] for j in i])
    return tx.tensor(x), tx.tensor(y)


def _cfg(**kw):
    base = dict(max_iters=6, eval_interval=3, eval_iters=2, warmup_iters=2, lr=3e-3,
                progress=False)
    return TrainConfig(**{**base, **kw})


def test_accumulated_micro_batches_equal_one_big_batch():
    model = _model(dropout=0.0)
    rng = np.random.default_rng(1)
    x, y = get_batch("train", rng, batch_size=8)
    accumulate_gradients(model, [(x[:4], y[:4]), (x[4:], y[4:])])
    small = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    accumulate_gradients(model, [(x, y)])
    for n, p in model.named_parameters():
        np.testing.assert_allclose(small[n], p.grad, rtol=1e-4, atol=1e-6, err_msg=n)


def test_resume_continues_exactly(tmp_path):
    """Train 6 steps straight; train 3, stop, resume in a fresh process-like state, train
    to 6: the same parameters and the same logged losses (dropout on, so the device RNG
    must be restored too)."""
    full = Trainer(_model(), _cfg(), get_batch, tmp_path / "full", tokens_per_batch=4 * T)
    full.train()
    first = Trainer(_model(), _cfg(max_iters=3, lr_decay_iters=6), get_batch,
                    tmp_path / "split", tokens_per_batch=4 * T)
    first.train()
    tx.manual_seed(999)  # scramble the device generator: resume must restore it
    second = Trainer(_model(), _cfg(lr_decay_iters=6), get_batch, tmp_path / "split")
    second.resume()
    assert second.step == 3
    second.train()
    for (n, a), (_, b) in zip(full.model.named_parameters(), second.model.named_parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=n)
    def logged(run):  # loss.csv without the timing columns, which differ between runs
        rows = read_rows(tmp_path / run / "loss.csv")
        return [repr([r[k] for k in ("kind", "step", "train_loss", "val_loss", "lr",
                                     "grad_norm")]) for r in rows]
    assert logged("split") == logged("full")     # appended after resume, nothing repeated
    assert len(logged("full")) == 3 + 2


def test_logs_and_checkpoints_are_written(tmp_path):
    trainer = Trainer(_model(), _cfg(log_interval=2), get_batch, tmp_path,
                      tokens_per_batch=4 * T)
    row = trainer.train()
    assert row["step"] == 6 and math.isfinite(row["val_loss"])
    lines = (tmp_path / "loss.csv").read_text().splitlines()
    assert lines[0] == ("step,kind,train_loss,lr,grad_norm,tokens_per_s,val_loss,val_bpb,"
                        "elapsed_s")
    rows = read_rows(tmp_path / "loss.csv")
    assert [(r["kind"], r["step"]) for r in rows] == [
        ("val", 0), ("train", 2), ("train", 3), ("val", 3), ("train", 4), ("train", 6),
        ("val", 6)]                                  # every log_interval=2 and at each eval
    for r in rows:
        filled = ("train_loss", "lr", "grad_norm", "tokens_per_s") if r["kind"] == "train" \
            else ("val_loss",)
        assert all(math.isfinite(r[k]) for k in filled), r
        assert math.isnan(r["val_bpb"])              # no bytes_per_token given
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("last", "best"):
        assert all(p.exists() for p in checkpoint_paths(tmp_path / name))
    assert not list(tmp_path.glob(".*tmp*"))


def test_nan_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    trainer = Trainer(_model(), _cfg(max_iters=3), get_batch, tmp_path)
    trainer.train()
    before = {p: p.read_bytes() for p in tmp_path.glob("last.*")}
    trainer.config.max_iters = 6
    trainer.model.transformer.wte.weight.data[3] = np.nan  # poison the model
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        trainer.train()
    assert {p: p.read_bytes() for p in tmp_path.glob("last.*")} == before


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer(_model(), _cfg(), get_batch, tmp_path / "nothing").resume()


def test_smoothing_is_bias_corrected_and_follows_the_mean():
    from tinytx.train.logs import smooth
    assert smooth([2.0, 2.0, 2.0], 0.1) == pytest.approx([2.0, 2.0, 2.0])  # no pull to 0
    assert smooth([1.0, 3.0], 1.0) == [1.0, 3.0]                          # alpha 1: raw
    assert smooth([0.0, 1.0], 0.5) == pytest.approx([0.0, 0.5 / 0.75])


def test_evaluate_is_the_mean_over_every_held_out_token():
    """The full held-out pass: every token after the first is a target once (windows of
    block_size and the remainder), the model's mode is restored, bits per byte follow."""
    from tinytx.models import GPT, GPTConfig
    from tinytx.train import bits_per_byte, evaluate
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=13, n_layer=1, n_head=2, n_embd=8,
                          dropout=0.5))
    ids = np.random.default_rng(1).integers(0, 13, 45)             # 5 windows + 4 left
    model.eval()
    nll = []
    with tx.no_grad():
        for start in range(0, 44, 8):
            x, y = ids[start:start + 8], ids[start + 1:start + 9]
            logits, _ = model(tx.tensor(x[None, :len(y)]))
            logp = logits.numpy()[0] - np.log(np.exp(logits.numpy()[0]).sum(-1,
                                                                             keepdims=True))
            nll += list(-logp[np.arange(len(y)), y])
    model.train()
    loss, bpb = evaluate(model, ids, 2, 8, bytes_per_token=1.5)
    assert len(nll) == 44 and loss == pytest.approx(np.mean(nll), rel=1e-5)
    assert bpb == pytest.approx(loss / np.log(2) / 1.5) == bits_per_byte(loss, 1.5)
    assert model.training                                           # restored
    assert np.isnan(evaluate(model, ids, 2, 8)[1])                  # bytes unknown
    with pytest.raises(ValueError, match="ids"):
        evaluate(model, ids[:1], 2, 8)
