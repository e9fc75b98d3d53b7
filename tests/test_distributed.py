"""Data-parallel training under `mpiexec -n 2` equals one process (tests/ddp_worker.py).

On a tiny float64 GPT, 6 steps of 2 accumulated micro-batches (so `no_sync` is used):
- DDP's parameters equal one process's with the same global batch to 1e-6, and its
  logged losses and gradient norms equal them too; rank 1 starts from other weights, so
  the broadcast from rank 0 is needed; every bucket's all-reduce starts during backward;
- ZeRO-1 equals plain DDP and holds half the moments per rank;
- a 2-rank run stopped at step 3 and resumed ends bit-identical to one that was not
  (dropout on: each rank's generator is saved and restored), with ZeRO-1 too;
- a rank that is killed, hangs, or fails with an error ends the run with an error within
  a bounded time, not a hang.
The bucket layout and the grad hooks are tested in one process (no mpiexec needed).
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinytx as tx
from tinytx.distributed import make_buckets, shard_batch
from tinytx.models import GPT, GPTConfig
from tinytx.train import read_rows

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ddp_worker  # noqa: E402
from project_scripts import gutenberg_book  # noqa: E402



def _mpiexec():
    """The mpiexec beside this Python (the mpich wheel's) or on PATH; None without mpi4py."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    return shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                         os.environ.get("PATH", "")]))


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="mpi4py or mpiexec is not installed "
                               "(pip install -e '.[mpi]')")


def mpiexec(*args, n=2, timeout=120):
    """Run `python ARGS` as n ranks (a hang fails the test with TimeoutExpired)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent),
                                                         os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    done = mpiexec(HERE / "ddp_worker.py", "equal", out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def logged(folder):
    return [[r[k] for k in ("kind", "step", "train_loss", "val_loss", "grad_norm")]
            for r in read_rows(folder / "loss.csv")]


def assert_rows_close(a, b, tol):
    assert [r[:2] for r in a] == [r[:2] for r in b]
    np.testing.assert_allclose(np.array([r[2:] for r in a], float),
                               np.array([r[2:] for r in b], float), rtol=0, atol=tol)


@needs_mpi
@pytest.mark.parametrize("run, task", [("ddp", "lm"), ("pairs", "pairs")])
def test_ddp_on_two_ranks_equals_one_process_with_the_same_global_batch(runs, tmp_path, run,
                                                                        task):
    """A GPT on LM windows; a Seq2Seq on padded pairs, where the shards hold different
    numbers of target tokens and every token must still count the same."""
    single = ddp_worker.train(tmp_path / "single", task=task)
    ddp = np.load(runs / f"{run}.npz")
    for name, p in single.model.named_parameters():
        np.testing.assert_allclose(ddp[name], p.numpy(), rtol=0, atol=1e-6, err_msg=name)
    assert_rows_close(logged(runs / run), logged(tmp_path / "single"), 1e-9)
    info = json.loads((runs / f"{run}.json").read_text())
    assert info["world_size"] == 2 and info["buckets"] > 1
    assert info["started_in_backward"] == info["buckets"]     # overlapped, none at the end


@needs_mpi
def test_zero1_equals_plain_ddp_with_half_the_moments_per_rank(runs):
    ddp, zero = np.load(runs / "ddp.npz"), np.load(runs / "zero.npz")
    for name in ddp.files:
        np.testing.assert_allclose(zero[name], ddp[name], rtol=0, atol=1e-12, err_msg=name)
    assert_rows_close(logged(runs / "zero"), logged(runs / "ddp"), 1e-12)
    info = json.loads((runs / "zero.json").read_text())
    assert info["moments_bytes_per_rank"] <= info["moments_bytes_without_zero"] / 2 + 2048


@needs_mpi
@pytest.mark.parametrize("whole, split", [("full", "split"), ("zero", "zero_split")])
def test_two_rank_checkpoint_resumes_bit_exactly(runs, whole, split):
    """Plain DDP with dropout (each rank's generator), and ZeRO-1 (its moments are
    gathered into the checkpoint and handed out again as chunks)."""
    a, b = np.load(runs / f"{whole}.npz"), np.load(runs / f"{split}.npz")
    for name in a.files:
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    assert repr(logged(runs / split)) == repr(logged(runs / whole))   # nan == nan too


@needs_mpi
@pytest.mark.parametrize("how, says", [
    # MPICH's launcher ends the others at once; another launcher leaves it to the timeout
    ("kill", ("BAD TERMINATION", "another rank has died or is stuck")),
    ("hang", ("did not complete within 5 s: another rank has died or is stuck",)),
    ("raise", ("error (rank 1 of 2): rank 1 read a broken batch",)),
])
def test_a_failed_rank_ends_the_run_with_an_error_not_a_hang(tmp_path, how, says):
    done = mpiexec(HERE / "ddp_worker.py", how, tmp_path, timeout=60)
    assert done.returncode != 0
    assert any(s in done.stdout + done.stderr for s in says), done.stderr[-2000:]


@needs_mpi
def test_the_main_job_under_mpiexec_trains_as_one_process_does(tmp_path):
    book = gutenberg_book(tmp_path, "In a village of La Mancha there lived a gentleman "
                          "with a lean hack, and Sancho laughed at the apple of which Don "
                          "Quixote spoke.\n\n", copies=60)
    tiny = ["--vocab_size=290", "--n_layer=1", "--n_head=2", "--n_embd=16", "--block_size=16",
            "--batch_size=4", "--eval_iters=2", "--warmup_iters=2", "--sample_tokens=3",
            "--progress=false", "--max_iters=4", "--eval_interval=2", "--dropout=0",
            f"--data={book}"]
    job = HERE.parent / "examples" / "train_quixote.py"
    runs = {n: mpiexec(job, f"--out_dir={tmp_path / str(n)}", *tiny, n=n) for n in (1, 2)}
    for n, done in runs.items():
        assert done.returncode == 0, done.stderr[-3000:]
        summary = done.stdout.strip().splitlines()[-1]
        assert summary.startswith("summary:") and f"| {n} process" in summary
        assert done.stdout.count("summary:") == 1               # rank 0 alone prints
    assert_rows_close(logged(tmp_path / "2"), logged(tmp_path / "1"), 1e-5)   # float32


# -- in one process -------------------------------------------------------------------------
def test_the_package_and_the_jobs_helpers_do_not_import_mpi4py():
    code = ("import sys, tinytx, tinytx.distributed, tinytx.config, tinytx.train; "
            "print('mpi4py' in sys.modules, 'cupy' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.stdout.split() == ["False", "False"], done.stderr


@needs_mpi
def test_one_rank_gives_the_plain_gradients_and_refuses_a_second_unsynced_backward():
    from tinytx.distributed import DataParallel, init
    model = GPT(GPTConfig(block_size=8, vocab_size=17, n_layer=1, n_head=2,
                          n_embd=16)).to(dtype="float64")
    x, y = ddp_worker.get_batch("train", np.random.default_rng(0))
    model(x, y)[1].backward()
    plain = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    ddp = DataParallel(model, init(), bucket_mb=0.001)
    try:
        model(x, y)[1].backward()
        backward_done = time.perf_counter()
        assert ddp.started_in_backward == 0 and ddp.finish() >= 0
        assert ddp.started_in_backward == len(ddp.buckets) > 1
        assert all(start < backward_done and done >= start for start, done in ddp.bucket_times)
        for n, p in model.named_parameters():
            np.testing.assert_array_equal(p.grad, plain[n], err_msg=n)
        model(x, y)[1].backward()
        with pytest.raises(RuntimeError, match="no_sync"):
            model(x, y)[1].backward()
    finally:
        ddp.close()


def test_buckets_lay_out_chunks_for_each_owner_and_unpack_them_back():
    params = [tx.randn(3, 5, dtype="float64"), tx.randn(7, dtype="float64"),
              tx.randn(2, 2, dtype="float64")]
    buckets = make_buckets(params, bucket_mb=(15 + 7) * 8 / 2 ** 20, parts=2)
    assert [len(b.params) for b in buckets] == [2, 1]     # 22 values fit, the 4 do not
    b = buckets[0]
    b.pack([p.data for p in b.params])
    assert b.chunks == [8, 4] and b.rows().shape == (2, 12)
    np.testing.assert_array_equal(b.rows()[1, :7], params[0].data.reshape(-1)[8:])  # 2nd half
    for i, p in enumerate(b.params):
        np.testing.assert_array_equal(b.unpack(i), p.data)
    with pytest.raises(ValueError, match="bucket_mb"):
        make_buckets(params, bucket_mb=-1)


def test_ranks_take_disjoint_shards_that_make_up_the_global_batch():
    x = tx.tensor(np.arange(12).reshape(4, 3))
    parts = [shard_batch((x, x + 1), rank, 2) for rank in (0, 1)]
    np.testing.assert_array_equal(np.concatenate([p[0].numpy() for p in parts]), x.numpy())
    np.testing.assert_array_equal(parts[1][1].numpy(), [[7, 8, 9], [10, 11, 12]])
    with pytest.raises(ValueError, match="batch_size: a global batch of 3 rows"):
        shard_batch(x[:3], 0, 2)
