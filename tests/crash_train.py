"""A small training run for tests/test_crash.py, to be killed and resumed.

    python tests/crash_train.py OUT_DIR            # train from scratch (or resume, if
                                                   # OUT_DIR/last.json exists)
    CRASH=between:3 python tests/crash_train.py …  # SIGKILL itself in checkpoint save 3

CRASH=tmp:N kills the process in the N-th checkpoint save after the temporary files are
written and before anything is renamed; CRASH=between:N after the arrays are renamed into
place and before the JSON is. The last line printed is "final <sha256 of the weights>".
"""
import hashlib
import os
import signal
import sys
from pathlib import Path

import numpy as np

import tinytx as tx
from tinytx.models import GPT, GPTConfig
from tinytx.train import Trainer, TrainConfig

V, T = 23, 8
DATA = np.random.default_rng(0).integers(0, V, 600)
CONFIG = TrainConfig(max_iters=24, batch_size=4, eval_interval=4, log_interval=2,
                     eval_iters=1, warmup_iters=3, lr=3e-3, progress=False)


def model():
    tx.manual_seed(0)
    return GPT(GPTConfig(block_size=T, vocab_size=V, n_layer=1, n_head=2, n_embd=16,
                         dropout=0.1))


def get_batch(split, rng):
    ids = DATA[:500] if split == "train" else DATA[500:]
    i = rng.integers(0, len(ids) - T - 1, CONFIG.batch_size)
    x = np.stack([ids[j:j + T] for j in i])                  # (B, T)
    return tx.tensor(x), tx.tensor(np.stack([ids[j + 1:j + T + 1] for j in i]))


def weights_sha256(m) -> str:
    h = hashlib.sha256()
    for name, a in sorted(m.state_dict().items()):
        h.update(name.encode() + np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def crash_in_save(phase: str, n: int):
    """Wrap os.replace so that the n-th checkpoint save dies at `phase`."""
    real_replace, saves = os.replace, [0]

    def replace(src, dst):
        moves_arrays = str(dst).endswith(".safetensors") and Path(src).name.endswith(".tmp")
        if moves_arrays:
            saves[0] += 1
        if moves_arrays and saves[0] == n and phase == "tmp":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)
        if moves_arrays and saves[0] == n and phase == "between":
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace


def main(out):
    if os.environ.get("CRASH"):
        phase, n = os.environ["CRASH"].split(":")
        crash_in_save(phase, int(n))
    trainer = Trainer(model(), CONFIG, get_batch, out, tokens_per_batch=4 * T)
    if (Path(out) / "last.json").exists():
        trainer.resume()
    trainer.train()
    print("final", weights_sha256(trainer.model), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
