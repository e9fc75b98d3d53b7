"""The main job killed at random moments, again and again, and resumed each time: the end
must equal an uninterrupted run's, bit for bit (issue 21; docs/reliability.md).

    python bench/kill_resume.py                       # 50 kills, a tiny model, ~5 min
    python bench/kill_resume.py --kills=10 --data=PATH

It trains examples/train_quixote.py (a tiny GPT, 200 steps, a checkpoint every 2 steps)
once without interruption, then in a second folder starts it, SIGKILLs it after a random
time (from start-up to a little past the next few checkpoints: kills land in imports,
tokenizer and cache writes, steps and checkpoint saves alike), starts it again with
--resume (without, while no checkpoint exists yet), and so on, `--kills` times; the last
start runs to the end. It prints where each kill landed (the step of the
checkpoint the next start resumed from) and compares, with the reference run:

  * the final weights (SHA-256 of every array of last.safetensors' model.* entries);
  * loss.csv without its timing columns (tokens_per_s, elapsed_s).

Every start after a kill must load its checkpoint (the run's stderr is printed if not).
The text is 30,000 characters from the start of the book (past its Gutenberg header) (--data, or the copy in
../shared/data, or the cache).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--vocab_size=300", "--n_layer=1", "--n_head=2", "--n_embd=16", "--block_size=16",
        "--batch_size=4", "--eval_iters=2", "--warmup_iters=2", "--sample_tokens=5",
        "--progress=false", "--eval_interval=2"]
STEPS = 200
TIMING = ("tokens_per_s", "elapsed_s")


def find_book(path: str | None) -> Path:
    for candidate in ([path] if path else []) + [ROOT.parent / "shared/data/quixote.txt",
                                                  Path.home() / ".cache/tinytx/quixote.txt"]:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    sys.exit("error: no copy of the book; pass --data=PATH")


def start(out: Path, data: Path, resume: bool, steps: int = STEPS) -> subprocess.Popen:
    args = [sys.executable, str(ROOT / "examples/train_quixote.py"), f"--data={data}",
            f"--out_dir={out}", f"--max_iters={steps}"] + TINY + (["--resume"] * resume)
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def result(out: Path) -> tuple[str, list]:
    """(SHA-256 of the final weights, loss.csv rows without timing columns)."""
    arrays = load_file(str(out / "last.safetensors"))
    h = hashlib.sha256()
    for name in sorted(k for k in arrays if k.startswith("model.")):
        h.update(name.encode() + np.ascontiguousarray(arrays[name]).tobytes())
    lines = (out / "loss.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if c not in TIMING]
    return h.hexdigest(), [[row.split(",")[i] for i in keep] for row in lines]


def timed(proc: subprocess.Popen) -> float:
    t0 = time.perf_counter()
    if proc.wait() != 0:
        sys.exit(f"error: a run without kills failed:\n{proc.stderr.read()}")
    return time.perf_counter() - t0


def checkpoint_step(out: Path):
    path = out / "last.json"
    return json.loads(path.read_text())["step"] if path.exists() else None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=50)
    p.add_argument("--data", default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "small.txt"
        data.write_text(find_book(args.data).read_text(encoding="utf-8-sig")[5_000:35_000])
        startup, seconds = (timed(start(tmp / name, data, False, steps))
                            for name, steps in (("startup", 2), ("reference", STEPS)))
        print(f"reference run: {seconds:.1f} s to step {checkpoint_step(tmp / 'reference')}; "
              f"a start to step 2 takes {startup:.1f} s")
        out, landed = tmp / "killed", []
        for _ in range(args.kills):       # on average ~80% of the training is done in pieces
            proc = start(out, data, resume=checkpoint_step(out) is not None)
            time.sleep(rng.uniform(0.0, startup + 1.6 * (seconds - startup) / args.kills))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if proc.returncode not in (0, -signal.SIGKILL):
                sys.exit(f"error: a start failed (exit {proc.returncode}):\n"
                         f"{proc.stderr.read()}")
            landed.append(checkpoint_step(out))
        last = start(out, data, resume=checkpoint_step(out) is not None)
        if last.wait() != 0:
            sys.exit(f"error: the last start failed:\n{last.stderr.read()}")
        steps = [s for s in landed if s is not None]
        print(f"{args.kills} kills; checkpoint step after each: {landed}")
        print(f"  {landed.count(None)} before the first checkpoint, {len(set(steps))} distinct "
              f"steps, {sum(a == b for a, b in zip(landed, landed[1:]))} kills in a row at "
              f"one checkpoint")
        same_weights = result(out)[0] == result(tmp / "reference")[0]
        same_log = result(out)[1] == result(tmp / "reference")[1]
        print(f"final weights equal the uninterrupted run's: {same_weights}")
        print(f"loss.csv (without timing columns) equals the uninterrupted run's: {same_log}")
        if not (same_weights and same_log):
            sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    main()
