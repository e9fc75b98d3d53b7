"""Checkpoints under repeated faults and hostile edits (issue 21).

* Two faults in a row: a save is killed or hits a full disk at any point where the disk
  changes, then the next save is too (at any point): the checkpoint still loads, and it is
  one whole save (weights and step of the same save), never a mix or nothing. A clean save
  afterwards leaves no temporary or backup file behind.
* A one-character edit anywhere in the manifest, or a one-byte edit in the arrays' file,
  is refused with an error naming the file.

A kill is simulated in a forked child that calls os._exit before the faulted call does
anything (no `finally`, no cleanup: what SIGKILL leaves); a full disk is OSError(ENOSPC)
raised by the faulted call. The calls counted are those that change what is on disk:
os.replace, os.unlink, os.fsync and the arrays' write (which, faulted, leaves half a file).
"""
import errno
import json
import os

import numpy as np
import pytest

import tinytx.checkpoint.format as checkpoint_format
from tinytx import nn, optim
from tinytx.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

TOKENIZER = {"format": "tinytx-bpe", "text": "tinytx-bpe v1\n\n0\n97 98\n"}


class Fault(Exception):
    """Raised in place of a faulted call when the test wants to see it (counting runs)."""


def model_at(k):
    """A model (and optimizer) whose every weight is k: which save a load returned."""
    model = nn.Linear(3, 2)
    for p in model.parameters():
        p.data[...] = k
    opt = optim.AdamW(model.parameters(), lr=0.1)
    model.weight.grad = np.ones_like(model.weight.data)
    model.bias.grad = np.ones_like(model.bias.data)
    opt.step()
    for p in model.parameters():
        p.data[...] = k
    return model, opt


def save(path, k):
    model, opt = model_at(k)
    save_checkpoint(path, model, opt, step=k, config={"tokenizer": TOKENIZER},
                    extra={"best_val": 1.0 / k})


def faulting(monkeypatch, at, kind, calls):
    """Wrap the disk-changing calls; call number `at` faults with `kind` ("kill",
    "enospc"); `calls` collects the names of the calls made."""
    def wrap(name, real, owner):
        def call(*args, **kwargs):
            calls.append(name)
            if len(calls) - 1 == at:
                if name == "save_file":                    # half a file, then the fault
                    with open(args[1], "wb") as f:
                        f.write(b"\x08\x00\x00\x00\x00\x00\x00\x00{")
                if kind == "kill":
                    os._exit(0)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(*args, **kwargs)
        monkeypatch.setattr(owner, name, call)
    for name in ("replace", "unlink", "fsync"):
        wrap(name, getattr(os, name), os)
    wrap("save_file", checkpoint_format.save_file, checkpoint_format)


def faulted_save(path, k, at, kind):
    """Save k with a fault at call `at`: a kill in a forked child, a full disk here."""
    if kind == "kill":
        pid = os.fork()
        if pid == 0:                                        # the child: save, or die
            try:
                mp = pytest.MonkeyPatch()
                faulting(mp, at, kind, [])
                save(path, k)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        return
    mp = pytest.MonkeyPatch()
    try:
        faulting(mp, at, kind, [])
        save(path, k)
    except OSError as e:
        assert "the checkpoint on disk is the previous one" in str(e)
    finally:
        mp.undo()


def n_calls(tmp_path):
    """How many disk-changing calls one save makes (over an existing checkpoint)."""
    save(tmp_path / "count", 1)
    calls, mp = [], pytest.MonkeyPatch()
    try:
        faulting(mp, -1, "kill", calls)
        save(tmp_path / "count", 2)
    finally:
        mp.undo()
    assert calls.count("replace") >= 3 and "save_file" in calls
    return len(calls)


def loaded_save(path):
    """Which save a load returns; checks it is one whole save."""
    model, opt = model_at(0)
    meta = load_checkpoint(path, model, opt)
    k = meta["step"]
    assert all(np.all(p.data == k) for p in model.parameters()), "weights of another save"
    assert meta["extra"]["best_val"] == 1.0 / k
    return k


@pytest.mark.parametrize("first,second", [("kill", "kill"), ("kill", "enospc"),
                                          ("enospc", "kill"), ("enospc", "enospc")])
def test_two_faulted_saves_in_a_row_leave_a_whole_checkpoint(tmp_path, first, second):
    n = n_calls(tmp_path)
    for i in range(n + 1):              # n: no fault (the save completes)
        for j in range(n + 1):
            path = tmp_path / f"{i}-{j}" / "ckpt"
            save(path, 1)
            faulted_save(path, 2, i, first)
            faulted_save(path, 3, j, second)
            assert loaded_save(path) in (1, 2, 3), (i, j)
            save(path, 4)                                   # a clean save tidies up
            assert loaded_save(path) == 4
            assert sorted(p.name for p in path.parent.iterdir()) == [
                "ckpt.json", "ckpt.safetensors"], (i, j)


def test_the_last_whole_save_is_kept_after_two_kills(tmp_path):
    """The issue's case: a kill between the arrays and the manifest, twice."""
    path = tmp_path / "ckpt"
    save(path, 1)
    calls = []
    mp = pytest.MonkeyPatch()
    faulting(mp, -1, "kill", calls)
    save(tmp_path / "probe", 1)
    mp.undo()
    before_manifest = len(calls) - 1 - calls[::-1].index("replace")   # the manifest's rename
    faulted_save(path, 2, before_manifest, "kill")
    faulted_save(path, 3, before_manifest, "kill")
    assert loaded_save(path) == 1


def manifest_and_arrays(tmp_path):
    path = tmp_path / "ckpt"
    save(path, 1)
    return path, (tmp_path / "ckpt.json"), (tmp_path / "ckpt.safetensors")


def each_edit_is_refused(path, file, edits, match):
    """Write each edited content into `file`: loading must fail naming it; then put the
    file back, and the checkpoint loads again."""
    original = file.read_bytes()
    for edited in edits:
        file.write_bytes(edited)
        with pytest.raises(CheckpointError, match=match):
            load_checkpoint(path, *model_at(0))
    file.write_bytes(original)
    assert loaded_save(path) == 1


def test_a_one_character_edit_anywhere_in_the_manifest_is_refused(tmp_path):
    path, manifest, _ = manifest_and_arrays(tmp_path)
    text = manifest.read_text()
    assert '"text": "tinytx-bpe v1' in text and '"rng"' in text and '"step": 1' in text
    other = {c: "1" if c == "0" else "0" if c.isdigit() else "x" if c != "x" else "y"
             for c in set(text)}
    each_edit_is_refused(path, manifest, (
        (text[:i] + other[c] + text[i + 1:]).encode() for i, c in enumerate(text)),
        "ckpt.json")


def test_an_edited_version_does_not_turn_verification_off(tmp_path):
    path, manifest, _ = manifest_and_arrays(tmp_path)
    text = manifest.read_text()
    each_edit_is_refused(path, manifest, (
        text.replace('"version": 4', f'"version": {v}').encode() for v in (1, 2, 3)),
        "manifest_sha256")


def test_a_one_byte_edit_in_the_arrays_file_is_refused(tmp_path):
    path, _, arrays = manifest_and_arrays(tmp_path)
    data = arrays.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(0)
    positions = list(range(header_end)) + list(rng.integers(header_end, len(data), 64))
    each_edit_is_refused(path, arrays, (
        data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:] for i in positions),
        "ckpt.safetensors")


def test_a_manifest_without_its_hash_is_refused(tmp_path):
    path, manifest, _ = manifest_and_arrays(tmp_path)
    meta = json.loads(manifest.read_text())
    del meta["manifest_sha256"]
    manifest.write_text(json.dumps(meta, indent=1))
    with pytest.raises(CheckpointError, match="expected the line 'manifest_sha256' first"):
        load_checkpoint(path, *model_at(0))
