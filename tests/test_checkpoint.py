"""Checkpoints: round trips (weights, optimizer, step, RNG), atomic writes, and clear
errors that leave the model untouched."""
import json
from dataclasses import dataclass

import numpy as np
import pytest

from safetensors.numpy import load_file

import tinytx as tx
from tinytx import nn, optim
from tinytx.checkpoint import (CheckpointError, arrays_checksum, checkpoint_paths,
                               load_checkpoint, read_checkpoint_meta, save_checkpoint)


@dataclass
class Config:
    n_embd: int = 4
    vocab_size: int = 7


class Tiny(nn.Module):
    def __init__(self, config=Config(), device=None):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd, device=device)
        self.ln_f = nn.LayerNorm(config.n_embd, device=device)
        self.fc = nn.Linear(config.n_embd, config.vocab_size, device=device)
        self.register_buffer("mask", tx.ones(2, 2, device=device))

    def forward(self, idx):
        return self.fc(self.ln_f(self.wte(idx)))


def trained(device, steps=3, seed=0):
    """A model and an AdamW that have taken a few steps (so the state is not zero)."""
    tx.manual_seed(seed)
    model = Tiny(device=device)
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-2)
    idx = tx.tensor([[1, 2, 3], [4, 5, 6]], device=device)
    for _ in range(steps):
        loss = tx.functional.cross_entropy(model(idx), idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt


def params(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_round_trip_restores_everything(device, tmp_path):
    model, opt = trained(device)
    save_checkpoint(tmp_path / "run" / "ckpt", model, opt, config=Config(), step=3,
                    extra={"best_val": np.float32(1.5)})
    expected_next = tx.randn(5, device=device).numpy()   # what the RNG gives after saving
    model2, opt2 = trained(device, steps=1, seed=1)
    meta = load_checkpoint(tmp_path / "run" / "ckpt", model2, opt2)
    assert meta["step"] == 3 and meta["config"] == {"n_embd": 4, "vocab_size": 7}
    assert meta["extra"] == {"best_val": 1.5}
    assert_same(params(model), params(model2))
    if device.name != "cuda":  # CuPy's generator exposes no state to save
        np.testing.assert_array_equal(tx.randn(5, device=device).numpy(), expected_next)
    assert all(device.is_own(p.data) for p in model2.parameters())
    # the optimizer continues exactly as the original would
    idx = tx.tensor([[0, 1, 2]], device=device)
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        tx.functional.cross_entropy(m(idx), idx).backward()
        o.step()
    assert_same(params(model), params(model2))


def test_file_layout_and_no_temp_files(tmp_path):
    model, opt = trained("cpu")
    save_checkpoint(tmp_path / "ckpt", model, opt, step=1)
    save_checkpoint(tmp_path / "ckpt", model, opt, step=2)      # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.json", "ckpt.safetensors"]
    meta = json.loads((tmp_path / "ckpt.json").read_text())
    assert meta["step"] == 2 and meta["optimizer"]["type"] == "AdamW"
    assert meta["optimizer"]["state"]["0"] == {"step": 3}    # scalars in JSON ...
    from safetensors.numpy import load_file
    keys = set(load_file(tmp_path / "ckpt.safetensors"))    # ... arrays in safetensors
    assert {"model.wte.weight", "model.mask", "optim.state.0.exp_avg"} <= keys
    assert checkpoint_paths(tmp_path) == (tmp_path / "ckpt.safetensors",
                                          tmp_path / "ckpt.json")
    assert read_checkpoint_meta(tmp_path / "ckpt.json")["step"] == 2


def test_failed_save_leaves_old_checkpoint_and_no_temp_files(tmp_path):
    model, _ = trained("cpu")
    save_checkpoint(tmp_path / "ckpt", model, step=1)
    with pytest.raises(TypeError, match="JSON-able"):
        save_checkpoint(tmp_path / "ckpt", model, step=2, extra={"f": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.json", "ckpt.safetensors"]
    assert read_checkpoint_meta(tmp_path / "ckpt")["step"] == 1


def check_unchanged(model, before):
    assert_same(before, params(model))


def test_missing_files(tmp_path):
    model, _ = trained("cpu")
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        load_checkpoint(tmp_path / "nothing", model)
    save_checkpoint(tmp_path / "ckpt", model)
    (tmp_path / "ckpt.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="ckpt.safetensors"):
        load_checkpoint(tmp_path / "ckpt", model)


def test_truncated_file_names_file_and_key(device, tmp_path):
    model, opt = trained(device)
    save_checkpoint(tmp_path / "ckpt", model, opt)
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    model2, opt2 = trained(device, seed=1)
    before, opt_before = params(model2), opt2.state_dict()
    with pytest.raises(CheckpointError, match=r"ckpt.safetensors: key '[\w.]+': truncated"):
        load_checkpoint(tmp_path / "ckpt", model2, opt2)
    check_unchanged(model2, before)
    np.testing.assert_array_equal(opt2.state_dict()["state"][0]["exp_avg"],
                                  opt_before["state"][0]["exp_avg"])
    path.write_bytes(b"\x05")
    with pytest.raises(CheckpointError, match="ckpt.safetensors: truncated or not a"):
        load_checkpoint(tmp_path / "ckpt", model2)
    (tmp_path / "ckpt.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="ckpt.json: not valid JSON"):
        load_checkpoint(tmp_path / "ckpt", model2)


def test_other_config_fails_clearly_and_changes_nothing(device, tmp_path):
    model, _ = trained(device)
    save_checkpoint(tmp_path / "ckpt", model, config=Config())
    other = Tiny(Config(n_embd=6), device=device)
    before = params(other)
    with pytest.raises(CheckpointError, match=r"ckpt.safetensors: .*'wte.weight': shape "
                                              r"\(7, 4\) in state_dict, expected \(7, 6\).*"
                                              r"saved with config"):
        load_checkpoint(tmp_path / "ckpt", other)
    check_unchanged(other, before)


def test_missing_and_unexpected_keys(tmp_path):
    model, _ = trained("cpu")
    save_checkpoint(tmp_path / "ckpt", model)
    smaller = Tiny()
    del smaller.fc
    with pytest.raises(CheckpointError, match="unexpected key 'fc.weight'"):
        load_checkpoint(tmp_path / "ckpt", smaller)
    bigger = Tiny()
    bigger.head = nn.Linear(2, 2)
    before = params(bigger)
    with pytest.raises(CheckpointError, match="missing key 'head.weight'"):
        load_checkpoint(tmp_path / "ckpt", bigger)
    check_unchanged(bigger, before)


def test_optimizer_mismatches(tmp_path):
    model, opt = trained("cpu")
    save_checkpoint(tmp_path / "ckpt", model)
    with pytest.raises(CheckpointError, match="ckpt.json: key 'optimizer' is null"):
        load_checkpoint(tmp_path / "ckpt", Tiny(), opt)
    save_checkpoint(tmp_path / "ckpt", model, opt)
    sgd = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match="'optimizer.type' is 'AdamW'"):
        load_checkpoint(tmp_path / "ckpt", Tiny(), sgd)
    fewer = optim.AdamW(list(Tiny().parameters())[:2])
    target = Tiny()
    before = params(target)
    with pytest.raises(CheckpointError, match="optimizer: .*param groups"):
        load_checkpoint(tmp_path / "ckpt", target, fewer)
    check_unchanged(target, before)


def test_changed_bytes_fail_the_checksum_naming_the_file(tmp_path):
    model, opt = trained("cpu")
    save_checkpoint(tmp_path / "ckpt", model, opt)
    path = tmp_path / "ckpt.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40             # one bit of the last array: the file still parses
    path.write_bytes(bytes(data))
    model2, opt2 = trained("cpu", seed=1)
    before = params(model2)
    with pytest.raises(CheckpointError, match=r"ckpt.safetensors: the file's SHA-256 does "
                                              r"not match .*ckpt.json.*corrupt"):
        load_checkpoint(tmp_path / "ckpt", model2, opt2)
    check_unchanged(model2, before)


def as_old_version(json_path, version):
    """Rewrite a manifest the way format `version` (1-3, before the manifest hash) wrote
    it: no manifest_sha256 or safetensors entry; versions 2-3 carry arrays_sha256."""
    meta = json.loads(json_path.read_text())
    for key in ("manifest_sha256", "safetensors"):
        del meta[key]
    meta["version"] = version
    if version >= 2:
        st = load_file(str(json_path.with_suffix(".safetensors")))
        meta["arrays_sha256"] = arrays_checksum(st)
    json_path.write_text(json.dumps(meta, indent=1))


@pytest.mark.parametrize("version", [1, 2, 3])
def test_old_versions_still_load(tmp_path, version):
    """Checkpoints written before the manifest hash (versions 1-3) load as before, with
    the checks they had: versions 2 and 3 verify arrays_sha256, version 1 nothing."""
    model, opt = trained("cpu")
    save_checkpoint(tmp_path / "old", model, opt, step=5)
    as_old_version(tmp_path / "old.json", version)
    model2, opt2 = trained("cpu", seed=1)
    assert load_checkpoint(tmp_path / "old", model2, opt2)["step"] == 5
    assert_same(params(model2), params(model))
    if version >= 2:
        path = tmp_path / "old.safetensors"
        data = bytearray(path.read_bytes())
        data[-3] ^= 0x40
        path.write_bytes(bytes(data))
        with pytest.raises(CheckpointError, match="arrays' SHA-256 does not match"):
            load_checkpoint(tmp_path / "old", model2, opt2)


def test_mixed_saves_are_detected(tmp_path):
    """A crash between the two renames leaves a new safetensors beside an old JSON."""
    model, _ = trained("cpu")
    save_checkpoint(tmp_path / "a", model)
    save_checkpoint(tmp_path / "b", model)
    (tmp_path / "b.json").replace(tmp_path / "a.json")
    with pytest.raises(CheckpointError, match="a.safetensors: key 'checkpoint_id'.*"
                                              "different saves"):
        load_checkpoint(tmp_path / "a", Tiny())


def test_optimizer_plan_load_checks_before_it_assigns():
    """The public API checkpoint loading uses: plan_load checks a state dict and changes
    nothing; the function it returns assigns."""
    model, opt = trained("cpu")
    sd = opt.state_dict()
    key = opt._state_keys[-1]                            # a moment array (exp_avg_sq)
    before = {i: np.array(e[key]) for i, e in opt.state.items()}
    _, other = trained("cpu", steps=5, seed=1)
    apply = opt.plan_load(other.state_dict())
    assert all(np.array_equal(opt.state[i][key], before[i]) for i in before)
    apply()
    assert not all(np.array_equal(opt.state[i][key], before[i]) for i in before)
    with pytest.raises(ValueError, match="param groups"):
        opt.plan_load({"state": {}, "param_groups": sd["param_groups"] * 2})


def test_a_generator_state_of_another_kind_is_skipped_with_a_warning(tmp_path):
    """An older tinytx saved the cuda device's generator as PCG64; it now draws with
    Philox: the weights still load, and the warning says the draws will differ."""
    from tinytx.checkpoint import manifest_text
    model, opt = trained("cpu")
    save_checkpoint(tmp_path / "ckpt", model, opt, step=3)
    meta = json.loads((tmp_path / "ckpt.json").read_text())
    meta["rng"]["cpu"] = {"bit_generator": "MT19937", "state": {"key": [0], "pos": 0}}
    (tmp_path / "ckpt.json").write_text(manifest_text(meta))
    target, target_opt = trained("cpu", seed=1)
    tx.manual_seed(5)
    before = tx.get_device("cpu").get_rng_state()
    with pytest.warns(UserWarning, match="rng.cpu' is a MT19937 state"):
        assert load_checkpoint(tmp_path / "ckpt", target, target_opt)["step"] == 3
    assert tx.get_device("cpu").get_rng_state() == before
    meta["rng"]["cpu"] = [1, 2]
    (tmp_path / "ckpt.json").write_text(manifest_text(meta))
    with pytest.raises(CheckpointError, match="rng.cpu' is not a PCG64 state"):
        load_checkpoint(tmp_path / "ckpt", Tiny())
